#!/bin/sh
# plugin-smoke.sh BUILD_DIR -- install jobvisor into a DESTDIR and build a
# plugin out of tree against that tree alone, with nothing but
# `pkg-config --cflags jobvisor-plugin`; check-config must load it, and the
# plugin must export just its entry symbol. check.sh runs it.
set -eu
build=$1
root=$(mktemp -d /tmp/jv-install.XXXXXX)
trap 'rm -rf "$root"' EXIT
make -C "$build" install DESTDIR="$root" >/dev/null
pc=$(find "$root" -name jobvisor-plugin.pc | head -n 1)
[ -n "$pc" ] || { echo "plugin-smoke: jobvisor-plugin.pc not installed" >&2; exit 1; }
[ -n "$(find "$root" -path '*/include/jobvisor/plugin.h')" ] || { echo "plugin-smoke: plugin.h not installed" >&2; exit 1; }
noop=$(find "$root" -path '*/jobvisor/plugins/noop.so' | head -n 1)
[ -n "$noop" ] || { echo "plugin-smoke: noop.so not installed in the plugin dir" >&2; exit 1; }
[ -z "$(find "$root" -path '*/jobvisor/plugins/*.la')" ] || { echo "plugin-smoke: .la files left in the plugin dir" >&2; exit 1; }
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags jobvisor-plugin)
mkdir -m 0755 "$root/plugins"
cat >"$root/hello.c" <<'C'
#include <jobvisor/plugin.h>
static int hello_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}
static int hello_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host *host = state;
	(void)job;
	host->output(run, "hello\n", 6);
	return JV_SUCCESS;
}
static const struct jv_plugin hello = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "hello",
	.version = "1.0",
	.create = hello_create,
	.execute = hello_execute,
};
JV_PLUGIN_ENTRY(hello)
C
cc -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden $cflags -o "$root/plugins/hello.so" "$root/hello.c"
chmod 0644 "$root/plugins/hello.so"
syms=$(nm -D --defined-only "$root/plugins/hello.so" | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
[ "$syms" = "jv_plugin_entry " ] || { echo "plugin-smoke: hello.so exports: $syms" >&2; exit 1; }
cat >"$root/c.yaml" <<Y
database: { url: "postgresql://unused@127.0.0.1:1/x" }
plugins: { dir: "$root/plugins" }
executors:
  greet: { plugin: hello }
Y
chmod 0600 "$root/c.yaml"
bin=$(find "$root" -path '*/bin/jobvisor' | head -n 1)
out=$("$bin" check-config -c "$root/c.yaml")
echo "$out" | grep -q "hello" || { echo "plugin-smoke: check-config did not load hello: $out" >&2; exit 1; }
echo "plugin-smoke: ok (installed tree, out-of-tree plugin built with pkg-config and loaded)"

#!/bin/sh
# deb-check.sh BUILD_DIR -- contrib/check.sh's deb lane: build the Debian
# packages (`make deb` in BUILD_DIR, a configured build tree), check them with
# lintian (no error may be reported), install them on this machine, check
# them installed, purge them and check that nothing is left.
#
# Installed, as the README tells an admin: `jobvisor check-config` reads
# /etc/jobvisor/jobvisor.yaml (with the ${VAR}s it needs set), also as the
# jobvisor account the package creates; `systemd-analyze verify` finds no
# fault with the installed unit; `pkg-config jobvisor-plugin` answers and
# contrib/example-plugin builds against the installed header alone, and the
# installed jobvisor loads it.
#
# It installs system-wide, so it needs root (or sudo) and refuses to
# install when a jobvisor package is already on the machine (installed, or
# its config left behind): that one is somebody else's. Two runs at once
# take turns (a lock file) from the install to the purge. It always purges what it
# installed, also when a check fails or it is interrupted.
#
# Exit status: 0 passed, 1 failed, 77 skipped (only where dpkg-buildpackage
# cannot run at all: a machine without dpkg). The last line says which.
set -eu

build=${1:?usage: deb-check.sh BUILD_DIR}
build=$(cd "$build" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
PKGS="jobvisor jobvisor-plugin-dev"
start=$(date +%s)

say() { printf 'deb-check: %s\n' "$*"; }
die() {
	say "FAILED: $*"
	exit 1
}
since() { echo $(($(date +%s) - start)); }

if ! command -v dpkg >/dev/null 2>&1 || ! command -v dpkg-buildpackage >/dev/null 2>&1; then
	say "skipped: dpkg and dpkg-buildpackage are needed (a Debian machine; contrib/deps.sh installs dpkg-dev)"
	exit 77
fi
for c in lintian dh apt-get pkg-config cc systemd-analyze runuser; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found (contrib/deps.sh installs it)"
done
if [ "$(id -u)" = 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	die "installing the packages needs root or sudo"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobvisor-debcheck.XXXXXX")
installed=0
cleanup()
{
	rc=$?
	if [ "$installed" = 1 ]; then
		say "purging $PKGS"
		$SUDO dpkg --purge $PKGS >"$tmp/purge.out" 2>&1 || cat "$tmp/purge.out"
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- build
# nocheck: the package build runs no tests (debian/rules says why);
# noddebs: no debug-symbol package, which nothing here looks at.
say "make deb (at $(since)s)"
DEB_BUILD_OPTIONS="nocheck noddebs${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
	make -C "$build" -s deb JV_DEB_FLAGS=-j2 >"$tmp/deb.out" 2>&1 || {
	tail -n 60 "$tmp/deb.out"
	die "make deb"
}
DEB=$(ls "$build"/jobvisor_*.deb)
DEV=$(ls "$build"/jobvisor-plugin-dev_*.deb)
CHANGES=$(ls "$build"/jobvisor_*.changes)
say "built $(basename "$DEB") and $(basename "$DEV") (at $(since)s)"

# ---------------------------------------------------------------- lintian
# Errors fail the lane; warnings are shown (README's Debian section lists
# the known ones). Run as root it only complains about that.
lintian --fail-on error "$CHANGES" >"$tmp/lintian.out" 2>&1 || {
	cat "$tmp/lintian.out"
	die "lintian reports an error"
}
grep -v '^running with root privileges' "$tmp/lintian.out" || :
say "lintian: no error (at $(since)s)"

# ---------------------------------------------------------------- install
# Two runs of this lane on one machine (two check.sh side by side) take
# turns from here to the purge; anything else that installed a jobvisor
# package is somebody else's: leave it alone.
command -v flock >/dev/null 2>&1 || die "flock not found (util-linux)"
exec 9>"${TMPDIR:-/tmp}/jobvisor-deb-check.lock"
flock -w 900 9 || die "another deb-check held ${TMPDIR:-/tmp}/jobvisor-deb-check.lock for 15 minutes"
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || :)
	case "$st" in
	'' | not-installed) ;;
	*) die "package $p is already on this machine ($st): not touching it; dpkg --purge it first if it is yours" ;;
	esac
done
installed=1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
	"$DEB" "$DEV" >"$tmp/install.out" 2>&1 || {
	tail -n 40 "$tmp/install.out"
	die "apt-get install ./jobvisor_*.deb ./jobvisor-plugin-dev_*.deb"
}
say "installed (at $(since)s)"

getent passwd jobvisor >/dev/null || die "the jobvisor account was not created (sysusers.d)"
for f in /usr/bin/jobvisor /usr/lib/jobvisor/plugins/shell.so /lib/systemd/system/jobvisor.service \
	/usr/lib/sysusers.d/jobvisor.conf /usr/share/man/man1/jobvisor.1.gz \
	/usr/share/man/man5/jobvisor.yaml.5.gz /usr/share/man/man3/jobvisor-plugin.3.gz \
	/usr/include/jobvisor/plugin.h; do
	[ -f "$f" ] || die "$f not installed"
done
conffiles=$(dpkg-query -W -f='${Conffiles}' jobvisor)
for f in /etc/jobvisor/jobvisor.yaml /etc/jobvisor/jobvisor.env; do
	printf '%s\n' "$conffiles" | grep -q "^ $f " || die "$f is not a conffile"
done
mode=$(stat -c '%a %U:%G' /etc/jobvisor/jobvisor.yaml)
[ "$mode" = "640 root:jobvisor" ] || die "/etc/jobvisor/jobvisor.yaml is $mode, not 640 root:jobvisor"
mode=$(stat -c '%a %U:%G' /etc/jobvisor/jobvisor.env)
[ "$mode" = "600 root:root" ] || die "/etc/jobvisor/jobvisor.env is $mode, not 600 root:root"
say "files, conffiles and their modes as promised"

# ---------------------------------------------------------------- config
# The shipped config names its secrets only as ${VAR}: without
# DATABASE_URL it is refused, naming the variable; with it, it passes, for
# root and for the service's account (which reads it through its group).
CONF=/etc/jobvisor/jobvisor.yaml
if env -u DATABASE_URL jobvisor check-config -c "$CONF" >"$tmp/cc.out" 2>&1; then
	cat "$tmp/cc.out"
	die "check-config passed without DATABASE_URL"
fi
grep -q 'DATABASE_URL' "$tmp/cc.out" || {
	cat "$tmp/cc.out"
	die "check-config without DATABASE_URL does not name it"
}
URL=postgresql://jobvisor@localhost/jobvisor
DATABASE_URL=$URL jobvisor check-config -c "$CONF" >"$tmp/cc.out" 2>&1 || {
	cat "$tmp/cc.out"
	die "jobvisor check-config -c $CONF"
}
$SUDO runuser -u jobvisor -- env DATABASE_URL=$URL /usr/bin/jobvisor check-config -c "$CONF" \
	>"$tmp/cc.out" 2>&1 || {
	cat "$tmp/cc.out"
	die "check-config as the jobvisor account"
}
say "check-config passes with DATABASE_URL set, also as jobvisor, and names it when unset"

# ---------------------------------------------------------------- unit
# verify loads the unit as systemd would; it needs no running systemd (in
# a container it may talk about the host's units, never about ours).
systemd-analyze verify /lib/systemd/system/jobvisor.service >"$tmp/verify.out" 2>&1 || {
	cat "$tmp/verify.out"
	die "systemd-analyze verify /lib/systemd/system/jobvisor.service"
}
if grep -q 'jobvisor\.service' "$tmp/verify.out"; then
	cat "$tmp/verify.out"
	die "systemd-analyze verify has something to say about jobvisor.service"
fi
say "systemd-analyze verify: the installed unit is clean"

# ---------------------------------------------------------------- plugin kit
# With no PKG_CONFIG_PATH, so the installed jobvisor-plugin.pc answers.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pkg-config --cflags jobvisor-plugin >/dev/null || die "pkg-config --cflags jobvisor-plugin"
pd=$(pkg-config --variable=plugindir jobvisor-plugin)
[ "$pd" = /usr/lib/jobvisor/plugins ] || die "jobvisor-plugin.pc says plugindir=$pd"
cp -R "$top/contrib/example-plugin" "$tmp/ex"
chmod -R u+w "$tmp/ex"
rm -f "$tmp/ex/greet.so"
make -s -C "$tmp/ex" CFLAGS="-O2 -Wall -Wextra -Werror" >"$tmp/ex.out" 2>&1 || {
	cat "$tmp/ex.out"
	die "contrib/example-plugin does not build against the installed header"
}
mkdir -m 0755 "$tmp/plugins"
cp "$tmp/ex/greet.so" /usr/lib/jobvisor/plugins/noop.so "$tmp/plugins/"
chmod 0644 "$tmp/plugins/"*.so
chmod 0755 "$tmp"
cat >"$tmp/greet.yaml" <<EOF
database: { url: "$URL" }
plugins: { dir: "$tmp/plugins" }
executors:
  greet: { plugin: greet, greeting: Bonjour }
EOF
jobvisor check-config -c "$tmp/greet.yaml" >"$tmp/cc.out" 2>&1 || {
	cat "$tmp/cc.out"
	die "the installed jobvisor does not load the example plugin"
}
say "pkg-config jobvisor-plugin answers; the example plugin builds against /usr/include and loads"

# ---------------------------------------------------------------- purge
installed=0
$SUDO dpkg --purge $PKGS >"$tmp/purge.out" 2>&1 || {
	cat "$tmp/purge.out"
	die "dpkg --purge $PKGS"
}
left=
for f in /usr/lib/jobvisor /etc/jobvisor /usr/include/jobvisor /usr/share/jobvisor \
	/usr/share/doc/jobvisor /lib/systemd/system/jobvisor.service /usr/lib/sysusers.d/jobvisor.conf \
	/usr/bin/jobvisor /usr/lib/*/pkgconfig/jobvisor-plugin.pc; do
	[ ! -e "$f" ] || left="$left $f"
done
[ -z "$left" ] || die "left behind after the purge:$left"
for f in /etc/jobvisor/jobvisor.yaml /etc/jobvisor/jobvisor.env; do
	! dpkg-statoverride --list "$f" >/dev/null || die "the statoverride of $f is left behind"
done
say "purged: nothing left (the jobvisor account stays, as Debian policy wants)"
say "ok in $(since)s"

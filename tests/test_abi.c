/*
 * test_abi.c -- ABI compatibility across minor versions. This program links
 * its own copy of the loader and the host table, built as the NEXT minor
 * (-DJV_HOST_ABI_MINOR=JV_PLUGIN_ABI_MINOR+1, see Makefile.am), the way a
 * future jobvisor would be. Plugins built for older minors must keep
 * loading and running there -- one built with ABI 1.0's own frozen layouts
 * (tests/plugins/abi_1_0.c) and the noop executor built with this header --
 * while another major, or a minor newer than the host's, is refused.
 */
#include "unit.h"

#include "config/config.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *lines[16];
static int n_lines;

static void capture(enum jv_level level, const char *line, void *arg)
{
	(void)arg;
	if (level <= JV_WARNING && n_lines < 16)
		lines[n_lines++] = jv_strdup(line);
}

static int captured(const char *s)
{
	for (int i = 0; i < n_lines; i++)
		if (strstr(lines[i], s))
			return 1;
	return 0;
}

static int copy_built(const char *rel, const char *dir, const char *file)
{
	const char *top = getenv("top_builddir");
	char *src = jv_asprintf("%s/%s", top && *top ? top : ".", rel);
	char *dst = jv_asprintf("%s/%s", dir, file);
	int in = open(src, O_RDONLY), out = -1, rc = -1;
	if (in >= 0)
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out >= 0) {
		char buf[65536];
		ssize_t n;
		rc = 0;
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n)
				rc = -1;
		rc = rc ? rc : fchmod(out, 0644);
	}
	if (rc)
		fprintf(stderr, "cannot copy %s to %s: %s\n", src, dst, strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(src);
	free(dst);
	return rc;
}

static void t_minor_ahead(void)
{
	/* the host is one minor ahead of the header it was compiled with */
	CU_ASSERT_EQUAL(jv_host_table()->abi_minor, JV_PLUGIN_ABI_MINOR + 1);

	char tmpl[] = "/tmp/jv-test-abi.XXXXXX";
	char *dir = mkdtemp(tmpl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	chmod(dir, 0755);
	static const char *const test_plugins[] = {"abi_1_0", "next_minor", "new_minor",
						   "bad_major", NULL};
	for (const char *const *p = test_plugins; *p; p++) {
		char *rel = jv_asprintf("tests/plugins/.libs/%s.so", *p);
		char *file = jv_asprintf("%s.so", *p);
		CU_ASSERT_EQUAL_FATAL(copy_built(rel, dir, file), 0);
		free(rel);
		free(file);
	}
	CU_ASSERT_EQUAL_FATAL(copy_built("plugins/executors/noop/.libs/noop.so", dir, "noop.so"),
			      0);

	jv_log_capture(capture, NULL);
	struct jv_plugins *reg;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(jv_plugins_load_dir(dir, &reg, err, sizeof err), 0);
	jv_log_capture(NULL, NULL);

	/* older and equal minors load; another major and a newer minor do not */
	CU_ASSERT_PTR_NOT_NULL(jv_plugins_find(reg, "abi_1_0"));
	CU_ASSERT_PTR_NOT_NULL(jv_plugins_find(reg, "noop"));
	CU_ASSERT_PTR_NOT_NULL(jv_plugins_find(reg, "next_minor"));
	CU_ASSERT_PTR_NULL(jv_plugins_find(reg, "new_minor"));
	CU_ASSERT_PTR_NULL(jv_plugins_find(reg, "bad_major"));
	char *host = jv_asprintf("%d.%d", JV_PLUGIN_ABI_MAJOR, JV_PLUGIN_ABI_MINOR + 1);
	char *why = jv_asprintf("bad_major.so refused: built for ABI 2.0, this host has %s", host);
	CU_ASSERT(captured(why));
	free(why);
	why = jv_asprintf("new_minor.so refused: built for ABI 1.99, newer than this host's %s",
			  host);
	CU_ASSERT(captured(why));
	free(why);
	CU_ASSERT_EQUAL(n_lines, 2);

	/* and they run: config, create(), execute(), output and result */
	char *yaml = jv_asprintf("database: { url: \"postgres://localhost/x\" }\n"
				 "plugins: { dir: \"%s\" }\n"
				 "executors:\n"
				 "  old: { plugin: abi_1_0, greeting: hi }\n"
				 "  cur: { plugin: noop }\n",
				 dir);
	struct jv_config *cfg;
	CU_ASSERT_EQUAL_FATAL(jv_config_load_string("abi.yaml", yaml, &cfg, err, sizeof err), 0);
	struct jv_runtime *rt;
	int rc = jv_runtime_create(cfg, reg, &rt, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);

	struct jv_job job = {.struct_size = sizeof job, .id = 42, .type = "old", .payload = "{}",
			     .payload_len = 2, .attempt = 1, .max_attempts = 1, .timeout_ms = 1000};
	struct jv_run run;
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(jv_runtime_executor(rt, "old"), &job, &run),
			JV_SUCCESS);
	char *out = jv_asprintf("built for 1.0, running on %s, job 42", host);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), out);
	free(out);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"abi\":\"1.0\"}");
	jv_run_free(&run);

	job.type = "cur";
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(jv_runtime_executor(rt, "cur"), &job, &run),
			JV_SUCCESS);
	jv_run_free(&run);

	jv_runtime_free(rt);
	jv_config_free(cfg);
	jv_plugins_free(reg);
	free(yaml);
	free(host);
	for (int i = 0; i < n_lines; i++)
		free(lines[i]);
	static const char *const files[] = {"abi_1_0.so", "next_minor.so", "new_minor.so",
					    "bad_major.so", "noop.so", NULL};
	for (const char *const *f = files; *f; f++) {
		char *p = jv_asprintf("%s/%s", dir, *f);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"a host one minor ahead loads older plugins", t_minor_ahead},
		{NULL, NULL},
	};
	return jv_unit_run("abi", tests);
}

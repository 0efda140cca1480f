/*
 * test_abi.c -- ABI compatibility across minor versions. This program links
 * its own copy of the loader and the host table, built as the NEXT minor
 * (-DJV_HOST_ABI_MINOR=JV_PLUGIN_ABI_MINOR+1, see Makefile.am), the way a
 * future jobvisor would be. Plugins built for older minors must keep
 * loading and running there -- one built with ABI 1.0's own frozen layouts
 * (tests/plugins/abi_1_0.c), one with 1.1's (abi_1_1.c), and the noop
 * executor built with this header -- while another major, or a minor newer
 * than the host's, is refused. And what 1.2 added to the host table,
 * dependency_results() and progress(), as a plugin sees them (probe.c),
 * through a run linked the way the engine links its runs.
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
	static const char *const test_plugins[] = {"abi_1_0", "abi_1_1", "next_minor",
						   "new_minor", "bad_major", "probe", NULL};
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
	CU_ASSERT_PTR_NOT_NULL(jv_plugins_find(reg, "abi_1_1"));
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
				 "  old11: { plugin: abi_1_1 }\n"
				 "  cur: { plugin: noop }\n"
				 "  probe: { plugin: probe }\n",
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

	job.type = "old11";
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(jv_runtime_executor(rt, "old11"), &job, &run),
			JV_SUCCESS);
	out = jv_asprintf("built for 1.1, running on %s, job 42, url postgres://localhost/x", host);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), out);
	free(out);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"abi\":\"1.1\"}");
	jv_run_free(&run);

	job.type = "cur";
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(jv_runtime_executor(rt, "cur"), &job, &run),
			JV_SUCCESS);
	jv_run_free(&run);

	/* 1.2: a run not linked to an engine has no dependencies' results to give */
	job.type = "probe";
	job.payload = "deps";
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(jv_runtime_executor(rt, "probe"), &job, &run),
			JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "deps: -1"); /* JV_HOST_ENOENT */
	jv_run_free(&run);

	jv_runtime_free(rt);
	jv_config_free(cfg);
	jv_plugins_free(reg);
	free(yaml);
	free(host);
	for (int i = 0; i < n_lines; i++)
		free(lines[i]);
	static const char *const files[] = {"abi_1_0.so", "abi_1_1.so", "next_minor.so",
					    "new_minor.so", "bad_major.so", "probe.so", "noop.so", NULL};
	for (const char *const *f = files; *f; f++) {
		char *p = jv_asprintf("%s/%s", dir, *f);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

/* A link as the engine's: it records what the run passes on. */
static int n_progress, last_percent, n_asks, ask_rc;
static char last_note[1024];
static const char *ask_text;

static void rec_progress(void *arg, struct jv_run *run, int percent, const char *note)
{
	(void)arg;
	(void)run;
	n_progress++;
	last_percent = percent;
	snprintf(last_note, sizeof last_note, "%s", note ? note : "(null)");
}

static int rec_deps(void *arg, struct jv_run *run, char **json)
{
	(void)arg;
	(void)run;
	n_asks++;
	if (ask_rc == 0)
		*json = jv_strdup(ask_text);
	return ask_rc;
}

static const struct jv_run_link rec_link = {rec_progress, rec_deps};

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void t_host_1_2(void)
{
	const struct jv_host *h = jv_host_table();
	CU_ASSERT(h->struct_size >= offsetof(struct jv_host, progress) + sizeof h->progress);
	struct jv_run run;
	jv_run_init(&run, 10000, 4096);
	jv_run_link(&run, &rec_link, NULL);

	/* progress: checked, passed on, throttled, the last never lost */
	CU_ASSERT_EQUAL(h->progress(NULL, 5, NULL), JV_HOST_EINVAL);
	CU_ASSERT_EQUAL(h->progress(&run, -1, NULL), JV_HOST_EINVAL);
	CU_ASSERT_EQUAL(h->progress(&run, 101, "x"), JV_HOST_EINVAL);
	CU_ASSERT_EQUAL(n_progress, 0);
	CU_ASSERT_EQUAL(h->progress(&run, 50, "half\nway"), 0);
	CU_ASSERT_EQUAL(n_progress, 1);
	CU_ASSERT_EQUAL(last_percent, 50);
	CU_ASSERT_STRING_EQUAL(last_note, "half way"); /* one line */
	CU_ASSERT_EQUAL(h->progress(&run, 60, NULL), 0); /* within the throttle: held */
	CU_ASSERT_EQUAL(n_progress, 1);
	jv_run_flush_progress(&run);
	CU_ASSERT_EQUAL(n_progress, 2);
	CU_ASSERT_EQUAL(last_percent, 60);
	CU_ASSERT_STRING_EQUAL(last_note, "(null)");
	jv_run_flush_progress(&run); /* nothing held: nothing passed */
	CU_ASSERT_EQUAL(n_progress, 2);
	CU_ASSERT_EQUAL(h->progress(&run, 60, NULL), 0); /* nothing new */
	jv_run_flush_progress(&run);
	CU_ASSERT_EQUAL(n_progress, 2);

	/* the note: at most JV_PROGRESS_NOTE_MAX characters, valid UTF-8 */
	char note[1200];
	size_t k = 0;
	note[k++] = '\xff'; /* not UTF-8: one U+FFFD */
	while (k + 2 < sizeof note - 1) {
		note[k++] = '\xc3';
		note[k++] = '\xa9';
	}
	note[k] = '\0';
	CU_ASSERT_EQUAL(h->progress(&run, 70, note), 0);
	jv_run_flush_progress(&run);
	CU_ASSERT_EQUAL(last_percent, 70);
	CU_ASSERT_EQUAL(utf8_chars(last_note), JV_PROGRESS_NOTE_MAX);
	CU_ASSERT(!strncmp(last_note, "\xef\xbf\xbd\xc3\xa9", 5));
	CU_ASSERT_EQUAL(strlen(last_note), 3 + 2 * (JV_PROGRESS_NOTE_MAX - 1));

	/* dependency_results: asked once, then the same text */
	const char *a = NULL, *b = NULL;
	CU_ASSERT_EQUAL(h->dependency_results(NULL, &a), JV_HOST_EINVAL);
	CU_ASSERT_EQUAL(h->dependency_results(&run, NULL), JV_HOST_EINVAL);
	ask_rc = JV_HOST_EUNAVAIL;
	CU_ASSERT_EQUAL(h->dependency_results(&run, &a), JV_HOST_EUNAVAIL);
	CU_ASSERT_PTR_NULL(a);
	ask_rc = 0;
	ask_text = "{\"b\":{\"n\":1},\"17\":null}";
	CU_ASSERT_EQUAL(h->dependency_results(&run, &a), 0);
	CU_ASSERT_EQUAL(h->dependency_results(&run, &b), 0);
	CU_ASSERT_PTR_EQUAL(a, b);
	CU_ASSERT_STRING_EQUAL(a, ask_text);
	CU_ASSERT_EQUAL(n_asks, 2);
	jv_run_free(&run);

	/* too large for the limit: refused, nothing kept */
	char *big = jv_malloc(JV_DEPENDENCY_RESULTS_MAX + 2);
	memset(big, ' ', JV_DEPENDENCY_RESULTS_MAX + 1);
	big[0] = '{';
	big[JV_DEPENDENCY_RESULTS_MAX] = '}';
	big[JV_DEPENDENCY_RESULTS_MAX + 1] = '\0';
	ask_text = big;
	jv_run_init(&run, 10000, 4096);
	jv_run_link(&run, &rec_link, NULL);
	CU_ASSERT_EQUAL(h->dependency_results(&run, &a), JV_HOST_ERANGE);
	CU_ASSERT_PTR_NULL(run.dependency_results);
	jv_run_free(&run);
	free(big);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"a host one minor ahead loads older plugins", t_minor_ahead},
		{"1.2: progress and dependency_results as a plugin sees them", t_host_1_2},
		{NULL, NULL},
	};
	return jv_unit_run("abi", tests);
}

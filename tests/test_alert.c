/*
 * test_alert.c -- how events read (titles, text, JSON, links, folds, bad
 * bytes), and the alerter's folding and delivery in-process, through the
 * real loader and a real alert plugin (tests/plugins/good_alert). The
 * history database is deliberately unreachable: delivery must not care.
 */
#include "unit.h"

#include "alert/alert.h"
#include "config/config.h"
#include "plugin/loader.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct jv_event job_event(enum jv_event_kind kind, int64_t id, const char *type,
				 const char *error)
{
	struct jv_event ev = {
		.kind = kind,
		.at_ms = 1795915855000LL, /* 2026-11-29 01:30:55 UTC */
		.job_id = id,
		.job_type = (char *)type,
		.user_id = (char *)"u7",
		.attempt = 3,
		.max_attempts = 3,
		.error = (char *)error,
	};
	return ev;
}

static void t_names(void)
{
	for (int i = 0; i < JV_EV_COUNT; i++)
		CU_ASSERT_EQUAL(jv_event_parse(jv_event_name((enum jv_event_kind)i)), i);
	CU_ASSERT_EQUAL(jv_event_parse("nope"), -1);
	CU_ASSERT_EQUAL(jv_event_parse(NULL), -1);
	CU_ASSERT_PTR_NULL(jv_event_name(JV_EV_COUNT));
}

static void t_single(void)
{
	struct jv_event ev = job_event(JV_EV_JOB_FAILED, 123, "http", "HTTP 500 from upstream\n");
	struct jv_alert_msg m;
	jv_alert_render(&m, &ev, NULL, 1, 60, "w1 (id 4, host h, pid 9)", "https://jv.example/");
	CU_ASSERT_STRING_EQUAL(m.title, "job #123 (http) failed after 3 attempts");
	CU_ASSERT_STRING_EQUAL(m.alert.error, "HTTP 500 from upstream");
	CU_ASSERT_STRING_EQUAL(m.alert.link, "https://jv.example/#/jobs/123");
	CU_ASSERT_STRING_EQUAL(m.text, "job #123 (http) failed after 3 attempts\n\n"
				       "event: job_failed\n"
				       "job: #123\n"
				       "type: http\n"
				       "user: u7\n"
				       "attempt: 3 of 3\n"
				       "error: HTTP 500 from upstream\n"
				       "processor: w1 (id 4, host h, pid 9)\n"
				       "time: 2026-11-29 01:30:55 UTC\n"
				       "link: https://jv.example/#/jobs/123\n");
	CU_ASSERT_EQUAL(m.alert.job_id, 123);
	CU_ASSERT_EQUAL(m.alert.count, 1);
	CU_ASSERT_STRING_EQUAL(m.alert.event, "job_failed");
	json_error_t e;
	json_t *j = json_loads(m.json, 0, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "job"), "id")), 123);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "error")),
			       "HTTP 500 from upstream");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "text")), m.text);
	json_decref(j);
	jv_alert_msg_free(&m);
}

static void t_fold(void)
{
	struct jv_event first = job_event(JV_EV_JOB_FAILED, 123, "http", "first error");
	struct jv_event last = job_event(JV_EV_JOB_FAILED, 159, "http", "last error");
	last.at_ms += 42000;
	struct jv_alert_msg m;
	jv_alert_render(&m, &first, &last, 37, 60, "w1", NULL);
	CU_ASSERT_STRING_EQUAL(m.title, "37 jobs of type http failed in the last 60 s");
	CU_ASSERT_PTR_NOT_NULL(strstr(m.text, "jobs: 37, first #123 at 2026-11-29 01:30:55 UTC, "
					      "last #159 at 2026-11-29 01:31:37 UTC\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m.text, "error: last error\n"));
	CU_ASSERT_PTR_NULL(m.alert.link);
	CU_ASSERT_EQUAL(m.alert.job_id, 0); /* about several jobs */
	CU_ASSERT_EQUAL(m.alert.count, 37);
	CU_ASSERT_EQUAL(m.alert.last_at_ms - m.alert.first_at_ms, 42000);
	json_t *j = json_loads(m.json, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "first_job_id")), 123);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "last_job_id")), 159);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "count")), 37);
	json_decref(j);
	jv_alert_msg_free(&m);
}

/* Whatever bytes an executor left in its error, the JSON keeps every key,
 * and a long error is cut at a character boundary. */
static void t_bad_bytes_and_length(void)
{
	struct jv_event ev = job_event(JV_EV_JOB_TIMED_OUT, 5, "t\xff", "bad \xc3\x28 byte\xff");
	struct jv_alert_msg m;
	jv_alert_render(&m, &ev, NULL, 1, 60, "w1", NULL);
	json_t *j = json_loads(m.json, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "error")),
			       "bad \xef\xbf\xbd( byte\xef\xbf\xbd");
	CU_ASSERT_PTR_NOT_NULL(json_object_get(j, "text"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(j, "job"), "type")),
			       "t\xef\xbf\xbd");
	json_decref(j);
	jv_alert_msg_free(&m);

	char big[2000];
	memset(big, 'a', sizeof big);
	memcpy(big + 498, "\xc3\xa9\xc3\xa9", 4); /* é straddles byte 500 */
	big[sizeof big - 1] = '\0';
	ev = job_event(JV_EV_JOB_FAILED, 6, "t", big);
	jv_alert_render(&m, &ev, NULL, 1, 60, "w1", NULL);
	size_t len = strlen(m.alert.error);
	CU_ASSERT(len <= 503);
	CU_ASSERT_STRING_EQUAL(m.alert.error + len - 3, "\xE2\x80\xA6");
	CU_ASSERT_EQUAL((unsigned char)m.alert.error[len - 4], 0xa9); /* a whole é before … */
	jv_alert_msg_free(&m);
}

/* Every kind renders a title and valid JSON, with and without a fold. */
static void t_every_kind(void)
{
	for (int k = 0; k < JV_EV_COUNT; k++) {
		struct jv_event ev = {.kind = (enum jv_event_kind)k, .at_ms = 1, .number = 5,
				      .total = 8, .seconds = 90, .subject = (char *)"p (id 1)"};
		if (k <= JV_EV_JOB_RETRYING) {
			ev = job_event((enum jv_event_kind)k, 9, "x", "e");
		} else if (k == JV_EV_FAILURE_RATE) {
			ev.job_type = (char *)"x";
		}
		for (uint32_t count = 1; count <= 2; count++) {
			struct jv_alert_msg m;
			jv_alert_render(&m, &ev, count > 1 ? &ev : NULL, count, 30, "w", NULL);
			CU_ASSERT(strlen(m.title) > 10);
			CU_ASSERT_PTR_NULL(strchr(m.title, '\n'));
			json_t *j = json_loads(m.json, 0, NULL);
			CU_ASSERT_PTR_NOT_NULL(j);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "event")),
					       jv_event_name((enum jv_event_kind)k));
			json_decref(j);
			jv_alert_msg_free(&m);
		}
	}
	struct jv_event ev = {.kind = JV_EV_FAILURE_RATE, .at_ms = 1, .job_type = (char *)"http",
			      .number = 31, .total = 50, .seconds = 300};
	struct jv_alert_msg m;
	jv_alert_render(&m, &ev, NULL, 1, 30, "w", NULL);
	CU_ASSERT_STRING_EQUAL(m.title, "62% of http attempts failed in the last 300 s (31 of 50)");
	jv_alert_msg_free(&m);
}

/* ------------------------------------------------------------ the alerter */

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char *sent[64];
static int n_sent;

static void capture(enum jv_level level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	const char *p = strstr(line, "alerts[0] (good_alert): sent \"");
	pthread_mutex_lock(&cap_lock);
	if (p && n_sent < 64)
		sent[n_sent++] = jv_strdup(p + strlen("alerts[0] (good_alert): sent \""));
	pthread_mutex_unlock(&cap_lock);
}

static int copy_plugin(const char *dir)
{
	const char *top = getenv("top_builddir");
	char *src = jv_asprintf("%s/tests/plugins/.libs/good_alert.so", top && *top ? top : ".");
	char *dst = jv_asprintf("%s/good_alert.so", dir);
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc = -1;
	if (in >= 0 && out >= 0) {
		char buf[65536];
		ssize_t n;
		rc = 0;
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n)
				rc = -1;
		rc = rc ? rc : fchmod(out, 0644);
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(src);
	free(dst);
	return rc;
}

/* 100 identical failures and one of another type: the first of each goes
 * out at once, the other 99 as one message when the window closes (here:
 * at stop, which flushes); a job_retrying nobody asked for goes nowhere;
 * a job of a type outside the filter neither. */
static void t_alerter_folds(void)
{
	char tmpl[] = "/tmp/jv-test-alert.XXXXXX";
	char *dir = mkdtemp(tmpl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	chmod(dir, 0755);
	CU_ASSERT_EQUAL_FATAL(copy_plugin(dir), 0);
	char *yaml = jv_asprintf("database: { url: \"postgresql://nobody@127.0.0.1:1/none\" }\n"
				 "plugins: { dir: \"%s\" }\n"
				 "alerts:\n"
				 "  - { plugin: good_alert, channel: ops, on: [job_failed],\n"
				 "      type: [http, sql], fold_seconds: 600, min_interval_ms: 0 }\n",
				 dir);
	struct jv_config *cfg;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(jv_config_load_string("a.yaml", yaml, &cfg, err, sizeof err), 0);
	struct jv_plugins *plugins;
	CU_ASSERT_EQUAL_FATAL(jv_plugins_load_dir(dir, &plugins, err, sizeof err), 0);
	struct jv_runtime *rt;
	CU_ASSERT_EQUAL_FATAL(jv_runtime_create(cfg, plugins, &rt, err, sizeof err), 0);

	jv_log_setup(JV_DEBUG, JV_LOG_TEXT);
	jv_log_capture(capture, NULL);
	struct jv_alerter *a = jv_alerter_start(cfg, rt, 4, "w1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT(jv_alerter_wants(a, JV_EV_JOB_FAILED));
	CU_ASSERT(!jv_alerter_wants(a, JV_EV_JOB_RETRYING));
	for (int i = 0; i < 100; i++) {
		struct jv_event ev = job_event(JV_EV_JOB_FAILED, 1000 + i, "http", "boom");
		jv_alerter_raise(a, &ev);
	}
	struct jv_event ev = job_event(JV_EV_JOB_FAILED, 7, "sql", "other");
	jv_alerter_raise(a, &ev);
	ev = job_event(JV_EV_JOB_FAILED, 8, "shell", "filtered out");
	jv_alerter_raise(a, &ev);
	ev = job_event(JV_EV_JOB_RETRYING, 9, "http", "not wanted");
	jv_alerter_raise(a, &ev);

	struct jv_alert_stats st;
	jv_alerter_stats(a, &st);
	CU_ASSERT_EQUAL(st.raised, 101);
	jv_alerter_stop(a, 5000);
	jv_log_capture(NULL, NULL);
	jv_log_setup(JV_INFO, JV_LOG_TEXT);

	CU_ASSERT_EQUAL(n_sent, 3);
	int singles = 0, folds = 0, sql = 0;
	for (int i = 0; i < n_sent; i++) {
		if (!strncmp(sent[i], "job #1000 (http) failed", 23))
			singles++;
		if (!strncmp(sent[i], "99 jobs of type http failed in the last 600 s", 45))
			folds++;
		if (!strncmp(sent[i], "job #7 (sql) failed", 19))
			sql++;
		free(sent[i]);
	}
	CU_ASSERT_EQUAL(singles, 1);
	CU_ASSERT_EQUAL(folds, 1);
	CU_ASSERT_EQUAL(sql, 1);
	n_sent = 0;

	jv_runtime_free(rt);
	jv_plugins_free(plugins);
	jv_config_free(cfg);
	char *so = jv_asprintf("%s/good_alert.so", dir);
	unlink(so);
	free(so);
	rmdir(dir);
	free(yaml);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"event names", t_names},
		{"one job failed", t_single},
		{"a fold of 37", t_fold},
		{"bad bytes, long errors", t_bad_bytes_and_length},
		{"every kind renders", t_every_kind},
		{"alerter: folding and filters", t_alerter_folds},
		{NULL, NULL},
	};
	return jv_unit_run("alert", tests);
}

/* test_core.c -- unit tests of the small core pieces: mem, buf, log, error,
 * redaction. */
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/redact.h"
#include "unit.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static jmp_buf oom_jump;
static size_t oom_size;

static void oom_to_test(size_t n)
{
	oom_size = n;
	longjmp(oom_jump, 1);
}

static void t_strdup(void)
{
	char *s = jv_strdup("abc");
	CU_ASSERT_STRING_EQUAL(s, "abc");
	free(s);
	CU_ASSERT_PTR_NULL(jv_strdup(NULL));
	s = jv_strndup("abcdef", 3);
	CU_ASSERT_STRING_EQUAL(s, "abc");
	free(s);
	s = jv_strndup("ab", 10);
	CU_ASSERT_STRING_EQUAL(s, "ab");
	free(s);
}

static void t_asprintf(void)
{
	char *s = jv_asprintf("%s-%d-%05.1f", "x", 42, 3.14159);
	CU_ASSERT_STRING_EQUAL(s, "x-42-003.1");
	free(s);
	s = jv_asprintf("%s", "");
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
}

static void t_buf(void)
{
	struct jv_buf b = {0};
	for (int i = 0; i < 1000; i++)
		jv_buf_printf(&b, "%d,", i % 10);
	CU_ASSERT_EQUAL(b.len, 2000);
	CU_ASSERT_EQUAL(b.data[b.len], '\0');
	CU_ASSERT_NSTRING_EQUAL(b.data, "0,1,2,", 6);
	jv_buf_reset(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_STRING_EQUAL(b.data, "");
	jv_buf_append(&b, "a\0b", 3);
	CU_ASSERT_EQUAL(b.len, 3);
	CU_ASSERT_EQUAL(b.data[1], '\0');
	jv_buf_puts(&b, "cd");
	CU_ASSERT_EQUAL(b.len, 5);
	char *s = jv_buf_steal(&b);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(memcmp(s, "a\0bcd", 6), 0);
	free(s);
	s = jv_buf_steal(&b); /* empty buffer: an empty string, not NULL */
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	jv_buf_free(&b);
}

/* The fail-at hook makes exactly the nth allocation fail, through the handler. */
static void t_mem_fail_at(void)
{
	jv_mem_set_oom_handler(oom_to_test);
	char *volatile a = NULL;
	char *volatile b = NULL;
	jv_mem_fail_at(2);
	if (setjmp(oom_jump) == 0) {
		a = jv_malloc(10);
		b = jv_malloc(77); /* fails */
		CU_FAIL("second allocation should have failed");
	}
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_EQUAL(oom_size, 77);
	free(a);
	/* Turned off after firing once. */
	b = jv_malloc(5);
	CU_ASSERT_PTR_NOT_NULL(b);
	free(b);
	jv_mem_set_oom_handler(NULL);
}

static char captured[512];
static enum jv_level captured_level;
static int captured_n;

static void capture(enum jv_level level, const char *line, void *arg)
{
	(void)arg;
	snprintf(captured, sizeof captured, "%s", line);
	captured_level = level;
	captured_n++;
}

static void t_log_levels(void)
{
	jv_log_capture(capture, NULL);
	jv_log_setup(JV_INFO, JV_LOG_TEXT);
	captured_n = 0;
	jv_log(JV_INFO, "hello %d", 7);
	CU_ASSERT_EQUAL(captured_n, 1);
	CU_ASSERT_STRING_EQUAL(captured, "hello 7");
	CU_ASSERT_EQUAL(captured_level, JV_INFO);
	jv_debug("hidden %d", 1);
	CU_ASSERT_EQUAL(captured_n, 1);
	jv_log_setup(JV_DEBUG, JV_LOG_TEXT);
	jv_debug("shown %d", 2);
	CU_ASSERT_EQUAL(captured_n, 2);
	CU_ASSERT_STRING_EQUAL(captured, "shown 2");
	CU_ASSERT_EQUAL(jv_error(JV_EDB, "db down: %s", "x"), JV_EDB);
	CU_ASSERT_STRING_EQUAL(captured, "db down: x");
	CU_ASSERT_EQUAL(captured_level, JV_ERROR);
	jv_log_setup(JV_ERROR, JV_LOG_TEXT);
	jv_warn("not at error level");
	CU_ASSERT_EQUAL(captured_n, 3);
	jv_log_capture(NULL, NULL);
	jv_log_setup(JV_INFO, JV_LOG_TEXT);
}

/* ------------------------------------------------------------ log safety */

static void t_log_escape(void)
{
	static const char *const cases[][2] = {
		{"plain text, 100%", "plain text, 100%"},
		{"a\nb", "a\\nb"},
		{"a\r\nb\tc", "a\\r\\nb\\tc"},
		{"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
		{"bell\a del\x7f", "bell\\x07 del\\x7f"},
		{"nel \xc2\x85 csi \xc2\x9b", "nel \\u0085 csi \\u009b"},
		{"ls \xe2\x80\xa8 ps \xe2\x80\xa9", "ls \\u2028 ps \\u2029"},
		{"rlo \xe2\x80\xae lri \xe2\x81\xa6", "rlo \\u202e lri \\u2066"},
		{"bad \xff byte", "bad \\xff byte"},
		{"overlong \xc0\xaf", "overlong \\xc0\\xaf"},
		{"surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80"},
		{"cut \xe2\x82", "cut \\xe2\\x82"},
		{"cut at end \xe2", "cut at end \\xe2"},
		{"past max \xf4\x90\x80\x80", "past max \\xf4\\x90\\x80\\x80"},
		{"utf-8 stays: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "utf-8 stays: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
		{"a \\n stays", "a \\n stays"},
		{"", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *e = jv_log_escape(cases[i][0]);
		CU_ASSERT_STRING_EQUAL(e, cases[i][1]);
		if (strcmp(e, cases[i][1]))
			fprintf(stderr, "escape case %zu: got '%s'\n", i, e);
		free(e);
	}
	CU_ASSERT_PTR_NULL(jv_log_escape(NULL));
}

/* What jv_log writes to stderr for "request %s" with arg, as written.
 * Freshly allocated. */
static char *stderr_of(enum jv_log_format format, const char *arg)
{
	char path[] = "/tmp/jv-test-core.XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	unlink(path);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	jv_log_setup(JV_INFO, format);
	jv_log(JV_INFO, "request %s", arg);
	jv_log_setup(JV_INFO, JV_LOG_TEXT);
	dup2(saved, STDERR_FILENO);
	close(saved);
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf = jv_calloc(1, (size_t)len + 1);
	CU_ASSERT_EQUAL(pread(fd, buf, (size_t)len, 0), len);
	close(fd);
	return buf;
}

/* A value that tries to start a line of its own, recolour the terminal
 * and break JSON with a stray byte. */
#define FORGERY "/x\n2026-01-01T00:00:00.000Z error: FORGED \x1b[2J\xff"
#define FORGERY_SHOWN "/x\\n2026-01-01T00:00:00.000Z error: FORGED \\x1b[2J\\xff"

static void t_log_one_line_text(void)
{
	char *out = stderr_of(JV_LOG_TEXT, FORGERY);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "info: request " FORGERY_SHOWN "\n"));
	CU_ASSERT_PTR_NULL(strchr(out, '\x1b'));
	CU_ASSERT_EQUAL(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	free(out);
}

static void t_log_one_line_json(void)
{
	char *out = stderr_of(JV_LOG_JSON, FORGERY);
	CU_ASSERT_EQUAL(strchr(out, '\n') - out + 1, (long)strlen(out));
	json_error_t e;
	json_t *o = json_loads(out, 0, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	const char *msg = json_string_value(json_object_get(o, "msg"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	/* the same text as the text format shows */
	CU_ASSERT_STRING_EQUAL(msg, "request " FORGERY_SHOWN);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "level")), "info");
	json_decref(o);
	free(out);
}

/* A core line names its source, the base name of the file that logged
 * it (here this one), in JSON; in text it stays "LEVEL: message". */
static void t_log_core_source(void)
{
	char *out = stderr_of(JV_LOG_JSON, "x");
	json_error_t e;
	json_t *o = json_loads(out, 0, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	const char *source = json_string_value(json_object_get(o, "source"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(source);
	CU_ASSERT_STRING_EQUAL(source, "test_core");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "msg")), "request x");
	json_decref(o);
	free(out);
	out = stderr_of(JV_LOG_TEXT, "x");
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Z info: request x\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "test_core"));
	free(out);
}

static void t_log_redacts(void)
{
	jv_log_capture(capture, NULL);
	jv_log(JV_WARNING, "lost %s", "postgresql://app:hunter2@db/prod?sslmode=require");
	CU_ASSERT_STRING_EQUAL(captured, "lost postgresql://app:***@db/prod?sslmode=require");
	jv_log(JV_WARNING, "conninfo %s", "host=db password=hunter2\nuser=app");
	CU_ASSERT_STRING_EQUAL(captured, "conninfo host=db password=***\\nuser=app");
	jv_log_capture(NULL, NULL);
}

static void t_redact_any_text(void)
{
	static const char *const cases[][2] = {
		{"postgresql://u:secret@h/db", "postgresql://u:***@h/db"},
		{"postgres://u:s%40c@h:5432", "postgres://u:***@h:5432"},
		{"postgresql://u@h/db and postgresql://[::1]/db", "postgresql://u@h/db and postgresql://[::1]/db"},
		{"at \"postgresql://u:sec/ret@h/db\".", "at \"postgresql://u:***@h/db\"."},
		{"postgresql://u:a@b@h/db", "postgresql://u:***@h/db"},
		{"https://tok123@host/x", "https://***@host/x"},
		{"https://host/x?mail=a@b", "https://host/x?mail=a@b"},
		{"smtp://a:b@mail and https://c:d@web/", "smtp://a:***@mail and https://c:***@web/"},
		{"host=h password=secret dbname=d", "host=h password=*** dbname=d"},
		{"host=h password = 'se cr\\'et' dbname=d", "host=h password = '***' dbname=d"},
		{"?user=u&password=secret&sslmode=require", "?user=u&password=***&sslmode=require"},
		{"PGPASSWORD=secret psql", "PGPASSWORD=*** psql"},
		{"sslpassword=x", "sslpassword=***"},
		{"password is not password=", "password is not password="},
		{"nothing here: a=b, http://h/p", "nothing here: a=b, http://h/p"},
		{"", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *r = jv_redact(cases[i][0], NULL);
		CU_ASSERT_STRING_EQUAL(r, cases[i][1]);
		if (strcmp(r, cases[i][1]))
			fprintf(stderr, "redact case %zu: got '%s'\n", i, r);
		free(r);
	}
	CU_ASSERT_PTR_NULL(jv_redact(NULL, NULL));
}

/* libpq's own messages about malformed urls (libpq 15), and where the
 * password or a piece of it stands in them. */
static void t_redact_known_url(void)
{
	static const char *const cases[][3] = {
		{"postgresql://u:sec%zzret@h:1/db", "invalid percent-encoded token: \"sec%zzret\"",
		 "invalid percent-encoded token: \"***\""},
		{"postgresql://u:sec/ret@h:1/db", "invalid integer value \"sec\" for connection option \"port\"",
		 "invalid integer value \"***\" for connection option \"port\""},
		{"postgresql://u:sec@ret@h/db", "could not translate host name \"ret@h\" to address",
		 "could not translate host name \"***@h\" to address"},
		{"host=h password=sec ret", "missing \"=\" after \"ret\" in connection info string",
		 "missing \"=\" after \"***\" in connection info string"},
		{"host=h password='a\\'b c'", "it was a'b c", "it was ***"},
		{"postgresql://u:p%40ss@h/db", "decoded p@ss", "decoded ***"},
		{"postgresql://h/db?password=hun%74er2&x", "hunter2 and hun%74er2", "*** and ***"},
		{"postgresql://u:sec ret@h/db", "it was sec ret", "it was ***"},
		{"host=h password=ab&cd%41", "it was ab&cd%41", "it was ***"},
		{"https://tok1@hooks/x", "user tok1", "user ***"},
		/* a short secret is masked only inside quotes, the rest stays
		 * readable */
		{"smtp://u:p@h", "the user or password \"p\"", "the user or password \"***\""},
		/* a piece of a malformed password is masked only where libpq
		 * quotes values */
		{"postgresql://u:ab/cd@h/db", "ab outside \"ab inside\"", "ab outside \"*** inside\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct jv_secrets s = {0};
		jv_secrets_add_url(&s, cases[i][0]);
		char *r = jv_redact(cases[i][1], &s);
		CU_ASSERT_STRING_EQUAL(r, cases[i][2]);
		if (strcmp(r, cases[i][2]))
			fprintf(stderr, "known case %zu: got '%s'\n", i, r);
		free(r);
		jv_secrets_free(&s);
	}
	struct jv_secrets s = {0};
	jv_secrets_add(&s, "tok5");
	jv_secrets_add(&s, "p");
	jv_secrets_add(&s, "");
	jv_secrets_add(&s, NULL);
	CU_ASSERT_EQUAL(s.n_whole, 1);
	CU_ASSERT_EQUAL(s.n_pieces, 1);
	char buf[16] = "a tok5, b tok5!";
	jv_redact_buf(buf, sizeof buf, &s);
	CU_ASSERT_STRING_EQUAL(buf, "a ***, b ***!");
	char cut[4] = "\"p\""; /* longer once masked: cut to fit */
	jv_redact_buf(cut, sizeof cut, &s);
	CU_ASSERT_STRING_EQUAL(cut, "\"**");
	jv_secrets_free(&s);
	CU_ASSERT_EQUAL(s.n_whole, 0);
}

/* jv_db_check_url and jv_db_connect: libpq's reason, never the password. */
static void t_db_url_errors(void)
{
	static const char *const urls[] = {
	    "postgresql://u:sec%zzret@127.0.0.1:1/db",
	    "postgresql://u:secret@[::1/db",
	    "host=127.0.0.1 port=1 password=sec ret",
	};
	char err[512];
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		CU_ASSERT_EQUAL(jv_db_check_url(urls[i], err, sizeof err), JV_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a valid connection string or URI: "));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "***"));
		CU_ASSERT_PTR_NULL(strstr(err, "sec"));
		CU_ASSERT_PTR_NULL(strstr(err, "ret\""));
		CU_ASSERT_PTR_NULL(jv_db_connect(urls[i], NULL, err, sizeof err));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "could not connect to database: "));
		CU_ASSERT_PTR_NULL(strstr(err, "sec"));
		CU_ASSERT_PTR_NULL(strstr(err, "ret\""));
	}
	CU_ASSERT_EQUAL(jv_db_check_url("postgresql://u:p@h:5432/db?sslmode=disable", err, sizeof err), 0);
	CU_ASSERT_EQUAL(jv_db_check_url("host=/tmp dbname=x", err, sizeof err), 0);
}

static void t_strerror(void)
{
	CU_ASSERT_STRING_EQUAL(jv_strerror(JV_OK), "success");
	CU_ASSERT_STRING_EQUAL(jv_strerror(JV_EDB), "database error");
	CU_ASSERT_STRING_EQUAL(jv_strerror(-999), "unknown error");
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"strdup", t_strdup},         {"asprintf", t_asprintf}, {"buf", t_buf},
		{"mem_fail_at", t_mem_fail_at}, {"log_levels", t_log_levels},
		{"strerror", t_strerror},     {"log_escape", t_log_escape},
		{"log_one_line_text", t_log_one_line_text},
		{"log_one_line_json", t_log_one_line_json},
		{"log_core_source", t_log_core_source},
		{"log_redacts", t_log_redacts}, {"redact_any_text", t_redact_any_text},
		{"redact_known_url", t_redact_known_url}, {"db_url_errors", t_db_url_errors},
		{NULL, NULL},
	};
	return jv_unit_run("core", tests);
}

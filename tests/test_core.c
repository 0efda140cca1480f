/* test_core.c -- unit tests of the small core pieces: mem, buf, log, error. */
#include "error.h"
#include "log.h"
#include "mem.h"
#include "unit.h"

#include <setjmp.h>
#include <string.h>

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
		{"strerror", t_strerror},     {NULL, NULL},
	};
	return jv_unit_run("core", tests);
}

/* test_jsontext.c -- unit tests of core/lib/jsontext.c: JSON text from
 * PostgreSQL made fit for jansson (numbers beyond int64, nesting). */
#include "lib/error.h"
#include "lib/jsontext.h"
#include "lib/mem.h"
#include "unit.h"

#include <float.h>
#include <string.h>

/* Scan s; the rewritten text, or s itself (a copy) when nothing changed. */
static char *rewrite(const char *s, struct jv_json_info *info)
{
	char *out;
	size_t len;
	jv_json_scan(s, strlen(s), info, &out, &len);
	if (!out)
		return jv_strdup(s);
	CU_ASSERT_EQUAL(len, strlen(out));
	return out;
}

/* A text of n nested arrays around x: [[[x]]]. */
static char *nested(int n, const char *x)
{
	struct jv_buf b = {0};
	for (int i = 0; i < n; i++)
		jv_buf_append(&b, "[", 1);
	jv_buf_puts(&b, x);
	for (int i = 0; i < n; i++)
		jv_buf_append(&b, "]", 1);
	return jv_buf_steal(&b);
}

/* "1" and then n zeros, with tail after them. */
static char *ten_to(int n, const char *tail)
{
	struct jv_buf b = {0};
	jv_buf_append(&b, "1", 1);
	for (int i = 0; i < n; i++)
		jv_buf_append(&b, "0", 1);
	jv_buf_puts(&b, tail);
	return jv_buf_steal(&b);
}

static void check_rewrite(const char *in, const char *want, size_t wide)
{
	struct jv_json_info info;
	char *out = rewrite(in, &info);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL(info.wide_ints, wide);
	CU_ASSERT_EQUAL(info.huge, 0);
	free(out);
}

static void t_big_integers(void)
{
	check_rewrite("{\"x\":100000000000000000000}", "{\"x\":100000000000000000000.0}", 1);
	check_rewrite("[-100000000000000000000, 7]", "[-100000000000000000000.0, 7]", 1);
	/* the edges of int64 stay integers; one past them does not */
	check_rewrite("[9223372036854775807,-9223372036854775808]",
	              "[9223372036854775807,-9223372036854775808]", 0);
	check_rewrite("[9223372036854775808,-9223372036854775809]",
	              "[9223372036854775808.0,-9223372036854775809.0]", 2);
	check_rewrite("18446744073709551616", "18446744073709551616.0", 1);
	check_rewrite("{\"a\": 99999999999999999999999 }", "{\"a\": 99999999999999999999999.0 }",
	              1);
	/* reals are reals already */
	check_rewrite("[123456789012345678901234.5, 1e20, 1E+20, 12345678901234567890123e0]",
	              "[123456789012345678901234.5, 1e20, 1E+20, 12345678901234567890123e0]", 0);
	check_rewrite("[1,-2,0,-0,3.25,1e-7]", "[1,-2,0,-0,3.25,1e-7]", 0);

	/* and jansson reads the rewritten text with the same values */
	struct jv_json_info info;
	char *out = rewrite("{\"p\":100000000000000000000,\"n\":-100000000000000000000,"
	                    "\"i\":42,\"s\":\"100000000000000000000\"}",
	                    &info);
	json_t *j = json_loads(out, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_TRUE(json_is_real(json_object_get(j, "p")));
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "p")), 1e20, 0);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "n")), -1e20, 0);
	CU_ASSERT_TRUE(json_is_integer(json_object_get(j, "i")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "s")), "100000000000000000000");
	json_decref(j);
	free(out);
}

static void t_strings_untouched(void)
{
	check_rewrite("[\"100000000000000000000\", \"-100000000000000000000\"]",
	              "[\"100000000000000000000\", \"-100000000000000000000\"]", 0);
	/* an escaped quote does not end the string; an escaped backslash does not escape */
	check_rewrite("[\"a\\\"100000000000000000000\", \"b\\\\\", 100000000000000000000]",
	              "[\"a\\\"100000000000000000000\", \"b\\\\\", 100000000000000000000.0]", 1);
	/* three backslashes: an escaped backslash, then an escaped quote */
	check_rewrite("[\"x\\\\\\\"] 100000000000000000000\", 100000000000000000000]",
	              "[\"x\\\\\\\"] 100000000000000000000\", 100000000000000000000.0]", 1);
	check_rewrite("{\"100000000000000000000\":100000000000000000000}",
	              "{\"100000000000000000000\":100000000000000000000.0}", 1);
	/* nothing to change: no copy at all */
	char dummy = 'x';
	char *out = &dummy;
	size_t len = 9;
	struct jv_json_info info;
	jv_json_scan("{\"a\":[1,2,3]}", 13, &info, &out, &len);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(len, 0);
}

static void t_depth(void)
{
	struct jv_json_info info;
	static const struct {
		const char *text;
		int depth;
	} cases[] = {
	    {"1", 0},
	    {"\"[[[\"", 0},
	    {"[]", 1},
	    {"{\"a\":{\"b\":[]}}", 3},
	    {"[[1],[2],[[3]]]", 3},
	    {"[\"]]]\", [\"[[[[\"]]", 2},
	    {"[\"\\\"[[[\", \"\\\\\"]", 1},
	    {"{\"k[\":\"}\",\"v\":{\"w\":\"\\\\\"}}", 2},
	    {"]]][", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		jv_json_scan(cases[i].text, strlen(cases[i].text), &info, NULL, NULL);
		CU_ASSERT_EQUAL(info.depth, cases[i].depth);
		if (info.depth != cases[i].depth)
			fprintf(stderr, "depth of %s: %d, expected %d\n", cases[i].text, info.depth,
			        cases[i].depth);
	}
	char *deep = nested(3000, "100000000000000000000");
	jv_json_scan(deep, strlen(deep), &info, NULL, NULL);
	CU_ASSERT_EQUAL(info.depth, 3000);
	CU_ASSERT_EQUAL(info.wide_ints, 1);
	free(deep);
	/* only len bytes are read */
	jv_json_scan("[[[[", 2, &info, NULL, NULL);
	CU_ASSERT_EQUAL(info.depth, 2);
	CU_ASSERT_EQUAL(jv_json_depth("{\"a\":[{}],\"b\":\"[[\"}", 19), 3);
}

static void t_malformed(void)
{
	/* Measured as far as it goes, copied unchanged, never read past len. */
	static const char *const texts[] = {
	    "",
	    "-",
	    "--1",
	    "1.",
	    "1e",
	    "1e+",
	    ".5",
	    "[1, 2",
	    "\"abc",
	    "\"ab\\",
	    "[\"a\\",
	    "{\"a\":",
	    "nul",
	    "tru1",
	    "-x",
	    "+1",
	    "{\"a\": 123456789012345678901234x}",
	    "x123456789012345678901234",
	    "[123456789012345678901234.]",
	    "[00000000000000000000000000001]",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct jv_json_info info;
		char *out = rewrite(texts[i], &info);
		CU_ASSERT_STRING_EQUAL(out, texts[i]);
		free(out);
	}
	/* a backslash as the last byte of a string cut by len */
	struct jv_json_info info;
	char *out;
	size_t len;
	jv_json_scan("\"a\\\"]]]]", 3, &info, &out, &len);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(info.depth, 0);
}

static void t_beyond_double(void)
{
	struct jv_json_info info;
	/* 1e308 fits a double (as a real after the rewrite), 1e309 does not */
	char *fits = ten_to(308, "");
	char *out = rewrite(fits, &info);
	CU_ASSERT_EQUAL(info.huge, 0);
	CU_ASSERT_EQUAL(info.wide_ints, 1);
	json_t *j = json_loads(out, JSON_DECODE_ANY, NULL);
	CU_ASSERT_PTR_NOT_NULL(j);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(j), 1e308, 1e293);
	json_decref(j);
	free(out);
	free(fits);

	char *huge = ten_to(309, "");
	char *text = jv_asprintf("{\"a\": [1, %s]}", huge);
	out = rewrite(text, &info);
	CU_ASSERT_EQUAL(info.huge, 1);
	CU_ASSERT_EQUAL(info.huge_at, 10);
	CU_ASSERT_EQUAL(info.wide_ints, 0);
	CU_ASSERT_STRING_EQUAL(out, text); /* no rewrite can help it */
	free(out);
	free(text);
	free(huge);

	/* at the edge strtod decides: 1.7e308 fits, 1.8e308 does not */
	static const struct {
		const char *text;
		size_t huge;
	} cases[] = {
	    {"1.7e308", 0},     {"1.8e308", 1},       {"-1.8E+308", 1}, {"17e307", 0},
	    {"0.18e309", 1},    {"1e400", 1},         {"1e-400", 0},    {"0.0e999", 0},
	    {"0.00001e314", 1}, {"1e99999999999", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		jv_json_scan(cases[i].text, strlen(cases[i].text), &info, NULL, NULL);
		CU_ASSERT_EQUAL(info.huge, cases[i].huge);
		if (info.huge != cases[i].huge)
			fprintf(stderr, "%s: huge %zu\n", cases[i].text, info.huge);
	}
	char *max = jv_asprintf("%.17g", DBL_MAX);
	jv_json_scan(max, strlen(max), &info, NULL, NULL);
	CU_ASSERT_EQUAL(info.huge, 0);
	free(max);
	/* 0.000...1 with 400 zeros: tiny, not huge */
	char *tiny = jv_asprintf("0.%0400d", 1);
	jv_json_scan(tiny, strlen(tiny), &info, NULL, NULL);
	CU_ASSERT_EQUAL(info.huge, 0);
	free(tiny);
}

static void t_fit_payload(void)
{
	char why[256];
	char *p = jv_strdup("{\"x\":100000000000000000000}");
	CU_ASSERT_EQUAL(jv_json_fit_payload(&p, why, sizeof why), 0);
	CU_ASSERT_STRING_EQUAL(p, "{\"x\":100000000000000000000.0}");
	free(p);

	p = jv_strdup("{\"x\":1}");
	const char *before = p;
	CU_ASSERT_EQUAL(jv_json_fit_payload(&p, why, sizeof why), 0);
	CU_ASSERT_PTR_EQUAL(p, before); /* untouched, not copied */
	free(p);

	/* JV_PAYLOAD_MAX_DEPTH levels reach an executor, one more does not */
	char *inner = nested(JV_PAYLOAD_MAX_DEPTH - 1, "1");
	p = jv_asprintf("{\"a\":%s}", inner);
	free(inner);
	CU_ASSERT_EQUAL(jv_json_fit_payload(&p, why, sizeof why), 0);
	free(p);
	inner = nested(JV_PAYLOAD_MAX_DEPTH, "1");
	p = jv_asprintf("{\"a\":%s}", inner);
	free(inner);
	before = p;
	CU_ASSERT_EQUAL(jv_json_fit_payload(&p, why, sizeof why), JV_EINVAL);
	CU_ASSERT_PTR_EQUAL(p, before);
	CU_ASSERT_STRING_EQUAL(why, "payload nested 513 levels deep: at most 512 levels of arrays "
	                            "and objects reach an executor");
	free(p);

	p = jv_strdup("{\"x\":[1, 1e400]}");
	CU_ASSERT_EQUAL(jv_json_fit_payload(&p, why, sizeof why), JV_EINVAL);
	CU_ASSERT_STRING_EQUAL(why, "payload holds a number beyond the range of a double (at "
	                            "byte 9): no executor can read it");
	free(p);
}

static void t_load_pg(void)
{
	char why[256];
	json_t *j = jv_json_load_pg("{\"x\":100000000000000000000}", 27, 0, why, sizeof why);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "x")), 1e20, 0);
	json_decref(j);
	j = jv_json_load_pg("12", 1, 0, why, sizeof why); /* any value; only len bytes */
	CU_ASSERT_EQUAL(json_integer_value(j), 1);
	json_decref(j);

	/* jansson's own limit (2048 values deep): 2047 levels around a scalar
	 * are read, 2048 not */
	char *deep = nested(2047, "1");
	j = jv_json_load_pg(deep, strlen(deep), 0, why, sizeof why);
	CU_ASSERT_PTR_NOT_NULL(j);
	json_decref(j);
	free(deep);
	deep = nested(2048, "1");
	j = jv_json_load_pg(deep, strlen(deep), 0, why, sizeof why);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_STRING_EQUAL(why, "nested 2048 levels deep: at most 2047 can be read");
	free(deep);
	deep = nested(3000, "1");
	j = jv_json_load_pg(deep, strlen(deep), 0, why, sizeof why);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_STRING_EQUAL(why, "nested 3000 levels deep: at most 2047 can be read");

	/* what cannot be read is kept as text beside a null */
	json_t *o = json_pack("{s:i, s:n, s:n}", "id", 1, "payload", "result");
	jv_json_set_pg(o, "payload", deep, strlen(deep));
	jv_json_set_pg(o, "result", "[100000000000000000000]", 23);
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "payload")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "payloadOmitted")),
	                       "nested 3000 levels deep: at most 2047 can be read");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "payloadText")), deep);
	CU_ASSERT_TRUE(json_is_real(json_array_get(json_object_get(o, "result"), 0)));
	CU_ASSERT_PTR_NULL(json_object_get(o, "resultOmitted"));
	CU_ASSERT_PTR_NULL(json_object_get(o, "resultText"));
	/* the keys keep their places */
	char *text = json_dumps(o, JSON_COMPACT);
	static const char head[] = "{\"id\":1,\"payload\":null,\"result\":[1e20],";
	CU_ASSERT_EQUAL(strncmp(text, head, strlen(head)), 0);
	free(text);
	jv_json_set_pg(o, "none", NULL, 0);
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "none")));
	json_decref(o);
	free(deep);

	j = jv_json_load_pg("[1e999]", 7, 0, why, sizeof why);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_STRING_EQUAL(why, "holds a number beyond the range of a double (at byte 1)");
	j = jv_json_load_pg("{\"a\":", 5, 0, why, sizeof why);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(strncmp(why, "not readable as JSON: ", 22), 0);
	/* the caller's flags apply */
	j = jv_json_load_pg("{\"a\":1,\"a\":100000000000000000000}", 33, JSON_REJECT_DUPLICATES,
	                    why, sizeof why);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "duplicate"));
	j = jv_json_load_pg("[1,2]", 5, 0, NULL, 0); /* why may be NULL */
	CU_ASSERT_EQUAL(json_array_size(j), 2);
	json_decref(j);
	CU_ASSERT_PTR_NULL(jv_json_load_pg("", 0, 0, NULL, 0));
}

/* Reals in their shortest form that reads back the same; strings, integers
 * and whole reals as reals. */
static void t_dumps(void)
{
	json_t *v = json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:s, s:[f, f]}", "a", 0.1, "b", 3.12,
			      "c", 3.0, "d", 1e20, "e", -2.5e-8, "f", (json_int_t)17, "g",
			      "3.1200000000000001 \"0.1\"", "h", 1.0 / 3.0, 2.0 / 3.0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	char *text = jv_json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_STRING_EQUAL(text, "{\"a\":0.1,\"b\":3.12,\"c\":3.0,\"d\":1e+20,\"e\":-2.5e-08,"
				     "\"f\":17,\"g\":\"3.1200000000000001 \\\"0.1\\\"\","
				     "\"h\":[0.3333333333333333,0.6666666666666666]}");
	/* Each reads back as the same doubles. */
	json_t *back = json_loads(text, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_TRUE(json_equal(v, back));
	json_decref(back);
	free(text);
	json_decref(v);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
	    {"integers beyond int64 become reals", t_big_integers},
	    {"strings are never changed", t_strings_untouched},
	    {"nesting depth", t_depth},
	    {"malformed text is left alone", t_malformed},
	    {"numbers beyond a double", t_beyond_double},
	    {"a payload fit for executors", t_fit_payload},
	    {"loading JSON from PostgreSQL", t_load_pg},
	    {"shortest reals in dumps", t_dumps},
	    {NULL, NULL},
	};
	return jv_unit_run("jsontext", tests);
}

/*
 * test_jobspec.c -- the job object of the REST API and of `jobvisor enqueue
 * --file` lines (core/api/jobspec.c): what it takes, what it normalises,
 * and that each refusal names its field first.
 */
#include "api/jobspec.h"
#include "lib/sizelimits.h"

#include "unit.h"

#include <string.h>

static char err[512];

/* Parse text and read it as a job; the result of jv_jobspec_read. */
static int read_text(const char *text, struct jv_jobspec *js)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	err[0] = '\0';
	int rc = jv_jobspec_read(j, js, err, sizeof err);
	json_decref(j); /* js points into j: read it only for rc */
	return rc;
}

/* text is refused with a message starting with want. */
static void refused(const char *text, const char *want)
{
	struct jv_jobspec js;
	CU_ASSERT_EQUAL(read_text(text, &js), -1);
	if (strncmp(err, want, strlen(want)))
		fprintf(stderr, "\n  %s\n  gave: %s\n  want: %s...\n", text, err, want);
	CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
}

static void test_minimal(void)
{
	json_t *j = json_pack("{s:s}", "type", "noop");
	struct jv_jobspec js;
	CU_ASSERT_EQUAL(jv_jobspec_read(j, &js, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(js.type, "noop");
	CU_ASSERT_PTR_NULL(js.user);
	CU_ASSERT_PTR_NULL(js.payload);
	CU_ASSERT_PTR_NULL(js.depends);
	CU_ASSERT_STRING_EQUAL(js.priority, "");
	CU_ASSERT_STRING_EQUAL(js.unique_states, "");
	json_decref(j);
}

static void test_every_field(void)
{
	json_t *j = json_loads("{\"type\": \"t\", \"payload\": {\"a\": [1]}, \"userId\": \"u\","
	                       " \"runAt\": \"2030-01-01T00:00:00Z\", \"priority\": -3,"
	                       " \"maxAttempts\": 1000, \"timeoutSeconds\": 604800, \"queue\": \"q.1\","
	                       " \"dependsOn\": [3, 1, 3], \"runWhen\": \"always\"}",
	                       0, NULL);
	struct jv_jobspec js;
	CU_ASSERT_EQUAL_FATAL(jv_jobspec_read(j, &js, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(js.user, "u");
	CU_ASSERT_STRING_EQUAL(js.run_at, "2030-01-01T00:00:00Z");
	CU_ASSERT_STRING_EQUAL(js.priority, "-3");
	CU_ASSERT_STRING_EQUAL(js.max_attempts, "1000");
	CU_ASSERT_STRING_EQUAL(js.timeout, "604800");
	CU_ASSERT_STRING_EQUAL(js.queue, "q.1");
	CU_ASSERT_STRING_EQUAL(js.run_when, "always");
	CU_ASSERT_EQUAL(json_array_size(js.depends), 3);
	CU_ASSERT_PTR_NOT_NULL(js.payload);
	json_decref(j);

	j = json_loads("{\"type\": \"t\", \"uniqueKey\": \"k\", \"uniqueStates\": [\"succeeded\","
	               " \"running\", \"pending\", \"running\"], \"user\": \"v\", \"payload\": null}",
	               0, NULL);
	CU_ASSERT_EQUAL_FATAL(jv_jobspec_read(j, &js, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(js.unique_states, "{pending,running,succeeded}");
	CU_ASSERT_STRING_EQUAL(js.user, "v");
	CU_ASSERT_PTR_NULL(js.payload);
	json_decref(j);
}

static void test_refused(void)
{
	refused("[1]", "a job must be a JSON object");
	refused("{}", "type: required");
	refused("{\"type\": \"\"}", "type: must be a non-empty string");
	refused("{\"type\": 5}", "type: must be a non-empty string");
	refused("{\"type\": \"t\", \"bogus\": 1}", "\"bogus\": unknown field");
	refused("{\"type\": \"t\", \"user\": \"a\", \"userId\": \"b\"}", "userId: give user or userId");
	refused("{\"type\": \"t\", \"payload\": [1]}", "payload: must be a JSON object");
	refused("{\"type\": \"t\", \"priority\": 2147483648}", "priority: must be an integer from");
	refused("{\"type\": \"t\", \"maxAttempts\": 0}", "maxAttempts: must be an integer from 1 to 1000");
	refused("{\"type\": \"t\", \"timeoutSeconds\": 1.5}", "timeoutSeconds: must be an integer");
	refused("{\"type\": \"t\", \"queue\": \"Big\"}", "queue: must be 1 to 64");
	refused("{\"type\": \"t\", \"runWhen\": \"never\"}", "runWhen: must be \"success\" or \"always\"");
	refused("{\"type\": \"t\", \"dependsOn\": 3}", "dependsOn: must be an array");
	refused("{\"type\": \"t\", \"dependsOn\": [1, 0]}", "dependsOn[1]: must be a job id");
	refused("{\"type\": \"t\", \"dependsOn\": [\"a\"]}", "dependsOn[0]: must be a job id");
	refused("{\"type\": \"t\", \"dependsOn\": [1], \"uniqueKey\": \"k\"}",
	        "uniqueKey: cannot go with dependsOn");
	refused("{\"type\": \"t\", \"uniqueStates\": [\"pending\", \"running\"]}",
	        "uniqueStates: needs uniqueKey");
	refused("{\"type\": \"t\", \"uniqueKey\": \"k\", \"uniqueStates\": [\"pending\"]}",
	        "uniqueStates: must include pending and running");
	refused("{\"type\": \"t\", \"uniqueKey\": \"k\", \"uniqueStates\": [\"pending\", \"gone\"]}",
	        "uniqueStates[1]: must be one of");
}

/* Each limit: at it taken, one past it refused naming it. */
static void test_limits(void)
{
	struct jv_jobspec js;
	char *s = malloc(JV_TYPE_MAX + 2);
	memset(s, 'a', JV_TYPE_MAX + 1);
	s[JV_TYPE_MAX + 1] = '\0';
	json_t *j = json_pack("{s:s}", "type", s);
	CU_ASSERT_EQUAL(jv_jobspec_read(j, &js, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "type: too long: 129 bytes, the limit is 128 bytes"));
	json_decref(j);
	s[JV_TYPE_MAX] = '\0';
	j = json_pack("{s:s}", "type", s);
	CU_ASSERT_EQUAL(jv_jobspec_read(j, &js, err, sizeof err), 0);
	json_decref(j);
	free(s);

	json_t *deps = json_array();
	for (int i = 1; i <= JV_DEPENDS_MAX; i++)
		json_array_append_new(deps, json_integer(i));
	j = json_pack("{s:s, s:o}", "type", "t", "dependsOn", deps);
	CU_ASSERT_EQUAL(jv_jobspec_read(j, &js, err, sizeof err), 0);
	json_array_append_new(deps, json_integer(JV_DEPENDS_MAX + 1));
	CU_ASSERT_EQUAL(jv_jobspec_read(j, &js, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "dependsOn: 101 job ids, at most 100");
	json_decref(j);

	/* a payload one byte over as compact JSON: {"x":"aaa..."} */
	size_t n = JV_PAYLOAD_MAX - 8 + 1;
	s = malloc(n + 1);
	memset(s, 'a', n);
	s[n] = '\0';
	j = json_pack("{s:s, s:{s:s}}", "type", "t", "payload", "x", s);
	CU_ASSERT_EQUAL(jv_jobspec_read(j, &js, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "payload: too large: 1048577 bytes as JSON"));
	json_decref(j);
	s[n - 1] = '\0';
	j = json_pack("{s:s, s:{s:s}}", "type", "t", "payload", "x", s);
	CU_ASSERT_EQUAL(jv_jobspec_read(j, &js, err, sizeof err), 0);
	json_decref(j);
	free(s);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
	    {"a type alone", test_minimal},
	    {"every field, normalised", test_every_field},
	    {"each refusal names its field", test_refused},
	    {"limits: at and one past", test_limits},
	    {NULL, NULL},
	};
	return jv_unit_run("jobspec", tests);
}

/*
 * jobspec.c -- a job object of the REST API, checked (jobspec.h).
 */
#include "api/jobspec.h"

#include "config/config.h"
#include "lib/jsontext.h"
#include "lib/sizelimits.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_keys[] = {
    "type",           "payload",   "user",         "userId", "runAt",     "priority",
    "maxAttempts",    "timeoutSeconds", "uniqueKey", "uniqueStates", "queue", "dependsOn",
    "runWhen",        NULL,
};

static const char *const states[] = {"pending", "running", "succeeded", "failed", "cancelled"};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* An optional string field: non-empty, no NUL, at most max bytes (0: no
 * limit). */
static int str_field(const json_t *obj, const char *key, size_t max, const char **out, char *err,
                     size_t errlen)
{
	const json_t *x = json_object_get(obj, key);
	*out = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_string(x) || json_string_length(x) == 0 ||
	    strlen(json_string_value(x)) != json_string_length(x))
		return fail(err, errlen, "%s: must be a non-empty string", key);
	if (max && json_string_length(x) > max)
		return fail(err, errlen, "%s: too long: %zu bytes, the limit is %zu bytes", key,
		            json_string_length(x), max);
	*out = json_string_value(x);
	return 0;
}

/* An optional integer field in [lo, hi], as decimal text in buf ("" when
 * absent). */
static int int_field(const json_t *obj, const char *key, long long lo, long long hi, char *buf,
                     size_t len, char *err, size_t errlen)
{
	const json_t *x = json_object_get(obj, key);
	buf[0] = '\0';
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
		return fail(err, errlen, "%s: must be an integer from %lld to %lld", key, lo, hi);
	snprintf(buf, len, "%lld", (long long)json_integer_value(x));
	return 0;
}

/* uniqueStates: known states, pending and running among them, as the array
 * literal "{pending,running,...}". */
static int states_field(const json_t *obj, struct jv_jobspec *js, char *err, size_t errlen)
{
	const json_t *x = json_object_get(obj, "uniqueStates");
	js->unique_states[0] = '\0';
	if (!x || json_is_null(x))
		return 0;
	if (!js->unique_key)
		return fail(err, errlen, "uniqueStates: needs uniqueKey");
	if (!json_is_array(x) || json_array_size(x) == 0)
		return fail(err, errlen,
		            "uniqueStates: must be an array of job states, such as [\"pending\", "
		            "\"running\", \"succeeded\"]");
	int seen[5] = {0};
	size_t i;
	const json_t *v;
	json_array_foreach(x, i, v)
	{
		int k = -1;
		for (int s = 0; s < 5 && k < 0 && json_is_string(v); s++)
			if (!strcmp(states[s], json_string_value(v)) &&
			    strlen(states[s]) == json_string_length(v))
				k = s;
		if (k < 0)
			return fail(err, errlen,
			            "uniqueStates[%zu]: must be one of pending, running, succeeded, "
			            "failed, cancelled",
			            i);
		seen[k] = 1;
	}
	if (!seen[0] || !seen[1])
		return fail(err, errlen,
		            "uniqueStates: must include pending and running (one pending or running "
		            "job per uniqueKey is always the rule)");
	size_t n = (size_t)snprintf(js->unique_states, sizeof js->unique_states, "{");
	for (int s = 0; s < 5; s++)
		if (seen[s])
			n += (size_t)snprintf(js->unique_states + n, sizeof js->unique_states - n,
			                      "%s%s", n > 1 ? "," : "", states[s]);
	snprintf(js->unique_states + n, sizeof js->unique_states - n, "}");
	return 0;
}

/* dependsOn: 1..JV_DEPENDS_MAX job ids. */
static int depends_field(const json_t *obj, struct jv_jobspec *js, char *err, size_t errlen)
{
	const json_t *x = json_object_get(obj, "dependsOn");
	js->depends = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_array(x))
		return fail(err, errlen, "dependsOn: must be an array of job ids");
	if (json_array_size(x) > JV_DEPENDS_MAX)
		return fail(err, errlen, "dependsOn: %zu job ids, at most %d", json_array_size(x),
		            JV_DEPENDS_MAX);
	size_t i;
	const json_t *v;
	json_array_foreach(x, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return fail(err, errlen, "dependsOn[%zu]: must be a job id (a positive integer)",
			            i);
	}
	if (json_array_size(x) > 0)
		js->depends = x;
	return 0;
}

/* payload: an object within JV_PAYLOAD_MAX (as compact JSON; the database
 * measures it again as it writes it) and JV_PAYLOAD_MAX_DEPTH. */
static int payload_field(const json_t *obj, struct jv_jobspec *js, char *err, size_t errlen)
{
	const json_t *x = json_object_get(obj, "payload");
	js->payload = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_object(x))
		return fail(err, errlen, "payload: must be a JSON object ({...})");
	char *text = jv_json_dumps(x, JSON_COMPACT);
	if (!text)
		return fail(err, errlen, "payload: cannot be stored as JSON");
	size_t len = strlen(text);
	int depth = jv_json_depth(text, len);
	free(text);
	if (len > JV_PAYLOAD_MAX)
		return fail(err, errlen, "payload: too large: %zu bytes as JSON, the limit is %d bytes",
		            len, JV_PAYLOAD_MAX);
	if (depth > JV_PAYLOAD_MAX_DEPTH)
		return fail(err, errlen,
		            "payload: nested %d levels deep: at most %d levels of arrays and objects",
		            depth, JV_PAYLOAD_MAX_DEPTH);
	js->payload = x;
	return 0;
}

int jv_jobspec_read(const json_t *obj, struct jv_jobspec *js, char *err, size_t errlen)
{
	memset(js, 0, sizeof *js);
	if (!json_is_object(obj))
		return fail(err, errlen, "a job must be a JSON object with at least \"type\"");
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		size_t k = 0;
		while (known_keys[k] && strcmp(known_keys[k], key))
			k++;
		if (!known_keys[k])
			return fail(err, errlen, "\"%.64s\": unknown field (the fields are %s)", key,
			            JV_JOBSPEC_KEYS);
	}
	const char *user_id = NULL;
	if (str_field(obj, "type", JV_TYPE_MAX, &js->type, err, errlen) ||
	    str_field(obj, "user", JV_USER_MAX, &js->user, err, errlen) ||
	    str_field(obj, "userId", JV_USER_MAX, &user_id, err, errlen) ||
	    str_field(obj, "runAt", 0, &js->run_at, err, errlen) ||
	    str_field(obj, "uniqueKey", JV_UNIQUE_KEY_MAX, &js->unique_key, err, errlen) ||
	    str_field(obj, "queue", 0, &js->queue, err, errlen) ||
	    str_field(obj, "runWhen", 0, &js->run_when, err, errlen) ||
	    int_field(obj, "priority", -2147483648LL, 2147483647LL, js->priority,
	              sizeof js->priority, err, errlen) ||
	    int_field(obj, "maxAttempts", 1, 1000, js->max_attempts, sizeof js->max_attempts, err,
	              errlen) ||
	    int_field(obj, "timeoutSeconds", 1, 604800, js->timeout, sizeof js->timeout, err,
	              errlen) ||
	    states_field(obj, js, err, errlen) || depends_field(obj, js, err, errlen) ||
	    payload_field(obj, js, err, errlen))
		return -1;
	if (!js->type)
		return fail(err, errlen, "type: required (the job type, an executor of the config)");
	if (user_id && js->user)
		return fail(err, errlen, "userId: give user or userId, not both");
	if (user_id)
		js->user = user_id;
	if (js->queue && !jv_queue_name_ok(js->queue))
		return fail(err, errlen, "queue: must be %s", JV_QUEUE_NAME_RULE);
	if (js->run_when && strcmp(js->run_when, "success") && strcmp(js->run_when, "always"))
		return fail(err, errlen, "runWhen: must be \"success\" or \"always\"");
	if (js->depends && js->unique_key)
		return fail(err, errlen,
		            "uniqueKey: cannot go with dependsOn (a job with dependencies has no "
		            "unique key)");
	return 0;
}

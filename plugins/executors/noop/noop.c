/*
 * noop.c -- the executor that does nothing, on purpose: for tests, demos and
 * benchmarks of the supervisor itself.
 *
 * Payload (a JSON object; every key optional):
 *   sleep_ms     integer >= 0: sleep this long first (default: the instance's
 *                default_sleep_ms, else 0), waking every few ms to honour
 *                cancellation and the deadline
 *   outcome      "success" (default) | "retryable" | "permanent" | "crash"
 *                (abort()s the process) | "hang" (ignores cancellation and
 *                never returns)
 *   error        string: the error message for retryable / permanent
 *   retry_in_ms  integer >= 0: with retryable, the delay before the next try
 *   output       string: written to the run's captured output
 *   result       any JSON: the job's result (default {"slept_ms": N})
 *   data         anything: ignored (padding for benchmarks)
 * Anything else, or a value of the wrong type, fails the job for good.
 *
 * Config keys of an instance: default_sleep_ms (integer >= 0).
 *
 * Uses nothing but <jobvisor/plugin.h>, jansson and libc.
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#define NOOP_VERSION PACKAGE_VERSION
#else
#define NOOP_VERSION "0.1.0"
#endif

#include <jobvisor/plugin.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOOP_SLICE_MS 5
#define NOOP_MAX_SLEEP_MS (7LL * 24 * 3600 * 1000) /* a week: more is a typo */

struct noop {
	const struct jv_host *host;
	struct jv_instance *inst;
	int64_t default_sleep_ms;
};

static const char *const noop_keys[] = {"default_sleep_ms", NULL};

static int noop_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	int64_t def = 0;
	int rc = host->config_int(inst, "default_sleep_ms", &def);
	if (rc != 0 && rc != JV_HOST_ENOENT)
		return rc;
	if (def < 0 || def > NOOP_MAX_SLEEP_MS)
		return host->config_error(inst, "default_sleep_ms", "must be between 0 and %lld",
					  (long long)NOOP_MAX_SLEEP_MS);
	struct noop *n = calloc(1, sizeof *n);
	if (!n) {
		host->log(inst, JV_LOG_ERROR, "out of memory");
		return JV_HOST_ENOMEM;
	}
	n->host = host;
	n->inst = inst;
	n->default_sleep_ms = def;
	*state = n;
	return 0;
}

static void noop_destroy(void *state) { free(state); }

static int64_t noop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void noop_nap(int64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sleep ms in slices. Returns JV_SUCCESS, or JV_RETRY with the run's error
 * set when cancelled or out of time. */
static int noop_sleep(const struct noop *n, struct jv_run *run, int64_t ms)
{
	const struct jv_host *h = n->host;
	int64_t start = noop_now_ms();
	for (;;) {
		int64_t left = ms - (noop_now_ms() - start);
		if (left <= 0)
			return JV_SUCCESS;
		int64_t budget = h->remaining_ms(run);
		if (budget <= 0) {
			h->error(run, "deadline reached after %lld of %lld ms",
				 (long long)(noop_now_ms() - start), (long long)ms);
			return JV_RETRY;
		}
		if (h->cancelled(run)) {
			h->error(run, "cancelled");
			return JV_RETRY;
		}
		int64_t slice = left < NOOP_SLICE_MS ? left : NOOP_SLICE_MS;
		/* cppcheck-suppress knownConditionTrueFalse ; 2.10 misreads x = a < b ? a : b */
		noop_nap(slice < budget ? slice : budget);
	}
}

/* payload[key] as an integer in [0, max], into *out; absent leaves *out. */
static int noop_int(const struct noop *n, struct jv_run *run, json_t *payload, const char *key,
		    int64_t max, int64_t *out)
{
	json_t *v = json_object_get(payload, key);
	if (!v)
		return 0;
	if (!json_is_integer(v)) {
		n->host->error(run, "noop: payload.%s must be an integer", key);
		return -1;
	}
	json_int_t i = json_integer_value(v);
	if (i < 0 || i > max) {
		n->host->error(run, "noop: payload.%s must be between 0 and %lld", key,
			       (long long)max);
		return -1;
	}
	*out = (int64_t)i;
	return 0;
}

/* payload[key] as a string, into *out; absent leaves *out. */
static int noop_string(const struct noop *n, struct jv_run *run, json_t *payload, const char *key,
		       const char **out)
{
	json_t *v = json_object_get(payload, key);
	if (!v)
		return 0;
	if (!json_is_string(v)) {
		n->host->error(run, "noop: payload.%s must be a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int noop_known_key(const char *key)
{
	static const char *const keys[] = {"sleep_ms", "outcome",     "error", "retry_in_ms",
					   "output",   "result",      "data",  NULL};
	for (const char *const *k = keys; *k; k++)
		if (!strcmp(*k, key))
			return 1;
	return 0;
}

/* Set the result: payload.result when given, else {"slept_ms": N}. */
static void noop_set_result(const struct noop *n, struct jv_run *run, json_t *given,
			    int64_t slept_ms)
{
	json_t *own = given ? NULL : json_pack("{s:I}", "slept_ms", (json_int_t)slept_ms);
	char *text = json_dumps(given ? given : own, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text)
		n->host->result_json(run, text);
	free(text);
	json_decref(own);
}

/* What a payload asks for, checked; strings point into the payload. */
enum noop_outcome { NOOP_SUCCESS, NOOP_RETRYABLE, NOOP_PERMANENT, NOOP_CRASH, NOOP_HANG };
struct noop_spec {
	int64_t sleep_ms, retry_in_ms;
	enum noop_outcome what;
	const char *error, *output;
	json_t *result; /* payload.result, or NULL */
};

/* Check payload and fill sp, without doing anything yet (a fuzzer calls
 * this alone). Returns 0, or -1 with the run's error set. */
static int noop_parse(const struct noop *n, struct jv_run *run, json_t *payload,
		      struct noop_spec *sp)
{
	const struct jv_host *h = n->host;
	if (json_is_null(payload))
		payload = NULL; /* "null" is as good as "{}" */
	else if (!json_is_object(payload)) {
		h->error(run, "noop: payload must be a JSON object");
		return -1;
	}
	const char *key;
	json_t *value;
	json_object_foreach(payload, key, value)
	{
		if (!noop_known_key(key)) {
			h->error(run,
				 "noop: unknown payload key '%s' (known: sleep_ms, outcome, "
				 "error, retry_in_ms, output, result, data)",
				 key);
			return -1;
		}
	}

	const char *outcome = "success";
	sp->sleep_ms = n->default_sleep_ms;
	sp->retry_in_ms = -1;
	sp->error = sp->output = NULL;
	sp->result = payload ? json_object_get(payload, "result") : NULL;
	if (noop_int(n, run, payload, "sleep_ms", NOOP_MAX_SLEEP_MS, &sp->sleep_ms) ||
	    noop_int(n, run, payload, "retry_in_ms", NOOP_MAX_SLEEP_MS, &sp->retry_in_ms) ||
	    noop_string(n, run, payload, "outcome", &outcome) ||
	    noop_string(n, run, payload, "error", &sp->error) ||
	    noop_string(n, run, payload, "output", &sp->output))
		return -1;

	if (!strcmp(outcome, "success"))
		sp->what = NOOP_SUCCESS;
	else if (!strcmp(outcome, "retryable"))
		sp->what = NOOP_RETRYABLE;
	else if (!strcmp(outcome, "permanent"))
		sp->what = NOOP_PERMANENT;
	else if (!strcmp(outcome, "crash"))
		sp->what = NOOP_CRASH;
	else if (!strcmp(outcome, "hang"))
		sp->what = NOOP_HANG;
	else {
		h->error(run,
			 "noop: unknown outcome '%.64s' (success, retryable, permanent, crash, hang)",
			 outcome);
		return -1;
	}
	return 0;
}

static int noop_run(const struct noop *n, const struct jv_job *job, struct jv_run *run,
		    const struct noop_spec *sp)
{
	const struct jv_host *h = n->host;
	if (sp->output)
		h->output(run, sp->output, strlen(sp->output));
	if (sp->sleep_ms > 0) {
		int rc = noop_sleep(n, run, sp->sleep_ms);
		if (rc != JV_SUCCESS)
			return rc;
	}

	switch (sp->what) {
	case NOOP_CRASH:
		h->log(n->inst, JV_LOG_INFO, "job %lld: crashing on request",
		       (long long)job->id);
		abort();
	case NOOP_HANG:
		h->log(n->inst, JV_LOG_INFO, "job %lld: hanging on request", (long long)job->id);
		for (;;)
			pause();
	case NOOP_RETRYABLE:
		h->error(run, "%s", sp->error ? sp->error : "noop: retryable failure, as requested");
		if (sp->retry_in_ms >= 0)
			h->retry_in(run, sp->retry_in_ms);
		return JV_RETRY;
	case NOOP_PERMANENT:
		h->error(run, "%s", sp->error ? sp->error : "noop: permanent failure, as requested");
		return JV_FAIL;
	case NOOP_SUCCESS:
		break;
	}
	noop_set_result(n, run, sp->result, sp->sleep_ms);
	return JV_SUCCESS;
}

static int noop_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct noop *n = state;
	json_error_t e;
	json_t *payload = json_loadb(job->payload, job->payload_len, JSON_DECODE_ANY, &e);
	if (!payload) {
		n->host->error(run, "noop: payload is not JSON: %s (at byte %d)", e.text,
			       e.position);
		return JV_FAIL;
	}
	struct noop_spec sp;
	int rc = noop_parse(n, run, payload, &sp) ? JV_FAIL : noop_run(n, job, run, &sp);
	json_decref(payload);
	return rc;
}

static const struct jv_plugin noop = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "noop",
	.version = NOOP_VERSION,
	.description = "does nothing, as told: sleeps, succeeds, fails, crashes or hangs",
	.config_keys = noop_keys,
	.create = noop_create,
	.destroy = noop_destroy,
	.execute = noop_execute,
};

JV_PLUGIN_ENTRY(noop)

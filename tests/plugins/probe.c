/*
 * probe.c -- an executor driven by a one-word payload, to test what the host
 * does with what a plugin returns and sends:
 *   "status N"     return N (no error set)
 *   "output N"     write N bytes of 'x', in chunks of 7
 *   "utf8 N"       write N times "é" (2 bytes each)
 *   "result TEXT"  result_json(TEXT); JV_FAIL with "result_json: RC" if refused
 *   "retry MS"     retry_in(MS), error "later", JV_RETRY
 *   "fail"         error "no", JV_FAIL
 *   "silent"       JV_FAIL without an error
 *   "clock"        output "remaining=R cancelled=C"
 *   "errtwice"     two error() calls, then JV_FAIL: the last wins
 *   "bigresult N"  result_json() of a JSON string N bytes long (quotes
 *                  included), whatever it returns: JV_SUCCESS
 *   "bigerror N"   an error of N/2 times "é" (N bytes), JV_FAIL
 *   "progress N NOTE"  progress(N, NOTE) (ABI 1.2); JV_FAIL with
 *                  "progress: RC" if refused
 *   "deps"         dependency_results() (ABI 1.2) twice: the text as the
 *                  output (the two must be the same pointer), else JV_FAIL
 *                  with "deps: RC"
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pr_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

static int pr_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host *h = state;
	const char *p = job->payload;
	const char *arg = strchr(p, ' ');
	arg = arg ? arg + 1 : "";
	long long n = strtoll(arg, NULL, 10);
	char buf[128];

	if (!strncmp(p, "status ", 7))
		return (int)n;
	if (!strncmp(p, "output ", 7)) {
		for (long long i = 0; i < n; i += 7)
			h->output(run, "xxxxxxx", (size_t)(n - i < 7 ? n - i : 7));
		return JV_SUCCESS;
	}
	if (!strncmp(p, "utf8 ", 5)) {
		for (long long i = 0; i < n; i++)
			h->output(run, "\xc3\xa9", 2);
		return JV_SUCCESS;
	}
	if (!strncmp(p, "result ", 7)) {
		int rc = h->result_json(run, arg);
		if (rc) {
			h->error(run, "result_json: %d", rc);
			return JV_FAIL;
		}
		return JV_SUCCESS;
	}
	if (!strncmp(p, "retry ", 6)) {
		h->retry_in(run, n);
		h->error(run, "later");
		return JV_RETRY;
	}
	if (!strcmp(p, "fail")) {
		h->error(run, "no");
		return JV_FAIL;
	}
	if (!strcmp(p, "silent"))
		return JV_FAIL;
	if (!strcmp(p, "clock")) {
		int len = snprintf(buf, sizeof buf, "remaining=%lld cancelled=%d",
				   (long long)h->remaining_ms(run), h->cancelled(run));
		h->output(run, buf, (size_t)len);
		return JV_SUCCESS;
	}
	if (!strncmp(p, "bigresult ", 10) && n >= 2) {
		char *big = malloc((size_t)n + 1);
		if (!big)
			return JV_RETRY;
		memset(big, 'a', (size_t)n);
		big[0] = big[n - 1] = '"';
		big[n] = '\0';
		h->result_json(run, big);
		free(big);
		return JV_SUCCESS;
	}
	if (!strncmp(p, "bigerror ", 9) && n >= 2) {
		char *big = malloc((size_t)n + 1);
		if (!big)
			return JV_RETRY;
		for (long long i = 0; i + 1 < n; i += 2)
			memcpy(big + i, "\xc3\xa9", 2);
		big[n - n % 2] = '\0';
		h->error(run, "%s", big);
		free(big);
		return JV_FAIL;
	}
	if (!strncmp(p, "progress ", 9)) {
		const char *note = strchr(arg, ' ');
		int rc = h->abi_minor >= 2 ? h->progress(run, (int)n, note ? note + 1 : NULL) : -99;
		if (rc) {
			h->error(run, "progress: %d", rc);
			return JV_FAIL;
		}
		return JV_SUCCESS;
	}
	if (!strcmp(p, "deps")) {
		const char *a = NULL, *b = NULL;
		int rc = h->abi_minor >= 2 ? h->dependency_results(run, &a) : -99;
		if (rc == 0)
			rc = h->dependency_results(run, &b);
		if (rc == 0 && a != b)
			rc = -98;
		if (rc) {
			h->error(run, "deps: %d", rc);
			return JV_FAIL;
		}
		h->output(run, a, strlen(a));
		return JV_SUCCESS;
	}
	if (!strcmp(p, "errtwice")) {
		h->error(run, "first");
		h->error(run, "second %d", 2);
		return JV_FAIL;
	}
	h->error(run, "probe: unknown payload");
	return JV_FAIL;
}

static const struct jv_plugin probe = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "probe",
	.version = "1",
	.create = pr_create,
	.execute = pr_execute,
};
JV_PLUGIN_ENTRY(probe)

/*
 * oversize.c -- an executor that returns more than the limits allow, for
 * tests/it_limits.sh: through a real worker process, a result or an error
 * of N MiB must end the attempt clearly (never kill the worker). The
 * payload is a JSON object, read with strstr (this plugin links against
 * nothing but libc):
 *   {"result_mb": N}   result_json() of a JSON string of N MiB; JV_SUCCESS
 *                      whatever result_json() returned
 *   {"error_mb": N}    an error of N MiB; JV_FAIL
 *   anything else      JV_SUCCESS
 * Each first writes "pid=P" to the output: the worker that ran it.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int os_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

/* "key": N in the payload, in bytes (N MiB), or 0. */
static size_t os_mb(const char *payload, const char *key)
{
	const char *p = strstr(payload, key);
	if (!p)
		return 0;
	p += strlen(key);
	while (*p == '"' || *p == ':' || *p == ' ')
		p++;
	long n = strtol(p, NULL, 10);
	return n > 0 && n < 1024 ? (size_t)n * 1024 * 1024 : 0;
}

static int os_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host *h = state;
	char line[32];
	int len = snprintf(line, sizeof line, "pid=%d\n", (int)getpid());
	h->output(run, line, (size_t)len);
	size_t n = os_mb(job->payload, "\"result_mb\"");
	size_t e = os_mb(job->payload, "\"error_mb\"");
	if (!n && !e)
		return JV_SUCCESS;
	size_t size = n ? n : e;
	char *big = malloc(size + 1);
	if (!big) {
		h->error(run, "oversize: out of memory");
		return JV_RETRY;
	}
	memset(big, 'a', size);
	big[size] = '\0';
	if (n) {
		big[0] = big[size - 1] = '"';
		h->result_json(run, big);
		free(big);
		return JV_SUCCESS;
	}
	h->error(run, "%s", big);
	free(big);
	return JV_FAIL;
}

static const struct jv_plugin oversize = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "oversize",
	.version = "1",
	.create = os_create,
	.execute = os_execute,
};
JV_PLUGIN_ENTRY(oversize)

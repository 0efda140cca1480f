/*
 * attempt.c -- one attempt of one job (attempt.h): making, freeing, how it
 * ended in words, and whether it may be retried.
 */
#include "autoconf.h"

#include "engine/attempt.h"
#include "lib/mem.h"

#include <stdlib.h>
#include <string.h>

/* Per outcome: its job_executions text, and whether the attempt may be
 * retried (within max_attempts). */
static const struct {
	const char *text;
	int retryable;
} outcomes[] = {
	[JV_OUTCOME_SUCCEEDED] = {"succeeded", 0}, [JV_OUTCOME_RETRYABLE] = {"failed", 1},
	[JV_OUTCOME_PERMANENT] = {"failed", 0},    [JV_OUTCOME_TIMED_OUT] = {"timed_out", 1},
	[JV_OUTCOME_CRASHED] = {"crashed", 1},     [JV_OUTCOME_CANCELLED] = {"cancelled", 0},
	[JV_OUTCOME_RELEASED] = {"released", 0},   [JV_OUTCOME_FENCED] = {"fenced", 1},
};

const char *jv_outcome_text(enum jv_outcome o)
{
	if ((size_t)o >= sizeof outcomes / sizeof outcomes[0] || !outcomes[o].text)
		return "failed";
	return outcomes[o].text;
}

int jv_outcome_retryable(enum jv_outcome o)
{
	return (size_t)o < sizeof outcomes / sizeof outcomes[0] && outcomes[o].retryable;
}

struct jv_attempt jv_attempt_make(int64_t id, int32_t attempt, int32_t max_attempts,
				  int32_t timeout_ms, int32_t executor, const char *type,
				  const char *user_id)
{
	return (struct jv_attempt){
		.id = id,
		.attempt = attempt,
		.max_attempts = max_attempts,
		.timeout_ms = timeout_ms,
		.executor = executor,
		.type = jv_strdup(type),
		.user_id = jv_strdup(user_id),
	};
}

int32_t jv_attempt_max(int32_t job_max, int32_t executor_max)
{
	return executor_max > 0 && executor_max < job_max ? executor_max : job_max;
}

void jv_attempt_free(struct jv_attempt *a)
{
	free(a->type);
	free(a->user_id);
	memset(a, 0, sizeof *a);
}

int jv_attempt_may_retry(const struct jv_attempt *a, enum jv_outcome o)
{
	if (!jv_outcome_retryable(o))
		return 0;
	/* the executor's max_attempts may be lower than the job's */
	if (a->max_attempts > 0 && a->attempt >= a->max_attempts)
		return 0;
	return 1;
}

/*
 * attempt.c -- one attempt of one job (attempt.h): making, freeing, and
 * whether it may be retried.
 */
#include "autoconf.h"

#include "engine/attempt.h"
#include "engine/store.h"
#include "lib/mem.h"

#include <stdlib.h>
#include <string.h>

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

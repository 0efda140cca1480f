/*
 * attempt.c -- one attempt of one job (attempt.h): making and freeing it.
 */
#include "autoconf.h"

#include "engine/attempt.h"
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

void jv_attempt_free(struct jv_attempt *a)
{
	free(a->type);
	free(a->user_id);
	memset(a, 0, sizeof *a);
}

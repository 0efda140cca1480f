/*
 * jobspec.h -- a job as the REST API's JSON object names its fields (the
 * body of POST /api/jobs, an element of its array form, a line of
 * `jobvisor enqueue --file`), checked against the documented limits
 * before the database is asked. Shared by the API and the CLI so that
 * both refuse the same things with the same words.
 *
 * What only the database can tell -- whether runAt is a time, whether the
 * queue is known, whether a dependency exists, the payload's size as
 * PostgreSQL writes it -- is left to jobvisor.enqueue() and the table.
 */
#ifndef JV_JOBSPEC_H
#define JV_JOBSPEC_H

#include <jansson.h>
#include <stddef.h>

/* The fields a job object may have. "userId" is a synonym of "user" (the
 * name a workflow step uses); an object may not have both. */
#define JV_JOBSPEC_KEYS                                                                          \
	"type, payload, user, userId, runAt, priority, maxAttempts, timeoutSeconds, uniqueKey, " \
	"uniqueStates, queue, dependsOn, runWhen"

/* A checked job. Strings and payload point into the object it was read
 * from (valid while that object is); NULL when absent or JSON null. */
struct jv_jobspec {
	const char *type, *user, *run_at, *unique_key, *queue;
	const char *run_when;    /* "success" or "always" */
	const json_t *payload;   /* an object */
	const json_t *depends;   /* an array of 1..JV_DEPENDS_MAX positive integers */
	char unique_states[64];  /* "{pending,running,...}", "" when absent */
	char priority[24], max_attempts[24], timeout[24]; /* decimal text, "" when absent */
};

/*
 * Check obj as a job and fill *js. Returns 0, or -1 with one line in
 * err[errlen] that starts with the field's name, as "type: must be a
 * non-empty string", "dependsOn[2]: must be a job id (a positive
 * integer)", "\"bogus\": unknown field (the fields are ...)". The type is
 * required; an unknown field is refused.
 */
int jv_jobspec_read(const json_t *obj, struct jv_jobspec *js, char *err, size_t errlen);

#endif

/*
 * sizelimits.h -- every size and length limit of jobvisor, in one place. Those a
 * plugin sees or produces (payload, type, user, result, error, output) are
 * in <jobvisor/plugin.h>, since plugins link nothing of the core; the rest
 * are here, with the checks that the worker protocol carries anything
 * within them.
 *
 * The same numbers are in README.md ("Limits"), conf/jobvisor.yaml,
 * jobvisor.yaml(5), docs/openapi.yaml and sql/008_limits.sql (the table's
 * trigger); tests/it_limits.sh checks every enqueue path at and just past
 * each of them against the values of these headers.
 */
#ifndef JV_LIMITS_H
#define JV_LIMITS_H

#include <jobvisor/plugin.h>

/* A queue's name, in bytes: 1 to this many of [a-z0-9_.-] (jobvisor.queues). */
#define JV_QUEUE_NAME_MAX 64

/* jobs.unique_key, in bytes. */
#define JV_UNIQUE_KEY_MAX 512

/* A frame between the supervisor and a worker (proto.h); a larger length
 * means a corrupt stream. */
#define JV_FRAME_MAX (64u * 1024 * 1024)

/* Room in a frame besides its big strings: the fixed fields, the output's
 * truncation mark and left-behind note, the error's cut mark (a few
 * hundred bytes all told). */
#define JV_FRAME_OVERHEAD (64 * 1024)

/* api.max_body_bytes by default: a payload at its limit fits, with the
 * rest of the request around it (pretty-printed JSON included), so a large
 * payload gets the 400 that names JV_PAYLOAD_MAX, not a 413. */
#define JV_API_BODY_DEFAULT (2 * 1024 * 1024)

/* The body of a bulk request (POST /api/jobs with an array, POST
 * /api/workflows) when api.max_body_bytes is smaller: room for JV_BULK_MAX
 * ordinary jobs (about 1.6 KiB of JSON each). */
#define JV_API_BULK_BODY_MAX (16 * 1024 * 1024)

/* Jobs in one bulk request (POST /api/jobs with an array), steps in one
 * workflow; ids in one bulk cancel or retry. */
#ifndef JV_BULK_MAX
#define JV_BULK_MAX 10000
#endif
#define JV_BULK_IDS_MAX 1000

/* Dependencies of one job; a workflow step's key, in bytes. */
#ifndef JV_DEPENDS_MAX
#define JV_DEPENDS_MAX 100
#endif
#ifndef JV_WORKFLOW_KEY_MAX
#define JV_WORKFLOW_KEY_MAX 64
#endif

_Static_assert(JV_TYPE_MAX + JV_USER_MAX + JV_PAYLOAD_MAX + JV_FRAME_OVERHEAD <= JV_FRAME_MAX,
	       "a job frame must carry any job within the limits");
_Static_assert(JV_ERROR_MAX + JV_OUTPUT_MAX + JV_RESULT_MAX + JV_FRAME_OVERHEAD <= JV_FRAME_MAX,
	       "a result frame must carry any result, error and output within the limits");
_Static_assert(JV_API_BODY_DEFAULT >= 2 * JV_PAYLOAD_MAX,
	       "the default API body limit must admit a payload at its limit, and the rest");

#endif

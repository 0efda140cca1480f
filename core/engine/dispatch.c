/*
 * dispatch.c -- handing one claimed job to a worker process or thread, or
 * ending it at once when it cannot run here.
 */
#include "autoconf.h"

#include "api/stats.h"
#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/jsontext.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int executor_index(const struct serve *s, const char *type)
{
	for (size_t i = 0; i < s->cfg->n_executors; i++)
		if (!strcmp(s->cfg->executors[i].name, type))
			return (int)i;
	return -1;
}

/* A run's time limit in ms: the job's own, else its executor's (ex: -1 for
 * none), else the processor's; at most 2 000 000 s. */
int32_t sv_timeout_ms_for(const struct jv_config *cfg, const struct jv_claimed *c, int ex)
{
	int secs = c->timeout_seconds;
	if (secs <= 0 && ex >= 0)
		secs = cfg->executors[ex].timeout_seconds;
	if (secs <= 0)
		secs = cfg->processor.timeout_seconds;
	return secs > 2000000 ? 2000000000 : secs * 1000;
}

/* A claimed job that will not run now: it ends at once as `end`. */
void sv_end_now(struct serve *s, const struct jv_claimed *c, enum jv_outcome end, const char *why)
{
	struct jv_done d = {0};
	/* (no executor runs it: no limit of one's, the job's own applies) */
	d.at = jv_attempt_make(c->id, c->attempt, 0, 0, -1, c->type, c->user_id);
	d.outcome = end;
	d.retry_in_ms = -1;
	d.error = jv_strdup(why);
	jv_done_list_push(&s->done, &d);
}

/*
 * No worker process could be had for c: none could be started (socketpair or
 * fork failed: descriptors, memory or processes short), or none is free
 * (they died before taking it, or are being replaced). That is no fault of
 * the job's. It waits here, at the head of
 * the queue, still claimed and its attempt not yet begun (so not counted and
 * nothing recorded), claiming stops (free_slots), and starting it is tried
 * again after a back-off of up to JV_POOL_RETRY_MAX_MS. Said once per
 * shortage (at most once a minute), not at every try. Returns 1.
 */
static int wait_for_worker(struct serve *s, const struct jv_claimed *c, uint64_t now)
{
	s->wait.backoff = s->wait.backoff ? 2 * s->wait.backoff : 100;
	if (s->wait.backoff > JV_POOL_RETRY_MAX_MS)
		s->wait.backoff = JV_POOL_RETRY_MAX_MS;
	s->wait.until = now + s->wait.backoff;
	if (s->wait.since)
		return 1;
	s->wait.since = now;
	const char *why = jv_pool_short(&s->pool);
	if (s->wait.warned_at == 0 || now >= s->wait.warned_at + 60000) {
		jv_log(JV_WARNING,
		       "job %" PRId64 " waits for a worker process (%s%s): not counted as an "
		       "attempt; claiming stops until it starts",
		       c->id, why ? "none could be started: " : "", why ? why : "none is free");
		s->wait.warned_at = now;
		s->wait.warned = 1;
	} else {
		jv_debug("job %" PRId64 " waits for a worker process", c->id);
	}
	return 1;
}

/* A job went to a worker process: whatever waited for one waits no more. */
static void worker_found(struct serve *s, uint64_t now)
{
	if (s->wait.since && s->wait.warned)
		jv_log(JV_INFO, "a worker process took the waiting job after %" PRIu64 " ms; "
		       "claiming again", now - s->wait.since);
	s->wait.until = s->wait.since = s->wait.backoff = 0;
	s->wait.warned = 0;
}

/* A claimed job that cannot start here, whatever is free: claimed while the
 * stop signal arrived (released), or a payload no executor can take (fails
 * for good). It ends at once (1); 0 when it may start. c->payload may be
 * rewritten (jv_json_fit_payload). */
static int refused(struct serve *s, struct jv_claimed *c)
{
	if (s->drain.state != DRAIN_OFF) {
		/* claimed while the stop signal arrived: back it goes */
		sv_end_now(s, c, JV_OUTCOME_RELEASED, "released at shutdown before it started");
		return 1;
	}
	size_t plen = strlen(c->payload);
	if (plen > JV_PAYLOAD_MAX) {
		/* A row from before the table enforced the limit (sql/008): it
		 * cannot travel to a worker, now or on any retry. */
		char why[160];
		snprintf(why, sizeof why,
			 "payload is too large: %zu bytes as JSON text, the limit is %d bytes", plen,
			 JV_PAYLOAD_MAX);
		jv_log(JV_WARNING, "job %" PRId64 ": %s", c->id, why);
		sv_end_now(s, c, JV_OUTCOME_PERMANENT, why);
		return 1;
	}
	char unfit[160];
	if (jv_json_fit_payload(&c->payload, unfit, sizeof unfit) != 0) {
		jv_log(JV_WARNING, "job %" PRId64 ": %s", c->id, unfit);
		sv_end_now(s, c, JV_OUTCOME_PERMANENT, unfit);
		return 1;
	}
	return 0;
}

/* The attempt c begins on executor ex (-1: none), the caller's to hand on
 * or free. */
static struct jv_attempt attempt_of(const struct serve *s, const struct jv_claimed *c, int ex)
{
	int32_t max_attempts =
		jv_attempt_max(c->max_attempts, ex >= 0 ? s->cfg->executors[ex].max_attempts : 0);
	return jv_attempt_make(c->id, c->attempt, max_attempts, sv_timeout_ms_for(s->cfg, c, ex),
			       ex, c->type, c->user_id);
}

/* Send attempt *a of c to an idle worker process: 0 when one took it (and
 * *a), 1 when none could be had (wait_for_worker; *a is still the
 * caller's). A worker found gone is reaped on the way (nothing of ours was
 * running on it). */
static int start_on_worker(struct serve *s, const struct jv_claimed *c, struct jv_attempt *a)
{
	uint64_t now = jv_now_ms();
	if (s->wait.until && now < s->wait.until)
		return 1; /* not yet: wait_for_worker() */
	for (int tries = 0; tries < 3; tries++) {
		int w = jv_pool_idle(&s->pool);
		if (w < 0) {
			jv_pool_fill(&s->pool);
			w = jv_pool_idle(&s->pool);
		}
		if (w < 0)
			break;
		if (jv_pool_send(&s->pool, w, a, c->payload, s->cfg->history.max_output_bytes) == 0) {
			worker_found(s, now);
			s->inflight++;
			return 0;
		}
		/* The worker is gone: reap it (nothing of ours was running). */
		size_t from = s->done.n;
		jv_pool_on_readable(&s->pool, w, &s->done);
		sv_finished(s, from);
	}
	return wait_for_worker(s, c, now);
}

/* Hand one claimed job to a worker. Returns 0 when it started, or ended at
 * once (no executor for its type, released while draining, a payload no
 * executor can take); 1 when it must wait for a worker process
 * (wait_for_worker), the caller keeping it. Nothing claimed is ever lost.
 * c->payload may be rewritten (jv_json_fit_payload). */
static int start_job(struct serve *s, struct jv_claimed *c)
{
	if (refused(s, c))
		return 0;
	int ex = executor_index(s, c->type);
	if (ex < 0) {
		const char *why = "no executor for this type on this processor";
		jv_log(JV_ERROR, "job %" PRId64 ": %s", c->id, why);
		sv_end_now(s, c, JV_OUTCOME_CRASHED, why);
		return 0;
	}
	struct jv_attempt a = attempt_of(s, c, ex);
	if (s->cfg->executors[ex].isolation == JV_ISOLATION_THREAD && s->tp) {
		jv_tpool_submit(s->tp, &a, c->payload, s->cfg->history.max_output_bytes);
		s->inflight++;
		return 0;
	}
	int rc = start_on_worker(s, c, &a);
	jv_attempt_free(&a); /* (nothing left when a worker took it) */
	return rc;
}

/* start_job(), counting the job as claimed once it no longer waits here. */
int sv_dispatch(struct serve *s, struct jv_claimed *c)
{
	if (start_job(s, c) != 0)
		return 1;
	s->count.claimed++;
	jv_stats_claimed(c->type);
	return 0;
}

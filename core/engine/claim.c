/*
 * claim.c -- claiming jobs (at most one claim in flight, for the free
 * slots) and the queue of jobs claimed ahead (processor.prefetch).
 */
#include "autoconf.h"

#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <stdlib.h>
#include <string.h>

/* Jobs claimed ahead are not started once we are cut off from their
 * database: other processors may rescue them meanwhile. They stay locked by
 * us there until release_unheld() (not holding them) gives them back. */
void sv_give_back_queue(struct serve *s)
{
	if (s->claim.n_queued == 0)
		return;
	jv_log(JV_WARNING, "%zu jobs claimed ahead are given back, not started", s->claim.n_queued);
	for (size_t i = 0; i < s->claim.n_queued; i++)
		jv_claimed_free(&s->claim.queue[i]);
	s->claim.n_queued = 0;
}

/*
 * Start what was claimed ahead (processor.prefetch) as slots free up,
 * oldest first; while draining, each goes back at once (sv_dispatch() releases
 * it, attempt not counted). A job waits here already claimed -- running, as
 * the database and the per-user limit see it -- which is what lets one
 * round trip claim more jobs than there are free slots. A job that waits for
 * a worker process (wait_for_worker) stays at the head, those behind it with
 * it.
 */
void sv_run_queued(struct serve *s)
{
	size_t k = 0;
	while (k < s->claim.n_queued &&
	       (s->drain.state != DRAIN_OFF || s->inflight < s->tune.max_concurrent)) {
		if (sv_dispatch(s, &s->claim.queue[k]) != 0)
			break;
		jv_claimed_free(&s->claim.queue[k]);
		k++;
	}
	if (k > 0) {
		memmove(s->claim.queue, s->claim.queue + k, (s->claim.n_queued - k) * sizeof *s->claim.queue);
		s->claim.n_queued -= k;
	}
}

/* A job cancelled through the API while it waited here: it never starts. */
int sv_unqueue(struct serve *s, int64_t id)
{
	for (size_t k = 0; k < s->claim.n_queued; k++)
		if (s->claim.queue[k].id == id) {
			jv_claimed_free(&s->claim.queue[k]);
			memmove(s->claim.queue + k, s->claim.queue + k + 1,
				(s->claim.n_queued - k - 1) * sizeof *s->claim.queue);
			s->claim.n_queued--;
			return 1;
		}
	return 0;
}

int sv_free_slots(const struct serve *s)
{
	if (s->wait.until && s->claim.n_queued > 0)
		return 0; /* a job waits for a worker process: claim no more */
	int unrecorded = (int)(s->done.n + s->cc.batch.n);
	int slots = s->tune.max_concurrent + s->tune.prefetch - s->inflight -
	            (int)s->claim.n_queued - unrecorded;
	if (slots > s->tune.batch_size)
		slots = s->tune.batch_size;
	return slots;
}

/* Claiming is possible now: connected, released what a lost claim may
 * have left, not fenced, not stopping or paused, not waiting for the
 * NOTIFY self-check (quiet). */
int sv_may_claim(const struct serve *s)
{
	return sv_connected(s) && !s->link.recovering && !s->fence.on &&
	       s->drain.state == DRAIN_OFF && !s->ctl.paused && !sv_quiet(s, &s->lc);
}

void sv_send_claim(struct serve *s, uint64_t now)
{
	int slots = sv_free_slots(s);
	if (slots <= 0 || s->lc.q != Q_NONE || !sv_may_claim(s))
		return;
	char err[1024];
	struct jv_claim_queues q = {.served = s->flow.served};
	sv_flow_limits(s, &q.limit_queues, &q.limits);
	if (jv_store_claim_send(s->lc.conn, s->id, slots, s->cfg->processor.per_user_limit,
				s->types, s->link.epoch, &q, err, sizeof err) != 0) {
		if (!sv_check_lost(s, s->lc.conn, "claiming", err))
			jv_log(JV_ERROR, "claim failed: %s", err);
		s->claim.want = 0;
		return;
	}
	s->count.claim_queries++;
	s->lc.slots = slots;
	s->claim.want = 0;
	sv_chan_sent(s, &s->lc, Q_CLAIM, now);
}

void sv_on_claim_result(struct serve *s, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[1024];
		jv_db_format_error(s->lc.conn, res, err, sizeof err);
		if (!sv_check_lost(s, s->lc.conn, "claiming", err))
			jv_log(JV_ERROR, "claim failed: %s (next try at the poll interval)", err);
		return;
	}
	struct jv_claimed *rows;
	size_t n;
	struct jv_claim_next next;
	jv_store_claim_parse(res, &rows, &n, &next);
	for (size_t i = 0; i < n; i++) {
		if (s->fence.on) {
			/* claimed as self-fencing began: not started, given back */
			sv_end_now(s, &rows[i], JV_OUTCOME_RELEASED,
				"given back unstarted: the processor had fenced itself");
			jv_claimed_free(&rows[i]);
			continue;
		}
		if (s->claim.n_queued == 0 &&
		    (s->inflight < s->tune.max_concurrent || s->drain.state != DRAIN_OFF) &&
		    sv_dispatch(s, &rows[i]) == 0) {
			jv_claimed_free(&rows[i]);
			continue;
		}
		/* Claimed ahead, or waiting for a worker process: it waits here
		 * (run_queued). */
		if (s->claim.n_queued == s->claim.cap_queued) {
			s->claim.cap_queued = s->claim.cap_queued ? 2 * s->claim.cap_queued : 16;
			s->claim.queue = jv_realloc(s->claim.queue, s->claim.cap_queued * sizeof *s->claim.queue);
		}
		s->claim.queue[s->claim.n_queued++] = rows[i];
	}
	free(rows);
	/* (without LISTEN nothing else wakes us: a completion still does) */
	s->claim.none_pending = !next.full && next.due_ms < 0 && !s->ctl.by_poll;
	if (next.full) {
		s->claim.want = 1; /* a full batch: more may be due */
	} else if (next.due_ms > 0) {
		/* nothing more due now: look again when the next job is */
		s->claim.next_due = now + (uint64_t)next.due_ms;
	}
	/* next.due_ms 0: due but held back by a concurrency limit or a pause
	 * -- a completion (ours sets want_claim), a resume's NOTIFY or the poll
	 * interval will tell. (A rate limit's next opening comes as a due
	 * time, above.) */
}

/* Each turn: claim when there is reason to (a notification, a full last
 * batch, the next job's due time, the poll interval as a fallback). */
void sv_claim_step(struct serve *s, uint64_t now)
{
	if (!sv_may_claim(s))
		return;
	if (now >= s->claim.next_poll) {
		s->claim.want = 1;
		s->claim.next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;
	}
	if (s->claim.next_due && now >= s->claim.next_due) {
		s->claim.want = 1;
		s->claim.next_due = 0;
	}
	if (s->claim.want)
		sv_send_claim(s, now);
}

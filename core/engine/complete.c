/*
 * complete.c -- finished attempts: collected from the pools, sent to the
 * database in batches (one completion in flight), their answers logged and
 * alerted on.
 */
#include "autoconf.h"

#include "alert/alert.h"
#include "api/stats.h"
#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"

#include <inttypes.h>
#include <stdlib.h>

/* Put a completion batch that may not have been recorded back in line. */
void sv_requeue_batch(struct serve *s)
{
	jv_done_list_move(&s->done, &s->cc.batch);
}

void sv_finished(struct serve *s, size_t from)
{
	/* Called after new entries were appended to s->done at [from, n). */
	if (from == 0 && s->done.n > 0)
		s->cmp.first_at = jv_now_ms();
	sv_fence_note(s, from);
	for (size_t i = from; i < s->done.n; i++) {
		s->inflight--;
		if (s->prog.n > 0)
			sv_progress_forget(s, s->done.items[i].at.id);
		jv_stats_finished(s->done.items[i].at.type, jv_outcome_text(s->done.items[i].outcome),
				  s->done.items[i].duration_ms);
	}
	if (s->inflight < 0)
		s->inflight = 0;
	/* Cancelled through the API meanwhile: the API recorded the outcome;
	 * what the run says now is not wanted. */
	for (size_t i = from; i < s->done.n && s->cmp.n_drop > 0;) {
		size_t k = 0;
		while (k < s->cmp.n_drop && s->cmp.drop[k] != s->done.items[i].at.id)
			k++;
		if (k == s->cmp.n_drop) {
			i++;
			continue;
		}
		jv_log(JV_INFO, "job %" PRId64 " attempt %d stopped: cancelled", s->done.items[i].at.id,
		       s->done.items[i].at.attempt);
		s->cmp.drop[k] = s->cmp.drop[--s->cmp.n_drop];
		jv_done_free(&s->done.items[i]);
		s->done.items[i] = s->done.items[--s->done.n];
	}
	if (s->done.n == 0)
		s->cmp.first_at = 0;
}

void sv_collect_thread_results(struct serve *s)
{
	size_t from = s->done.n;
	if (s->tp) {
		jv_tpool_collect(s->tp, &s->done);
		s->deps.taking = s->tp;
		jv_tpool_take(s->tp, &s->pool);
	}
	for (struct old_gen **pp = &s->old; *pp;) {
		struct old_gen *g = *pp;
		jv_tpool_collect(g->tp, &s->done);
		s->deps.taking = g->tp;
		jv_tpool_take(g->tp, &s->pool);
		if (jv_tpool_inflight(g->tp) > 0) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		sv_old_gen_free(g, s);
		jv_log(JV_INFO, "the thread jobs of the previous configuration have ended");
	}
	sv_finished(s, from);
}

/* Alerts about attempts just recorded: sent as sent, applied[0..n)
 * as answered (usually in the same order). */
static void raise_job_alerts(struct serve *s, const struct jv_done_list *sent,
			     const struct jv_applied *applied, size_t n)
{
	const struct jv_done *done = sent->items;
	size_t n_done = sent->n;
	int want_failed = jv_alerter_wants(s->alerter, JV_EV_JOB_FAILED);
	int want_timed_out = jv_alerter_wants(s->alerter, JV_EV_JOB_TIMED_OUT);
	int want_retrying = jv_alerter_wants(s->alerter, JV_EV_JOB_RETRYING);
	if (!want_failed && !want_timed_out && !want_retrying)
		return;
	size_t hint = 0;
	for (size_t i = 0; i < n && n_done > 0; i++) {
		const struct jv_applied *a = &applied[i];
		if (!a->applied)
			continue;
		const struct jv_done *d = NULL;
		for (size_t k = 0; k < n_done && !d; k++) {
			size_t j = (hint + k) % n_done;
			if (done[j].at.id == a->id && done[j].at.attempt == a->attempt) {
				d = &done[j];
				hint = j + 1;
			}
		}
		if (!d || d->outcome == JV_OUTCOME_SUCCEEDED || d->outcome == JV_OUTCOME_RELEASED)
			continue;
		struct jv_event ev = {
			.at_ms = jv_unix_ms(),
			.job_id = a->id,
			.job_type = d->at.type,
			.user_id = d->at.user_id,
			.attempt = a->attempt,
			.max_attempts = d->at.max_attempts,
			.error = d->error,
		};
		if (d->outcome == JV_OUTCOME_TIMED_OUT && want_timed_out) {
			ev.kind = JV_EV_JOB_TIMED_OUT;
			jv_alerter_raise(s->alerter, &ev);
		}
		if (a->status == JV_JOB_FAILED && want_failed) {
			ev.kind = JV_EV_JOB_FAILED;
			if (ev.max_attempts < ev.attempt)
				ev.max_attempts = ev.attempt;
			jv_alerter_raise(s->alerter, &ev);
		} else if (a->status == JV_JOB_PENDING && want_retrying) {
			ev.kind = JV_EV_JOB_RETRYING;
			jv_alerter_raise(s->alerter, &ev);
		}
	}
}

/* What a completion round trip did, logged; returns whether it gives
 * a reason to claim: a job back to pending (a retry, whose due time the
 * next claim learns), or a slot given up while jobs are pending (one
 * held back by a limit may be free to go now). When the last claim found
 * nothing pending at all, a slot given up is no reason: a job enqueued
 * since, or made due by this completion's dependents, wakes us by NOTIFY. */
static int note_applied(struct serve *s, const struct jv_applied *applied, size_t n)
{
	size_t ok = 0;
	int back = 0;
	for (size_t i = 0; i < n; i++) {
		const struct jv_applied *a = &applied[i];
		if (!a->applied) {
			s->count.stale++;
			jv_log(JV_WARNING,
			       "late result for job %" PRId64 " attempt %d not applied: the job was "
			       "rescued or cancelled meanwhile (recorded as stale in its history)",
			       a->id, a->attempt);
			continue;
		}
		ok++;
		if (a->status == JV_JOB_FAILED)
			jv_log(JV_WARNING, "job %" PRId64 " failed after attempt %d", a->id, a->attempt);
		else if (a->status == JV_JOB_PENDING) {
			jv_debug("job %" PRId64 " attempt %d ends; back to pending", a->id, a->attempt);
			back = 1;
		}
	}
	return back || (ok > 0 && !s->claim.none_pending);
}

/*
 * When to send what finished: at once when nothing else is executing (so a
 * lone job is recorded without delay), when a batch's worth is waiting, or
 * when the oldest result has waited JV_COALESCE_MS. Each completion is one
 * commit, so letting results that arrive together travel together is what
 * keeps the cost per job low under load.
 */
int sv_completion_due(const struct serve *s, uint64_t now)
{
	if (s->done.n == 0)
		return 0;
	if (s->inflight == 0 || s->drain.state != DRAIN_OFF || s->done.n >= (size_t)s->tune.batch_size)
		return 1;
	return now >= s->cmp.first_at + JV_COALESCE_MS;
}

void sv_send_completions(struct serve *s, uint64_t now)
{
	if (s->done.n == 0 || s->cc.q != Q_NONE || !sv_connected(s) || now < s->cmp.retry_at)
		return;
	if (!sv_completion_due(s, now))
		return;
	char err[1024];
	size_t total = s->done.n;
	size_t n = total > JV_COMPLETE_MAX ? JV_COMPLETE_MAX : total;
	if (jv_store_complete_send(s->cc.conn, s->id, s->done.items, n,
				   s->cfg->processor.retry_base_ms, s->cfg->processor.retry_max_ms,
				   (size_t)s->cfg->history.max_output_bytes, err, sizeof err) != 0) {
		if (!sv_check_lost(s, s->cc.conn, "completing jobs", err)) {
			jv_log(JV_ERROR, "could not send %zu finished jobs: %s (retrying in 1 s)",
			       s->done.n, err);
			s->cmp.retry_at = now + 1000;
		}
		return;
	}
	s->count.complete_queries++;
	s->cc.batch = s->done;
	s->done = (struct jv_done_list){0};
	/* What did not fit in this round trip waits for the next. */
	for (size_t i = n; i < total; i++)
		jv_done_list_push(&s->done, &s->cc.batch.items[i]);
	s->cc.batch.n = n;
	sv_chan_sent(s, &s->cc, Q_COMPLETE, now);
}

void sv_on_completion_result(struct serve *s, PGresult *res, uint64_t now)
{
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK) {
		char err[1024];
		jv_db_format_error(s->cc.conn, res, err, sizeof err);
		if (sv_check_lost(s, s->cc.conn, "completing jobs", err))
			return;
		jv_log(JV_ERROR, "recording %zu finished jobs failed: %s (retrying in 1 s)",
		       s->cc.batch.n, err);
		sv_requeue_batch(s);
		s->cmp.retry_at = now + 1000;
		return;
	}
	struct jv_applied *applied;
	size_t n;
	jv_store_complete_parse(res, &applied, &n);
	if (note_applied(s, applied, n))
		s->claim.want = 1;
	sv_note_fenced_recorded(&s->cc.batch, applied, n);
	raise_job_alerts(s, &s->cc.batch, applied, n);
	free(applied);
	s->count.completed += s->cc.batch.n;
	jv_done_list_free(&s->cc.batch);
}

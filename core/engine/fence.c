/*
 * fence.c -- heartbeats, and self-fencing when none is confirmed for the
 * rescue horizon minus a margin.
 */
#include "autoconf.h"

#include "alert/alert.h"
#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void fence_lift(struct serve *s, uint64_t now);

static int fenced_take(struct serve *s, int64_t id);

/* Runs that self-fencing stopped (fence_begin): unless they succeeded
 * before they stopped, they end as fenced, whatever the executor said. */
void sv_fence_note(struct serve *s, size_t from)
{
	for (size_t i = from; i < s->done.n && s->fence.n_ids > 0; i++) {
		struct jv_done *d = &s->done.items[i];
		if (!fenced_take(s, d->at.id) || d->outcome == JV_OUTCOME_SUCCEEDED)
			continue;
		char *why = jv_asprintf("stopped by self-fencing: no heartbeat of this processor was "
					"confirmed for %lld ms, and other processors may rescue its jobs "
					"after %d ms%s%s",
					(long long)(s->cfg->processor.stuck_job_timeout_ms -
						    jv_config_fence_margin_ms(s->cfg)),
					s->cfg->processor.stuck_job_timeout_ms, d->error ? ": " : "",
					d->error ? d->error : "");
		free(d->error);
		d->error = why;
		d->outcome = JV_OUTCOME_FENCED;
		d->retry_in_ms = 0;
		s->fence.n_total++;
	}
}

/* Heartbeat and rescue, one round trip on whichever channel is idle (the
 * completion channel first), once per heartbeat interval; never waited
 * for. One is in flight at a time: confirmations come in the order sent. */
void sv_heartbeat(struct serve *s, uint64_t now)
{
	if (s->hb.chan || !sv_connected(s) || s->drain.stop_sent)
		return; /* in flight; or at once when the link is back (link_check) */
	struct chan *c = sv_idle_chan(s, &s->cc, &s->lc);
	if (!c)
		return; /* right after the query in flight (see the wake-up) */
	s->hb.next = now + (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	char err[512];
	const char *state = s->drain.state != DRAIN_OFF ? "stopping"
	                    : s->ctl.paused             ? "paused"
	                                                : "running";
	const char *queues = s->flow.sync_due ? s->flow.sync : NULL;
	if (jv_store_heartbeat_send(c->conn, s->id, state, s->cfg->processor.stuck_job_timeout_ms,
				    queues, err, sizeof err) != 0) {
		if (!sv_check_lost(s, c->conn, "heartbeat", err))
			jv_log(JV_ERROR, "heartbeat failed: %s", err);
		return;
	}
	s->flow.sync_sent = queues != NULL;
	s->hb.chan = c;
	s->hb.sent_at = now;
	s->hb.sent_stuck_ms = s->cfg->processor.stuck_job_timeout_ms;
	sv_chan_sent(s, c, Q_HEARTBEAT, now);
}

void sv_on_heartbeat_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (sv_check_lost(s, c->conn, "heartbeat", err))
			return;
		jv_log(JV_ERROR, "heartbeat or stuck-job rescue failed: %s", err);
		if (s->flow.sync_sent) {
			/* never let storing the queues hold the heartbeat back */
			jv_log(JV_ERROR, "the reloaded queues were not stored (the heartbeat goes "
					 "on without them)");
			s->flow.sync_due = 0;
		}
		return;
	}
	/* The database's heartbeat_at is its transaction's start, after we sent
	 * it: counting from the send is never later than the database does. */
	s->hb.confirmed_sent = s->hb.sent_at;
	s->hb.declared_stuck_ms = s->hb.sent_stuck_ms;
	if (s->flow.sync_sent)
		s->flow.sync_due = 0; /* the reloaded queues are stored */
	s->hb.last_unix_ms = jv_unix_ms();
	s->hb.last_mono_ms = now;
	if (s->fence.on)
		fence_lift(s, now);
	int rescued = jv_store_count_parse(res);
	if (rescued > 0) {
		/* Any live processor rescues the jobs of dead ones. */
		jv_log(JV_WARNING, "rescued %d stuck jobs of processors silent for over %g min", rescued,
		       s->cfg->processor.stuck_job_timeout_ms / 60000.0);
		s->claim.want = 1;
		struct jv_event ev = {.kind = JV_EV_STUCK_JOBS_RESET, .number = rescued};
		jv_alerter_raise(s->alerter, &ev);
	}
}

/*
 * Other processors rescue our running jobs once the database's clock says our
 * heartbeat_at is older than the horizon (stuck_job_timeout_minutes).
 * heartbeat_at is set by a heartbeat's transaction, which starts after we
 * sent it; so counting on our monotonic clock from the send of the last
 * heartbeat confirmed to us, we can never think ourselves further from a
 * rescue than we are. At horizon - margin after that send, with no newer
 * heartbeat confirmed, we stop every running job (told to stop, killed
 * JV_KILL_GRACE_MS later), give back what waits unstarted, and claim
 * nothing until a heartbeat is confirmed again: every copy of a job we ran
 * is dead before any other processor may start another. The margin is the
 * kill grace plus slack for scheduling and the clocks' rates
 * (jv_config_fence_margin_ms); config load refuses a horizon shorter than
 * two heartbeats plus the margin, so a processor whose heartbeats get
 * through never fences. What the stopped runs report (or their kill) is
 * recorded as 'fenced' when the database is back: a rescue in history,
 * attempt counted, or a late result if another processor rescued it first.
 */
uint64_t sv_fence_at(const struct serve *s)
{
	/* The horizon others rescue us by is the one the database has for us
	 * (sql/013: declared with the last confirmed heartbeat); a reload
	 * that lengthened ours holds only once a heartbeat carried it there,
	 * one that shortened it at once. (The margin of the configured
	 * horizon: never less than that of the shorter one.) */
	int64_t horizon = s->cfg->processor.stuck_job_timeout_ms;
	if (s->hb.declared_stuck_ms > 0 && s->hb.declared_stuck_ms < horizon)
		horizon = s->hb.declared_stuck_ms;
	return s->hb.confirmed_sent + (uint64_t)(horizon - jv_config_fence_margin_ms(s->cfg));
}

static void fenced_add(struct serve *s, int64_t id)
{
	for (size_t k = 0; k < s->fence.n_ids; k++)
		if (s->fence.ids[k] == id)
			return;
	if (s->fence.n_ids == s->fence.cap_ids) {
		s->fence.cap_ids = s->fence.cap_ids ? 2 * s->fence.cap_ids : 16;
		s->fence.ids = jv_realloc(s->fence.ids, s->fence.cap_ids * sizeof *s->fence.ids);
	}
	s->fence.ids[s->fence.n_ids++] = id;
}

/* 1 (and forgotten) when self-fencing stopped job id's run. */
static int fenced_take(struct serve *s, int64_t id)
{
	for (size_t k = 0; k < s->fence.n_ids; k++)
		if (s->fence.ids[k] == id) {
			s->fence.ids[k] = s->fence.ids[--s->fence.n_ids];
			return 1;
		}
	return 0;
}

/* Every job running on threads (each generation's) into the fenced list. */
static void fence_thread_jobs(struct serve *s, struct jv_tpool *tp)
{
	struct jv_buf ids = {0};
	size_t from = s->done.n;
	jv_tpool_unqueue(tp, "given back unstarted: the processor had fenced itself", &s->done);
	sv_finished(s, from);
	jv_tpool_ids(tp, &ids);
	for (const char *p = ids.data; p && *p;) {
		char *end;
		long long id = strtoll(p, &end, 10);
		if (end == p)
			break;
		fenced_add(s, id);
		p = *end == ',' ? end + 1 : end;
	}
	jv_buf_free(&ids);
	jv_tpool_cancel_all(tp);
}

static void fence_begin(struct serve *s, uint64_t now)
{
	s->fence.on = 1;
	s->fence.kill_at = now + JV_KILL_GRACE_MS;
	int running = s->inflight;
	jv_log(JV_ERROR,
	       "self-fencing: no heartbeat confirmed for %llu ms (other processors may rescue "
	       "this one's jobs %d ms after its last one): stopping %d running jobs now (killed "
	       "after %d ms), giving back %zu unstarted, claiming nothing until a heartbeat is "
	       "confirmed",
	       (unsigned long long)(now - s->hb.confirmed_sent),
	       s->cfg->processor.stuck_job_timeout_ms, running, JV_KILL_GRACE_MS, s->claim.n_queued);
	for (size_t i = 0; i < s->claim.n_queued; i++) {
		sv_end_now(s, &s->claim.queue[i], JV_OUTCOME_RELEASED,
			"given back unstarted: the processor had fenced itself");
		jv_claimed_free(&s->claim.queue[i]);
	}
	s->claim.n_queued = 0;
	s->wait.until = s->wait.since = s->wait.backoff = 0;
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0 && s->pool.w[i].busy) {
			fenced_add(s, s->pool.w[i].at.id);
			jv_pool_cancel(&s->pool, i);
		}
	if (s->tp)
		fence_thread_jobs(s, s->tp);
	for (struct old_gen *g = s->old; g; g = g->next)
		fence_thread_jobs(s, g->tp);
	s->next_publish = 0;
}

/* JV_KILL_GRACE_MS after fence_begin: what still runs is killed. A thread
 * cannot be killed: a trusted in-process executor that ignores the stop
 * leaves one way to keep the guarantee, which is to end the process (the
 * workers die with it); the service manager starts it again. */
static void fence_kill(struct serve *s)
{
	s->fence.kill_at = 0;
	for (int i = 0; i < s->pool.n; i++) {
		struct jv_worker *w = &s->pool.w[i];
		if (w->pid <= 0 || !w->busy)
			continue;
		int ours = 0;
		for (size_t k = 0; k < s->fence.n_ids && !ours; k++)
			ours = s->fence.ids[k] == w->at.id;
		if (!ours)
			continue;
		jv_log(JV_WARNING, "self-fencing: job %" PRId64 " did not stop; killing worker %d",
		       w->at.id, (int)w->pid);
		size_t from = s->done.n;
		jv_pool_kill(&s->pool, i, JV_OUTCOME_FENCED, &s->done);
		sv_finished(s, from);
	}
	int threads = s->tp ? jv_tpool_inflight(s->tp) : 0;
	for (const struct old_gen *g = s->old; g; g = g->next)
		threads += jv_tpool_inflight(g->tp);
	if (threads > 0) {
		jv_log(JV_ERROR,
		       "self-fencing: %d jobs running on threads (isolation: thread) did not stop "
		       "within %d ms, and a thread cannot be killed: exiting, so that no job runs "
		       "here once other processors may rescue it",
		       threads, JV_KILL_GRACE_MS);
		for (int i = 0; i < s->pool.n; i++)
			if (s->pool.w[i].pid > 0) {
				kill(-s->pool.w[i].pid, SIGKILL);
				kill(s->pool.w[i].pid, SIGKILL);
			}
		_exit(JV_EXIT_INTERNAL);
	}
}

static void fence_lift(struct serve *s, uint64_t now)
{
	s->fence.on = 0;
	s->claim.want = 1;
	jv_log(JV_WARNING,
	       "self-fencing over: a heartbeat is confirmed again (sent %llu ms ago); claiming "
	       "again",
	       (unsigned long long)(now - s->hb.sent_at));
}

/* Each turn: fence when the time has come, kill what did not stop. */
void sv_fence_check(struct serve *s, uint64_t now)
{
	if (!s->fence.on && now >= sv_fence_at(s))
		fence_begin(s, now);
	if (s->fence.kill_at && now >= s->fence.kill_at)
		fence_kill(s);
}

/* The attempts stopped by fencing, once recorded: said once per batch. */
void sv_note_fenced_recorded(const struct jv_done_list *sent, const struct jv_applied *applied,
			     size_t n)
{
	const struct jv_done *done = sent->items;
	size_t n_done = sent->n;
	size_t fenced = 0, kept = 0;
	for (size_t i = 0; i < n_done; i++)
		if (done[i].outcome == JV_OUTCOME_FENCED) {
			fenced++;
			for (size_t k = 0; k < n; k++)
				if (applied[k].id == done[i].at.id && applied[k].attempt == done[i].at.attempt)
					kept += applied[k].applied != 0;
		}
	if (fenced > 0)
		jv_log(JV_WARNING,
		       "recorded %zu attempts stopped by self-fencing: %zu as rescued (attempt "
		       "counted), %zu had been rescued by another processor meanwhile",
		       fenced, kept, fenced - kept);
}

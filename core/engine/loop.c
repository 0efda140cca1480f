/*
 * loop.c -- the serve loop: one turn is a short list of named steps, then
 * poll() on named slots until the earliest timer (wake_at, which only
 * reads). Signals, the API's requests and view, and systemd's status live
 * here too.
 */
#include "autoconf.h"

#include "alert/alert.h"
#include "api/bridge.h"
#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* STATUS= for `systemctl status`; with ready, as part of READY=1. */
void sv_notify_state(struct serve *s, int ready)
{
	if (!jv_notify_enabled())
		return;
	char st[200];
	const char *state = s->drain.state != DRAIN_OFF ? "stopping"
	                    : s->fence.on      ? "self-fenced: no heartbeat confirmed, jobs stopped"
	                    : !sv_connected(s) ? "database unreachable, reconnecting"
	                    : s->ctl.paused    ? "paused"
	                                       : "running";
	snprintf(st, sizeof st, "%s; jobs running: %d, done: %" PRIu64 "; processor %" PRId64,
		 state, s->inflight, s->count.completed, s->id);
	if (ready)
		jv_notify_ready(st);
	else
		jv_notify_status(st);
}

static void notify_stopping(struct serve *s)
{
	char st[200];
	snprintf(st, sizeof st, "stopping; jobs running: %d, given up to %d s to finish",
		 s->inflight, s->cfg->processor.shutdown_grace_seconds);
	jv_notify_stopping(st);
}

/* Each turn of the loop: the watchdog's ping when due, STATUS= at most once
 * a second. Returns when the next ping is due (0: no watchdog). */
static uint64_t notify_tick(struct serve *s, uint64_t now)
{
	if (!jv_notify_enabled())
		return 0;
	if (now >= s->next_status) {
		sv_notify_state(s, 0);
		s->next_status = now + 1000;
	}
	return jv_notify_watchdog(now);
}

static void on_signal(struct serve *s)
{
	struct signalfd_siginfo si;
	while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (s->drain.state == DRAIN_OFF) {
				s->drain.state = DRAIN_GRACE;
				s->drain.deadline =
					jv_now_ms() +
					(uint64_t)s->cfg->processor.shutdown_grace_seconds * 1000u;
				jv_log(JV_INFO,
				       "%s: stopping; %d running jobs get up to %d s to finish",
				       si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", s->inflight,
				       s->cfg->processor.shutdown_grace_seconds);
				notify_stopping(s);
				s->hb.next = jv_now_ms();
			} else {
				jv_log(JV_INFO, "second signal: stopping now");
				s->drain.deadline = jv_now_ms();
			}
			break;
		case SIGHUP:
			if (s->drain.state == DRAIN_OFF) {
				jv_notify_reloading();
				sv_reload(s);
				sv_notify_state(s, 1); /* READY=1 again, reloaded or refused */
			}
			break;
		default: break;
		}
	}
}

/* What the API asked for since the last turn. */
static void take_requests(struct serve *s, uint64_t now)
{
	struct jv_bridge_requests r;
	jv_bridge_take(s->bridge, &r);
	if (r.pause >= 0)
		sv_set_paused(s, r.pause, now);
	if (r.batch_size > 0 || r.max_concurrent > 0) {
		if (r.batch_size > 0)
			s->tune.batch_size = r.batch_size;
		if (r.max_concurrent > 0)
			s->tune.max_concurrent = r.max_concurrent;
		jv_log(JV_INFO, "api: retuned: batch_size %d, max_concurrent_jobs %d", s->tune.batch_size,
		       s->tune.max_concurrent);
		s->claim.want = 1;
	}
	if (r.trigger)
		s->claim.want = 1;
	for (size_t i = 0; i < r.n_cancel; i++)
		sv_cancel_running(s, r.cancel[i], now);
	free(r.cancel);
}

/* Tell the API how things stand. */
void sv_publish(struct serve *s)
{
	struct jv_engine_view v;
	memset(&v, 0, sizeof v);
	v.processor_id = s->id;
	snprintf(v.name, sizeof v.name, "%s", s->cfg->processor.name);
	snprintf(v.hostname, sizeof v.hostname, "%s", s->hostname);
	v.pid = (int)getpid();
	v.started_unix_ms = s->started_unix_ms;
	v.last_heartbeat_unix_ms = s->hb.last_unix_ms;
	v.started_mono_ms = s->started_mono_ms;
	v.last_heartbeat_mono_ms = s->hb.last_mono_ms;
	v.paused = s->ctl.paused;
	v.draining = s->drain.state != DRAIN_OFF;
	v.db_connected = sv_connected(s);
	v.batch_size = s->tune.batch_size;
	v.max_concurrent = s->tune.max_concurrent;
	v.batch_size_limit = s->cfg->processor.batch_size;
	v.max_concurrent_limit = s->cfg->processor.max_concurrent_jobs;
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0) {
			v.workers_total++;
			v.workers_busy += s->pool.w[i].busy != 0;
		}
	v.threads_total = s->tp ? sv_thread_count(s->cfg) : 0;
	v.inflight = s->inflight;
	v.prefetched = (int)s->claim.n_queued;
	v.claimed = s->count.claimed;
	v.completed = s->count.completed;
	v.claim_queries = s->count.claim_queries;
	v.complete_queries = s->count.complete_queries;
	v.stale = s->count.stale;
	v.db_reconnects = s->count.reconnects;
	jv_alerter_stats(s->alerter, &v.alerts);
	jv_bridge_publish(s->bridge, &v);
}

/* Workers that could not be started are tried again once their back-off is
 * over, whether a job waits for one or not. */
static void pool_retry_step(struct serve *s, uint64_t now)
{
	if (s->drain.state == DRAIN_OFF && s->pool.retry_at_ms && now >= s->pool.retry_at_ms)
		jv_pool_fill(&s->pool);
}

/* Workers past their deadline are told to stop, and killed after the grace
 * (jv_pool_check_deadlines); the next such time is kept for sv_wake_at(). */
static void worker_deadlines(struct serve *s, uint64_t now)
{
	size_t from = s->done.n;
	s->worker_deadline = jv_pool_check_deadlines(&s->pool, now, &s->done);
	sv_finished(s, from);
}

static void wake_by(uint64_t *wake, uint64_t at)
{
	if (at < *wake)
		*wake = at;
}

/* When the loop must wake next, whatever arrives: the earliest timer (at
 * most a minute away). It only reads the state. */
uint64_t sv_wake_at(const struct serve *s, uint64_t now, uint64_t ping)
{
	uint64_t wake = sv_db_wake(s, now + 60000);
	if (sv_may_claim(s)) {
		wake_by(&wake, s->claim.next_poll);
		if (s->claim.next_due)
			wake_by(&wake, s->claim.next_due);
	}
	if (s->drain.state != DRAIN_OFF && s->drain.state != DRAIN_RELEASED)
		wake_by(&wake, s->drain.deadline + (s->drain.state >= DRAIN_RELEASING ? JV_KILL_GRACE_MS : 0));
	if (s->drain.exit_deadline)
		wake_by(&wake, s->drain.exit_deadline);
	if (s->drain.stop_retry_at > now)
		wake_by(&wake, s->drain.stop_retry_at);
	if (ping)
		wake_by(&wake, ping);
	if (s->claim.n_queued > 0 && s->wait.until > now)
		wake_by(&wake, s->wait.until); /* a job waits for a worker process */
	if (s->drain.state == DRAIN_OFF && s->pool.retry_at_ms > now)
		wake_by(&wake, s->pool.retry_at_ms);
	if (s->done.n > 0 && s->cmp.retry_at > now)
		wake_by(&wake, s->cmp.retry_at);
	if (s->done.n > 0 && sv_connected(s) && s->cc.q == Q_NONE)
		wake_by(&wake, s->cmp.first_at + JV_COALESCE_MS); /* (busy: its answer wakes us) */
	if (s->worker_deadline)
		wake_by(&wake, s->worker_deadline);
	if (s->prog.n > 0 && sv_connected(s))
		wake = sv_progress_wake(s, wake);
	return wake;
}

/* poll()'s timeout until wake: 0 when results or a claim are ready to send
 * now. It only reads the state. */
int sv_poll_timeout(const struct serve *s, uint64_t now, uint64_t wake)
{
	if (s->done.n > 0 && sv_connected(s) && s->cc.q == Q_NONE && now >= s->cmp.retry_at &&
	    sv_completion_due(s, now))
		return 0; /* results to send */
	if (s->claim.want && sv_free_slots(s) > 0 && s->lc.q == Q_NONE && sv_may_claim(s))
		return 0; /* a claim to send */
	return wake > now ? (int)(wake - now) : 0;
}

/* The API's view: always before waiting, and at most at 20 Hz while busy
 * (off the per-job path). */
static void publish_step(struct serve *s, uint64_t now, int timeout)
{
	if (timeout > 0 || now >= s->next_publish) {
		sv_publish(s);
		s->next_publish = now + 50;
	}
}

/* The descriptors of one poll(), each slot found by name. */
struct poll_set {
	struct pollfd *fds;
	int n, cap;
	int signal, claim, complete, listen, threads, bridge;
	int workers, n_workers; /* worker i's socket is at workers + i */
	int old, n_old;         /* the old generations' thread pools */
};

static int poll_add(struct poll_set *ps, int fd, short events)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 16;
		ps->fds = jv_realloc(ps->fds, (size_t)ps->cap * sizeof *ps->fds);
	}
	ps->fds[ps->n] = (struct pollfd){fd, events, 0};
	return ps->n++;
}

static int poll_add_chan(struct poll_set *ps, const struct chan *c)
{
	struct pollfd p = sv_chan_pollfd(c);
	return poll_add(ps, p.fd, p.events);
}

/* What to wait for: every descriptor of the loop, in named slots. */
static void poll_build(struct poll_set *ps, const struct serve *s)
{
	ps->n = 0;
	ps->signal = poll_add(ps, s->sfd, POLLIN);
	ps->claim = poll_add_chan(ps, &s->lc);
	ps->complete = poll_add_chan(ps, &s->cc);
	ps->listen = poll_add_chan(ps, &s->nc);
	ps->threads = poll_add(ps, s->tp ? jv_tpool_fd(s->tp) : -1, POLLIN);
	ps->bridge = poll_add(ps, jv_bridge_fd(s->bridge), POLLIN);
	ps->workers = ps->n;
	ps->n_workers = s->pool.n;
	for (int i = 0; i < s->pool.n; i++)
		poll_add(ps, s->pool.w[i].fd, POLLIN);
	ps->old = ps->n;
	ps->n_old = 0;
	for (const struct old_gen *g = s->old; g; g = g->next, ps->n_old++)
		poll_add(ps, jv_tpool_fd(g->tp), POLLIN);
}

static int ready_in(const struct poll_set *ps, int slot) { return ps->fds[slot].revents != 0; }

/* What poll() found ready, each to its handler. A signal may reload (the
 * pool resized, thread pools replaced): a worker's slot counts only while
 * it still holds that worker's socket. */
static void on_events(struct serve *s, const struct poll_set *ps, uint64_t now)
{
	if (ready_in(ps, ps->signal))
		on_signal(s);
	int thread_results = ready_in(ps, ps->threads);
	for (int i = 0; i < ps->n_old; i++)
		thread_results |= ready_in(ps, ps->old + i);
	if (thread_results)
		sv_collect_thread_results(s);
	if (ready_in(ps, ps->bridge)) {
		take_requests(s, now);
		s->next_publish = 0; /* show the change at once */
	}
	for (int i = 0; i < s->pool.n && i < ps->n_workers; i++) {
		const struct pollfd *p = &ps->fds[ps->workers + i];
		if (p->revents && p->fd == s->pool.w[i].fd) {
			size_t from = s->done.n;
			jv_pool_on_readable(&s->pool, i, &s->done);
			sv_finished(s, from);
		}
	}
	sv_chan_event(s, &s->lc, &ps->fds[ps->claim], now);
	sv_chan_event(s, &s->cc, &ps->fds[ps->complete], now);
	sv_chan_event(s, &s->nc, &ps->fds[ps->listen], now);
	/* Replace workers that died or retired. */
	if (s->drain.state == DRAIN_OFF)
		jv_pool_fill(&s->pool);
}

/* The loop: each turn the steps below, none of them waiting, then poll()
 * until something arrives or the earliest timer. Returns when draining is
 * done (0) or poll() fails (JV_EIO). */
int sv_run_loop(struct serve *s)
{
	struct poll_set ps = {0};
	int rc = 0;
	for (;;) {
		uint64_t now = jv_now_ms();
		uint64_t ping = notify_tick(s, now); /* systemd's watchdog, from here only */
		pool_retry_step(s, now);
		sv_fence_check(s, now);
		if (!s->fence.on)
			sv_run_queued(s);
		if (s->drain.state != DRAIN_OFF && sv_drain_step(s, now))
			break;
		sv_db_step(s, now);
		/* Finished work goes out, then new work comes in; neither waits. */
		sv_send_completions(s, now);
		sv_claim_step(s, now);
		sv_send_deps(s, now);     /* a run waits for these */
		sv_send_progress(s, now); /* at most once a second per job */
		worker_deadlines(s, now);

		int timeout = sv_poll_timeout(s, now, sv_wake_at(s, now, ping));
		publish_step(s, now, timeout);
		poll_build(&ps, s);
		int r = poll(ps.fds, (nfds_t)ps.n, timeout);
		if (r < 0 && errno != EINTR) {
			jv_log(JV_ERROR, "poll: %s", strerror(errno));
			rc = JV_EIO;
			break;
		}
		if (r > 0)
			on_events(s, &ps, jv_now_ms());
	}
	free(ps.fds);
	return rc;
}

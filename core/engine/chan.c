/*
 * chan.c -- one database channel: at most one query in flight, sent
 * without waiting, its results read as they arrive and acted on once the
 * query has ended (one dispatcher, on_result), its answer overdue after a
 * deadline (a lost connection).
 */
#include "autoconf.h"

#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const query_name[] = {
	"", "LISTEN", "claim", "completion", "heartbeat", "release of unheld claims",
	"control poll", "NOTIFY self-check", "processor stop", "progress write",
	"fetch of dependency results",
};

/* The channel that LISTENs: the claim channel without a pooler, the third
 * one with pooler: transaction and a listen_url, else none (NULL). */
struct chan *sv_listen_chan(struct serve *s)
{
	if (s->cfg->database.pooler != JV_POOLER_TRANSACTION)
		return &s->lc;
	return s->cfg->database.listen_url ? &s->nc : NULL;
}

int sv_uses_nc(const struct serve *s)
{
	return s->cfg->database.pooler == JV_POOLER_TRANSACTION && s->cfg->database.listen_url;
}

const char *sv_chan_url(const struct serve *s, const struct chan *c)
{
	return c == &s->nc ? s->cfg->database.listen_url : s->cfg->database.url;
}

/* Connected, and LISTENing when it does (its LISTEN answered). */
int sv_ready(const struct chan *c) { return c->state == CH_READY && c->q != Q_LISTEN; }

/* Every channel connected (and LISTENing where it does). */
int sv_connected(const struct serve *s)
{
	return sv_ready(&s->lc) && sv_ready(&s->cc) && (!sv_uses_nc(s) || sv_ready(&s->nc));
}

/* The channel that LISTENs sends nothing while the start-up check that a
 * NOTIFY reaches it is under way: through a pooler in transaction mode, a
 * transaction of its own could run on the server connection that holds the
 * LISTEN and pick the NOTIFY up by chance, hiding the problem. */
int sv_quiet(const struct serve *s, const struct chan *c)
{
	return c->listen && (s->ctl.selfcheck == SC_TODO || s->ctl.selfcheck == SC_SENT);
}

/* c can take a query now. */
static int usable(const struct serve *s, const struct chan *c)
{
	return sv_ready(c) && c->q == Q_NONE && !sv_quiet(s, c);
}

/* The first of a and b that can take a query now, or NULL. */
struct chan *sv_idle_chan(const struct serve *s, struct chan *a, struct chan *b)
{
	if (usable(s, a))
		return a;
	if (b && usable(s, b))
		return b;
	return NULL;
}

/*
 * How long a query's answer may keep us waiting with nothing arriving on its
 * connection before the connection counts as lost. A heartbeat answers in
 * milliseconds: it is overdue by the next one's time, at least 5 s. The rest
 * may legitimately wait on the server for a while (a lock, a commit that a
 * synchronous standby holds up, a batch of large outputs): 30 s, or a
 * heartbeat interval when that is longer. A slow but live server keeps its
 * TCP connection answering (keepalives, db.c), so an answer overdue this
 * long is a link that acknowledges and forwards nothing (a stuck middlebox,
 * a paused peer). Self-fencing does not wait for it: it counts from the last
 * confirmed heartbeat whatever the connections look like.
 */
static uint64_t answer_deadline_ms(const struct serve *s, enum query q)
{
	uint64_t hb = (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	if (q == Q_HEARTBEAT)
		return hb > 5000 ? hb : 5000;
	return hb > 30000 ? hb : 30000;
}

void sv_close_chan(struct serve *s, struct chan *c)
{
	if (c->conn)
		PQfinish(c->conn); /* non-blocking: never waits to say goodbye */
	c->conn = NULL;
	c->state = CH_DOWN;
	c->q = Q_NONE;
	c->flush = 0;
	PQclear(c->res); /* (a query not ended is as good as lost) */
	c->res = NULL;
	if (s->hb.chan == c)
		s->hb.chan = NULL;
	if (s->prog.chan == c)
		s->prog.chan = NULL;
	sv_deps_chan_lost(s, c);
}

void sv_close_all(struct serve *s)
{
	sv_requeue_batch(s);
	sv_close_chan(s, &s->lc);
	sv_close_chan(s, &s->cc);
	sv_close_chan(s, &s->nc);
	s->link.recovering = 0;
	if (s->ctl.selfcheck == SC_SENT)
		s->ctl.selfcheck = SC_TODO; /* cut off: again on the next connection */
}

/* After a failed query: a broken connection is handled here (1), any other
 * error is the caller's to log (0). */
int sv_check_lost(struct serve *s, PGconn *conn, const char *what, const char *err)
{
	if (conn && jv_db_is_broken(conn)) {
		sv_db_lost(s, what, err);
		return 1;
	}
	return 0;
}

/* A query was just sent on c: it is in flight, its output maybe not all
 * written yet (the connection does not block: the rest goes out as the
 * socket takes it). Returns 0, or 1 when the connection broke (handled). */
int sv_chan_sent(struct serve *s, struct chan *c, enum query q, uint64_t now)
{
	c->q = q;
	c->failed = 0;
	c->deadline = now + answer_deadline_ms(s, q);
	int r = PQflush(c->conn);
	c->flush = r == 1;
	if (r < 0) {
		sv_db_lost(s, c->name, PQerrorMessage(c->conn));
		return 1;
	}
	return 0;
}

/* "HOST:PORT" of c's connection into buf. */
const char *sv_chan_host(const struct chan *c, char *buf, size_t len)
{
	const char *h = c->conn ? PQhost(c->conn) : NULL;
	const char *p = c->conn ? PQport(c->conn) : NULL;
	if (h && h[0] == '/')
		snprintf(buf, len, "socket %s port %s", h, p && *p ? p : "5432");
	else
		snprintf(buf, len, "%s:%s", h && *h ? h : "?", p && *p ? p : "5432");
	return buf;
}

/* The result of c's query q, which has ended. */
static void on_result(struct serve *s, struct chan *c, enum query q, PGresult *res, uint64_t now)
{
	switch (q) {
	case Q_LISTEN:
		if (c->failed) {
			char err[512];
			jv_db_format_error(c->conn, res, err, sizeof err);
			if (!sv_check_lost(s, c->conn, "LISTEN", err))
				sv_connect_failed(s, c, err, 0, now);
		}
		return;
	case Q_CLAIM: sv_on_claim_result(s, res, now); return;
	case Q_COMPLETE: sv_on_completion_result(s, res, now); return;
	case Q_HEARTBEAT: sv_on_heartbeat_result(s, c, res, now); return;
	case Q_RELEASE: sv_on_release_result(s, c, res, now); return;
	case Q_CONTROL: sv_on_control_result(s, c, res, now); return;
	case Q_NOTIFY: sv_on_selfcheck_result(s, c, res, now); return;
	case Q_STOPPED:
		if (c->failed) {
			char err[512];
			jv_db_format_error(c->conn, res, err, sizeof err);
			if (!sv_check_lost(s, c->conn, "marking the processor stopped", err))
				jv_log(JV_ERROR, "could not mark processor stopped: %s", err);
		}
		return;
	case Q_PROGRESS: sv_on_progress_result(s, c, res, now); return;
	case Q_DEPS: sv_on_deps_result(s, c, res, now); return;
	case Q_NONE: return;
	}
}

/*
 * A result of c's query in flight, kept until the query has ended: its
 * implicit transaction commits only then (at Sync), after the rows were
 * sent. A claim's rows acted on before that could start jobs whose claim a
 * crash or a failover then undoes (a commit waiting for a synchronous
 * standby when the primary dies), so that another run of them starts while
 * ours goes on; a heartbeat taken as confirmed before that could make us
 * fence later than the rescue the database allows. The first result is
 * kept, or the first error.
 */
static void keep_result(struct chan *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	int bad = st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK;
	if (!c->res || (bad && !c->failed)) {
		PQclear(c->res);
		c->res = res;
		c->failed = bad;
	} else {
		PQclear(res);
	}
}

/* c's query in flight has ended (every result read, its transaction over):
 * its result is acted on now. */
static void on_query_done(struct serve *s, struct chan *c, uint64_t now)
{
	enum query q = c->q;
	PGresult *res = c->res;
	c->res = NULL;
	c->q = Q_NONE;
	c->flush = 0;
	if (s->hb.chan == c)
		s->hb.chan = NULL;
	if (res)
		on_result(s, c, q, res, now); /* (may close every channel) */
	PQclear(res);
	if (q == Q_STOPPED && !c->failed)
		s->drain.stopped_recorded = 1;
	if (q == Q_STOPPED && c->failed) {
		s->drain.stop_sent = 0;
		s->drain.stop_retry_at = jv_now_ms() + 1000;
	}
	if (q == Q_COMPLETE && c->batch.n > 0)
		sv_requeue_batch(s); /* (no answer came: sent again) */
	if (q == Q_PROGRESS && s->prog.chan == c)
		s->prog.chan = NULL;
	if (q == Q_DEPS)
		sv_deps_chan_lost(s, c); /* (no answer came: asked again) */
}

/* A notification, whichever channel it came on. */
static void on_notification(struct serve *s, struct chan *c, const PGnotify *nt, uint64_t now)
{
	char self[64];
	snprintf(self, sizeof self, "selfcheck %" PRId64, s->id);
	if (!strcmp(nt->relname, JV_DB_CANCEL_CHANNEL))
		sv_cancel_running(s, strtoll(nt->extra, NULL, 10), now);
	else if (!strcmp(nt->relname, JV_DB_CONTROL_CHANNEL) && !strcmp(nt->extra, self))
		sv_selfcheck_heard(s, c);
	else if (!strcmp(nt->relname, JV_DB_CONTROL_CHANNEL))
		sv_control_request(s, nt->extra, now);
	else
		s->claim.want = 1;
}

/* Read what a channel has: notifications and the results of its query in
 * flight. Input moves the query's deadline on: the connection is alive. */
static void on_chan_readable(struct serve *s, struct chan *c, uint64_t now)
{
	if (!PQconsumeInput(c->conn)) {
		char what[64];
		snprintf(what, sizeof what, "reading on the %s connection", c->name);
		sv_db_lost(s, what, PQerrorMessage(c->conn));
		return;
	}
	if (c->q != Q_NONE)
		c->deadline = now + answer_deadline_ms(s, c->q);
	PGnotify *nt;
	while (c->conn && (nt = PQnotifies(c->conn))) {
		on_notification(s, c, nt, now);
		PQfreemem(nt);
	}
	while (c->conn && c->q != Q_NONE && !PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		if (!res) {
			on_query_done(s, c, now);
			break;
		}
		keep_result(c, res);
	}
}

/* What c waits for in poll(): fd -1 when nothing. */
struct pollfd sv_chan_pollfd(const struct chan *c)
{
	struct pollfd p = {-1, 0, 0};
	if (!c->conn || c->state == CH_DOWN)
		return p;
	p.fd = PQsocket(c->conn);
	if (c->state == CH_CONNECTING)
		p.events = c->want_write ? POLLOUT : POLLIN;
	else
		p.events = POLLIN | (c->flush ? POLLOUT : 0);
	return p;
}

/* poll() says c's socket (as it was, fd) is ready. */
void sv_chan_event(struct serve *s, struct chan *c, const struct pollfd *p, uint64_t now)
{
	if (!p->revents || !c->conn || p->fd != PQsocket(c->conn))
		return;
	if (c->state == CH_CONNECTING) {
		sv_chan_connect_poll(s, c, now);
		return;
	}
	if (c->flush && (p->revents & (POLLOUT | POLLERR | POLLHUP))) {
		int r = PQflush(c->conn);
		if (r < 0) {
			sv_db_lost(s, c->name, PQerrorMessage(c->conn));
			return;
		}
		c->flush = r == 1;
		c->deadline = now + answer_deadline_ms(s, c->q);
	}
	if (p->revents & (POLLIN | POLLERR | POLLHUP))
		on_chan_readable(s, c, now);
}

/* Connects and answers that are overdue: a lost connection. */
static void chan_deadlines(struct serve *s, uint64_t now)
{
	struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		struct chan *c = chans[i];
		char err[512], host[300];
		if (c->state == CH_CONNECTING && now >= c->connect_deadline) {
			snprintf(err, sizeof err, "could not connect to database: no answer from %s within %d ms",
				 sv_chan_host(c, host, sizeof host),
				 jv_db_connect_timeout_ms(sv_chan_url(s, c)));
			sv_connect_failed(s, c, err, 1, now);
			return;
		}
		if (c->state == CH_READY && c->q != Q_NONE && now >= c->deadline) {
			/* (a LISTEN while reconnecting: connect_failed, through db_lost) */
			snprintf(err, sizeof err, "no answer to the %s from %s within %llu ms",
				 query_name[c->q], sv_chan_host(c, host, sizeof host),
				 (unsigned long long)answer_deadline_ms(s, c->q));
			sv_db_lost(s, c->name, err);
			return;
		}
	}
}

/* The earliest of the database's timers (wake lowered to it). */
uint64_t sv_db_wake(const struct serve *s, uint64_t wake)
{
	const struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		const struct chan *c = chans[i];
		if (c->state == CH_CONNECTING && c->connect_deadline < wake)
			wake = c->connect_deadline;
		if (c->state == CH_READY && c->q != Q_NONE && c->deadline < wake)
			wake = c->deadline;
	}
	if (s->link.reconnecting && s->lc.state == CH_DOWN && s->link.next_at < wake)
		wake = s->link.next_at;
	if (!s->fence.on && sv_fence_at(s) < wake)
		wake = sv_fence_at(s);
	if (s->fence.kill_at && s->fence.kill_at < wake)
		wake = s->fence.kill_at;
	if (s->ctl.selfcheck == SC_SENT && s->ctl.selfcheck_until && s->ctl.selfcheck_until < wake)
		wake = s->ctl.selfcheck_until;
	if (s->link.recovering && sv_connected(s) && s->cc.q == Q_NONE && s->link.release_at < wake)
		wake = s->link.release_at;
	int idle = sv_connected(s) && (usable(s, &s->lc) || usable(s, &s->cc));
	if (idle && !s->hb.chan && s->hb.next < wake)
		wake = s->hb.next;
	if (idle && s->ctl.by_poll && s->ctl.next_poll < wake)
		wake = s->ctl.next_poll;
	return wake;
}

/* Each turn: the database's side of the loop, none of it waiting. */
void sv_db_step(struct serve *s, uint64_t now)
{
	chan_deadlines(s, now);
	sv_reconnect_step(s, now);
	sv_link_check(s, now);
	sv_send_release(s, now);
	if (s->ctl.selfcheck == SC_SENT && s->ctl.selfcheck_until && now >= s->ctl.selfcheck_until)
		sv_selfcheck_failed(s, "nothing arrived within 5 s");
	sv_send_selfcheck(s, now);
	if (now >= s->hb.next)
		sv_heartbeat(s, now);
	sv_send_control(s, now);
}

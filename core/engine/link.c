/*
 * link.c -- the database link: opening it at start, losing it, reconnecting
 * with back-off, and releasing what a claim lost with the connection may
 * have claimed (release_unheld) before claiming again.
 */
#include "autoconf.h"

#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Close every channel and reconnect at once (reconnect_step). */
void sv_link_reset(struct serve *s)
{
	sv_give_back_queue(s); /* release_unheld() at the reconnect */
	sv_close_all(s);
	s->link.reconnecting = 1;
	s->link.lost_at = jv_now_ms();
	s->link.delay = 0;
	s->link.next_at = s->link.lost_at;
}

/* A small xorshift for the reconnect jitter: no shared state with anyone. */
static uint64_t jitter(struct serve *s, uint64_t d)
{
	uint32_t x = s->link.rng ? s->link.rng : (uint32_t)getpid() * 2654435761u + (uint32_t)jv_now_ms();
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->link.rng = x;
	return d / 2 + x % (d / 2 + 1);
}

/* A reconnect attempt failed (c: the channel, when one is to blame;
 * timed_out: its host never answered). Closes what was opened and tries
 * again after the back-off; a multi-host url then starts at the host after
 * the silent one. */
void sv_connect_failed(struct serve *s, struct chan *c, const char *err, int timed_out,
			   uint64_t now)
{
	if (c && timed_out && c->conn && jv_db_host_count(sv_chan_url(s, c)) > 1) {
		int i = jv_db_host_index(sv_chan_url(s, c), c->first_host, c->conn);
		/* (every channel on that url: the host is as silent for them) */
		struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
		for (size_t k = 0; i >= 0 && k < sizeof chans / sizeof chans[0]; k++)
			if ((chans[k] == &s->nc) == (c == &s->nc))
				chans[k]->first_host = i + 1;
	}
	sv_close_all(s);
	s->link.delay = s->link.delay == 0 ? JV_RECONNECT_FIRST_MS
			     : s->link.delay * 2 > JV_RECONNECT_MAX_MS ? JV_RECONNECT_MAX_MS
									: s->link.delay * 2;
	s->link.next_at = now + jitter(s, s->link.delay);
	/* A reason that needs an operator (a role's connection limit,
	 * max_connections, a password) must reach the log, but once, not at
	 * every retry. */
	if (strcmp(err, s->link.why) != 0)
		jv_log(JV_WARNING, "cannot reconnect to the database yet, retrying: %s", err);
	else
		jv_debug("reconnect failed: %s", err);
	snprintf(s->link.why, sizeof s->link.why, "%s", err);
}

void sv_db_lost(struct serve *s, const char *what, const char *err)
{
	if (s->link.reconnecting) {
		/* (while connecting: one more failed attempt) */
		sv_connect_failed(s, NULL, err, 0, jv_now_ms());
		return;
	}
	jv_log(JV_ERROR, "database connection lost (%s: %s); jobs keep running, reconnecting",
	       what, err);
	sv_link_reset(s);
}

#define LISTEN_ALL                                                                            \
	"LISTEN " JV_DB_NOTIFY_CHANNEL "; LISTEN " JV_DB_CANCEL_CHANNEL "; LISTEN " JV_DB_CONTROL_CHANNEL

/* c reached its server: the rest of its set-up (LISTEN) is a query too. */
static void chan_connected(struct serve *s, struct chan *c, uint64_t now)
{
	PQsetnonblocking(c->conn, 1);
	if (!c->listen) {
		c->state = CH_READY;
		return;
	}
	if (!PQsendQuery(c->conn, LISTEN_ALL)) {
		char err[512];
		jv_db_format_error(c->conn, NULL, err, sizeof err);
		sv_connect_failed(s, c, err, 0, now);
		return;
	}
	c->state = CH_READY; /* (sv_ready() waits for the LISTEN's answer) */
	sv_chan_sent(s, c, Q_LISTEN, now);
}

/* Drive c's connecting on: its socket is ready, or it was just started. */
void sv_chan_connect_poll(struct serve *s, struct chan *c, uint64_t now)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING: c->want_write = 0; return;
	case PGRES_POLLING_WRITING: c->want_write = 1; return;
	case PGRES_POLLING_OK: chan_connected(s, c, now); return;
	default: {
		char err[512];
		jv_db_connect_error(sv_chan_url(s, c), c->conn, err, sizeof err);
		sv_connect_failed(s, c, err, 0, now);
		return;
	}
	}
}

/* The reconnect's turn: start connecting every channel (the attempt goes
 * on in the loop: chan_connect_poll, link_check). */
void sv_reconnect_step(struct serve *s, uint64_t now)
{
	if (!s->link.reconnecting || s->lc.state != CH_DOWN || now < s->link.next_at)
		return;
	struct chan *chans[] = {&s->lc, &s->cc, sv_uses_nc(s) ? &s->nc : NULL};
	struct chan *l = sv_listen_chan(s);
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		struct chan *c = chans[i];
		if (!c)
			continue;
		char err[512];
		c->conn = jv_db_connect_start(sv_chan_url(s, c), "jobvisor serve", c->first_host, err,
					     sizeof err);
		if (!c->conn) {
			sv_connect_failed(s, c, err, 0, now);
			return;
		}
		c->state = CH_CONNECTING;
		c->want_write = 1; /* as libpq says: behave as if it asked to write */
		c->connect_deadline = now + (uint64_t)jv_db_connect_timeout_ms(sv_chan_url(s, c));
		c->listen = c == l;
	}
}

/* Every channel is up again: say where, then release_unheld() before any
 * claim, and a heartbeat at once. */
void sv_link_check(struct serve *s, uint64_t now)
{
	if (!s->link.reconnecting || !sv_connected(s))
		return;
	char lhost[300], chost[300], nbuf[300], nhost[320] = "";
	sv_chan_host(&s->lc, lhost, sizeof lhost);
	sv_chan_host(&s->cc, chost, sizeof chost);
	if (sv_uses_nc(s))
		snprintf(nhost, sizeof nhost, "; LISTEN on %s", sv_chan_host(&s->nc, nbuf, sizeof nbuf));
	jv_log(JV_INFO, "database connection back after %llu ms: %s%s%s%s",
	       (unsigned long long)(now - s->link.lost_at), chost,
	       strcmp(lhost, chost) ? ", claims on " : "", strcmp(lhost, chost) ? lhost : "",
	       nhost);
	s->link.reconnecting = 0;
	s->link.delay = 0;
	s->link.why[0] = '\0';
	s->count.reconnects++;
	s->link.epoch++;
	s->link.recovering = 1;
	sv_send_release(s, now);
	s->hb.next = now; /* say we are alive at once */
	s->cmp.retry_at = 0;
}

/* Open the channels at start, waiting (nothing runs yet): a database that
 * cannot be reached is an error to exit with, as the service manager
 * expects. */
int sv_db_open(struct serve *s, char *err, size_t errlen)
{
	struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
	struct chan *l = sv_listen_chan(s);
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		struct chan *c = chans[i];
		if (c == &s->nc && !sv_uses_nc(s))
			continue;
		c->conn = jv_db_connect(sv_chan_url(s, c), "jobvisor serve", err, errlen);
		if (!c->conn) {
			sv_close_all(s);
			return JV_EDB;
		}
		c->listen = c == l;
		if (c->listen && (jv_db_exec(c->conn, "LISTEN " JV_DB_NOTIFY_CHANNEL, 0, NULL, err,
					     errlen) != 0 ||
				  jv_db_exec(c->conn, "LISTEN " JV_DB_CANCEL_CHANNEL, 0, NULL, err,
					     errlen) != 0 ||
				  jv_db_exec(c->conn, "LISTEN " JV_DB_CONTROL_CHANNEL, 0, NULL, err,
					     errlen) != 0)) {
			sv_close_all(s);
			return JV_EDB;
		}
		c->state = CH_READY;
	}
	/* A pooler gives its clients a process id of its own (PgBouncer does):
	 * the hint the NOTIFY self-check's warning gives. */
	long long pid;
	if (jv_db_query_int64(s->cc.conn, "SELECT pg_backend_pid()", 0, NULL, &pid, NULL, err,
			      errlen) != 0) {
		sv_close_all(s);
		return JV_EDB;
	}
	s->link.pooled = pid != PQbackendPID(s->cc.conn);
	return 0;
}

/* Turn the channels to non-blocking once start-up is done. */
void sv_db_nonblocking(struct serve *s)
{
	struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++)
		if (chans[i]->conn)
			PQsetnonblocking(chans[i]->conn, 1);
}

/* How NOTIFY reaches us, for the configuration: through LISTEN (checked
 * once the loop runs: selfcheck), or not at all (polling, said once). */
void sv_listen_mode(struct serve *s)
{
	s->ctl.by_poll = sv_listen_chan(s) == NULL;
	s->ctl.selfcheck = s->ctl.by_poll ? SC_NONE : SC_TODO;
	if (s->ctl.by_poll)
		jv_log(JV_INFO,
		       "database.pooler is transaction and no database.listen_url is set: new jobs "
		       "are found by polling every %d ms (processor.poll_interval_ms), and cancel "
		       "and pause requests within the same interval",
		       s->cfg->processor.poll_interval_ms);
}

/*
 * A claim in flight when the connection broke may have committed: its jobs
 * are running under our id, and we never heard of them. Tell the database
 * which jobs we do hold (running, or finished and not yet recorded); the
 * rest go back to pending. It also moves our connection epoch on, so a
 * claim still running on a connection we gave up on claims nothing
 * (sql/010). No claim is sent before its answer (may_claim).
 */
void sv_send_release(struct serve *s, uint64_t now)
{
	if (!s->link.recovering || s->cc.q != Q_NONE || !sv_connected(s) || now < s->link.release_at)
		return;
	struct jv_buf held = {0};
	jv_buf_puts(&held, "{");
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].busy)
			jv_buf_printf(&held, "%lld,", (long long)s->pool.w[i].at.id);
	if (s->tp)
		jv_tpool_ids(s->tp, &held);
	for (const struct old_gen *g = s->old; g; g = g->next)
		jv_tpool_ids(g->tp, &held);
	/* (Nothing claimed ahead: sv_db_lost() gave those back.) */
	for (size_t i = 0; i < s->done.n; i++)
		jv_buf_printf(&held, "%lld,", (long long)s->done.items[i].at.id);
	if (held.data[held.len - 1] == ',')
		held.len--;
	jv_buf_puts(&held, "}");
	char err[512];
	int rc = jv_store_release_unheld_send(s->cc.conn, s->id, held.data, s->link.epoch, err,
	                                      sizeof err);
	jv_buf_free(&held);
	if (rc != 0) {
		if (!sv_check_lost(s, s->cc.conn, "releasing unknown claims", err)) {
			jv_log(JV_ERROR, "after reconnecting, could not release unknown claims: %s "
			       "(again in 1 s)", err);
			s->link.release_at = now + 1000;
		}
		return;
	}
	sv_chan_sent(s, &s->cc, Q_RELEASE, now);
}

void sv_on_release_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (!sv_check_lost(s, c->conn, "releasing unknown claims", err)) {
			jv_log(JV_ERROR, "after reconnecting, could not release unknown claims: %s "
			       "(again in 1 s)", err);
			s->link.release_at = now + 1000;
		}
		return;
	}
	int released = jv_store_count_parse(res);
	if (released > 0)
		jv_log(JV_WARNING,
		       "released %d jobs claimed by a claim whose answer was lost with the "
		       "connection (back to pending, attempt not counted)",
		       released);
	s->link.recovering = 0;
	s->link.release_at = 0;
	s->claim.want = 1;
}

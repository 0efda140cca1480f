/*
 * control.c -- cancel and pause requests (by NOTIFY, or by polling when
 * NOTIFY cannot reach us), and the start-up check that a NOTIFY reaches our
 * LISTEN.
 */
#include "autoconf.h"

#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The job was cancelled (through the API, which recorded the outcome): if
 * we run it, stop the run and forget its result. Twice is harmless. */
void sv_cancel_running(struct serve *s, int64_t id, uint64_t now)
{
	if (id <= 0)
		return;
	for (size_t k = 0; k < s->cmp.n_drop; k++)
		if (s->cmp.drop[k] == id)
			return; /* stopping already */
	if (sv_unqueue(s, id)) {
		jv_log(JV_INFO, "job %" PRId64 " cancelled before it started", id);
		return;
	}
	int found = jv_pool_cancel_job(&s->pool, id, now);
	if (!found && s->tp)
		found = jv_tpool_cancel_job(s->tp, id);
	for (const struct old_gen *g = s->old; g && !found; g = g->next)
		found = jv_tpool_cancel_job(g->tp, id);
	if (!found)
		return;
	jv_log(JV_INFO, "job %" PRId64 " cancelled: stopping its run", id);
	if (s->cmp.n_drop == s->cmp.cap_drop) {
		s->cmp.cap_drop = s->cmp.cap_drop ? 2 * s->cmp.cap_drop : 8;
		s->cmp.drop = jv_realloc(s->cmp.drop, s->cmp.cap_drop * sizeof *s->cmp.drop);
	}
	s->cmp.drop[s->cmp.n_drop++] = id;
}

/* Pause or resume claiming (running jobs go on either way). */
void sv_set_paused(struct serve *s, int paused, uint64_t now)
{
	if (paused == s->ctl.paused)
		return;
	s->ctl.paused = paused;
	jv_log(JV_INFO, "api: claiming %s", s->ctl.paused ? "paused" : "resumed");
	s->hb.next = now; /* the processor's state, at once */
	if (!s->ctl.paused)
		s->claim.want = 1;
}

/* A request for one processor, from any processor's API (POST
 * /api/processors/{id}/pause|resume): "pause ID" or "resume ID". Requests
 * for other processors, and anything else, are ignored. */
void sv_control_request(struct serve *s, const char *text, uint64_t now)
{
	int pause = !strncmp(text, "pause ", 6) ? 1 : !strncmp(text, "resume ", 7) ? 0 : -1;
	if (pause < 0)
		return;
	/* strtoll, not sscanf: an id out of range is refused, not undefined */
	char *end;
	errno = 0;
	long long id = strtoll(strchr(text, ' ') + 1, &end, 10);
	if (errno == 0 && *end == '\0' && id == s->id)
		sv_set_paused(s, pause, now);
}

/* The jobs we run or hold unstarted, as a bigint[] literal (caller frees
 * with jv_buf_free). */
static void running_ids(struct serve *s, struct jv_buf *b)
{
	jv_buf_puts(b, "{");
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0 && s->pool.w[i].busy)
			jv_buf_printf(b, "%lld,", (long long)s->pool.w[i].at.id);
	if (s->tp)
		jv_tpool_ids(s->tp, b);
	for (const struct old_gen *g = s->old; g; g = g->next)
		jv_tpool_ids(g->tp, b);
	for (size_t i = 0; i < s->claim.n_queued; i++)
		jv_buf_printf(b, "%lld,", (long long)s->claim.queue[i].id);
	if (b->data[b->len - 1] == ',')
		b->len--;
	jv_buf_puts(b, "}");
}

/* Without LISTEN: ask for cancel and pause requests every poll interval. */
void sv_send_control(struct serve *s, uint64_t now)
{
	if (!s->ctl.by_poll || !sv_connected(s) || now < s->ctl.next_poll)
		return;
	struct chan *c = sv_idle_chan(s, &s->lc, &s->cc);
	if (!c)
		return;
	s->ctl.next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;
	struct jv_buf ids = {0};
	running_ids(s, &ids);
	char err[512];
	int rc = jv_store_control_send(c->conn, s->id, ids.data, err, sizeof err);
	jv_buf_free(&ids);
	if (rc != 0) {
		if (!sv_check_lost(s, c->conn, "control poll", err))
			jv_log(JV_ERROR, "control poll failed: %s", err);
		return;
	}
	sv_chan_sent(s, c, Q_CONTROL, now);
}

void sv_on_control_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (!sv_check_lost(s, c->conn, "control poll", err))
			jv_log(JV_ERROR, "control poll failed: %s", err);
		return;
	}
	struct jv_control ctl;
	jv_store_control_parse(res, &ctl);
	for (size_t i = 0; i < ctl.n_gone; i++) {
		if (strcmp(ctl.gone[i].status, "cancelled") != 0)
			jv_log(JV_WARNING,
			       "job %" PRId64 " is no longer running under this processor (%s): "
			       "stopping its run",
			       ctl.gone[i].id, ctl.gone[i].status);
		sv_cancel_running(s, ctl.gone[i].id, now);
	}
	free(ctl.gone);
	if (ctl.seq >= 0 && ctl.seq != s->ctl.seq) {
		s->ctl.seq = ctl.seq;
		sv_set_paused(s, ctl.pause, now);
	}
}

/* The start-up check that a NOTIFY reaches our LISTEN: one to ourselves on
 * the completion channel (database.url), which must arrive on the channel
 * that LISTENs. Through a pooler in transaction mode it does not: the
 * LISTEN stayed on whichever server connection ran it. */
void sv_send_selfcheck(struct serve *s, uint64_t now)
{
	if (s->ctl.selfcheck != SC_TODO || !sv_connected(s) || s->link.recovering || s->cc.q != Q_NONE)
		return;
	char payload[64], err[512];
	snprintf(payload, sizeof payload, "selfcheck %" PRId64, s->id);
	if (jv_store_notify_send(s->cc.conn, JV_DB_CONTROL_CHANNEL, payload, err, sizeof err) != 0) {
		if (!sv_check_lost(s, s->cc.conn, "NOTIFY self-check", err))
			jv_log(JV_ERROR, "NOTIFY self-check failed: %s", err);
		return;
	}
	s->ctl.selfcheck = SC_SENT;
	s->ctl.selfcheck_until = 0; /* counted from its answer */
	sv_chan_sent(s, &s->cc, Q_NOTIFY, now);
}

void sv_selfcheck_failed(struct serve *s, const char *why)
{
	s->ctl.selfcheck = SC_DONE;
	s->ctl.by_poll = 1;
	jv_log(JV_WARNING,
	       "a NOTIFY this processor sent did not reach its LISTEN (%s): %s; set "
	       "database.pooler: transaction, and database.listen_url to a direct connection for "
	       "LISTEN. Until then new jobs are found by polling every %d ms "
	       "(processor.poll_interval_ms), and cancel and pause requests the same way",
	       why,
	       s->link.pooled ? "database.url goes through a connection pooler (its server process is not "
			"the one the connection was told: PgBouncer in transaction or statement "
			"mode, most likely)"
		      : "database.url probably goes through a connection pooler in transaction "
			"or statement mode (PgBouncer, most likely)",
	       s->cfg->processor.poll_interval_ms);
}

/* Our self-check's NOTIFY arrived on c. */
void sv_selfcheck_heard(struct serve *s, const struct chan *c)
{
	if (s->ctl.selfcheck != SC_SENT)
		return;
	if (!c->listen) {
		char why[96];
		snprintf(why, sizeof why, "it arrived on the %s connection, which does not LISTEN",
			 c->name);
		sv_selfcheck_failed(s, why);
		return;
	}
	s->ctl.selfcheck = SC_DONE;
	jv_debug("NOTIFY reaches this processor's LISTEN");
}

void sv_on_selfcheck_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (!sv_check_lost(s, c->conn, "NOTIFY self-check", err)) {
			jv_log(JV_ERROR, "NOTIFY self-check failed: %s", err);
			s->ctl.selfcheck = SC_DONE;
		}
		return;
	}
	if (s->ctl.selfcheck == SC_SENT)
		s->ctl.selfcheck_until = now + JV_SELFCHECK_MS;
}

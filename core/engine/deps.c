/*
 * deps.c -- the results of a job's dependencies, for an executor that asks
 * (host->dependency_results, ABI 1.2). Nothing is fetched before a run
 * asks: a job whose executor never does costs nothing for it. The asks of
 * the moment travel together in one query, jobvisor.dependency_results()
 * for each, on whichever channel is idle; each answer goes back to the
 * worker process or thread that asked, if it still runs that attempt. The
 * run waits (bounded by its deadline); the loop never does.
 */
#include "autoconf.h"

#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* At most this many asks per round trip (the rest go in the next). */
#define JV_DEPS_BATCH 500

/* The pools' on_deps_ask. */
void sv_deps_ask(void *arg, int worker, int64_t id, int32_t attempt)
{
	struct serve *s = arg;
	if (s->deps.n == s->deps.cap) {
		s->deps.cap = s->deps.cap ? 2 * s->deps.cap : 16;
		s->deps.asks = jv_realloc(s->deps.asks, s->deps.cap * sizeof *s->deps.asks);
	}
	/* (a thread's ask comes from the pool being taken from: jv_tpool_take) */
	s->deps.asks[s->deps.n++] = (struct dep_ask){id, attempt, worker, worker < 0 ? s->deps.taking : NULL};
}

/* tp still exists: the current pool, or one of a replaced configuration. */
static int tpool_alive(const struct serve *s, const struct jv_tpool *tp)
{
	if (tp && tp == s->tp)
		return 1;
	for (const struct old_gen *g = s->old; g; g = g->next)
		if (g->tp == tp)
			return 1;
	return 0;
}

static void answer(struct serve *s, const struct dep_ask *a, int rc, const char *json)
{
	if (a->worker >= 0)
		jv_pool_answer_deps(&s->pool, a->worker, a->id, a->attempt, rc, json);
	else if (tpool_alive(s, a->tp))
		jv_tpool_answer_deps(a->tp, a->id, a->attempt, rc, json);
}

void sv_send_deps(struct serve *s, uint64_t now)
{
	if (s->deps.n == 0 || s->deps.chan || !sv_connected(s))
		return;
	struct chan *c = sv_idle_chan(s, &s->cc, &s->lc);
	if (!c)
		return;
	size_t n = s->deps.n;
	if (n > JV_DEPS_BATCH)
		n = JV_DEPS_BATCH;
	struct jv_buf ids = {0};
	jv_buf_append(&ids, "{", 1);
	for (size_t i = 0; i < n; i++)
		jv_buf_printf(&ids, "%s%" PRId64, i ? "," : "", s->deps.asks[i].id);
	jv_buf_append(&ids, "}", 1);
	const char *params[] = {ids.data};
	int ok = PQsendQueryParams(c->conn,
				   "SELECT a.id, jobvisor.dependency_results(a.id)::text "
				   "FROM unnest($1::bigint[]) AS a(id)",
				   1, NULL, params, NULL, NULL, 0);
	jv_buf_free(&ids);
	if (!ok) {
		char err[512];
		jv_db_format_error(c->conn, NULL, err, sizeof err);
		if (!sv_check_lost(s, c->conn, "fetching dependency results", err)) {
			jv_log(JV_ERROR, "could not fetch the results of dependencies: %s", err);
			for (size_t i = 0; i < s->deps.n; i++)
				answer(s, &s->deps.asks[i], JV_HOST_EUNAVAIL, NULL);
			s->deps.n = 0;
		}
		return;
	}
	s->deps.sent = jv_malloc(n * sizeof *s->deps.sent);
	memcpy(s->deps.sent, s->deps.asks, n * sizeof *s->deps.sent);
	s->deps.n_sent = n;
	memmove(s->deps.asks, s->deps.asks + n, (s->deps.n - n) * sizeof *s->deps.asks);
	s->deps.n -= n;
	s->deps.chan = c;
	sv_chan_sent(s, c, Q_DEPS, now);
}

void sv_on_deps_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	(void)now;
	struct dep_ask *sent = s->deps.sent;
	size_t n = s->deps.n_sent;
	s->deps.sent = NULL;
	s->deps.n_sent = 0;
	s->deps.chan = NULL;
	if (c->failed) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		int lost = sv_check_lost(s, c->conn, "fetching dependency results", err);
		if (!lost)
			jv_log(JV_ERROR, "could not fetch the results of dependencies: %s", err);
		for (size_t i = 0; i < n; i++)
			answer(s, &sent[i], JV_HOST_EUNAVAIL, NULL);
		free(sent);
		return;
	}
	int rows = PQntuples(res);
	for (size_t i = 0; i < n; i++) {
		const char *json = NULL;
		for (int r = 0; r < rows && !json; r++)
			if (strtoll(PQgetvalue(res, r, 0), NULL, 10) == sent[i].id)
				json = PQgetisnull(res, r, 1) ? "{}" : PQgetvalue(res, r, 1);
		if (!json)
			answer(s, &sent[i], JV_HOST_EUNAVAIL, NULL);
		else if (strlen(json) > JV_DEPENDENCY_RESULTS_MAX)
			answer(s, &sent[i], JV_HOST_ERANGE, NULL);
		else
			answer(s, &sent[i], 0, json);
	}
	free(sent);
}

/* c was closed: the asks in flight on it go again once connected. */
void sv_deps_chan_lost(struct serve *s, const struct chan *c)
{
	if (s->deps.chan != c)
		return;
	s->deps.chan = NULL;
	for (size_t i = 0; i < s->deps.n_sent; i++) {
		const struct dep_ask *a = &s->deps.sent[i];
		sv_deps_ask(s, a->worker, a->id, a->attempt);
		s->deps.asks[s->deps.n - 1].tp = a->tp;
	}
	free(s->deps.sent);
	s->deps.sent = NULL;
	s->deps.n_sent = 0;
}

void sv_deps_free(struct serve *s)
{
	free(s->deps.asks);
	free(s->deps.sent);
	s->deps = (struct serve_deps){0};
}

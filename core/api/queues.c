/*
 * queues.c -- flow control over the API (DESIGN.md "Flow control"): the
 * queues as the claim sees them, their cluster-wide pause switch, and the
 * per-user limits (jobvisor.user_limits).
 *
 *   GET    /api/queues                   every queue (jobvisor.queue_stats())
 *   POST   /api/queues/{name}/pause      jobvisor.pause_queue(name, true, 'api')
 *   POST   /api/queues/{name}/resume     the same with false (it NOTIFYs)
 *   GET    /api/users?atLimit=&limit=&after=
 *   GET    /api/users/{id}/limits        the user's effective limits, now
 *   PUT    /api/users/{id}/limits        {"maxRunning": N|null (none), "weight": N}
 *   DELETE /api/users/{id}/limits        back to per_user_limit and weight 1
 *
 * A pause is a row of jobvisor.queues, so it holds for every processor
 * whichever processor's API took it. The JSON answers are built by
 * PostgreSQL (json_build_object keeps the key order); times are ISO-8601
 * in UTC. A user id in a path arrives percent-decoded (libmicrohttpd
 * decodes the path before routing): one with a '/' cannot be addressed
 * there, and is still listed by GET /api/users.
 */
#include "api/api.h"

#include "api/bridge.h"
#include "config/config.h"
#include "lib/db.h"
#include "lib/jsontext.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const no_args[] = {NULL};

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

int jv_api_check_queue_name(struct jv_api_req *req, const char *key, const char *name)
{
	size_t n = strlen(name);
	int ok = n >= 1 && n <= JV_QUEUE_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		     c == '-';
	}
	if (ok)
		return 0;
	jv_api_error(req, 400,
		     "%s must be 1 to %d characters of a-z, 0-9, '_', '.' and '-', got '%.80s'%s",
		     key, JV_QUEUE_NAME_MAX, name, n > 80 ? " (cut)" : "");
	return -1;
}

/* Answer a JSON text PostgreSQL built (row 0, column 0) with status. */
static void answer_pg_json(struct jv_api_req *req, int status, PGresult *res)
{
	json_t *j = jv_api_pg_json(req, res, 0, 0);
	if (j)
		jv_api_json(req, status, j);
}

/* ------------------------------------------------------------ GET /api/queues */

/*
 * $1 {name: concurrency} of this processor's config (queues with one), $2
 * the queues it serves as a text[] (NULL: every queue). queue_stats() reads
 * the live jobs through their partial indexes and the rate windows'
 * starts: in proportion to the jobs pending or running, as /api/cron/queue.
 */
static const char sql_queues[] =
    "SELECT json_build_object('queues', coalesce(json_agg(json_build_object("
    " 'name', s.name, 'pending', s.pending, 'due', s.due, 'running', s.running,"
    " 'paused', s.paused, 'pausedAt', " ISO("s.paused_at") ", 'pausedBy', s.paused_by,"
    " 'concurrency', ($1::jsonb ->> s.name)::integer,"
    " 'served', $2::text[] IS NULL OR s.name = ANY ($2::text[]),"
    " 'globalConcurrency', s.global_concurrency,"
    " 'rateLimit', CASE WHEN s.rate_allowed IS NOT NULL THEN json_build_object("
    "  'allowed', s.rate_allowed, 'periodSeconds', s.rate_period_seconds,"
    "  'partitionBy', s.rate_partition) END,"
    " 'windowStarts', s.window_starts, 'ratePartitionsFull', s.rate_partitions_full,"
    " 'heldBy', s.held_by,"
    " 'oldestDueAgeSeconds', round(s.oldest_due_age_seconds::numeric, 3))"
    " ORDER BY s.name), '[]'))::text"
    " FROM jobvisor.queue_stats() s";

/* The two parameters of sql_queues from the config; the caller frees
 * both (*served may be NULL). */
static void config_params(const struct jv_config *cfg, char **conc, char **served)
{
	json_t *c = json_object();
	for (size_t i = 0; i < cfg->n_queues; i++)
		if (cfg->queues[i].concurrency > 0)
			json_object_set_new(c, cfg->queues[i].name,
					    json_integer(cfg->queues[i].concurrency));
	*conc = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	*served = NULL;
	if (!cfg->processor.queues)
		return;
	/* names are of [a-z0-9_.-] (config.c): no quoting needed */
	struct jv_buf b = {0};
	jv_buf_puts(&b, "{");
	for (char **q = cfg->processor.queues; *q; q++)
		jv_buf_printf(&b, "%s\"%s\"", q == cfg->processor.queues ? "" : ",", *q);
	jv_buf_puts(&b, "}");
	*served = b.data;
}

static void queues_list(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	char *conc, *served;
	config_params(jv_api_config(req), &conc, &served);
	const char *params[] = {conc ? conc : "{}", served};
	PGresult *res = jv_api_query_db(req, sql_queues, 2, params);
	free(conc);
	free(served);
	if (!res)
		return;
	answer_pg_json(req, 200, res);
	PQclear(res);
}

/* ------------------------------------- POST /api/queues/{name}/pause|resume */

static void queue_switch(struct jv_api_req *req, int paused)
{
	const char *name = jv_api_param(req, 0);
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, no_args) ||
	    jv_api_check_queue_name(req, "the queue name", name ? name : ""))
		return;
	const char *params[] = {name, paused ? "true" : "false"};
	PGresult *res = jv_api_query_db(req, "SELECT jobvisor.pause_queue($1, $2::boolean, 'api')",
					2, params);
	if (!res)
		return;
	int found = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!found) {
		jv_api_error(req, 404, "no queue '%s'", name);
		return;
	}
	if (jv_api_commit(req) != 0)
		return;
	/* (the other processors hear of a resume by its NOTIFY; this one
	 * claims at once even when it polls) */
	if (!paused && jv_api_bridge(req))
		jv_bridge_trigger(jv_api_bridge(req));
	jv_api_json(req, 200, json_pack("{s:s, s:b}", "name", name, "paused", paused));
}

static void queue_pause(struct jv_api_req *req) { queue_switch(req, 1); }
static void queue_resume(struct jv_api_req *req) { queue_switch(req, 0); }

/* ------------------------------------------------------------- user limits */

/* The {id} of the path, 1..JV_USER_MAX bytes; NULL after answering 400. */
static const char *user_param(struct jv_api_req *req)
{
	const char *id = jv_api_param(req, 0);
	if (!id || !*id) {
		jv_api_error(req, 400, "the user id must not be empty");
		return NULL;
	}
	if (jv_api_too_long(req, "the user id", id, JV_USER_MAX))
		return NULL;
	return id;
}

/* A user's limits and load now: $1 the user, $2 per_user_limit (0: none):
 * a row's max_running replaces it, NULL there meaning none (015_queues.sql).
 * Index probes only: the user's row, their pending jobs
 * (jobs_claim_user_idx) and running ones (jobs_running_user_idx). */
static const char sql_user[] =
    "WITH l AS (SELECT * FROM jobvisor.user_limits WHERE user_id = $1),"
    " c AS (SELECT count(*) FILTER (WHERE status = 'running') AS running,"
    "  count(*) FILTER (WHERE status = 'pending') AS pending FROM jobvisor.jobs"
    "  WHERE (status = 'pending' OR status = 'running') AND user_id = $1),"
    " e AS (SELECT c.*, CASE WHEN l.user_id IS NOT NULL THEN l.max_running"
    "  ELSE nullif($2::integer, 0) END AS mx,"
    "  coalesce(l.weight, 1) AS w, l.user_id IS NOT NULL AS o FROM c LEFT JOIN l ON true)"
    " SELECT json_build_object('userId', $1::text, 'maxRunning', e.mx, 'weight', e.w,"
    "  'running', e.running, 'pending', e.pending,"
    "  'atLimit', e.mx IS NOT NULL AND e.running >= e.mx, 'overridden', e.o)::text FROM e";

/* The row as PUT and DELETE answer it (ul is jobvisor.user_limits). */
#define LIMITS_ROW                                                                              \
	"json_build_object('userId', ul.user_id, 'maxRunning', ul.max_running, 'weight',"      \
	" ul.weight, 'updatedAt', " ISO("ul.updated_at") ")::text"

static void user_limits_get(struct jv_api_req *req)
{
	const char *id;
	if (jv_api_only_query(req, no_args) || !(id = user_param(req)))
		return;
	char lim[16];
	snprintf(lim, sizeof lim, "%d", jv_api_config(req)->processor.per_user_limit);
	const char *params[] = {id, lim};
	PGresult *res = jv_api_query_db(req, sql_user, 2, params);
	if (!res)
		return;
	answer_pg_json(req, 200, res);
	PQclear(res);
}

/* PUT /api/users/{id}/limits {"maxRunning": N or null, "weight": N}: the
 * row replaced (weight absent: 1). maxRunning must be given: the row's
 * replaces per_user_limit, and its null means no limit at all, which a
 * body about the weight alone must not grant by leaving it out. 201 when
 * new, else 200. The processors are told (NOTIFY): a raised limit starts
 * jobs. */
static void user_limits_put(struct jv_api_req *req)
{
	static const char *const keys[] = {"maxRunning", "weight", NULL};
	const char *id;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys) ||
	    !(id = user_param(req)))
		return;
	json_t *body = jv_api_json_body(req);
	if (!body) {
		jv_api_error(req, 400,
			     "the body must be a JSON object: {\"maxRunning\": N or null, "
			     "\"weight\": N}");
		return;
	}
	json_t *mx = json_object_get(body, "maxRunning");
	json_t *w = json_object_get(body, "weight");
	if (mx && !json_is_null(mx) &&
	    (!json_is_integer(mx) || json_integer_value(mx) < 0 || json_integer_value(mx) > 100000)) {
		jv_api_error(req, 400,
			     "maxRunning must be an integer from 0 to 100000, or null for no limit");
		return;
	}
	if (w && (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > 1000)) {
		jv_api_error(req, 400, "weight must be an integer from 1 to 1000");
		return;
	}
	if (!mx) {
		jv_api_error(req, 400,
			     "maxRunning is required: an integer from 0 to 100000, or null for no "
			     "limit (the row replaces processor.per_user_limit for the user)");
		return;
	}
	char bmx[24], bw[24];
	int none = json_is_null(mx);
	snprintf(bmx, sizeof bmx, "%lld", none ? 0LL : (long long)json_integer_value(mx));
	snprintf(bw, sizeof bw, "%lld", w ? (long long)json_integer_value(w) : 1LL);
	const char *params[] = {id, none ? NULL : bmx, bw};
	PGresult *res = jv_api_query_db(
	    req,
	    "WITH ul AS (INSERT INTO jobvisor.user_limits AS u (user_id, max_running, weight)"
	    " VALUES ($1, $2::integer, $3::integer) ON CONFLICT (user_id) DO UPDATE"
	    " SET max_running = EXCLUDED.max_running, weight = EXCLUDED.weight, updated_at = now()"
	    " RETURNING u.*, u.xmax = 0 AS created)"
	    " SELECT " LIMITS_ROW ", ul.created, pg_notify('" JV_DB_NOTIFY_CHANNEL "', '') IS NULL"
	    " FROM ul",
	    3, params);
	if (!res)
		return;
	int created = !strcmp(PQgetvalue(res, 0, 1), "t");
	if (jv_api_commit(req) != 0) {
		PQclear(res);
		return;
	}
	if (jv_api_bridge(req))
		jv_bridge_trigger(jv_api_bridge(req));
	answer_pg_json(req, created ? 201 : 200, res);
	PQclear(res);
}

static void user_limits_delete(struct jv_api_req *req)
{
	const char *id;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, no_args) ||
	    !(id = user_param(req)))
		return;
	const char *params[] = {id};
	PGresult *res = jv_api_query_db(
	    req,
	    "WITH ul AS (DELETE FROM jobvisor.user_limits WHERE user_id = $1 RETURNING *)"
	    " SELECT " LIMITS_ROW ", pg_notify('" JV_DB_NOTIFY_CHANNEL "', '') IS NULL FROM ul",
	    1, params);
	if (!res)
		return;
	if (PQntuples(res) == 0) {
		PQclear(res);
		jv_api_error(req, 404, "no limits for user '%.80s'", id);
		return;
	}
	if (jv_api_commit(req) != 0) {
		PQclear(res);
		return;
	}
	if (jv_api_bridge(req))
		jv_bridge_trigger(jv_api_bridge(req));
	answer_pg_json(req, 200, res);
	PQclear(res);
}

/* GET /api/users?atLimit=true|false&limit=N&after=USER: users with a job
 * pending or running or a limits row, by id. jobvisor.user_stats() groups
 * the live jobs (their partial indexes) and the limits rows: in
 * proportion to those, as /api/cron/queue. */
static void users_list(struct jv_api_req *req)
{
	static const char *const args[] = {"atLimit", "limit", "after", NULL};
	if (jv_api_only_query(req, args))
		return;
	const char *at = jv_api_query(req, "atLimit");
	const char *limit_s = jv_api_query(req, "limit");
	const char *after = jv_api_query(req, "after");
	if (at && strcmp(at, "true") && strcmp(at, "false")) {
		jv_api_error(req, 400, "atLimit must be true or false, got '%.40s'", at);
		return;
	}
	int64_t limit = 100;
	if (limit_s && jv_api_parse_int(req, "limit", limit_s, 1000, &limit) != 0)
		return;
	if (limit < 1) {
		jv_api_error(req, 400, "limit must be an integer between 1 and 1000, got '0'");
		return;
	}
	if (jv_api_too_long(req, "after", after, JV_USER_MAX))
		return;
	char lim[16], lim1[24];
	snprintf(lim, sizeof lim, "%d", jv_api_config(req)->processor.per_user_limit);
	snprintf(lim1, sizeof lim1, "%lld", (long long)limit + 1);
	const char *params[] = {lim, at, after, lim1};
	PGresult *res = jv_api_query_db(
	    req,
	    "SELECT json_build_object('userId', s.user_id, 'maxRunning', s.max_running,"
	    " 'weight', s.weight, 'running', s.running, 'pending', s.pending,"
	    " 'atLimit', s.at_limit, 'overridden', s.overridden)::text, s.user_id"
	    " FROM jobvisor.user_stats($1::integer) s"
	    " WHERE ($2::boolean IS NULL OR s.at_limit = $2::boolean)"
	    " AND ($3::text IS NULL OR s.user_id > $3::text)"
	    " ORDER BY s.user_id LIMIT $4::bigint",
	    4, params);
	if (!res)
		return;
	int rows = PQntuples(res);
	json_t *list;
	int more;
	if (jv_api_page(req, res, rows, limit, &list, &more) != 0) {
		PQclear(res);
		return;
	}
	json_t *next = more ? json_string(PQgetvalue(res, (int)limit - 1, 1)) : json_null();
	PQclear(res);
	jv_api_json(req, 200, json_pack("{s:o, s:o}", "users", list, "next", next ? next : json_null()));
}

const struct jv_api_route jv_api_queues_routes[] = {
	{"GET", "/api/queues", 0, queues_list,
	 "every queue: depth, running, limits, rate window, what holds it"},
	{"POST", "/api/queues/{name}/pause", JV_API_OPERATOR, queue_pause,
	 "pause a queue on every processor (its running jobs finish)"},
	{"POST", "/api/queues/{name}/resume", JV_API_OPERATOR, queue_resume, "resume a queue on every processor"},
	{"GET", "/api/users", 0, users_list,
	 "users with live jobs or limits (atLimit, limit, after)"},
	{"GET", "/api/users/{id}/limits", 0, user_limits_get, "a user's effective limits and load"},
	{"PUT", "/api/users/{id}/limits", 0, user_limits_put,
	 "set a user's maxRunning and weight"},
	{"DELETE", "/api/users/{id}/limits", 0, user_limits_delete,
	 "remove a user's limits (back to per_user_limit, weight 1)"},
	{NULL, NULL, 0, NULL, NULL},
};

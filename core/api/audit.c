/*
 * audit.c -- the audit trail: its writer (audit.h) and its routes,
 * GET /api/audit (admin) and GET /api/whoami (who the token is, for the
 * dashboard).
 */
#include "api/audit.h"

#include "api/api.h"
#include "config/config.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The writer's rest after a failed insert: doubling from the first to the
 * last. */
#define JV_AUDIT_RETRY_FIRST_MS 500
#define JV_AUDIT_RETRY_LAST_MS 10000
/* How often dropped rows are reported at most. */
#define JV_AUDIT_DROP_LOG_MS 60000

struct jv_audit_row {
	int64_t at_ms; /* wall clock, when answered */
	char *name, *method, *path, *target;
	int status;
};

struct jv_audit {
	const struct jv_config *cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct jv_audit_row *ring; /* JV_AUDIT_QUEUE_MAX rows, from head, n of them */
	size_t head, n;
	uint64_t dropped;          /* since the last report */
	int stopping;
	pthread_t thread;
	PGconn *db;                /* the writer's; NULL until needed, and after it broke */
};

/* ------------------------------------------------------------ the text */

char *jv_audit_text(const char *s)
{
	size_t len = strlen(s);
	int cut = len > JV_AUDIT_TEXT_MAX;
	if (cut)
		len = JV_AUDIT_TEXT_MAX - 3;
	char *out = jv_malloc(len + (cut ? 4 : 1));
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (cut)
		memcpy(out + len, "...", 3);
	out[len + (cut ? 3 : 0)] = '\0';
	return out;
}

/* "ids" (a list of integers) or "name" (a string) of o, as text. */
static char *target_in(const json_t *o, int with_name)
{
	if (!json_is_object(o))
		return NULL;
	const json_t *ids = json_object_get(o, "ids");
	const json_t *id = json_object_get(o, "id");
	const json_t *name = json_object_get(o, "name");
	if (json_is_array(ids) && json_array_size(ids) > 0) {
		struct jv_buf b = {0};
		size_t i;
		const json_t *v;
		json_array_foreach(ids, i, v)
		{
			if (b.len > JV_AUDIT_TEXT_MAX)
				break; /* (cut by jv_audit_text) */
			if (json_is_integer(v))
				jv_buf_printf(&b, "%s%" JSON_INTEGER_FORMAT, b.len ? "," : "",
					      json_integer_value(v));
		}
		char *t = b.len ? jv_audit_text(b.data) : NULL;
		jv_buf_free(&b);
		return t;
	}
	if (json_is_integer(id)) {
		char t[32];
		snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		return jv_strdup(t);
	}
	if (with_name && json_is_string(name) && json_string_length(name) > 0)
		return jv_audit_text(json_string_value(name));
	return NULL;
}

char *jv_audit_target(const json_t *body, const char *answer, size_t answer_len)
{
	char *t = target_in(body, 0);
	/* (a bulk enqueue's answer, 10 000 ids, is well within; a larger one is
	 * not read) An id the answer gives comes before a name the body gives:
	 * a new workflow is named by its id, as a new job is; a schedule (no
	 * id) by its name, and so is a refused request. */
	if (!t && answer && answer_len > 0 && answer_len <= 256 * 1024) {
		json_t *a = json_loadb(answer, answer_len, 0, NULL);
		t = target_in(a, 0);
		json_decref(a);
	}
	return t ? t : target_in(body, 1);
}

/* ------------------------------------------------------------ the writer */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void row_free(struct jv_audit_row *r)
{
	free(r->name);
	free(r->method);
	free(r->path);
	free(r->target);
	memset(r, 0, sizeof *r);
}

void jv_audit_push(struct jv_audit *a, const char *token_name, const char *method,
		   const char *path, const char *target, int status)
{
	if (!a)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct jv_audit_row r = {
	    .at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    .name = jv_audit_text(token_name ? token_name : "?"),
	    .method = jv_audit_text(method),
	    .path = jv_audit_text(path && *path ? path : "/"),
	    .target = target && *target ? jv_audit_text(target) : NULL,
	    .status = status,
	};
	pthread_mutex_lock(&a->lock);
	if (a->n < JV_AUDIT_QUEUE_MAX && !a->stopping) {
		a->ring[(a->head + a->n) % JV_AUDIT_QUEUE_MAX] = r;
		a->n++;
		pthread_cond_signal(&a->wake);
		r.name = r.method = r.path = r.target = NULL; /* (the queue's now) */
	} else {
		a->dropped++;
	}
	pthread_mutex_unlock(&a->lock);
	row_free(&r);
}

static const char sql_insert[] =
    "INSERT INTO jobvisor.audit_log (at, token_name, method, path, target, status)"
    " SELECT to_timestamp(r.at / 1000.0), r.n, r.m, r.p, r.t, r.s"
    " FROM ROWS FROM (json_to_recordset($1::json)"
    "  AS (at bigint, n text, m text, p text, t text, s integer)) WITH ORDINALITY r"
    " ORDER BY r.ordinality";

/* Insert rows[0..k) in one transaction. 0; -1 to try again later; -2 when
 * the database refused the rows themselves (never to be taken). Connects
 * first when there is no connection and connect says so (not while the
 * server stops: that waits on the serve loop, so only a connection that is
 * there is tried, within api.statement_timeout_ms). */
static int write_rows(struct jv_audit *a, const struct jv_audit_row *rows, size_t k, int connect)
{
	char err[1024], state[6] = "", st[16];
	if (!a->db && !connect)
		return -1;
	if (!a->db) {
		a->db = jv_db_connect(a->cfg->database.url, "jobvisor-api-audit", err, sizeof err);
		if (!a->db) {
			jv_log(JV_WARNING, "api: audit: %s", err);
			return -1;
		}
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < k; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "at", json_integer((json_int_t)rows[i].at_ms));
		json_object_set_new(o, "n", json_string(rows[i].name));
		json_object_set_new(o, "m", json_string(rows[i].method));
		json_object_set_new(o, "p", json_string(rows[i].path));
		json_object_set_new(o, "t", rows[i].target ? json_string(rows[i].target) : json_null());
		json_object_set_new(o, "s", json_integer(rows[i].status));
		json_array_append_new(arr, o);
	}
	char *text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!text) {
		jv_log(JV_ERROR, "api: audit: could not format %zu rows: they are lost", k);
		return -2;
	}
	snprintf(st, sizeof st, "%d", a->cfg->api.statement_timeout_ms);
	const char *tp[] = {st};
	const char *ip[] = {text};
	int rc = -1;
	PGresult *res = NULL;
	if (jv_db_exec(a->db, "BEGIN", 0, NULL, err, sizeof err) == 0 &&
	    jv_db_exec(a->db, "SELECT set_config('statement_timeout', $1, true)", 1, tp, err,
		       sizeof err) == 0 &&
	    (res = jv_db_query(a->db, sql_insert, 1, ip, state, err, sizeof err)) != NULL &&
	    jv_db_exec(a->db, "COMMIT", 0, NULL, err, sizeof err) == 0)
		rc = 0;
	PQclear(res);
	free(text);
	if (rc == 0)
		return 0;
	/* class 22 (data) and 23 (a CHECK): the rows, not the moment */
	int refused = !strncmp(state, "22", 2) || !strncmp(state, "23", 2);
	jv_log(refused ? JV_ERROR : JV_WARNING, "api: audit: could not write %zu rows: %s%s", k,
	       err, refused ? " (they are lost)" : " (kept; trying again)");
	if (PQstatus(a->db) != CONNECTION_OK || PQtransactionStatus(a->db) == PQTRANS_UNKNOWN) {
		PQfinish(a->db);
		a->db = NULL;
	} else if (PQtransactionStatus(a->db) != PQTRANS_IDLE &&
		   jv_db_exec(a->db, "ROLLBACK", 0, NULL, err, sizeof err) != 0) {
		PQfinish(a->db);
		a->db = NULL;
	}
	return refused ? -2 : -1;
}

/* Wait on a->wake (locked) for at most ms. */
static void wait_ms(struct jv_audit *a, uint64_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&a->wake, &a->lock, &until);
}

/* Copy the first rows queued (at most JV_AUDIT_BATCH) into batch, under
 * a->lock; how many. They stay where they are while they are written:
 * pushes only add after them. */
static size_t take(const struct jv_audit *a, struct jv_audit_row *batch)
{
	size_t k = a->n < JV_AUDIT_BATCH ? a->n : JV_AUDIT_BATCH;
	/* cppcheck-suppress knownConditionTrueFalse ; a->n grows on other threads (jv_audit_push) */
	for (size_t i = 0; i < k; i++)
		batch[i] = a->ring[(a->head + i) % JV_AUDIT_QUEUE_MAX];
	return k;
}

static void *writer(void *arg)
{
	struct jv_audit *a = arg;
	struct jv_audit_row *batch = jv_calloc(JV_AUDIT_BATCH, sizeof *batch);
	uint64_t rest = JV_AUDIT_RETRY_FIRST_MS, drop_logged = 0;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->n && !a->stopping)
			wait_ms(a, JV_AUDIT_DROP_LOG_MS);
		uint64_t dropped = 0;
		if (a->dropped && (!drop_logged || mono_ms() - drop_logged >= JV_AUDIT_DROP_LOG_MS ||
				   a->stopping)) {
			dropped = a->dropped;
			a->dropped = 0;
			drop_logged = mono_ms();
		}
		if (!a->n && a->stopping)
			break;
		size_t k = take(a, batch);
		int stopping = a->stopping;
		pthread_mutex_unlock(&a->lock);
		if (dropped)
			jv_log(JV_WARNING,
			       "api: audit: %" PRIu64 " rows were dropped: %d were waiting for "
			       "the database already",
			       dropped, JV_AUDIT_QUEUE_MAX);
		int rc = write_rows(a, batch, k, !stopping);
		pthread_mutex_lock(&a->lock);
		if (rc == -1 && stopping) {
			jv_log(JV_WARNING, "api: audit: %zu rows are lost: the database did not take "
					   "them before the API stopped",
			       a->n);
			k = a->n; /* give up on them all */
		}
		if (rc == 0 || rc == -2 || stopping) {
			for (size_t i = 0; i < k; i++)
				row_free(&a->ring[(a->head + i) % JV_AUDIT_QUEUE_MAX]);
			a->head = (a->head + k) % JV_AUDIT_QUEUE_MAX;
			a->n -= k;
			rest = JV_AUDIT_RETRY_FIRST_MS;
			continue;
		}
		wait_ms(a, rest); /* (a stop wakes it: one last attempt) */
		rest = rest * 2 > JV_AUDIT_RETRY_LAST_MS ? JV_AUDIT_RETRY_LAST_MS : rest * 2;
	}
	pthread_mutex_unlock(&a->lock);
	free(batch);
	if (a->db)
		PQfinish(a->db);
	a->db = NULL;
	return NULL;
}

struct jv_audit *jv_audit_start(const struct jv_config *cfg)
{
	struct jv_audit *a = jv_calloc(1, sizeof *a);
	a->cfg = cfg;
	a->ring = jv_calloc(JV_AUDIT_QUEUE_MAX, sizeof *a->ring);
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&a->thread, NULL, writer, a) != 0) {
		pthread_cond_destroy(&a->wake);
		pthread_mutex_destroy(&a->lock);
		free(a->ring);
		free(a);
		return NULL;
	}
	return a;
}

void jv_audit_stop(struct jv_audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	for (size_t i = 0; i < a->n; i++)
		row_free(&a->ring[(a->head + i) % JV_AUDIT_QUEUE_MAX]);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	free(a->ring);
	free(a);
}

/* ------------------------------------------------------------ routes */

static const char *const no_args[] = {NULL};

/* GET /api/whoami: the token's name and role (never the token). */
static void whoami(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	int role = jv_api_role(req);
	jv_api_json(req, 200,
		    json_pack("{ssss}", "name", jv_api_who(req), "role",
			      role >= 0 ? jv_role_names[role] : "viewer"));
}

static const char sql_audit[] =
    "SELECT json_build_object('id', a.id, 'at', a.at, 'token', a.token_name,"
    "  'method', a.method, 'path', a.path, 'target', a.target, 'status', a.status)::text,"
    " a.id FROM jobvisor.audit_log a"
    " WHERE ($1::text IS NULL OR a.token_name = $1)"
    "  AND ($2::timestamptz IS NULL OR a.at >= $2::timestamptz)"
    "  AND ($3::timestamptz IS NULL OR a.at < $3::timestamptz)"
    "  AND ($4::bigint IS NULL OR a.id < $4::bigint)"
    " ORDER BY a.id DESC LIMIT $5::bigint";

/* GET /api/audit?limit=&after=&token=&from=&to= : newest first, paged
 * like /api/jobs (next: the id to pass as after, or null). */
static void audit_list(struct jv_api_req *req)
{
	static const char *const args[] = {"limit", "after", "token", "from", "to", NULL};
	if (jv_api_only_query(req, args))
		return;
	const char *limit_s = jv_api_query(req, "limit");
	const char *after_s = jv_api_query(req, "after");
	const char *token = jv_api_query(req, "token");
	const char *from = jv_api_query(req, "from");
	const char *to = jv_api_query(req, "to");
	int64_t limit = 50, after = 0;
	if (jv_api_too_long(req, "token", token, JV_TOKEN_NAME_MAX) ||
	    jv_api_too_long(req, "from", from, 64) || jv_api_too_long(req, "to", to, 64))
		return;
	if (limit_s && jv_api_parse_int(req, "limit", limit_s, 1000, &limit) != 0)
		return;
	if (limit_s && limit < 1) {
		jv_api_error(req, 400, "limit must be an integer between 1 and 1000, got '0'");
		return;
	}
	if (after_s && jv_api_parse_int(req, "after", after_s, INT64_MAX, &after) != 0)
		return;
	char lim[24];
	snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
	const char *params[] = {token && *token ? token : NULL, from && *from ? from : NULL,
				to && *to ? to : NULL, after_s, lim};
	if (params[1] || params[2]) {
		/* a time PostgreSQL does not read is a 400 naming it (22007) */
		const char *tp[] = {params[1] ? params[1] : "-infinity",
				    params[2] ? params[2] : "infinity"};
		PGresult *chk = jv_api_query_db(
		    req,
		    "SELECT isfinite($1::timestamptz) OR $1 = '-infinity',"
		    " isfinite($2::timestamptz) OR $2 = 'infinity'",
		    2, tp);
		if (!chk)
			return;
		int bad = strcmp(PQgetvalue(chk, 0, 0), "t") || strcmp(PQgetvalue(chk, 0, 1), "t");
		PQclear(chk);
		if (bad) {
			jv_api_error(req, 400,
				     "from and to must be finite times, such as 2026-12-01T03:00:00Z");
			return;
		}
	}
	PGresult *res = jv_api_query_db(req, sql_audit, 5, params);
	if (!res)
		return;
	int rows = PQntuples(res);
	json_t *list;
	int more;
	if (jv_api_page(req, res, rows, limit, &list, &more) != 0) {
		PQclear(res);
		return;
	}
	json_t *next =
	    more ? json_integer(strtoll(PQgetvalue(res, (int)limit - 1, 1), NULL, 10)) : json_null();
	PQclear(res);
	jv_api_json(req, 200, json_pack("{soso}", "entries", list, "next", next));
}

const struct jv_api_route jv_api_audit_routes[] = {
	{"GET", "/api/whoami", JV_API_NO_DB, whoami, "the token's name and role"},
	{"GET", "/api/audit", JV_API_ADMIN, audit_list,
	 "the audit trail: who changed what, newest first (admin)"},
	{NULL, NULL, 0, NULL, NULL},
};

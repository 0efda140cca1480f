/*
 * schedules.c -- the schedules routes: list (each with its next five
 * run times), add, change (pause: {"enabled": false}; resume: true) and
 * remove.
 *
 * Schedules added here have source 'api': the config sync never touches
 * them. A config schedule may be changed or removed here too, but the next
 * start or reload of a processor applies the config's version again.
 * A new cron or zone, or a resume, counts runs from now: runs a paused
 * schedule would have had are not caught up.
 * A schedule's queue (default 'default') must be one jobvisor.queues has:
 * the table's trigger refuses another (22023), answered 400 naming it.
 *
 * The JSON of a schedule is built by PostgreSQL (json_build_object keeps
 * the key order), nextRuns added here from cron.h; times are ISO-8601 UTC.
 */
#include "api/api.h"

#include "config/config.h"
#include "lib/jsontext.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"
#include "lib/tz.h"
#include "sched/scheduler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const no_args[] = {NULL};

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char sql_select[] =
    "SELECT json_build_object('name', s.name, 'cron', s.cron, 'timezone', s.timezone, "
    "  'type', s.type, 'payload', NULL, 'user', s.user_id, 'priority', s.priority, "
    "  'maxAttempts', s.max_attempts, 'timeoutSeconds', s.timeout_seconds, "
    "  'catchUp', s.catch_up, 'jitterSeconds', s.jitter_seconds, 'enabled', s.enabled, "
    "  'queue', s.queue, "
    "  'source', s.source, 'nextRunAt', " ISO("s.next_run_at") ", "
    "  'lastRunAt', " ISO("s.last_run_at") ", 'lastJobId', s.last_job_id, "
    "  'createdAt', " ISO("s.created_at") ", 'updatedAt', " ISO("s.updated_at") ")::text, "
    "  s.cron, s.timezone, floor(extract(epoch FROM now()))::bigint, s.payload::text "
    "FROM jobvisor.schedules s ";

static void rollback(struct jv_api_req *req)
{
	PGconn *db = jv_api_db(req);
	if (db && PQtransactionStatus(db) != PQTRANS_IDLE)
		PQclear(PQexec(db, "ROLLBACK"));
}

/* Row i of a sql_select result as a JSON object with nextRuns; NULL after
 * answering 500. The payload apart: any jsonb still gives an answer
 * (jv_json_set_pg). */
static json_t *schedule_json(struct jv_api_req *req, PGresult *res, int i)
{
	json_t *o = jv_json_load_pg(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), 0,
				    NULL, 0);
	if (!json_is_object(o)) {
		json_decref(o);
		jv_api_error(req, 500, "internal error: unreadable JSON from the database");
		return NULL;
	}
	jv_json_set_pg(o, "payload", PQgetvalue(res, i, 4), (size_t)PQgetlength(res, i, 4));
	int64_t next[5];
	char err[256];
	int64_t now = strtoll(PQgetvalue(res, i, 3), NULL, 10);
	int k = jv_sched_next_runs(PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), now, next, 5, err,
				   sizeof err);
	json_t *arr = json_array();
	for (int j = 0; j < k; j++) {
		char buf[32];
		struct tm tm;
		if (jv_utc_tm(next[j], &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
			json_array_append_new(arr, json_string(buf));
	}
	json_object_set_new(o, "nextRuns", arr);
	return o;
}

/* Answer status with schedule name as it is now. */
static void answer_one(struct jv_api_req *req, int status, const char *name)
{
	char *sql = jv_asprintf("%s%s", sql_select, "WHERE s.name = $1");
	const char *p[] = {name};
	PGresult *res = jv_api_query_db(req, sql, 1, p);
	free(sql);
	if (!res)
		return;
	if (PQntuples(res) == 0) {
		jv_api_error(req, 404, "no schedule %s", name);
	} else {
		json_t *o = schedule_json(req, res, 0);
		if (o)
			jv_api_json(req, status, o);
	}
	PQclear(res);
}

/* ------------------------------------------------------------ the body */

struct fields {
	const char *name, *cron, *tz, *type, *user, *catch_up, *queue;
	char *payload;                         /* JSON text, NULL: absent */
	int user_set;                          /* "user" given (null clears it) */
	int timeout_set;                       /* "timeoutSeconds" given (null clears) */
	const char *prio, *maxa, *tmo, *jit, *enabled;
	char bprio[24], bmaxa[24], btmo[24], bjit[24];
};

static int str_field(struct jv_api_req *req, json_t *body, const char *key, const char **out)
{
	json_t *x = json_object_get(body, key);
	*out = NULL;
	if (!x)
		return 0;
	if (!json_is_string(x) || json_string_length(x) == 0 ||
	    strlen(json_string_value(x)) != json_string_length(x)) {
		jv_api_error(req, 400, "%s must be a non-empty string", key);
		return -1;
	}
	*out = json_string_value(x);
	return 0;
}

static int int_field(struct jv_api_req *req, json_t *body, const char *key, long long lo,
		     long long hi, int nullable, char *buf, size_t len, const char **out, int *set)
{
	json_t *x = json_object_get(body, key);
	*out = NULL;
	if (set)
		*set = x != NULL;
	if (!x || (nullable && json_is_null(x)))
		return 0;
	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi) {
		jv_api_error(req, 400, "%s must be an integer from %lld to %lld%s", key, lo, hi,
			     nullable ? " or null" : "");
		return -1;
	}
	snprintf(buf, len, "%lld", (long long)json_integer_value(x));
	*out = buf;
	return 0;
}

/* Read and check every field of body; -1 after answering 400. */
static int read_fields(struct jv_api_req *req, json_t *body, struct fields *f)
{
	memset(f, 0, sizeof *f);
	if (str_field(req, body, "name", &f->name) || str_field(req, body, "cron", &f->cron) ||
	    str_field(req, body, "timezone", &f->tz) || str_field(req, body, "type", &f->type) ||
	    str_field(req, body, "catchUp", &f->catch_up) || str_field(req, body, "queue", &f->queue) ||
	    int_field(req, body, "priority", -2147483648LL, 2147483647LL, 0, f->bprio,
		      sizeof f->bprio, &f->prio, NULL) ||
	    int_field(req, body, "maxAttempts", 1, 1000, 0, f->bmaxa, sizeof f->bmaxa, &f->maxa,
		      NULL) ||
	    int_field(req, body, "timeoutSeconds", 1, 604800, 1, f->btmo, sizeof f->btmo, &f->tmo,
		      &f->timeout_set) ||
	    int_field(req, body, "jitterSeconds", 0, 86400, 0, f->bjit, sizeof f->bjit, &f->jit,
		      NULL))
		return -1;
	if (f->name && !jv_schedule_name_ok(f->name)) {
		jv_api_error(req, 400, "name must be " JV_SCHEDULE_NAME_RULE);
		return -1;
	}
	/* (a queue no processor's config names: the table's trigger, 400) */
	if (f->queue && !jv_queue_name_ok(f->queue)) {
		jv_api_error(req, 400, "queue must be " JV_QUEUE_NAME_RULE);
		return -1;
	}
	if (f->catch_up) {
		int ok = 0;
		for (const char *const *c = jv_catch_up_names; *c; c++)
			ok |= !strcmp(*c, f->catch_up);
		if (!ok) {
			jv_api_error(req, 400, "catchUp must be one of none, latest, all");
			return -1;
		}
	}
	json_t *x = json_object_get(body, "user");
	if (x) {
		if (!json_is_null(x) && (!json_is_string(x) || json_string_length(x) == 0)) {
			jv_api_error(req, 400, "user must be a non-empty string or null");
			return -1;
		}
		f->user_set = 1;
		f->user = json_string_value(x);
	}
	if (jv_api_too_long(req, "type", f->type, JV_TYPE_MAX) || jv_api_too_long(req, "user", f->user, JV_USER_MAX))
		return -1;
	x = json_object_get(body, "enabled");
	if (x) {
		if (!json_is_boolean(x)) {
			jv_api_error(req, 400, "enabled must be true or false");
			return -1;
		}
		f->enabled = json_is_true(x) ? "true" : "false";
	}
	x = json_object_get(body, "payload");
	if (x) {
		if (!json_is_object(x)) {
			jv_api_error(req, 400, "payload must be a JSON object ({...})");
			return -1;
		}
		f->payload = json_dumps(x, JSON_COMPACT);
		if (!f->payload) {
			jv_api_error(req, 400, "payload cannot be stored as JSON");
			return -1;
		}
		if (jv_api_payload_fits(req, f->payload) != 0)
			return -1;
	}
	return 0;
}

/* cron and tz valid, and the first run after now into next: -1 after 400. */
static int check_cron(struct jv_api_req *req, const char *cron, const char *tz, int64_t now,
		      char *next, size_t len)
{
	char err[512];
	int64_t t;
	if (jv_sched_check(cron, tz, err, sizeof err) < 0) {
		jv_api_error(req, 400, "%s", err);
		return -1;
	}
	int k = jv_sched_next_runs(cron, tz, now, &t, 1, err, sizeof err);
	if (k != 1) {
		jv_api_error(req, 400, "cron: %s", k < 0 ? err : "it never fires");
		return -1;
	}
	snprintf(next, len, "%" PRId64, t);
	return 0;
}

static int db_now(struct jv_api_req *req, int64_t *now)
{
	PGresult *res = jv_api_query_db(req, "SELECT floor(extract(epoch FROM now()))::bigint", 0,
					NULL);
	if (!res)
		return -1;
	*now = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* ------------------------------------------------------------ routes */

static const char *const all_keys[] = {"name",	       "cron",	       "timezone",	"type",
				       "payload",      "user",	       "priority",	"maxAttempts",
				       "timeoutSeconds", "catchUp",   "jitterSeconds", "enabled",
				       "queue",	       NULL};

/* GET /api/schedules */
static void schedules_list(struct jv_api_req *req)
{
	static const char *const args[] = {"limit", "after", NULL};
	int64_t limit = 100;
	const char *lt = jv_api_query(req, "limit");
	if (jv_api_only_query(req, args) ||
	    (lt && jv_api_parse_int(req, "limit", lt, 1000, &limit) != 0))
		return;
	if (limit < 1) {
		jv_api_error(req, 400, "limit must be between 1 and 1000");
		return;
	}
	/* Keyset by name: one more row than asked tells whether a next page
	 * exists; its name is where that page starts after. */
	char lim[24];
	snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
	const char *params[] = {jv_api_query(req, "after"), lim};
	char *sql = jv_asprintf("%s%s", sql_select,
				"WHERE ($1::text IS NULL OR s.name > $1::text) "
				"ORDER BY s.name LIMIT $2::bigint");
	PGresult *res = jv_api_query_db(req, sql, 2, params);
	free(sql);
	if (!res)
		return;
	json_t *arr = json_array();
	int n = PQntuples(res) > limit ? (int)limit : PQntuples(res);
	for (int i = 0; i < n; i++) {
		json_t *o = schedule_json(req, res, i);
		if (!o) {
			json_decref(arr);
			PQclear(res);
			return;
		}
		json_array_append_new(arr, o);
	}
	json_t *next = json_null();
	if (PQntuples(res) > limit)
		next = json_deep_copy(json_object_get(json_array_get(arr, (size_t)n - 1), "name"));
	PQclear(res);
	jv_api_json(req, 200, json_pack("{s:o, s:o}", "schedules", arr, "next", next));
}

/* POST /api/schedules */
static void schedules_create(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, all_keys))
		return;
	json_t *body = jv_api_json_body(req);
	if (!body) {
		jv_api_error(req, 400, "the body must be a JSON object with name, cron and type");
		return;
	}
	struct fields f;
	if (read_fields(req, body, &f) < 0)
		goto out;
	if (!f.name || !f.cron || !f.type) {
		jv_api_error(req, 400, "%s is required", !f.name ? "name" : !f.cron ? "cron" : "type");
		goto out;
	}
	int64_t now;
	char next[24];
	const char *tz = f.tz ? f.tz : "UTC";
	if (check_cron(req, f.cron, tz, 0, next, sizeof next) < 0 || db_now(req, &now) < 0 ||
	    check_cron(req, f.cron, tz, now, next, sizeof next) < 0)
		goto out;
	const char *p[] = {f.name, f.cron, tz,	    f.type, f.payload, f.user,	    f.prio,
			   f.maxa, f.tmo,  f.catch_up, f.jit,  f.enabled, next,   f.queue};
	PGresult *res = jv_api_query_db(
	    req,
	    "INSERT INTO jobvisor.schedules (name, cron, timezone, type, payload, user_id, "
	    "  priority, max_attempts, timeout_seconds, catch_up, jitter_seconds, enabled, "
	    "  source, next_run_at, queue) "
	    "VALUES ($1, $2, $3, $4, coalesce($5::jsonb, '{}'), $6, coalesce($7::int, 0), "
	    "  coalesce($8::int, 3), $9::int, coalesce($10, 'latest'), coalesce($11::int, 0), "
	    "  coalesce($12::boolean, true), 'api', to_timestamp($13::bigint), "
	    "  coalesce($14, 'default')) "
	    "ON CONFLICT (name) DO NOTHING RETURNING name",
	    14, p);
	if (!res)
		goto out;
	int created = PQntuples(res) == 1;
	PQclear(res);
	if (!created)
		jv_api_error(req, 409, "a schedule named %s exists already", f.name);
	else
		answer_one(req, 201, f.name);
out:
	free(f.payload);
}

/* PATCH /api/schedules/{name}. One transaction whose steps share the row
 * it locks: read it FOR UPDATE, merge the request's fields into it, check
 * the merged cron and time zone together, compute the next run, update;
 * kept in one function so the lock's extent reads at a glance. */
static void schedules_update(struct jv_api_req *req)
{
	static const char *const keys[] = {"cron",	   "timezone",	     "type",	"payload",
					   "user",	   "priority",	     "maxAttempts",
					   "timeoutSeconds", "catchUp",     "jitterSeconds",
					   "enabled",	   "queue",	     NULL};
	const char *name = jv_api_param(req, 0);
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys))
		return;
	json_t *body = jv_api_json_body(req);
	struct fields f;
	memset(&f, 0, sizeof f);
	if (body && read_fields(req, body, &f) < 0)
		goto out;
	/* (in the request's transaction, api.h) */
	const char *np[] = {name};
	PGresult *res = jv_api_query_db(req,
			      "SELECT cron, timezone, enabled, floor(extract(epoch FROM now()))::bigint "
			      "FROM jobvisor.schedules WHERE name = $1 FOR UPDATE",
			      1, np);
	if (!res) {
		rollback(req);
		goto out;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		rollback(req);
		jv_api_error(req, 404, "no schedule %s", name);
		goto out;
	}
	char *cron = jv_strdup(f.cron ? f.cron : PQgetvalue(res, 0, 0));
	char *tz = jv_strdup(f.tz ? f.tz : PQgetvalue(res, 0, 1));
	int was_enabled = !strcmp(PQgetvalue(res, 0, 2), "t");
	int64_t now = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	int new_times = (f.cron && strcmp(f.cron, PQgetvalue(res, 0, 0))) ||
			(f.tz && strcmp(f.tz, PQgetvalue(res, 0, 1))) ||
			(f.enabled && !strcmp(f.enabled, "true") && !was_enabled);
	PQclear(res);
	char next[24];
	int bad = (f.cron || f.tz) && check_cron(req, cron, tz, now, next, sizeof next) < 0;
	if (!bad && new_times && !(f.cron || f.tz))
		bad = check_cron(req, cron, tz, now, next, sizeof next) < 0;
	free(cron);
	free(tz);
	if (bad) {
		rollback(req);
		goto out;
	}
	const char *p[] = {name,
			   f.cron,
			   f.tz,
			   f.type,
			   f.payload,
			   f.user_set ? "true" : "false",
			   f.user,
			   f.prio,
			   f.maxa,
			   f.timeout_set ? "true" : "false",
			   f.tmo,
			   f.catch_up,
			   f.jit,
			   f.enabled,
			   new_times ? next : NULL,
			   f.queue};
	res = jv_api_query_db(
	    req,
	    "UPDATE jobvisor.schedules SET cron = coalesce($2, cron), "
	    "  timezone = coalesce($3, timezone), type = coalesce($4, type), "
	    "  payload = coalesce($5::jsonb, payload), "
	    "  user_id = CASE WHEN $6::boolean THEN $7 ELSE user_id END, "
	    "  priority = coalesce($8::int, priority), max_attempts = coalesce($9::int, max_attempts), "
	    "  timeout_seconds = CASE WHEN $10::boolean THEN $11::int ELSE timeout_seconds END, "
	    "  catch_up = coalesce($12, catch_up), jitter_seconds = coalesce($13::int, jitter_seconds), "
	    "  enabled = coalesce($14::boolean, enabled), "
	    "  next_run_at = coalesce(to_timestamp($15::bigint), next_run_at), "
	    "  queue = coalesce($16, queue), updated_at = now() "
	    "WHERE name = $1",
	    16, p);
	if (!res) {
		rollback(req);
		goto out;
	}
	PQclear(res);
	if (!(res = jv_api_query_db(req, "COMMIT", 0, NULL)))
		goto out;
	PQclear(res);
	answer_one(req, 200, name);
out:
	free(f.payload);
}

/* DELETE /api/schedules/{name} */
static void schedules_delete(struct jv_api_req *req)
{
	const char *name = jv_api_param(req, 0);
	if (jv_api_only_query(req, no_args))
		return;
	const char *p[] = {name};
	PGresult *res = jv_api_query_db(
	    req, "DELETE FROM jobvisor.schedules WHERE name = $1 RETURNING source", 1, p);
	if (!res)
		return;
	if (PQntuples(res) == 0)
		jv_api_error(req, 404, "no schedule %s", name);
	else
		jv_api_json(req, 200,
			    json_pack("{s:s, s:b, s:s}", "name", name, "deleted", 1, "source",
				      PQgetvalue(res, 0, 0)));
	PQclear(res);
}

const struct jv_api_route jv_api_schedules_routes[] = {
    {"GET", "/api/schedules", 0, schedules_list, "list schedules"},
    {"POST", "/api/schedules", 0, schedules_create, "add a schedule"},
    {"PATCH", "/api/schedules/{name}", 0, schedules_update, "change, pause or resume a schedule"},
    {"DELETE", "/api/schedules/{name}", 0, schedules_delete, "remove a schedule"},
    {NULL, NULL, 0, NULL, NULL},
};

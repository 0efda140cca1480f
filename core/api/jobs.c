/*
 * jobs.c -- the jobs routes, /api/jobs/...: enqueue, list (newest
 * first, keyset pagination), one job with its executions, cancel and retry.
 *
 * Every change is one UPDATE ... WHERE status IN (...) RETURNING, so two
 * clients racing on a job get one success and one 409, never a lost write.
 * The JSON of a job is built by PostgreSQL (json_build_object, which keeps
 * the key order) and parsed back here; times are ISO-8601 in UTC.
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

/* An ISO-8601 UTC text of a timestamptz column, NULL stays NULL. */
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The fields every job answer has, in this order (j is jobvisor.jobs). */
#define JOB_FIELDS                                                                             \
	"'id', j.id, 'type', j.type, 'user', j.user_id, 'status', j.status, 'priority', "      \
	"j.priority, 'attempts', j.attempts, 'maxAttempts', j.max_attempts, 'scheduledAt', " ISO( \
	    "j.scheduled_at") ", 'createdAt', " ISO("j.created_at") ", 'startedAt', " ISO(         \
	    "j.started_at") ", 'finishedAt', " ISO("j.finished_at") ", 'lastError', "             \
				    "j.last_error, 'lockedBy', j.locked_by, 'queue', j.queue"

static const char *const statuses[] = {"pending", "running", "succeeded", "failed", "cancelled",
				       NULL};

/* Parse a JSON text PostgreSQL built of columns jansson reads (no jsonb
 * of the user's: see jobs_get); NULL only if it is not JSON (a bug). */
static json_t *pg_json(struct jv_api_req *req, PGresult *res, int row, int col)
{
	json_t *j = jv_json_load_pg(PQgetvalue(res, row, col),
				    (size_t)PQgetlength(res, row, col), 0, NULL, 0);
	if (!j)
		jv_api_error(req, 500, "internal error: unreadable JSON from the database");
	return j;
}

/* obj[key] = the jsonb column col, or null with keyOmitted and keyText when
 * it cannot be shown as JSON (jv_json_set_pg). */
static void set_jsonb(json_t *obj, const char *key, PGresult *res, int row, int col)
{
	jv_json_set_pg(obj, key, PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col),
		       (size_t)PQgetlength(res, row, col));
}

/* The {id} of the path as text, or NULL after answering 400. */
static const char *job_id_param(struct jv_api_req *req, int64_t *id)
{
	const char *text = jv_api_param(req, 0);
	if (jv_api_parse_int(req, "the job id", text, INT64_MAX, id) != 0)
		return NULL;
	return text;
}

/* ---------------------------------------------------------- POST /api/jobs */

/* Check an optional integer key of body in [lo, hi]; its text goes into buf
 * (params[i] = buf) or stays NULL when absent or null. -1 after 400. */
static int int_key(struct jv_api_req *req, json_t *body, const char *key, long long lo,
		   long long hi, char *buf, size_t len, const char **param)
{
	json_t *x = json_object_get(body, key);
	*param = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi) {
		jv_api_error(req, 400, "%s must be an integer from %lld to %lld", key, lo, hi);
		return -1;
	}
	snprintf(buf, len, "%lld", (long long)json_integer_value(x));
	*param = buf;
	return 0;
}

/* An optional non-empty string key; -1 after 400. */
static int str_key(struct jv_api_req *req, json_t *body, const char *key, const char **param)
{
	json_t *x = json_object_get(body, key);
	*param = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_string(x) || json_string_length(x) == 0 ||
	    strlen(json_string_value(x)) != json_string_length(x)) {
		jv_api_error(req, 400, "%s must be a non-empty string", key);
		return -1;
	}
	*param = json_string_value(x);
	return 0;
}

/* runAt must be a finite time PostgreSQL reads; -1 after answering. */
static int check_run_at(struct jv_api_req *req, const char *at)
{
	PGconn *db = jv_api_db(req);
	if (!db)
		return -1;
	char err[512], state[6] = "";
	const char *params[] = {at};
	PGresult *res = jv_db_query(db, "SELECT isfinite($1::timestamptz)", 1, params, state, err,
				    sizeof err);
	if (!res) {
		if (!strncmp(state, "22", 2))
			jv_api_error(req, 400, "runAt '%.64s' is not a time: %s", at, err);
		else
			jv_api_error(req, 503, "the database is unreachable");
		return -1;
	}
	int finite = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!finite) {
		jv_api_error(req, 400, "runAt must be a finite time, such as 2026-12-01T03:00:00Z");
		return -1;
	}
	return 0;
}

/* uniqueStates: an array of known states that includes pending and running
 * (the unique index allows one pending or running job per key whatever the
 * set), as the array literal "{pending,running,...}" in buf; *param stays
 * NULL when absent or null. -1 after answering 400. */
static int states_key(struct jv_api_req *req, json_t *body, const char *ukey, char *buf,
		      size_t len, const char **param)
{
	json_t *x = json_object_get(body, "uniqueStates");
	*param = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!ukey) {
		jv_api_error(req, 400, "uniqueStates needs uniqueKey");
		return -1;
	}
	if (!json_is_array(x) || json_array_size(x) == 0) {
		jv_api_error(req, 400,
			     "uniqueStates must be an array of job states, such as "
			     "[\"pending\", \"running\", \"succeeded\"]");
		return -1;
	}
	int seen[5] = {0};
	size_t i;
	json_t *v;
	json_array_foreach(x, i, v)
	{
		int k = -1;
		for (int s = 0; s < 5 && k < 0 && json_is_string(v); s++)
			if (!strcmp(statuses[s], json_string_value(v)) &&
			    strlen(statuses[s]) == json_string_length(v))
				k = s;
		if (k < 0) {
			if (json_is_string(v))
				jv_api_error(req, 400,
					     "uniqueStates: '%.40s' is not one of pending, running, "
					     "succeeded, failed, cancelled",
					     json_string_value(v));
			else
				jv_api_error(req, 400,
					     "uniqueStates must contain only strings: pending, "
					     "running, succeeded, failed, cancelled");
			return -1;
		}
		seen[k] = 1;
	}
	if (!seen[0] || !seen[1]) {
		jv_api_error(req, 400,
			     "uniqueStates must include pending and running (one pending or "
			     "running job per uniqueKey is always the rule)");
		return -1;
	}
	size_t n = (size_t)snprintf(buf, len, "{");
	for (int s = 0; s < 5; s++)
		if (seen[s])
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n > 1 ? "," : "",
					      statuses[s]);
	snprintf(buf + n, len - n, "}");
	*param = buf;
	return 0;
}

static void rollback(struct jv_api_req *req)
{
	PGconn *db = jv_api_db(req);
	if (db && PQtransactionStatus(db) != PQTRANS_IDLE)
		PQclear(PQexec(db, "ROLLBACK"));
}

/* A new job as the request's body gives it, checked: each field NULL when
 * absent, as text for the enqueue call. The strings point into the body or
 * into the buffers here, except payload, which the caller frees. */
struct new_job {
	const char *type, *user, *at, *ukey, *ustates, *prio, *maxa, *tmo, *queue;
	char *payload; /* JSON text */
	char bprio[24], bmaxa[24], btmo[24], bstates[64];
};

/* Read and check the body into nj. 0, or -1 after answering 400. */
static int read_new_job(struct jv_api_req *req, json_t *body, struct new_job *nj)
{
	memset(nj, 0, sizeof *nj);
	if (str_key(req, body, "type", &nj->type) || str_key(req, body, "user", &nj->user) ||
	    str_key(req, body, "runAt", &nj->at) || str_key(req, body, "uniqueKey", &nj->ukey) ||
	    str_key(req, body, "queue", &nj->queue) ||
	    int_key(req, body, "priority", -2147483648LL, 2147483647LL, nj->bprio,
		    sizeof nj->bprio, &nj->prio) ||
	    int_key(req, body, "maxAttempts", 1, 1000, nj->bmaxa, sizeof nj->bmaxa, &nj->maxa) ||
	    int_key(req, body, "timeoutSeconds", 1, 604800, nj->btmo, sizeof nj->btmo, &nj->tmo) ||
	    states_key(req, body, nj->ukey, nj->bstates, sizeof nj->bstates, &nj->ustates))
		return -1;
	if (!nj->type) {
		jv_api_error(req, 400, "type is required (the job type, an executor of the config)");
		return -1;
	}
	if (jv_api_too_long(req, "type", nj->type, JV_TYPE_MAX) ||
	    jv_api_too_long(req, "user", nj->user, JV_USER_MAX) ||
	    jv_api_too_long(req, "uniqueKey", nj->ukey, JV_UNIQUE_KEY_MAX) ||
	    (nj->queue && jv_api_check_queue_name(req, "queue", nj->queue)))
		return -1;
	json_t *payload = json_object_get(body, "payload");
	if (payload && !json_is_null(payload) && !json_is_object(payload)) {
		jv_api_error(req, 400, "payload must be a JSON object ({...})");
		return -1;
	}
	nj->payload = payload && !json_is_null(payload) ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (payload && !json_is_null(payload) && !nj->payload) {
		jv_api_error(req, 400, "payload cannot be stored as JSON");
		return -1;
	}
	if ((nj->payload && jv_api_payload_fits(req, nj->payload) != 0) ||
	    (nj->at && check_run_at(req, nj->at) != 0)) {
		free(nj->payload);
		nj->payload = NULL;
		return -1;
	}
	return 0;
}

/* POST /api/jobs {"type", "payload", "user", "runAt", "priority",
 * "maxAttempts", "timeoutSeconds", "uniqueKey", "uniqueStates", "queue"}.
 * A queue no processor's config names is refused by the table's trigger
 * (SQLSTATE 22023, naming it): a 400 with its message. */
static void jobs_create(struct jv_api_req *req)
{
	static const char *const keys[] = {"type",	  "payload",	    "user",
					   "runAt",	  "priority",	    "maxAttempts",
					   "timeoutSeconds", "uniqueKey",	    "uniqueStates",
					   "queue",	  NULL};
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys))
		return;
	json_t *body = jv_api_json_body(req);
	if (!body) {
		jv_api_error(req, 400, "the body must be a JSON object with at least \"type\"");
		return;
	}
	struct new_job nj;
	if (read_new_job(req, body, &nj) != 0)
		return;
	const char *type = nj.type;
	const char *queue = nj.queue ? nj.queue : "default";

	/* created: whether this transaction (the request's, api.h) inserted
	 * the row enqueue returned (with a uniqueKey it may return a pending
	 * or running job's id). */
	const char *params[] = {nj.type, nj.payload, nj.user,	 nj.at,	   nj.prio,
				nj.maxa, nj.tmo,     nj.ukey, nj.ustates, nj.queue};
	PGresult *res = jv_api_query_db(req,
			      "SELECT jobvisor.enqueue($1, $2::jsonb, $3, $4::timestamptz,"
			      " $5::integer, $6::integer, $7::integer, $8, $9::text[], $10)",
			      10, params);
	free(nj.payload);
	if (!res) {
		rollback(req);
		return;
	}
	char id[24];
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *idp[] = {id};
	res = jv_api_query_db(req,
			      "SELECT j.xmin = pg_current_xact_id()::xid FROM jobvisor.jobs j"
			      " WHERE j.id = $1::bigint",
			      1, idp);
	if (!res) {
		rollback(req);
		return;
	}
	int created = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!(res = jv_api_query_db(req, "COMMIT", 0, NULL)))
		return;
	PQclear(res);

	json_t *j = json_pack("{s:I, s:b}", "id", (json_int_t)strtoll(id, NULL, 10), "created",
			      created);
	const struct jv_config *cfg = jv_api_config(req);
	int served = 0;
	for (size_t i = 0; i < cfg->n_executors && !served; i++)
		served = !strcmp(cfg->executors[i].name, type);
	if (!served) {
		json_t *w = json_sprintf("no executor for type %s in this processor's config", type);
		json_object_set_new(j, "warning", w ? w : json_string("no executor for this type"));
	} else if (cfg->processor.queues) {
		int in = 0;
		for (char **q = cfg->processor.queues; *q && !in; q++)
			in = !strcmp(*q, queue);
		if (!in)
			json_object_set_new(
			    j, "warning",
			    json_sprintf("queue %s is not served by this processor (processor.queues)",
					 queue));
	}
	jv_api_json(req, created ? 201 : 200, j);
}

/* ----------------------------------------------------------- GET /api/jobs */

/* The listing reads jobs through the indexes of sql/014_throughput.sql;
 * none but the primary key covers every job:
 *   finished jobs by type or user: jobs_done_type_idx, jobs_done_user_idx
 *     (.., id), read backwards from `after` for limit + 1 entries;
 *   failed, cancelled: jobs_unsuccessful_idx (status, id), the same way;
 *     the status is a range of one value ordered on, not an equality: a
 *     status fixed by `=` is dropped from the order, and the primary key
 *     backwards, filtering, would then be a plan of close cost (taken now
 *     and then, after an ANALYZE whose sample counted fewer failed jobs
 *     among the newest: it passed 1 264 rows for a page of 51); the range
 *     leaves it a sort of every failed job instead, which it never wins;
 *   succeeded, or no filter: the primary key backwards (most jobs are);
 *   pending, running: the engine's partial indexes, which are not in id
 *     order, so their matches (a few thousand at most, unless a backlog)
 *     are sorted. The primary key instead would pass every finished job
 *     older than the newest live one whenever fewer than limit + 1 match,
 *     as on every last page.
 * Type or user without a status may match jobs of either kind: the newest
 * limit + 1 of each, merged. */
static const char list_done[] = "j.status IN ('succeeded', 'failed', 'cancelled')";
static const char list_live[] = "(j.status = 'pending' OR j.status = 'running')";

/* The orders of a branch: the primary key's; live jobs sorted (`j.id + 0`
 * is no index's order, so the planner gathers them through their partial
 * indexes rather than walk the primary key); jobs_unsuccessful_idx's. */
static const char order_id[] = "j.id DESC";
static const char order_live[] = "j.id + 0 DESC";
static const char order_unsuccessful[] = "j.status DESC, j.id DESC";

/* Append to sql the ids of the jobs where cond and filters hold, in order
 * (newest first), at most $lim of them. */
static void list_branch(struct jv_buf *sql, const char *cond, const char *filters,
			const char *order, int lim)
{
	jv_buf_printf(sql,
		      "SELECT j.id FROM jobvisor.jobs j WHERE %s%s ORDER BY %s LIMIT $%d::bigint",
		      cond, filters, order, lim);
}

/* GET /api/jobs?status=&type=&user=&queue=&limit=&after= : newest first.
 * queue only with status pending or running: no index has the finished
 * jobs by queue, and the live ones are few (their partial indexes). */
static void jobs_list(struct jv_api_req *req)
{
	static const char *const args[] = {"status", "type", "user", "queue", "limit", "after", NULL};
	if (jv_api_only_query(req, args))
		return;
	const char *status = jv_api_query(req, "status");
	const char *type = jv_api_query(req, "type");
	const char *user = jv_api_query(req, "user");
	const char *queue = jv_api_query(req, "queue");
	const char *limit_s = jv_api_query(req, "limit");
	const char *after_s = jv_api_query(req, "after");
	int live = 0;	      /* status is pending or running */
	int unsuccessful = 0; /* failed or cancelled */
	if (status) {
		int known = -1;
		for (int s = 0; statuses[s] && known < 0; s++)
			if (!strcmp(statuses[s], status))
				known = s;
		if (known < 0) {
			jv_api_error(req, 400,
				     "status must be one of pending, running, succeeded, failed, "
				     "cancelled; got '%.40s'",
				     status);
			return;
		}
		live = known <= 1; /* statuses[]: pending, running first */
		unsuccessful = known >= 3; /* then succeeded, failed, cancelled */
	}
	if (queue && jv_api_check_queue_name(req, "queue", queue))
		return;
	if (queue && !live) {
		jv_api_error(req, 400,
			     "queue lists pending or running jobs only: add status=pending or "
			     "status=running");
		return;
	}
	int64_t limit = 50, after = 0;
	if (limit_s && (jv_api_parse_int(req, "limit", limit_s, 1000, &limit) != 0))
		return;
	if (limit_s && limit < 1) {
		jv_api_error(req, 400, "limit must be an integer between 1 and 1000, got '0'");
		return;
	}
	if (after_s && jv_api_parse_int(req, "after", after_s, INT64_MAX, &after) != 0)
		return;

	/* The filters asked for, as bound parameters. */
	const char *params[6];
	char lim[24], filters[160];
	int np = 0, fn = 0, st = 0;
	filters[0] = '\0';
	if (status) {
		params[np++] = status;
		st = np;
	}
	if (type) {
		params[np++] = type;
		fn += snprintf(filters + fn, sizeof filters - (size_t)fn, " AND j.type = $%d", np);
	}
	if (user) {
		params[np++] = user;
		fn += snprintf(filters + fn, sizeof filters - (size_t)fn, " AND j.user_id = $%d",
			       np);
	}
	if (queue) {
		params[np++] = queue;
		fn += snprintf(filters + fn, sizeof filters - (size_t)fn, " AND j.queue = $%d", np);
	}
	if (after_s) {
		params[np++] = after_s;
		snprintf(filters + fn, sizeof filters - (size_t)fn, " AND j.id < $%d::bigint", np);
	}
	snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
	params[np++] = lim;

	/* First the page's ids, through the indexes above, so the work stays
	 * near limit + 1 rows whatever the history's size; then the JSON of
	 * those rows only, by primary key (one snapshot: the same rows). */
	char cond[96];
	struct jv_buf sql = {0};
	jv_buf_puts(&sql, "SELECT json_build_object(" JOB_FIELDS ")::text, j.id"
			  " FROM jobvisor.jobs j WHERE j.id = ANY (ARRAY(");
	if (status && unsuccessful) {
		snprintf(cond, sizeof cond,
			 "j.status IN ('failed', 'cancelled') AND j.status >= $%d AND j.status <= $%d",
			 st, st);
		list_branch(&sql, cond, filters, order_unsuccessful, np);
	} else if (status) {
		snprintf(cond, sizeof cond, "j.status = $%d", st);
		list_branch(&sql, cond, filters, live ? order_live : order_id, np);
	} else if (type || user) {
		jv_buf_puts(&sql, "SELECT b.id FROM ((");
		list_branch(&sql, list_done, filters, order_id, np);
		jv_buf_puts(&sql, ") UNION ALL (");
		list_branch(&sql, list_live, filters, order_live, np);
		jv_buf_printf(&sql, ")) b ORDER BY b.id DESC LIMIT $%d::bigint", np);
	} else {
		list_branch(&sql, "true", filters, order_id, np);
	}
	jv_buf_puts(&sql, ")) ORDER BY j.id DESC");

	PGresult *res = jv_api_query_db(req, sql.data, np, params);
	jv_buf_free(&sql);
	if (!res)
		return;
	int rows = PQntuples(res);
	int more = rows > limit;
	if (more)
		rows = (int)limit;
	json_t *list = json_array();
	for (int i = 0; i < rows; i++) {
		json_t *j = pg_json(req, res, i, 0);
		if (!j) {
			json_decref(list);
			PQclear(res);
			return;
		}
		json_array_append_new(list, j);
	}
	json_t *next = more ? json_string(PQgetvalue(res, rows - 1, 1)) : json_null();
	PQclear(res);
	jv_api_json(req, 200, json_pack("{s:o, s:o}", "jobs", list, "next", next));
}

/* ------------------------------------------------------ GET /api/jobs/{id} */

static void jobs_get(struct jv_api_req *req)
{
	int64_t id;
	const char *idt;
	if (jv_api_only_query(req, no_args) || !(idt = job_id_param(req, &id)))
		return;
	const char *params[] = {idt};
	PGresult *res = jv_api_query_db(
	    req,
	    "SELECT json_build_object(" JOB_FIELDS ", 'timeoutSeconds', j.timeout_seconds,"
	    " 'uniqueKey', j.unique_key, 'updatedAt', " ISO("j.updated_at") ","
	    " 'payload', NULL, 'result', NULL, 'executions',"
	    " (SELECT coalesce(json_agg(json_build_object('attempt', e.attempt,"
	    "  'processor', e.processor, 'startedAt', " ISO("e.started_at") ","
	    "  'finishedAt', " ISO("e.finished_at") ", 'durationMs', e.duration_ms,"
	    "  'outcome', e.outcome, 'error', e.error, 'output', e.output,"
	    "  'stale', e.stale) ORDER BY e.attempt, e.id), '[]')"
	    "  FROM jobvisor.job_executions e WHERE e.job_id = j.id))::text,"
	    " j.payload::text, j.result::text"
	    " FROM jobvisor.jobs j WHERE j.id = $1::bigint",
	    1, params);
	if (!res)
		return;
	if (PQntuples(res) == 0) {
		PQclear(res);
		jv_api_error(req, 404, "no job %lld", (long long)id);
		return;
	}
	/* payload and result apart: any jsonb, however deep, still gives a 200 */
	json_t *j = pg_json(req, res, 0, 0);
	if (j) {
		set_jsonb(j, "payload", res, 0, 1);
		set_jsonb(j, "result", res, 0, 2);
	}
	PQclear(res);
	if (j)
		jv_api_json(req, 200, j);
}

/* The status of a job that a change did not apply to: 404 when there is
 * none, else 409 naming its status. */
static void not_changed(struct jv_api_req *req, PGresult *res, int64_t id, const char *verb)
{
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		jv_api_error(req, 404, "no job %lld", (long long)id);
	else
		jv_api_error(req, 409, "job %lld is already %s%s", (long long)id,
			     PQgetvalue(res, 0, 0), verb);
}

/* ---------------------------------------------- POST /api/jobs/{id}/cancel */

/*
 * One statement: lock the job, cancel it if pending or running, write the
 * running attempt's job_executions row (outcome cancelled), and NOTIFY its
 * id on jobvisor_cancel so the processor that runs it stops the run (sent
 * at commit, so only for a cancellation that happened). The engine drops
 * the stopped run's result, and complete()'s fence would refuse it anyway.
 */
static const char sql_cancel[] =
    "WITH old AS ("
    " SELECT id, status, locked_by, started_at, attempts, type, user_id"
    " FROM jobvisor.jobs WHERE id = $1::bigint FOR UPDATE),"
    " upd AS ("
    " UPDATE jobvisor.jobs j SET status = 'cancelled', finished_at = now(), updated_at = now(),"
    "  last_error = 'cancelled through the API', locked_by = NULL"
    " FROM old o WHERE j.id = o.id AND o.status IN ('pending', 'running')"
    " RETURNING o.*),"
    " ins AS ("
    " INSERT INTO jobvisor.job_executions (job_id, attempt, processor, type, user_id,"
    "  started_at, finished_at, duration_ms, outcome, error)"
    " SELECT u.id, greatest(u.attempts, 1), u.locked_by, u.type, u.user_id,"
    "  coalesce(u.started_at, now()), now(),"
    "  greatest(0, (extract(epoch FROM now() - coalesce(u.started_at, now())) * 1000)::bigint),"
    "  'cancelled', 'cancelled through the API'"
    " FROM upd u WHERE u.status = 'running' RETURNING job_id)"
    " SELECT o.status, u.status,"
    "  (SELECT count(pg_notify('" JV_DB_CANCEL_CHANNEL "', i.job_id::text)) FROM ins i)"
    " FROM old o LEFT JOIN upd u ON true";

static void jobs_cancel(struct jv_api_req *req)
{
	int64_t id;
	const char *idt;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, no_args) ||
	    !(idt = job_id_param(req, &id)))
		return;
	const char *params[] = {idt};
	PGresult *res = jv_api_query_db(req, sql_cancel, 1, params);
	if (!res)
		return;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 1)) {
		not_changed(req, res, id, "");
		PQclear(res);
		return;
	}
	char was[16];
	snprintf(was, sizeof was, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (jv_api_commit(req) != 0)
		return;
	struct jv_bridge *b = jv_api_bridge(req);
	if (!strcmp(was, "running") && b)
		jv_bridge_cancel(b, id); /* this processor at once, if it runs it */
	jv_api_json(req, 200,
		    json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status", "cancelled", "was",
			      was));
}

/* ----------------------------------------------- POST /api/jobs/{id}/retry */

/* POST /api/jobs/{id}/retry {"attempts": N}: a failed or cancelled job is
 * pending again, with N more attempts (default 1). */
static void jobs_retry(struct jv_api_req *req)
{
	static const char *const keys[] = {"attempts", NULL};
	int64_t id;
	const char *idt;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys) ||
	    !(idt = job_id_param(req, &id)))
		return;
	json_t *body = jv_api_json_body(req);
	const char *more = NULL;
	char bmore[24];
	if (body && int_key(req, body, "attempts", 1, 100, bmore, sizeof bmore, &more))
		return;
	const char *params[] = {idt, more ? more : "1"};
	PGresult *res = jv_api_query_db(
	    req,
	    "WITH upd AS ("
	    " UPDATE jobvisor.jobs SET status = 'pending', scheduled_at = now(),"
	    "  finished_at = NULL, locked_by = NULL, updated_at = now(),"
	    "  max_attempts = attempts + $2::integer"
	    " WHERE id = $1::bigint AND status IN ('failed', 'cancelled')"
	    " RETURNING max_attempts)"
	    " SELECT j.status, (SELECT max_attempts FROM upd)"
	    " FROM (SELECT 1) one LEFT JOIN jobvisor.jobs j ON j.id = $1::bigint",
	    2, params);
	if (!res)
		return;
	if (PQgetisnull(res, 0, 1)) {
		not_changed(req, res, id, " (only failed or cancelled jobs can be retried)");
		PQclear(res);
		return;
	}
	long long max = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	if (jv_api_commit(req) != 0)
		return;
	if (jv_api_bridge(req))
		jv_bridge_trigger(jv_api_bridge(req)); /* due now */
	jv_api_json(req, 200,
		    json_pack("{s:I, s:s, s:I}", "id", (json_int_t)id, "status", "pending",
			      "maxAttempts", (json_int_t)max));
}

const struct jv_api_route jv_api_jobs_routes[] = {
	{"POST", "/api/jobs", 0, jobs_create, "enqueue a job"},
	{"GET", "/api/jobs", 0, jobs_list,
	 "list jobs, newest first (status, type, user, queue, after)"},
	{"GET", "/api/jobs/{id}", 0, jobs_get, "one job with its payload, result and executions"},
	{"POST", "/api/jobs/{id}/cancel", 0, jobs_cancel, "cancel a pending or running job"},
	{"POST", "/api/jobs/{id}/retry", 0, jobs_retry, "run a failed or cancelled job again"},
	{NULL, NULL, 0, NULL, NULL},
};

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
#include "api/jobspec.h"
#include "config/config.h"
#include "lib/db.h"
#include "lib/jsontext.h"
#include "lib/log.h"
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
				    "j.last_error, 'lockedBy', j.locked_by, 'queue', j.queue, "          \
	"'progress', j.progress, 'progressNote', j.progress_note, 'progressAt', " ISO(           \
	    "j.progress_at") ", 'workflowId', j.workflow_id, 'workflowKey', j.workflow_key, "   \
			     "'runWhen', j.run_when, 'blockedBy', j.blocked_by"

static const char *const statuses[] = {"pending", "running", "succeeded", "failed", "cancelled",
				       NULL};

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
	const char *type, *user, *at, *ukey, *ustates, *prio, *maxa, *tmo, *queue, *when;
	char *payload; /* JSON text */
	char *deps;    /* dependsOn as an array literal "{1,2}", or NULL */
	char bprio[24], bmaxa[24], btmo[24], bstates[64];
};

/* dependsOn: 1 to JV_DEPENDS_MAX distinct job ids, as the array literal
 * "{1,2}" (malloc'd, the caller frees) in *deps, NULL when absent or null;
 * not together with uniqueKey. -1 after answering 400. */
static int depends_key(struct jv_api_req *req, json_t *body, const char *ukey, char **deps)
{
	json_t *x = json_object_get(body, "dependsOn");
	*deps = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > JV_DEPENDS_MAX) {
		jv_api_error(req, 400, "dependsOn must be an array of 1 to %d job ids",
			     JV_DEPENDS_MAX);
		return -1;
	}
	if (ukey) {
		jv_api_error(req, 400, "dependsOn cannot be used together with uniqueKey");
		return -1;
	}
	struct jv_buf b = {0};
	size_t i;
	json_t *v;
	json_array_foreach(x, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			jv_api_error(req, 400, "dependsOn[%zu] must be a job id (a positive integer)",
				     i);
			jv_buf_free(&b);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (json_integer_value(json_array_get(x, k)) == json_integer_value(v)) {
				jv_api_error(req, 400, "dependsOn[%zu]: job %lld is listed twice", i,
					     (long long)json_integer_value(v));
				jv_buf_free(&b);
				return -1;
			}
		jv_buf_printf(&b, "%s%lld", i ? "," : "{", (long long)json_integer_value(v));
	}
	jv_buf_puts(&b, "}");
	*deps = b.data;
	return 0;
}

/* runWhen: "success" (the default) or "always"; -1 after answering 400. */
static int when_key(struct jv_api_req *req, json_t *body, const char **when)
{
	json_t *x = json_object_get(body, "runWhen");
	*when = NULL;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_string(x) || (strcmp(json_string_value(x), "success") &&
				   strcmp(json_string_value(x), "always"))) {
		jv_api_error(req, 400, "runWhen must be \"success\" or \"always\"");
		return -1;
	}
	*when = json_string_value(x);
	return 0;
}

static void new_job_free(struct new_job *nj)
{
	free(nj->payload);
	free(nj->deps);
	nj->payload = nj->deps = NULL;
}

/* Read and check the body into nj (new_job_free() after). 0, or -1 after
 * answering 400. */
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
	    states_key(req, body, nj->ukey, nj->bstates, sizeof nj->bstates, &nj->ustates) ||
	    when_key(req, body, &nj->when) || depends_key(req, body, nj->ukey, &nj->deps))
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
	    (nj->at && check_run_at(req, nj->at) != 0))
		return -1;
	return 0;
}

/* The keys of a new job (POST /api/jobs). */
static const char *const job_keys[] = {
	"type",	     "payload",	     "user",	"runAt", "priority",  "maxAttempts", "timeoutSeconds",
	"uniqueKey", "uniqueStates", "queue", "dependsOn", "runWhen", NULL};

/*
 * The bulk insert: every element of $1 (a JSON array of jobs, each checked
 * by jv_jobspec_read, as `jobvisor enqueue --file` checks a line) through
 * jobvisor.enqueue, in order, in one statement,
 * so the table's rules (limits, queues, dependencies) are the same as for
 * one job. Each row: the element's ordinal and the job's id. An absent or
 * null key is NULL, as the one-job call passes it.
 */
static const char sql_enqueue_bulk[] =
    "SELECT a.i, jobvisor.enqueue(a.e ->> 'type', nullif(a.e -> 'payload', 'null'),"
    " coalesce(a.e ->> 'user', a.e ->> 'userId'), (a.e ->> 'runAt')::timestamptz,"
    " (a.e ->> 'priority')::integer,"
    " (a.e ->> 'maxAttempts')::integer, (a.e ->> 'timeoutSeconds')::integer,"
    " a.e ->> 'uniqueKey',"
    " CASE WHEN jsonb_typeof(a.e -> 'uniqueStates') = 'array' THEN"
    "  ARRAY(SELECT jsonb_array_elements_text(a.e -> 'uniqueStates')) END,"
    " a.e ->> 'queue',"
    " CASE WHEN jsonb_typeof(a.e -> 'dependsOn') = 'array' THEN"
    "  ARRAY(SELECT d::bigint FROM jsonb_array_elements_text(a.e -> 'dependsOn') d) END,"
    " coalesce(a.e ->> 'runWhen', 'success'))"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(e, i) ORDER BY a.i";

/*
 * The same for an array where no job has a uniqueKey or dependsOn (the
 * usual bulk request): jobvisor.enqueue()'s plain path -- an INSERT with
 * its defaults -- for all of them in one INSERT, a tenth of the time of
 * 10 000 calls of the function. The table's triggers check what they check
 * for every insert (limits, queues). Rows are inserted, so their ids
 * drawn, in the order of the array.
 */
static const char sql_insert_bulk[] =
    "INSERT INTO jobvisor.jobs (type, payload, user_id, scheduled_at, priority, max_attempts,"
    " timeout_seconds, queue, run_when)"
    " SELECT a.e ->> 'type', coalesce(nullif(a.e -> 'payload', 'null'), '{}'),"
    " coalesce(a.e ->> 'user', a.e ->> 'userId'),"
    " coalesce((a.e ->> 'runAt')::timestamptz, now()), coalesce((a.e ->> 'priority')::integer, 0),"
    " coalesce((a.e ->> 'maxAttempts')::integer, 3), (a.e ->> 'timeoutSeconds')::integer,"
    " coalesce(a.e ->> 'queue', 'default'), coalesce(a.e ->> 'runWhen', 'success')"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(e, i) ORDER BY a.i"
    " RETURNING id";

/* After the bulk statement failed with a client's error (state, err): find
 * the element that causes it, one at a time in a fresh transaction, and
 * answer 400 naming it (or, when none alone does, the error as it was). */
static void bulk_failed(struct jv_api_req *req, json_t *body, const char *state, const char *err)
{
	rollback(req);
	PGconn *db = jv_api_db(req);
	if (!db)
		return;
	char e2[1024], s2[6] = "";
	size_t i;
	json_t *v;
	json_array_foreach(body, i, v)
	{
		json_t *one = json_pack("[O]", v);
		char *text = one ? json_dumps(one, JSON_COMPACT) : NULL;
		json_decref(one);
		if (!text)
			break;
		const char *params[] = {text};
		PGresult *res = jv_db_query(db, sql_enqueue_bulk, 1, params, s2, e2, sizeof e2);
		free(text);
		if (res) {
			PQclear(res);
			continue;
		}
		rollback(req);
		if (!strncmp(s2, "22", 2) || !strncmp(s2, "23", 2))
			jv_api_error(req, 400, "[%zu]: %s", i, e2);
		else
			jv_api_error(req, 503, "the database is unreachable or busy; try again");
		return;
	}
	rollback(req);
	jv_api_error(req, 400, "%s", err);
	(void)state;
}

/* POST /api/jobs [{job}, ...]: 1 to JV_BULK_MAX jobs, all or nothing;
 * 201 {"ids": [...]} in the order of the array. An error names the
 * element, and the field when it is one: "[17].type: required ...", "[3]:
 * unknown dependency 123". The fields are those of jobspec.h (the same
 * words as `jobvisor enqueue --file`). */
static void jobs_create_bulk(struct jv_api_req *req, json_t *body)
{
	size_t n = json_array_size(body);
	if (n == 0 || n > JV_BULK_MAX) {
		jv_api_error(req, 400, "a bulk request has 1 to %d jobs; this one has %zu",
			     JV_BULK_MAX, n);
		return;
	}
	size_t i;
	json_t *v;
	int plain = 1; /* no uniqueKey, no dependsOn: sql_insert_bulk */
	json_array_foreach(body, i, v)
	{
		struct jv_jobspec js;
		char err[512];
		if (!json_is_object(v)) {
			jv_api_error(req, 400, "[%zu]: a job must be a JSON object with at least \"type\"",
				     i);
			return;
		}
		if (jv_jobspec_read(v, &js, err, sizeof err) != 0) {
			jv_api_error(req, 400, "[%zu].%s", i, err);
			return;
		}
		if (js.run_at && strstr(js.run_at, "infinity")) {
			jv_api_error(req, 400,
				     "[%zu].runAt: must be a finite time, such as 2026-12-01T03:00:00Z",
				     i);
			return;
		}
		if (js.unique_key || js.depends)
			plain = 0;
	}
	size_t len;
	const char *params[] = {jv_api_body(req, &len)};
	PGconn *db = jv_api_db(req);
	if (!db)
		return;
	char err[1024], state[6] = "";
	PGresult *res = jv_db_query(db, plain ? sql_insert_bulk : sql_enqueue_bulk, 1, params, state,
				    err, sizeof err);
	if (!res) {
		if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2)) {
			bulk_failed(req, body, state, err);
		} else {
			rollback(req);
			jv_log(JV_WARNING, "api: bulk enqueue: %s", err);
			if (!strcmp(state, "55P03") || !strcmp(state, "57014") || !*state) {
				jv_api_add_header(req, "Retry-After", "1");
				jv_api_error(req, 503,
					     "the database is busy or unreachable: no job was "
					     "inserted; try again");
			} else {
				jv_api_error(req, 500, "internal error (logged)");
			}
		}
		return;
	}
	if (PQntuples(res) != (int)n) {
		PQclear(res);
		rollback(req);
		jv_api_error(req, 500, "internal error: the database gave another count of ids");
		return;
	}
	json_t *ids = json_array();
	long long prev = 0;
	for (int r = 0; r < (int)n; r++) {
		long long id = strtoll(PQgetvalue(res, r, plain ? 0 : 1), NULL, 10);
		if (plain && id <= prev) {
			/* (never: one INSERT draws them in the order it inserts) */
			json_decref(ids);
			PQclear(res);
			rollback(req);
			jv_api_error(req, 500, "internal error: the ids are not in order");
			return;
		}
		prev = id;
		json_array_append_new(ids, json_integer(id));
	}
	PQclear(res);
	if (jv_api_commit(req) != 0) {
		json_decref(ids);
		return;
	}
	jv_api_json(req, 201, json_pack("{s:o}", "ids", ids));
}

/* POST /api/jobs {"type", "payload", "user", "runAt", "priority",
 * "maxAttempts", "timeoutSeconds", "uniqueKey", "uniqueStates", "queue",
 * "dependsOn", "runWhen"}, or an array of such (jobs_create_bulk).
 * A queue no processor's config names is refused by the table's trigger
 * (SQLSTATE 22023, naming it): a 400 with its message; so is an unknown
 * dependency. */
static void jobs_create(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	json_t *body = jv_api_json_body(req);
	if (json_is_array(body)) {
		jobs_create_bulk(req, body);
		return;
	}
	if (jv_api_only_keys(req, job_keys))
		return;
	if (!body) {
		jv_api_error(req, 400, "the body must be a JSON object with at least \"type\"");
		return;
	}
	struct new_job nj;
	if (read_new_job(req, body, &nj) != 0) {
		new_job_free(&nj);
		return;
	}
	const char *type = nj.type;
	const char *queue = nj.queue ? nj.queue : "default";

	/* created: whether this transaction (the request's, api.h) inserted
	 * the row enqueue returned (with a uniqueKey it may return a pending
	 * or running job's id). */
	const char *params[] = {nj.type, nj.payload, nj.user,	  nj.at,    nj.prio, nj.maxa,
				nj.tmo,	 nj.ukey,    nj.ustates, nj.queue, nj.deps, nj.when};
	PGresult *res = jv_api_query_db(
	    req,
	    "SELECT jobvisor.enqueue($1, $2::jsonb, $3, $4::timestamptz,"
	    " $5::integer, $6::integer, $7::integer, $8, $9::text[], $10, $11::bigint[],"
	    " coalesce($12, 'success'))",
	    12, params);
	new_job_free(&nj);
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

/* Every status a job can have, as the list filters take them. */
static const char *const list_statuses[] = {"pending",	 "running",   "succeeded", "failed",
					    "cancelled", "waiting", NULL};

/* Rows of jobs a search by error text (q) examines at most per request. */
#define JV_API_SEARCH_SCAN 10000
/* q, in bytes. */
#define JV_API_SEARCH_Q_MAX 200

/* The ids of jobs between the times from and to (either may be NULL) as
 * the range [lo, hi) of ids: ids grow with created_at (an identity, and
 * created_at is the inserting transaction's start), so a binary search on
 * the primary key finds each bound in about 2 log2(jobs) index probes.
 * "" (no bound) stays when the time is absent. -1 after answering. */
static int time_to_ids(struct jv_api_req *req, const char *from, const char *to, char *lo,
		       char *hi, size_t len)
{
	static const char bound[] =
	    "(WITH RECURSIVE b(lo, hi) AS ("
	    " SELECT (SELECT min(id) FROM jobvisor.jobs), (SELECT max(id) FROM jobvisor.jobs) + 1"
	    " UNION ALL"
	    " SELECT CASE WHEN m.c < %s THEN m.mid + 1 ELSE b.lo END,"
	    "  CASE WHEN m.c < %s THEN b.hi ELSE m.mid END"
	    " FROM b, LATERAL (SELECT x.mid, (SELECT j2.created_at FROM jobvisor.jobs j2"
	    "  WHERE j2.id >= x.mid ORDER BY j2.id LIMIT 1) AS c"
	    "  FROM (SELECT (b.lo + b.hi) / 2 AS mid) x) m"
	    " WHERE b.lo < b.hi)"
	    " SELECT coalesce(min(hi), 0) FROM b)";
	char sql[2048];
	int n = snprintf(sql, sizeof sql, "SELECT isfinite($1::timestamptz), isfinite($2::timestamptz), ");
	n += snprintf(sql + n, sizeof sql - (size_t)n, bound, "$1::timestamptz", "$1::timestamptz");
	n += snprintf(sql + n, sizeof sql - (size_t)n, ", ");
	snprintf(sql + n, sizeof sql - (size_t)n, bound, "$2::timestamptz", "$2::timestamptz");
	const char *params[] = {from ? from : "-infinity", to ? to : "infinity"};
	PGresult *res = jv_api_query_db(req, sql, 2, params);
	if (!res)
		return -1; /* (a time PostgreSQL does not read: 400 naming it) */
	if ((from && strcmp(PQgetvalue(res, 0, 0), "t")) ||
	    (to && strcmp(PQgetvalue(res, 0, 1), "t"))) {
		PQclear(res);
		jv_api_error(req, 400, "from and to must be finite times, such as 2026-12-01T03:00:00Z");
		return -1;
	}
	snprintf(lo, len, "%s", from ? PQgetvalue(res, 0, 2) : "");
	snprintf(hi, len, "%s", to ? PQgetvalue(res, 0, 3) : "");
	PQclear(res);
	return 0;
}

/* GET /api/jobs?status=&type=&user=&queue=&id=&workflow=&q=&from=&to=
 * &limit=&after= : newest first.
 * queue only with status pending or running, or with id, workflow or q:
 * no index has the finished jobs by queue, and the live ones are few
 * (their partial indexes). id: that job, if the rest match. workflow: its
 * steps (at most JV_BULK_MAX) through the workflow index. from/to: the
 * jobs created in [from, to), as a range of ids (time_to_ids), which every
 * branch reads as it reads `after`. q: the jobs whose last_error contains
 * q (case-insensitive) among the newest JV_API_SEARCH_SCAN jobs the other
 * filters select; when that many were examined before a page was full,
 * the answer says "capped": true and next continues below them. */
static void jobs_list(struct jv_api_req *req)
{
	static const char *const args[] = {"status", "type", "user", "queue", "id", "workflow",
					   "q",	     "from", "to",   "limit", "after", NULL};
	if (jv_api_only_query(req, args))
		return;
	const char *status = jv_api_query(req, "status");
	const char *type = jv_api_query(req, "type");
	const char *user = jv_api_query(req, "user");
	const char *queue = jv_api_query(req, "queue");
	const char *id_s = jv_api_query(req, "id");
	const char *wf_s = jv_api_query(req, "workflow");
	const char *q = jv_api_query(req, "q");
	const char *from = jv_api_query(req, "from");
	const char *to = jv_api_query(req, "to");
	const char *limit_s = jv_api_query(req, "limit");
	const char *after_s = jv_api_query(req, "after");
	int live = 0;	      /* status is pending or running */
	int unsuccessful = 0; /* failed or cancelled */
	if (status) {
		int known = -1;
		for (int s = 0; list_statuses[s] && known < 0; s++)
			if (!strcmp(list_statuses[s], status))
				known = s;
		if (known < 0) {
			jv_api_error(req, 400,
				     "status must be one of pending, running, succeeded, failed, "
				     "cancelled, waiting; got '%.40s'",
				     status);
			return;
		}
		live = known <= 1; /* list_statuses[]: pending, running first */
		unsuccessful = known == 3 || known == 4; /* then succeeded, failed, cancelled */
	}
	int64_t limit = 50, after = 0, id = 0, wf = 0;
	if ((id_s && jv_api_parse_int(req, "id", id_s, INT64_MAX, &id) != 0) ||
	    (wf_s && jv_api_parse_int(req, "workflow", wf_s, INT64_MAX, &wf) != 0))
		return;
	if (queue && jv_api_check_queue_name(req, "queue", queue))
		return;
	if (queue && !live && !id_s && !wf_s && !q) {
		jv_api_error(req, 400,
			     "queue lists pending or running jobs only: add status=pending or "
			     "status=running (or search by id, workflow or q)");
		return;
	}
	if (q && (q[0] == '\0' || jv_api_too_long(req, "q", q, JV_API_SEARCH_Q_MAX))) {
		if (q[0] == '\0')
			jv_api_error(req, 400, "q must not be empty");
		return;
	}
	if ((from && jv_api_too_long(req, "from", from, 64)) ||
	    (to && jv_api_too_long(req, "to", to, 64)))
		return;
	if (limit_s && (jv_api_parse_int(req, "limit", limit_s, 1000, &limit) != 0))
		return;
	if (limit_s && limit < 1) {
		jv_api_error(req, 400, "limit must be an integer between 1 and 1000, got '0'");
		return;
	}
	if (after_s && jv_api_parse_int(req, "after", after_s, INT64_MAX, &after) != 0)
		return;
	char lo[24] = "", hi[24] = "";
	if ((from || to) && !id_s && time_to_ids(req, from, to, lo, hi, sizeof lo) != 0)
		return;

	/* The filters asked for, as bound parameters. */
	const char *params[14];
	char lim[24], cap[24], filters[512];
	int np = 0, fn = 0, st = 0, nq = 0, nid = 0, nwf = 0;
	filters[0] = '\0';
#define FILTER(value, fmt)                                                                     \
	do {                                                                                   \
		params[np++] = (value);                                                        \
		fn += snprintf(filters + fn, sizeof filters - (size_t)fn, fmt, np);            \
	} while (0)
	if (status) {
		params[np++] = status;
		st = np;
	}
	if (id_s) {
		params[np++] = id_s;
		nid = np;
	}
	if (wf_s) {
		params[np++] = wf_s;
		nwf = np;
	}
	if (type)
		FILTER(type, " AND j.type = $%d");
	if (user)
		FILTER(user, " AND j.user_id = $%d");
	if (queue)
		FILTER(queue, " AND j.queue = $%d");
	if (from)
		FILTER(from, " AND j.created_at >= $%d::timestamptz");
	if (to)
		FILTER(to, " AND j.created_at < $%d::timestamptz");
	if (lo[0])
		FILTER(lo, " AND j.id >= $%d::bigint");
	if (hi[0])
		FILTER(hi, " AND j.id < $%d::bigint");
	if (after_s)
		FILTER(after_s, " AND j.id < $%d::bigint");
#undef FILTER
	if (q) {
		params[np++] = q;
		nq = np;
	}
	snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
	params[np++] = lim;
	int nlim = np;
	if (q) {
		snprintf(cap, sizeof cap, "%d", JV_API_SEARCH_SCAN);
		params[np++] = cap;
	}

	/* First the ids, through the indexes above, so the work stays near
	 * limit + 1 rows (with q: JV_API_SEARCH_SCAN) whatever the history's
	 * size; then the JSON of those rows only, by primary key (one
	 * snapshot: the same rows). */
	char cond[160];
	struct jv_buf ids = {0};
	int ilim = np; /* the branches' LIMIT: limit + 1, or the cap */
	if (id_s) {
		snprintf(cond, sizeof cond, "j.id = $%d::bigint%s", nid, status ? " AND j.status = $1" : "");
		list_branch(&ids, cond, filters, order_id, ilim);
	} else if (wf_s) {
		/* (sorted: its index is not in id order, and the primary
		 * key would pass every newer job) */
		snprintf(cond, sizeof cond, "j.workflow_id = $%d::bigint%s", nwf,
			 status ? " AND j.status = $1" : "");
		list_branch(&ids, cond, filters, order_live, ilim);
	} else if (status && unsuccessful) {
		snprintf(cond, sizeof cond,
			 "j.status IN ('failed', 'cancelled') AND j.status >= $%d AND j.status <= $%d",
			 st, st);
		list_branch(&ids, cond, filters, order_unsuccessful, ilim);
	} else if (status) {
		snprintf(cond, sizeof cond, "j.status = $%d", st);
		list_branch(&ids, cond, filters, live ? order_live : order_id, ilim);
	} else if (type || user) {
		jv_buf_puts(&ids, "SELECT b.id FROM ((");
		list_branch(&ids, list_done, filters, order_id, ilim);
		jv_buf_puts(&ids, ") UNION ALL (");
		list_branch(&ids, list_live, filters, order_live, ilim);
		jv_buf_printf(&ids, ")) b ORDER BY b.id DESC LIMIT $%d::bigint", ilim);
	} else {
		list_branch(&ids, "true", filters, order_id, ilim);
	}
	struct jv_buf sql = {0};
	if (!q) {
		jv_buf_printf(&sql,
			      "SELECT json_build_object(" JOB_FIELDS ")::text, j.id"
			      " FROM jobvisor.jobs j WHERE j.id = ANY (ARRAY(%s)) ORDER BY j.id DESC",
			      ids.data);
	} else {
		/* the window, the hits in it, then one row: how many examined,
		 * the lowest id examined */
		jv_buf_printf(&sql,
			      "WITH w AS MATERIALIZED (%s),"
			      /* (each row's error by primary key: never a scan) */
			      " h AS (SELECT w.id FROM w WHERE strpos(lower((SELECT j2.last_error"
			      "  FROM jobvisor.jobs j2 WHERE j2.id = w.id)), lower($%d)) > 0"
			      "  ORDER BY w.id DESC LIMIT $%d::bigint)"
			      " SELECT * FROM (SELECT json_build_object(" JOB_FIELDS ")::text, j.id,"
			      "  NULL::text FROM jobvisor.jobs j WHERE j.id IN (SELECT id FROM h)"
			      " UNION ALL SELECT NULL, -1,"
			      "  (SELECT count(*) || ' ' || coalesce(min(id), 0) FROM w)) r"
			      " ORDER BY 2 DESC",
			      ids.data, nq, nlim);
	}
	jv_buf_free(&ids);

	PGresult *res = jv_api_query_db(req, sql.data, np, params);
	jv_buf_free(&sql);
	if (!res)
		return;
	int rows = PQntuples(res);
	long long examined = 0, lowest = 0;
	if (q && rows > 0) {
		/* the last row: "examined lowest" */
		char *end;
		examined = strtoll(PQgetvalue(res, rows - 1, 2), &end, 10);
		lowest = strtoll(end, NULL, 10);
		rows--;
	}
	json_t *list;
	int more;
	if (jv_api_page(req, res, rows, limit, &list, &more) != 0) {
		PQclear(res);
		return;
	}
	if (more)
		rows = (int)limit;
	/* an integer, as after= takes it */
	json_t *next =
	    more ? json_integer(strtoll(PQgetvalue(res, rows - 1, 1), NULL, 10)) : json_null();
	PQclear(res);
	int capped = q && !more && examined >= JV_API_SEARCH_SCAN;
	if (capped) {
		/* continue below the lowest id examined */
		json_decref(next);
		next = json_integer(lowest);
	}
	json_t *ans = json_pack("{s:o, s:o}", "jobs", list, "next", next);
	if (q)
		json_object_set_new(ans, "capped", json_boolean(capped));
	jv_api_json(req, 200, ans);
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
	    " 'dependsOn', (SELECT coalesce(json_agg(d.depends_on ORDER BY d.depends_on), '[]')"
	    "  FROM jobvisor.job_dependencies d WHERE d.job_id = j.id),"
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
	json_t *j = jv_api_pg_json(req, res, 0, 0);
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
#define SQL_CANCEL_UPD                                                                         \
	" upd AS ("                                                                            \
	" UPDATE jobvisor.jobs j SET status = 'cancelled', finished_at = now(), updated_at = now()," \
	"  last_error = 'cancelled through the API', locked_by = NULL"                         \
	" FROM old o WHERE j.id = o.id AND o.status IN ('pending', 'running', 'waiting')"      \
	" RETURNING o.*),"                                                                     \
	" ins AS ("                                                                            \
	" INSERT INTO jobvisor.job_executions (job_id, attempt, processor, type, user_id,"     \
	"  started_at, finished_at, duration_ms, outcome, error)"                              \
	" SELECT u.id, greatest(u.attempts, 1), u.locked_by, u.type, u.user_id,"               \
	"  coalesce(u.started_at, now()), now(),"                                              \
	"  greatest(0, (extract(epoch FROM now() - coalesce(u.started_at, now())) * 1000)::bigint)," \
	"  'cancelled', 'cancelled through the API'"                                           \
	" FROM upd u WHERE u.status = 'running' RETURNING job_id)"

static const char sql_cancel[] =
    "WITH old AS ("
    " SELECT id, status, locked_by, started_at, attempts, type, user_id"
    " FROM jobvisor.jobs WHERE id = $1::bigint FOR UPDATE)," SQL_CANCEL_UPD
    " SELECT o.status, u.status,"
    "  (SELECT count(pg_notify('" JV_DB_CANCEL_CHANNEL "', i.job_id::text)) FROM ins i)"
    " FROM old o LEFT JOIN upd u ON true";

/* The same for many ids: locked in id order (two such requests never wait
 * on each other in a circle); a row per job changed: id, its old status,
 * and the notifications sent (the same on every row). */
static const char sql_cancel_many[] =
    "WITH old AS ("
    " SELECT id, status, locked_by, started_at, attempts, type, user_id"
    " FROM jobvisor.jobs WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE)," SQL_CANCEL_UPD
    " SELECT u.id, u.status,"
    "  (SELECT count(pg_notify('" JV_DB_CANCEL_CHANNEL "', i.job_id::text)) FROM ins i)"
    " FROM upd u ORDER BY u.id";

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

/* POST /api/jobs/{id}/retry {"attempts": N}: a failed or cancelled job runs
 * again, with N more attempts (default 1): pending, or waiting while a
 * dependency is live; refused (409) while one it needs to succeed is failed
 * or cancelled (sql/021_retry_dependencies.sql). The jobs it cancelled
 * (blocked_by) wait for it again (sql/017_workflows.sql's trigger). */
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
	/* (the job's status as it was, for the answer when it is not retried) */
	PGresult *res = jv_api_query_db(
	    req,
	    "WITH r AS (SELECT * FROM jobvisor.retry_jobs(ARRAY[$1::bigint], $2::integer))"
	    " SELECT j.status, (SELECT r.max_attempts FROM r), (SELECT r.status FROM r),"
	    "  (SELECT r.refused FROM r)"
	    " FROM (SELECT 1) one LEFT JOIN jobvisor.jobs j ON j.id = $1::bigint",
	    2, params);
	if (!res)
		return;
	if (PQgetisnull(res, 0, 1)) {
		not_changed(req, res, id, " (only failed or cancelled jobs can be retried)");
		PQclear(res);
		return;
	}
	if (!PQgetisnull(res, 0, 3)) {
		jv_api_error(req, 409, "job %lld stays %s: %s; retry that one first", (long long)id,
			     PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 3));
		PQclear(res);
		return;
	}
	long long max = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	json_t *ans = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)id, "status",
				PQgetvalue(res, 0, 2), "maxAttempts", (json_int_t)max);
	PQclear(res);
	if (jv_api_commit(req) != 0) {
		json_decref(ans);
		return;
	}
	if (jv_api_bridge(req))
		jv_bridge_trigger(jv_api_bridge(req)); /* due now */
	jv_api_json(req, 200, ans);
}

/* ------------------------------------ POST /api/jobs/cancel, /api/jobs/retry */

/* body["ids"]: 1 to JV_BULK_IDS_MAX distinct job ids, as the array literal
 * "{1,2}" (malloc'd, the caller frees) in *lit and a JSON array in *ids
 * (new reference). -1 after answering 400. */
static int read_ids(struct jv_api_req *req, char **lit, json_t **ids)
{
	json_t *body = jv_api_json_body(req);
	json_t *x = body ? json_object_get(body, "ids") : NULL;
	*lit = NULL;
	*ids = NULL;
	if (!x || !json_is_array(x) || json_array_size(x) == 0 ||
	    json_array_size(x) > JV_BULK_IDS_MAX) {
		jv_api_error(req, 400, "ids must be an array of 1 to %d job ids", JV_BULK_IDS_MAX);
		return -1;
	}
	struct jv_buf b = {0};
	size_t i;
	json_t *v;
	json_array_foreach(x, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			jv_api_error(req, 400, "ids[%zu] must be a job id (a positive integer)", i);
			jv_buf_free(&b);
			return -1;
		}
		jv_buf_printf(&b, "%s%lld", i ? "," : "{", (long long)json_integer_value(v));
	}
	jv_buf_puts(&b, "}");
	*lit = b.data;
	*ids = json_incref(x);
	return 0;
}

/* {"changed": [...], "unchanged": [...]}: the ids of res's first column
 * (in their order), then every other id of ids (in the request's order,
 * without repeats). Steals ids. */
static json_t *changed_unchanged(PGresult *res, json_t *ids)
{
	json_t *changed = json_array(), *unchanged = json_array();
	int n = PQntuples(res);
	for (int r = 0; r < n; r++)
		json_array_append_new(changed,
				      json_integer(strtoll(PQgetvalue(res, r, 0), NULL, 10)));
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		int seen = 0;
		for (int r = 0; r < n && !seen; r++)
			seen = json_integer_value(json_array_get(changed, (size_t)r)) ==
			       json_integer_value(v);
		for (size_t k = 0; k < i && !seen; k++)
			seen = json_integer_value(json_array_get(ids, k)) == json_integer_value(v);
		if (!seen)
			json_array_append_new(unchanged, json_integer(json_integer_value(v)));
	}
	json_decref(ids);
	return json_pack("{s:o, s:o}", "changed", changed, "unchanged", unchanged);
}

/* POST /api/jobs/cancel {"ids": [...]}: each pending, waiting or running
 * one cancelled as POST /api/jobs/{id}/cancel does; the others unchanged. */
static void jobs_cancel_many(struct jv_api_req *req)
{
	static const char *const keys[] = {"ids", NULL};
	char *lit;
	json_t *ids;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys) ||
	    read_ids(req, &lit, &ids))
		return;
	const char *params[] = {lit};
	PGresult *res = jv_api_query_db(req, sql_cancel_many, 1, params);
	free(lit);
	if (!res) {
		json_decref(ids);
		return;
	}
	if (jv_api_commit(req) != 0) {
		PQclear(res);
		json_decref(ids);
		return;
	}
	struct jv_bridge *b = jv_api_bridge(req);
	for (int r = 0; b && r < PQntuples(res); r++)
		if (!strcmp(PQgetvalue(res, r, 1), "running"))
			jv_bridge_cancel(b, strtoll(PQgetvalue(res, r, 0), NULL, 10));
	json_t *ans = changed_unchanged(res, ids);
	PQclear(res);
	jv_api_json(req, 200, ans);
}

/* POST /api/jobs/retry {"ids": [...], "attempts": N}: each failed or
 * cancelled one runs again as POST /api/jobs/{id}/retry makes it; one whose
 * dependency failed stays as it is (unchanged). */
static void jobs_retry_many(struct jv_api_req *req)
{
	static const char *const keys[] = {"ids", "attempts", NULL};
	char *lit;
	json_t *ids;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys) ||
	    read_ids(req, &lit, &ids))
		return;
	const char *more = NULL;
	char bmore[24];
	if (int_key(req, jv_api_json_body(req), "attempts", 1, 100, bmore, sizeof bmore, &more)) {
		free(lit);
		json_decref(ids);
		return;
	}
	const char *params[] = {lit, more ? more : "1"};
	PGresult *res = jv_api_query_db(
	    req,
	    "SELECT id FROM jobvisor.retry_jobs($1::bigint[], $2::integer)"
	    " WHERE refused IS NULL ORDER BY id",
	    2, params);
	free(lit);
	if (!res) {
		json_decref(ids);
		return;
	}
	int n = PQntuples(res);
	if (jv_api_commit(req) != 0) {
		PQclear(res);
		json_decref(ids);
		return;
	}
	if (n > 0 && jv_api_bridge(req))
		jv_bridge_trigger(jv_api_bridge(req)); /* due now */
	json_t *ans = changed_unchanged(res, ids);
	PQclear(res);
	jv_api_json(req, 200, ans);
}

const struct jv_api_route jv_api_jobs_routes[] = {
	{"POST", "/api/jobs", JV_API_BULK | JV_API_OPERATOR, jobs_create, "enqueue a job, or up to 10 000 at once"},
	{"GET", "/api/jobs", 0, jobs_list,
	 "list and search jobs, newest first (status, type, user, queue, id, workflow, q, from, "
	 "to, after)"},
	{"POST", "/api/jobs/cancel", JV_API_OPERATOR, jobs_cancel_many, "cancel up to 1 000 jobs"},
	{"POST", "/api/jobs/retry", JV_API_OPERATOR, jobs_retry_many, "run up to 1 000 failed or cancelled jobs again"},
	{"GET", "/api/jobs/{id}", 0, jobs_get, "one job with its payload, result and executions"},
	{"POST", "/api/jobs/{id}/cancel", JV_API_OPERATOR, jobs_cancel, "cancel a pending, waiting or running job"},
	{"POST", "/api/jobs/{id}/retry", JV_API_OPERATOR, jobs_retry, "run a failed or cancelled job again"},
	{NULL, NULL, 0, NULL, NULL},
};

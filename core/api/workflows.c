/*
 * workflows.c -- the workflows routes (DESIGN.md "Dependencies, workflows,
 * bulk, progress"):
 *
 *   POST /api/workflows               jobvisor.enqueue_workflow(body, NULL)
 *   GET  /api/workflows?status=&limit=&after=
 *   GET  /api/workflows/{id}          the workflow with its steps
 *   POST /api/workflows/{id}/cancel   jobvisor.cancel_workflow(id, ...)
 *
 * The body of POST /api/workflows goes to the database as it came:
 * enqueue_workflow() checks everything (keys, dependsOn, cycles, limits)
 * and inserts the steps in one transaction, so the rules live in one place
 * for the API, the CLI and SQL; its errors (SQLSTATE 22023, naming the
 * step and the key) are 400s with its message. The answers are built by
 * PostgreSQL (json_build_object keeps the key order); times are ISO-8601
 * in UTC.
 */
#include "api/api.h"

#include "api/bridge.h"
#include "lib/jsontext.h"
#include "lib/sizelimits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const no_args[] = {NULL};

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Workflows GET /api/workflows examines at most per request when it
 * filters by status (a workflow's status is computed from its steps). */
#define JV_API_WORKFLOW_SCAN 1000

/* The {id} of the path, or NULL after answering 400. */
static const char *workflow_id_param(struct jv_api_req *req, int64_t *id)
{
	const char *text = jv_api_param(req, 0);
	if (jv_api_parse_int(req, "the workflow id", text, INT64_MAX, id) != 0)
		return NULL;
	return text;
}

/* ----------------------------------------------------- POST /api/workflows */

static void workflows_create(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	json_t *body = jv_api_json_body(req);
	if (!body || !json_is_object(body)) {
		jv_api_error(req, 400,
			     "the body must be a JSON object: {\"name\": ..., \"jobs\": [{\"key\": "
			     "..., \"type\": ..., \"dependsOn\": [keys]}, ...]}");
		return;
	}
	size_t len;
	const char *params[] = {jv_api_body(req, &len)};
	PGresult *res = jv_api_query_db(
	    req, "SELECT jobvisor.enqueue_workflow($1::jsonb, NULL)::text", 1, params);
	if (!res)
		return; /* (22023: 400 with the function's message) */
	json_t *j = jv_api_pg_json(req, res, 0, 0);
	PQclear(res);
	if (!j)
		return;
	if (jv_api_commit(req) != 0) {
		json_decref(j);
		return;
	}
	jv_api_json(req, 201, j);
}

/* ------------------------------------------------------ GET /api/workflows */

/* A workflow's counts of steps by status, every status present. */
#define COUNTS(w)                                                                              \
	"(SELECT json_build_object('waiting', count(*) FILTER (WHERE s.status = 'waiting'),"   \
	" 'pending', count(*) FILTER (WHERE s.status = 'pending'),"                            \
	" 'running', count(*) FILTER (WHERE s.status = 'running'),"                            \
	" 'succeeded', count(*) FILTER (WHERE s.status = 'succeeded'),"                        \
	" 'failed', count(*) FILTER (WHERE s.status = 'failed'),"                              \
	" 'cancelled', count(*) FILTER (WHERE s.status = 'cancelled'))"                        \
	" FROM jobvisor.jobs s WHERE s.workflow_id = " w ")"

/* GET /api/workflows?status=&limit=&after=: newest first. Without status,
 * limit + 1 workflows by primary key; with one, the newest
 * JV_API_WORKFLOW_SCAN below `after` are examined (each status is computed
 * from the steps through the workflow index), and when they did not fill
 * the page, next continues below them. */
static void workflows_list(struct jv_api_req *req)
{
	static const char *const args[] = {"status", "limit", "after", NULL};
	static const char *const wstatuses[] = {"running", "succeeded", "failed", "cancelled",
						NULL};
	if (jv_api_only_query(req, args))
		return;
	const char *status = jv_api_query(req, "status");
	const char *limit_s = jv_api_query(req, "limit");
	const char *after_s = jv_api_query(req, "after");
	if (status) {
		int known = 0;
		for (int s = 0; wstatuses[s] && !known; s++)
			known = !strcmp(wstatuses[s], status);
		if (!known) {
			jv_api_error(req, 400,
				     "status must be one of running, succeeded, failed, cancelled; "
				     "got '%.40s'",
				     status);
			return;
		}
	}
	int64_t limit = 50, after = 0;
	if (limit_s && jv_api_parse_int(req, "limit", limit_s, 1000, &limit) != 0)
		return;
	if (limit_s && limit < 1) {
		jv_api_error(req, 400, "limit must be an integer between 1 and 1000, got '0'");
		return;
	}
	if (after_s && jv_api_parse_int(req, "after", after_s, INT64_MAX, &after) != 0)
		return;
	char lim[24], scan[24];
	snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
	snprintf(scan, sizeof scan, "%lld",
		 status ? (long long)JV_API_WORKFLOW_SCAN : (long long)limit + 1);
	const char *params[] = {status, after_s, lim, scan};
	/* w: the window examined; the rows of the page, then one row with
	 * the count examined and the lowest id examined */
	PGresult *res = jv_api_query_db(
	    req,
	    "WITH w AS MATERIALIZED (SELECT f.id, f.name, f.created_at, f.created_by,"
	    "  jobvisor.workflow_status(f.id) AS status FROM jobvisor.workflows f"
	    "  WHERE $2::bigint IS NULL OR f.id < $2::bigint ORDER BY f.id DESC LIMIT $4::bigint)"
	    " SELECT * FROM (SELECT json_build_object('id', w.id, 'name', w.name,"
	    "  'createdAt', " ISO("w.created_at") ", 'createdBy', w.created_by,"
	    "  'status', w.status, 'counts', " COUNTS("w.id") ")::text, w.id"
	    "  FROM w WHERE $1::text IS NULL OR w.status = $1::text"
	    "  ORDER BY w.id DESC LIMIT $3::bigint) p"
	    " UNION ALL SELECT (SELECT count(*) || ' ' || coalesce(min(id), 0) FROM w), -1"
	    " ORDER BY 2 DESC",
	    4, params);
	if (!res)
		return;
	int rows = PQntuples(res) - 1;
	if (rows < 0) {
		PQclear(res);
		jv_api_error(req, 500, "internal error: no window from the database");
		return;
	}
	char *end;
	long long examined = strtoll(PQgetvalue(res, rows, 0), &end, 10);
	long long lowest = strtoll(end, NULL, 10);
	json_t *list;
	int more;
	if (jv_api_page(req, res, rows, limit, &list, &more) != 0) {
		PQclear(res);
		return;
	}
	if (more)
		rows = (int)limit;
	json_t *next = json_null();
	if (more) {
		next = json_integer(strtoll(PQgetvalue(res, rows - 1, 1), NULL, 10));
	} else if (status && examined >= JV_API_WORKFLOW_SCAN && lowest > 1) {
		next = json_integer(lowest);
	}
	PQclear(res);
	jv_api_json(req, 200, json_pack("{s:o, s:o}", "workflows", list, "next", next));
}

/* ------------------------------------------------- GET /api/workflows/{id} */

static void workflows_get(struct jv_api_req *req)
{
	int64_t id;
	const char *idt;
	if (jv_api_only_query(req, no_args) || !(idt = workflow_id_param(req, &id)))
		return;
	const char *params[] = {idt};
	PGresult *res = jv_api_query_db(
	    req,
	    "SELECT json_build_object('id', w.id, 'name', w.name,"
	    " 'createdAt', " ISO("w.created_at") ", 'createdBy', w.created_by,"
	    " 'status', jobvisor.workflow_status(w.id), 'counts', " COUNTS("w.id") ","
	    " 'steps', (SELECT coalesce(json_agg(json_build_object('key', j.workflow_key,"
	    "  'id', j.id, 'type', j.type, 'status', j.status,"
	    "  'dependsOn', (SELECT coalesce(json_agg(coalesce(p.workflow_key, p.id::text)"
	    "    ORDER BY p.id), '[]') FROM jobvisor.job_dependencies d"
	    "    JOIN jobvisor.jobs p ON p.id = d.depends_on WHERE d.job_id = j.id),"
	    "  'runWhen', j.run_when, 'attempts', j.attempts, 'progress', j.progress,"
	    "  'progressNote', j.progress_note, 'lastError', j.last_error,"
	    "  'blockedBy', j.blocked_by, 'createdAt', " ISO("j.created_at") ","
	    "  'finishedAt', " ISO("j.finished_at") ") ORDER BY j.id), '[]')"
	    "  FROM jobvisor.jobs j WHERE j.workflow_id = w.id))::text"
	    " FROM jobvisor.workflows w WHERE w.id = $1::bigint",
	    1, params);
	if (!res)
		return;
	if (PQntuples(res) == 0) {
		PQclear(res);
		jv_api_error(req, 404, "no workflow %lld", (long long)id);
		return;
	}
	json_t *j = jv_api_pg_json(req, res, 0, 0);
	PQclear(res);
	if (j)
		jv_api_json(req, 200, j);
}

/* ------------------------------------------ POST /api/workflows/{id}/cancel */

/* Its unfinished steps cancelled (running ones stopped by the processor
 * that runs them: cancel_workflow() NOTIFYs each on jobvisor_cancel). */
static void workflows_cancel(struct jv_api_req *req)
{
	int64_t id;
	const char *idt;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, no_args) ||
	    !(idt = workflow_id_param(req, &id)))
		return;
	const char *params[] = {idt};
	PGresult *res = jv_api_query_db(
	    req,
	    "SELECT jobvisor.cancel_workflow(w.id, 'cancelled through the API')"
	    " FROM jobvisor.workflows w WHERE w.id = $1::bigint",
	    1, params);
	if (!res)
		return;
	if (PQntuples(res) == 0) {
		PQclear(res);
		jv_api_error(req, 404, "no workflow %lld", (long long)id);
		return;
	}
	long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (jv_api_commit(req) != 0)
		return;
	jv_api_json(req, 200,
		    json_pack("{s:I, s:I}", "id", (json_int_t)id, "cancelled", (json_int_t)n));
}

const struct jv_api_route jv_api_workflows_routes[] = {
	{"POST", "/api/workflows", JV_API_BULK | JV_API_OPERATOR, workflows_create,
	 "enqueue a workflow: named steps with dependencies, in one transaction"},
	{"GET", "/api/workflows", 0, workflows_list, "list workflows, newest first (status, after)"},
	{"GET", "/api/workflows/{id}", 0, workflows_get, "one workflow with its steps"},
	{"POST", "/api/workflows/{id}/cancel", JV_API_OPERATOR, workflows_cancel,
	 "cancel a workflow's unfinished steps"},
	{NULL, NULL, 0, NULL, NULL},
};

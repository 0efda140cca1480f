/*
 * api_dashboard.c -- the web dashboard and the routes only it needed.
 *
 * GET / and GET /ui/{file} serve the files embedded by web/embed.sh. They
 * are public: the page holds no data, it asks the token of the operator
 * (kept in the browser's sessionStorage, never in a URL) and reads
 * everything through the API with it. Every answer carries a
 * Content-Security-Policy that lets the page talk to this origin only, so
 * no request from it can leave the host it was loaded from.
 *
 * GET /api/alerts lists the alerts history a page at a time; POST
 * /api/processors/{id}/pause|resume reach any processor, not only the one
 * serving the request: the request is written to the processor's row
 * (control_pause, control_seq) and travels by NOTIFY on jobvisor_control,
 * which every processor listens to; one that cannot LISTEN (behind a
 * transaction pooler) reads its row every poll interval (serve.c,
 * sql/010_engine_fence.sql).
 */
#include "api.h"

#include "bridge.h"
#include "db.h"
#include "jsontext.h"
#include "web.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const no_args[] = {NULL};

/* ------------------------------------------------------------ the files */

/* The page may load its own scripts, styles and data and nothing else: no
 * inline script, no other origin, no framing. SVG charts are drawn by the
 * script as DOM nodes; style attributes it sets need no 'unsafe-inline'
 * (CSSOM), but the page's <svg> presentation attributes are plain
 * attributes. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
			  "form-action 'none'; frame-ancestors 'none'";

/* FNV-1a of a file, as a strong ETag: the files only change with the
 * binary, so this is computed once per file and kept. */
static void etag_of(const struct jv_web_file *f, char *out, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < f->len; i++)
		h = (h ^ f->data[i]) * 1099511628211ULL;
	snprintf(out, len, "\"%016" PRIx64 "\"", h);
}

/* Does an If-None-Match header name etag? It holds "*" or a list of
 * entity tags, each maybe weak (W/"..."), compared weakly (RFC 9110,
 * 13.1.2). */
static int etag_listed(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (!strncmp(p, "W/", 2))
			p += 2;
		size_t n = strcspn(p, ", \t");
		if (n == elen && !memcmp(p, etag, n))
			return 1;
		p += n;
	}
	return 0;
}

static void serve_file(struct jv_api_req *req, const char *name)
{
	const struct jv_web_file *f = NULL;
	for (const struct jv_web_file *w = jv_web_files; w->name; w++)
		if (!strcmp(w->name, name))
			f = w;
	if (!f) {
		jv_api_error(req, 404, "no such file: /ui/%.100s", name);
		return;
	}
	char etag[24];
	etag_of(f, etag, sizeof etag);
	jv_api_add_header(req, "Content-Security-Policy", csp);
	jv_api_add_header(req, "X-Content-Type-Options", "nosniff");
	jv_api_add_header(req, "Referrer-Policy", "no-referrer");
	jv_api_add_header(req, "X-Frame-Options", "DENY");
	jv_api_add_header(req, "Cache-Control", "no-cache");
	jv_api_add_header(req, "ETag", etag);
	const char *inm = jv_api_header(req, "If-None-Match");
	if (inm && etag_listed(inm, etag)) {
		jv_api_text(req, 304, f->content_type, "", 0);
		return;
	}
	jv_api_text(req, 200, f->content_type, (const char *)f->data, f->len);
}

/* GET / */
static void page(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	serve_file(req, "index.html");
}

/* GET /ui/{file} */
static void asset(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	const char *name = jv_api_param(req, 0);
	if (!strcmp(name, "index.html")) {
		jv_api_error(req, 404, "no such file: /ui/index.html (the page is /)");
		return;
	}
	serve_file(req, name);
}

/* --------------------------------------------------------------- alerts */

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* $1 after (id) or NULL, $2 status or NULL, $3 event or NULL, $4 limit+1.
 * Newest first through alerts' primary key. */
static const char sql_alerts[] =
    "SELECT json_build_object('id', a.id, 'createdAt', " ISO("a.created_at") ","
    " 'firstAt', " ISO("a.first_at") ", 'lastAt', " ISO("a.last_at") ","
    " 'sentAt', " ISO("a.sent_at") ", 'status', a.status, 'sink', a.sink, 'plugin', a.plugin,"
    " 'event', a.event, 'count', a.count, 'jobId', a.job_id, 'jobType', a.job_type,"
    " 'user', a.user_id, 'title', a.title, 'attempts', a.attempts, 'error', a.error,"
    " 'processor', a.processor)::text, a.id"
    " FROM jobvisor.alerts a"
    " WHERE ($1::bigint IS NULL OR a.id < $1::bigint)"
    " AND ($2::text IS NULL OR a.status = $2::text) AND ($3::text IS NULL OR a.event = $3::text)"
    " ORDER BY a.id DESC LIMIT $4::bigint";

/* GET /api/alerts?status=&event=&limit=&after= */
static void alerts_list(struct jv_api_req *req)
{
	static const char *const args[] = {"status", "event", "limit", "after", NULL};
	if (jv_api_only_query(req, args))
		return;
	int64_t limit = 50, after = 0;
	const char *lt = jv_api_query(req, "limit"), *at = jv_api_query(req, "after");
	if ((lt && jv_api_parse_int(req, "limit", lt, 500, &limit) != 0) ||
	    (at && jv_api_parse_int(req, "after", at, INT64_MAX, &after) != 0))
		return;
	if (limit < 1) {
		jv_api_error(req, 400, "limit must be between 1 and 500");
		return;
	}
	const char *st = jv_api_query(req, "status");
	if (st && strcmp(st, "sent") && strcmp(st, "failed") && strcmp(st, "dropped")) {
		jv_api_error(req, 400, "status must be one of sent, failed, dropped");
		return;
	}
	char lim[24];
	snprintf(lim, sizeof lim, "%" PRId64, limit + 1);
	const char *params[] = {at, st, jv_api_query(req, "event"), lim};
	PGresult *res = jv_api_query_db(req, sql_alerts, 4, params);
	if (!res)
		return;
	json_t *list = json_array();
	int n = PQntuples(res) > limit ? (int)limit : PQntuples(res);
	for (int i = 0; i < n; i++) {
		json_t *a = jv_json_load_pg(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0),
					    0, NULL, 0);
		if (!a) {
			json_decref(list);
			PQclear(res);
			jv_api_error(req, 500, "internal error: unreadable JSON from the database");
			return;
		}
		json_array_append_new(list, a);
	}
	json_t *next = PQntuples(res) > limit
			       ? json_integer(strtoll(PQgetvalue(res, n - 1, 1), NULL, 10))
			       : json_null();
	PQclear(res);
	jv_api_json(req, 200, json_pack("{s:o, s:o}", "alerts", list, "next", next));
}

/* ----------------------------------------------------------- processors */

/* $1 id, $2 the request ("pause 7"), $3 "pause" or "resume": the
 * processor's state, and whether the request was made (not to a stopping or
 * stopped one). */
static const char sql_control[] =
    "WITH upd AS (UPDATE jobvisor.processors SET control_pause = ($3::text = 'pause'),"
    "  control_seq = control_seq + 1"
    " WHERE id = $1::bigint AND state IN ('running', 'paused') RETURNING id)"
    " SELECT p.state, CASE WHEN EXISTS (SELECT 1 FROM upd) THEN"
    " (SELECT count(pg_notify('" JV_DB_CONTROL_CHANNEL "', $2::text))) END"
    " FROM jobvisor.processors p WHERE p.id = $1::bigint";

static void control(struct jv_api_req *req, const char *verb)
{
	int64_t id;
	const char *idt = jv_api_param(req, 0);
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, no_args) ||
	    jv_api_parse_int(req, "the processor id", idt, INT64_MAX, &id) != 0)
		return;
	char msg[48];
	snprintf(msg, sizeof msg, "%s %" PRId64, verb, id);
	const char *params[] = {idt, msg, verb};
	PGresult *res = jv_api_query_db(req, sql_control, 3, params);
	if (!res)
		return;
	if (PQntuples(res) == 0) {
		PQclear(res);
		jv_api_error(req, 404, "no processor %" PRId64, id);
		return;
	}
	char state[16];
	snprintf(state, sizeof state, "%s", PQgetvalue(res, 0, 0));
	int sent = !PQgetisnull(res, 0, 1);
	PQclear(res);
	if (!sent) {
		jv_api_error(req, 409, "processor %" PRId64 " is %s", id, state);
		return;
	}
	/* This processor's own engine hears the NOTIFY too; the bridge only
	 * makes it take effect before this answer is read. */
	struct jv_bridge *b = jv_api_bridge(req);
	struct jv_engine_view v;
	if (b && jv_bridge_view(b, &v) == 0 && v.processor_id == id)
		jv_bridge_pause(b, !strcmp(verb, "pause"));
	jv_api_json(req, 202,
		    json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "requested", verb, "state",
			      state));
}

static void processor_pause(struct jv_api_req *req)
{
	control(req, "pause");
}

static void processor_resume(struct jv_api_req *req)
{
	control(req, "resume");
}

const struct jv_api_route jv_api_dashboard_routes[] = {
	{"GET", "/", JV_API_PUBLIC | JV_API_NO_DB, page, "the dashboard"},
	{"GET", "/ui/{file}", JV_API_PUBLIC | JV_API_NO_DB, asset, "the dashboard's script and style"},
	{"GET", "/api/alerts", 0, alerts_list, "the alerts history, newest first"},
	{"POST", "/api/processors/{id}/pause", 0, processor_pause,
	 "pause claiming on any processor"},
	{"POST", "/api/processors/{id}/resume", 0, processor_resume,
	 "resume claiming on any processor"},
	{NULL, NULL, 0, NULL, NULL},
};

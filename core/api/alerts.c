/*
 * alerts.c -- GET /api/alerts: the alerts history (jobvisor.alerts), a page
 * at a time, newest first.
 */
#include "api/api.h"

#include "lib/db.h"
#include "lib/jsontext.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	json_t *list;
	int more;
	if (jv_api_page(req, res, PQntuples(res), limit, &list, &more) != 0) {
		PQclear(res);
		return;
	}
	json_t *next =
	    more ? json_integer(strtoll(PQgetvalue(res, (int)limit - 1, 1), NULL, 10)) : json_null();
	PQclear(res);
	jv_api_json(req, 200, json_pack("{s:o, s:o}", "alerts", list, "next", next));
}

const struct jv_api_route jv_api_alerts_routes[] = {
	{"GET", "/api/alerts", 0, alerts_list, "the alerts history, newest first"},
	{NULL, NULL, 0, NULL, NULL},
};

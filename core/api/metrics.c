/*
 * metrics.c -- GET /metrics (Prometheus text format 0.0.4) and GET
 * /api/openapi.json (the OpenAPI document, embedded at build time).
 *
 * A scrape must not fail because PostgreSQL is down or slow: the gauges read
 * from the database are left out then, jobvisor_database_up says 0, and the
 * answer is still 200 with what the process knows by itself (the engine's
 * snapshot and the counters by type of stats.c). The route is
 * JV_API_DB_OPTIONAL: it waits at most 0.5 s for a database worker, and
 * its queries at most 0.5 s for a lock (api.h).
 */
#include "autoconf.h"

#include "api/api.h"

#include "api/bridge.h"
#include "api/stats.h"
#include "config/config.h"
#include "lib/mem.h"
#include "sched/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* core/openapi_json.c, generated from docs/openapi.yaml (core/api.mk). */
extern const char jv_openapi_json[];
extern const unsigned long jv_openapi_json_len;

static const char *const no_args[] = {NULL};

static const char *const job_statuses[] = {"pending", "waiting", "running", "succeeded",
					   "failed",  "cancelled"};
static const char *const processor_states[] = {"running", "paused", "stopping", "stopped"};

static void family(struct jv_buf *out, const char *name, const char *type, const char *help)
{
	jv_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample without labels. */
static void single(struct jv_buf *out, const char *name, const char *type, const char *help,
		   double value)
{
	family(out, name, type, help);
	jv_buf_printf(out, "%s %.17g\n", name, value);
}

/* The value of row 0, column col as a number; 0 when NULL. */
static double num(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0.0 : strtod(PQgetvalue(res, row, col), NULL);
}

/* The gauges read from the database; 0 when a query failed (nothing of it
 * was written then). Queries run on the request's connection directly, not
 * through jv_api_query_db(), whose failures answer the request. */
static int db_gauges(PGconn *db, struct jv_buf *out)
{
	/* By partial indexes and the primary key (sql/014_throughput.sql):
	 * no index covers one status of all jobs. */
	static const char sql_jobs[] = "SELECT status, n FROM jobvisor.job_counts()";
	static const char sql_oldest[] =
	    "SELECT coalesce(extract(epoch FROM now() - jobvisor.oldest_due()), 0)::float8";
	static const char sql_procs[] =
	    "SELECT state, count(*) FROM jobvisor.processors GROUP BY state";
	/* History retention (sql/012_retention.sql): index probes, no scan. */
	static const char sql_history[] =
	    "SELECT coalesce(extract(epoch FROM now() - o.finished_at), 0)::float8,"
	    " coalesce(extract(epoch FROM now() - o.execution_at), 0)::float8,"
	    " coalesce(extract(epoch FROM h.last_finished_at), 0)::float8 "
	    "FROM jobvisor.history_oldest() o LEFT JOIN jobvisor.history_purge h ON true";
	PGresult *jobs = PQexec(db, sql_jobs);
	PGresult *oldest = PQexec(db, sql_oldest);
	PGresult *procs = PQexec(db, sql_procs);
	PGresult *hist = PQexec(db, sql_history);
	int ok = PQresultStatus(jobs) == PGRES_TUPLES_OK &&
		 PQresultStatus(oldest) == PGRES_TUPLES_OK && PQntuples(oldest) == 1 &&
		 PQresultStatus(procs) == PGRES_TUPLES_OK &&
		 PQresultStatus(hist) == PGRES_TUPLES_OK && PQntuples(hist) == 1;
	if (ok) {
		family(out, "jobvisor_jobs", "gauge", "Jobs in the database, by status.");
		for (size_t i = 0; i < sizeof job_statuses / sizeof *job_statuses; i++) {
			double n = 0;
			for (int r = 0; r < PQntuples(jobs); r++)
				if (!strcmp(PQgetvalue(jobs, r, 0), job_statuses[i]))
					n = num(jobs, r, 1);
			jv_buf_printf(out, "jobvisor_jobs{status=\"%s\"} %.17g\n", job_statuses[i], n);
		}
		single(out, "jobvisor_oldest_due_pending_age_seconds", "gauge",
		       "How long the oldest due pending job has waited (0: none waits).",
		       num(oldest, 0, 0));
		family(out, "jobvisor_processors", "gauge",
		       "Processors registered in the database, by state.");
		for (size_t i = 0; i < sizeof processor_states / sizeof *processor_states; i++) {
			double n = 0;
			for (int r = 0; r < PQntuples(procs); r++)
				if (!strcmp(PQgetvalue(procs, r, 0), processor_states[i]))
					n = num(procs, r, 1);
			jv_buf_printf(out, "jobvisor_processors{state=\"%s\"} %.17g\n",
				      processor_states[i], n);
		}
		single(out, "jobvisor_history_oldest_finished_job_age_seconds", "gauge",
		       "Since the oldest finished job kept finished (0: none); history retention "
		       "keeps it near history.retention_days.",
		       num(hist, 0, 0));
		single(out, "jobvisor_history_oldest_execution_age_seconds", "gauge",
		       "Since the oldest execution kept started (0: none).", num(hist, 0, 1));
		single(out, "jobvisor_history_last_purge_timestamp_seconds", "gauge",
		       "When the last history retention round finished, by any processor "
		       "(Unix time; 0: never).",
		       num(hist, 0, 2));
	}
	PQclear(jobs);
	PQclear(oldest);
	PQclear(procs);
	PQclear(hist);
	return ok;
}

/* The queues' gauges (sql/015_queues.sql): queue_stats() reads the live
 * jobs through their partial indexes, user_stats() likewise; nothing is
 * written when either fails (the transaction is then aborted: this runs
 * last). Queue names are of [a-z0-9_.-]: label values without escapes. */
static void flow_gauges(PGconn *db, int per_user, struct jv_buf *out)
{
	static const char sql_queues[] =
	    "SELECT name, pending, running, paused, global_concurrency, window_starts,"
	    " coalesce(held_by, '') FROM jobvisor.queue_stats()";
	static const char *const held[] = {"paused", "global_concurrency", "rate_limit"};
	char lim[16];
	snprintf(lim, sizeof lim, "%d", per_user);
	const char *params[] = {lim};
	PGresult *q = PQexec(db, sql_queues);
	PGresult *u = PQresultStatus(q) == PGRES_TUPLES_OK
			  ? PQexecParams(db,
					 "SELECT count(*) FROM jobvisor.user_stats($1::integer)"
					 " WHERE at_limit",
					 1, NULL, params, NULL, NULL, 0)
			  : NULL;
	if (!u || PQresultStatus(u) != PGRES_TUPLES_OK || PQntuples(u) != 1) {
		PQclear(q);
		PQclear(u);
		return;
	}
	int n = PQntuples(q);
	family(out, "jobvisor_queue_jobs", "gauge", "Jobs pending (due or not) and running, by queue.");
	for (int r = 0; r < n; r++) {
		jv_buf_printf(out, "jobvisor_queue_jobs{queue=\"%s\",status=\"pending\"} %.17g\n",
			      PQgetvalue(q, r, 0), num(q, r, 1));
		jv_buf_printf(out, "jobvisor_queue_jobs{queue=\"%s\",status=\"running\"} %.17g\n",
			      PQgetvalue(q, r, 0), num(q, r, 2));
	}
	family(out, "jobvisor_queue_paused", "gauge",
	       "1 when the queue is paused for every processor (POST /api/queues/NAME/pause).");
	for (int r = 0; r < n; r++)
		jv_buf_printf(out, "jobvisor_queue_paused{queue=\"%s\"} %d\n", PQgetvalue(q, r, 0),
			      !strcmp(PQgetvalue(q, r, 3), "t"));
	int any = 0;
	for (int r = 0; r < n; r++) {
		if (PQgetisnull(q, r, 4))
			continue;
		if (!any++)
			family(out, "jobvisor_queue_global_concurrency", "gauge",
			       "The queue's global_concurrency: jobs running at once on all "
			       "processors at most (only queues with one).");
		jv_buf_printf(out, "jobvisor_queue_global_concurrency{queue=\"%s\"} %.17g\n",
			      PQgetvalue(q, r, 0), num(q, r, 4));
	}
	family(out, "jobvisor_queue_rate_window_starts", "gauge",
	       "Starts in the queue's current rate_limit window, all partitions (0 without a "
	       "rate limit).");
	for (int r = 0; r < n; r++)
		jv_buf_printf(out, "jobvisor_queue_rate_window_starts{queue=\"%s\"} %.17g\n",
			      PQgetvalue(q, r, 0), num(q, r, 5));
	family(out, "jobvisor_queue_held", "gauge",
	       "1 when the queue's due jobs are held back, by what holds them.");
	for (int r = 0; r < n; r++)
		for (size_t h = 0; h < sizeof held / sizeof *held; h++)
			jv_buf_printf(out, "jobvisor_queue_held{queue=\"%s\",by=\"%s\"} %d\n",
				      PQgetvalue(q, r, 0), held[h],
				      !strcmp(PQgetvalue(q, r, 6), held[h]));
	single(out, "jobvisor_users_at_limit", "gauge",
	       "Users with as many jobs running as their limit (user_limits.max_running, else "
	       "processor.per_user_limit).",
	       num(u, 0, 0));
	PQclear(q);
	PQclear(u);
}

static void engine_gauges(const struct jv_engine_view *v, struct jv_buf *out)
{
	single(out, "jobvisor_running_jobs", "gauge",
	       "Jobs claimed by this process and not finished yet.", v->inflight);
	single(out, "jobvisor_prefetched_jobs", "gauge",
	       "Jobs claimed ahead (processor.prefetch), waiting in this process for a free slot.",
	       v->prefetched);
	family(out, "jobvisor_workers", "gauge", "Worker processes of this process, by state.");
	jv_buf_printf(out, "jobvisor_workers{state=\"busy\"} %d\n", v->workers_busy);
	jv_buf_printf(out, "jobvisor_workers{state=\"idle\"} %d\n",
		      v->workers_total - v->workers_busy);
	single(out, "jobvisor_worker_threads", "gauge",
	       "Threads of the in-process pool (isolation: thread); 0 when none.",
	       v->threads_total);
	single(out, "jobvisor_last_heartbeat_timestamp_seconds", "gauge",
	       "When this process last wrote its heartbeat (Unix time; 0: not yet).",
	       (double)v->last_heartbeat_unix_ms / 1000.0);
	single(out, "jobvisor_paused", "gauge", "1 when claiming is paused (POST /api/cron/stop).",
	       v->paused ? 1 : 0);
	single(out, "jobvisor_draining", "gauge", "1 while this process shuts down.",
	       v->draining ? 1 : 0);
	single(out, "jobvisor_engine_database_connected", "gauge",
	       "1 when the engine's own database connection is up.", v->db_connected ? 1 : 0);
	single(out, "jobvisor_alerts_sent_total", "counter", "Alert messages delivered.",
	       (double)v->alerts.sent);
	single(out, "jobvisor_alerts_failed_total", "counter",
	       "Alert messages given up on after their attempts, or refused.",
	       (double)v->alerts.failed);
	single(out, "jobvisor_alerts_dropped_total", "counter",
	       "Alert events dropped because a sink's queue was full.", (double)v->alerts.dropped);
	single(out, "jobvisor_database_reconnects_total", "counter",
	       "Times the engine reconnected to the database.", (double)v->db_reconnects);
	single(out, "jobvisor_process_jobs_claimed_total", "counter",
	       "Jobs claimed by this process (all types).", (double)v->claimed);
	single(out, "jobvisor_attempts_recorded_total", "counter",
	       "Attempt results this process recorded in the database.", (double)v->completed);
}

/* GET /metrics */
static void metrics(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	struct jv_buf out = {0};
	struct jv_engine_view v;
	struct jv_bridge *b = jv_api_bridge(req);
	int have = b && jv_bridge_view(b, &v) == 0;

	single(&out, "jobvisor_up", "gauge", "1: this process answers.", 1);
	family(&out, "jobvisor_build_info", "gauge", "The version of jobvisor, as a label.");
	jv_buf_puts(&out, "jobvisor_build_info{version=\"" PACKAGE_VERSION "\"} 1\n");
	single(&out, "jobvisor_engine_up", "gauge",
	       "1 when the engine has published its state to the API.", have ? 1 : 0);

	/* Asking the pool for a connection when the engine knows the database
	 * is gone would only wait and answer 503: skip it. */
	int db_up = 0;
	if (!have || v.db_connected) {
		const char *why;
		PGconn *db = jv_api_db_try(req, &why);
		if (db)
			db_up = db_gauges(db, &out);
		if (db_up)
			flow_gauges(db, jv_api_config(req)->processor.per_user_limit, &out);
	}
	single(&out, "jobvisor_database_up", "gauge",
	       "1 when the database answered this scrape's queries.", db_up);
	if (have)
		engine_gauges(&v, &out);
	jv_stats_render(&out);
	jv_retention_render(&out);
	jv_api_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "",
		    out.len);
	jv_buf_free(&out);
}

/* GET /api/openapi.json */
static void openapi(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	jv_api_text(req, 200, "application/json", jv_openapi_json, (size_t)jv_openapi_json_len);
}

const struct jv_api_route jv_api_metrics_routes[] = {
	{"GET", "/metrics", JV_API_PUBLIC | JV_API_METRICS | JV_API_DB_OPTIONAL, metrics,
	 "Prometheus metrics (text format 0.0.4)"},
	{"GET", "/api/openapi.json", JV_API_NO_DB, openapi, "the OpenAPI document of this API"},
	{NULL, NULL, 0, NULL, NULL},
};

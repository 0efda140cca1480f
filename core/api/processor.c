/*
 * processor.c -- controlling processors. This one's routes keep the
 * original cron processor's paths, /api/cron/...: pause and resume
 * claiming, health for load balancers, status and queue views, claim now
 * (also from an outside cron through the webhook), and resetting stuck
 * jobs.
 *
 * POST /api/processors/{id}/pause|resume reach any processor, not only the
 * one serving the request: the request is written to the processor's row
 * (control_pause, control_seq) and travels by NOTIFY on jobvisor_control,
 * which every processor listens to; one that cannot LISTEN (behind a
 * transaction pooler) reads its row every poll interval (engine/control.c,
 * sql/010_engine_fence.sql).
 */
#include "api/api.h"

#include "api/bridge.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const no_args[] = {NULL};

/* The engine's snapshot, or NULL after answering 503. */
static int engine_view(struct jv_api_req *req, struct jv_engine_view *v)
{
	struct jv_bridge *b = jv_api_bridge(req);
	if (!b || jv_bridge_view(b, v) != 0) {
		jv_api_error(req, 503, "the engine is not running");
		return -1;
	}
	return 0;
}

static json_t *processor_json(const struct jv_engine_view *v)
{
	int64_t now = (int64_t)jv_now_ms();
	return json_pack("{s:I, s:s, s:s, s:i, s:s, s:b, s:b, s:I, s:o, s:i, s:i, s:i, s:i, s:i, s:{s:i, "
			 "s:i, s:i}, s:I, s:I, s:I}",
			 "id", (json_int_t)v->processor_id, "name", v->name, "hostname",
			 v->hostname, "pid", v->pid, "state",
			 v->draining ? "stopping" : v->paused ? "paused" : "running", "paused",
			 v->paused, "databaseConnected", v->db_connected, "uptimeSeconds",
			 (json_int_t)((now - (int64_t)v->started_mono_ms) / 1000), "heartbeatAgeSeconds",
			 v->last_heartbeat_unix_ms
				 ? json_real((double)(now - (int64_t)v->last_heartbeat_mono_ms) / 1000.0)
				 : json_null(),
			 "batchSize", v->batch_size, "maxConcurrentJobs", v->max_concurrent,
			 "runningJobs", v->inflight, "prefetchedJobs", v->prefetched, "threads",
			 v->threads_total, "workers",
			 "total", v->workers_total, "busy", v->workers_busy, "idle",
			 v->workers_total - v->workers_busy, "claimed", (json_int_t)v->claimed,
			 "completed", (json_int_t)v->completed, "databaseReconnects",
			 (json_int_t)v->db_reconnects);
}

/* The shortest timeoutMinutes reset-stuck-jobs takes: the safe rescue
 * horizon (jv_config_min_stuck_ms) in minutes, rounded up to a hundredth
 * (0.6 s), so the number shown is one the route accepts. */
static double min_stuck_minutes(const struct jv_config *cfg)
{
	int64_t hundredths = (jv_config_min_stuck_ms(cfg) + 599) / 600; /* rounded up */
	return (double)hundredths / 100.0;
}

/* Minutes as JSON: an integer when whole, else a real. */
static json_t *minutes_json(int64_t ms)
{
	return ms % 60000 ? json_real((double)ms / 60000.0) : json_integer((json_int_t)(ms / 60000));
}

/* The rescue settings, into this processor's object of status: the
 * dashboard resets stuck jobs with stuckJobTimeoutMinutes. */
static void add_rescue_settings(json_t *proc, const struct jv_config *cfg)
{
	json_object_set_new(proc, "heartbeatIntervalMs",
			    json_integer(cfg->processor.heartbeat_interval_ms));
	json_object_set_new(proc, "stuckJobTimeoutMinutes",
			    minutes_json(cfg->processor.stuck_job_timeout_ms));
	double least = min_stuck_minutes(cfg);
	json_object_set_new(proc, "minStuckJobTimeoutMinutes",
			    least == (double)(int64_t)least ? json_integer((json_int_t)least)
							    : json_real(least));
}

/* POST /api/cron/start {"batchSize": N, "maxConcurrentJobs": N} */
static void cron_start(struct jv_api_req *req)
{
	static const char *const keys[] = {"batchSize", "maxConcurrentJobs", NULL};
	struct jv_engine_view v;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys) ||
	    engine_view(req, &v))
		return;
	json_t *body = jv_api_json_body(req);
	int want[2] = {0, 0};
	const char *names[2] = {"batchSize", "maxConcurrentJobs"};
	int limits[2] = {v.batch_size_limit, v.max_concurrent_limit};
	for (int i = 0; i < 2; i++) {
		json_t *x = body ? json_object_get(body, names[i]) : NULL;
		if (!x || json_is_null(x))
			continue;
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > limits[i]) {
			jv_api_error(req, 400,
				     "%s must be an integer from 1 to %d (the configured %s)",
				     names[i], limits[i],
				     i ? "processor.max_concurrent_jobs" : "processor.batch_size");
			return;
		}
		want[i] = (int)json_integer_value(x);
	}
	struct jv_bridge *b = jv_api_bridge(req);
	if (want[0] || want[1])
		jv_bridge_retune(b, want[0], want[1]);
	jv_bridge_pause(b, 0);
	jv_api_json(req, 200,
		    json_pack("{s:b, s:s, s:i, s:i}", "success", 1, "state", "running", "batchSize",
			      want[0] ? want[0] : v.batch_size, "maxConcurrentJobs",
			      want[1] ? want[1] : v.max_concurrent));
}

/* POST /api/cron/stop: claiming pauses; running jobs go on. */
static void cron_stop(struct jv_api_req *req)
{
	struct jv_engine_view v;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, no_args) ||
	    engine_view(req, &v))
		return;
	jv_bridge_pause(jv_api_bridge(req), 1);
	jv_api_json(req, 200,
		    json_pack("{s:b, s:s, s:i}", "success", 1, "state", "paused", "runningJobs",
			      v.inflight));
}

/* GET /api/cron/health: 200 when the engine's database connection is up,
 * its heartbeat is fresh and workers run; 503 otherwise, with the reasons.
 * From the engine's snapshot only: it answers at once whatever the
 * database does (a heartbeat is the engine's own query, so a database that
 * stopped answering shows as an old heartbeat). */
static void cron_health(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	const struct jv_config *cfg = jv_api_config(req);
	json_t *problems = json_array();
	struct jv_engine_view v;
	int have = jv_api_bridge(req) && jv_bridge_view(jv_api_bridge(req), &v) == 0;
	if (!have)
		json_array_append_new(problems, json_string("the engine is not running"));
	double hb_age = -1;
	if (have) {
		if (v.last_heartbeat_unix_ms)
			hb_age = (double)(jv_now_ms() - v.last_heartbeat_mono_ms) / 1000.0;
		double limit = 3.0 * cfg->processor.heartbeat_interval_ms / 1000.0;
		if (limit < 5)
			limit = 5;
		if (hb_age > limit)
			json_array_append_new(problems,
					      json_sprintf("no heartbeat for %.1f s", hb_age));
		if (!v.db_connected)
			json_array_append_new(problems,
					      json_string("the engine has lost its database connection"));
		if (v.draining)
			json_array_append_new(problems, json_string("shutting down"));
		if (v.workers_total == 0 && v.threads_total == 0)
			json_array_append_new(problems, json_string("no workers running"));
	}
	double latency;
	int have_latency = jv_api_db_latency(req, &latency) == 0;
	int healthy = json_array_size(problems) == 0;
	json_t *j = json_pack("{s:s, s:{s:b, s:o}, s:o, s:o}", "status",
			      healthy ? "healthy" : "unhealthy", "database", "reachable",
			      have && v.db_connected, "latencyMs",
			      have_latency ? json_real(latency) : json_null(), "heartbeatAgeSeconds",
			      hb_age >= 0 ? json_real(hb_age) : json_null(), "problems", problems);
	if (have) {
		json_object_set_new(j, "processor", json_integer(v.processor_id));
		json_object_set_new(j, "paused", json_boolean(v.paused));
		json_object_set_new(j, "workers",
				    json_pack("{s:i, s:i, s:i, s:i}", "total", v.workers_total,
					      "busy", v.workers_busy, "idle",
					      v.workers_total - v.workers_busy, "threads",
					      v.threads_total));
	}
	jv_api_json(req, healthy ? 200 : 503, j);
}

/* Counts of jobs by status (one row each, zeros included). */
static json_t *status_counts(PGresult *res)
{
	json_t *o = json_object();
	for (int i = 0; i < PQntuples(res); i++)
		json_object_set_new(o, PQgetvalue(res, i, 0),
				    json_integer(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
	return o;
}

static const char sql_counts[] =
    /* by partial indexes and the primary key, never the table
     * (sql/014_throughput.sql); in this order */
    "SELECT c.status, c.n FROM jobvisor.job_counts() c ORDER BY array_position("
    "ARRAY['pending', 'waiting', 'running', 'succeeded', 'failed', 'cancelled'], c.status)";

static const char sql_oldest[] =
    /* the oldest DUE job: a job scheduled later waits for nothing (NULL
     * when none is due, not a negative age) */
    "SELECT round(extract(epoch FROM now()"
    " - min(scheduled_at) FILTER (WHERE scheduled_at <= now())), 3)::float8, "
    "count(*) FILTER (WHERE scheduled_at <= now()), count(*) FILTER (WHERE scheduled_at > now()) "
    "FROM jobvisor.jobs WHERE status = 'pending'";

/* GET /api/cron/status: this processor, every processor, the queue. */
static void cron_status(struct jv_api_req *req)
{
	struct jv_engine_view v;
	if (jv_api_only_query(req, no_args) || engine_view(req, &v))
		return;
	PGresult *counts = jv_api_query_db(req, sql_counts, 0, NULL);
	if (!counts)
		return;
	PGresult *procs = jv_api_query_db(
	    req,
	    "SELECT p.id, p.name, p.hostname, p.pid, p.state, p.version,"
	    " round(extract(epoch FROM now() - p.heartbeat_at), 3)::float8,"
	    " (SELECT count(*) FROM jobvisor.jobs j WHERE j.locked_by = p.id AND j.status = 'running')"
	    " FROM jobvisor.processors p WHERE p.state <> 'stopped' ORDER BY p.id",
	    0, NULL);
	PGresult *old = procs ? jv_api_query_db(req, sql_oldest, 0, NULL) : NULL;
	PGresult *paused = old ? jv_api_query_db(req,
						 "SELECT name FROM jobvisor.queues WHERE paused"
						 " ORDER BY name",
						 0, NULL)
			       : NULL;
	if (!paused) {
		PQclear(counts);
		PQclear(procs);
		PQclear(old);
		return;
	}
	json_t *pq = json_array();
	for (int i = 0; i < PQntuples(paused); i++)
		json_array_append_new(pq, json_string(PQgetvalue(paused, i, 0)));
	PQclear(paused);
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(procs); i++)
		json_array_append_new(
		    list, json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:f, s:I}", "id",
				    (json_int_t)strtoll(PQgetvalue(procs, i, 0), NULL, 10), "name",
				    PQgetvalue(procs, i, 1), "hostname", PQgetvalue(procs, i, 2),
				    "pid", (int)strtol(PQgetvalue(procs, i, 3), NULL, 10), "state",
				    PQgetvalue(procs, i, 4), "version", PQgetvalue(procs, i, 5),
				    "heartbeatAgeSeconds", strtod(PQgetvalue(procs, i, 6), NULL),
				    "runningJobs",
				    (json_int_t)strtoll(PQgetvalue(procs, i, 7), NULL, 10)));
	json_t *alerts = json_pack("{s:I, s:I, s:I, s:I}", "sent", (json_int_t)v.alerts.sent,
				   "failed", (json_int_t)v.alerts.failed, "dropped",
				   (json_int_t)v.alerts.dropped, "folded",
				   (json_int_t)v.alerts.folded);
	json_t *proc = processor_json(&v);
	add_rescue_settings(proc, jv_api_config(req));
	jv_api_json(
	    req, 200,
	    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "processor", proc, "processors",
		      list, "jobs", status_counts(counts), "oldestDuePendingAgeSeconds",
		      PQgetisnull(old, 0, 0) ? json_null()
					     : json_real(strtod(PQgetvalue(old, 0, 0), NULL)),
		      "alerts", alerts, "pausedQueues", pq));
	PQclear(counts);
	PQclear(procs);
	PQclear(old);
}

/* GET /api/cron/queue: by status and type, the oldest due job, and what
 * runs, by processor and by user. */
static void cron_queue(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	PGresult *counts = jv_api_query_db(req, sql_counts, 0, NULL);
	if (!counts)
		return;
	PGresult *bytype = jv_api_query_db(
	    req,
	    /* (OR, not IN: each arm is a partial index, 001_init.sql; IN is
	     * answered by no index since 014 and scans the table) */
	    "SELECT type, status, count(*) FROM jobvisor.jobs"
	    " WHERE status = 'pending' OR status = 'running'"
	    " GROUP BY type, status ORDER BY type, status",
	    0, NULL);
	PGresult *old = bytype ? jv_api_query_db(req, sql_oldest, 0, NULL) : NULL;
	PGresult *byproc = old ? jv_api_query_db(
				     req,
				     "SELECT j.locked_by, coalesce(p.name, '?'), count(*)"
				     " FROM jobvisor.jobs j LEFT JOIN jobvisor.processors p"
				     " ON p.id = j.locked_by WHERE j.status = 'running'"
				     " GROUP BY j.locked_by, p.name ORDER BY j.locked_by",
				     0, NULL)
			       : NULL;
	PGresult *byuser = byproc ? jv_api_query_db(req,
						    "SELECT user_id, count(*) FROM jobvisor.jobs"
						    " WHERE status = 'running' AND user_id IS NOT NULL"
						    " GROUP BY user_id ORDER BY count(*) DESC, user_id"
						    " LIMIT 100",
						    0, NULL)
				  : NULL;
	/* (the live jobs again, through their partial indexes, by queue) */
	PGresult *byqueue = byuser ? jv_api_query_db(req,
						     "SELECT name, pending, running, paused"
						     " FROM jobvisor.queue_stats()",
						     0, NULL)
				   : NULL;
	if (!byqueue)
		goto out;
	json_t *queues = json_object();
	for (int i = 0; i < PQntuples(byqueue); i++)
		json_object_set_new(
		    queues, PQgetvalue(byqueue, i, 0),
		    json_pack("{s:I, s:I, s:b}", "pending",
			      (json_int_t)strtoll(PQgetvalue(byqueue, i, 1), NULL, 10), "running",
			      (json_int_t)strtoll(PQgetvalue(byqueue, i, 2), NULL, 10), "paused",
			      !strcmp(PQgetvalue(byqueue, i, 3), "t")));
	json_t *types = json_object();
	for (int i = 0; i < PQntuples(bytype); i++) {
		const char *t = PQgetvalue(bytype, i, 0);
		json_t *o = json_object_get(types, t);
		if (!o) {
			o = json_pack("{s:i, s:i}", "pending", 0, "running", 0);
			json_object_set_new(types, t, o);
		}
		json_object_set_new(o, PQgetvalue(bytype, i, 1),
				    json_integer(strtoll(PQgetvalue(bytype, i, 2), NULL, 10)));
	}
	json_t *procs = json_array();
	for (int i = 0; i < PQntuples(byproc); i++)
		json_array_append_new(
		    procs, json_pack("{s:I, s:s, s:I}", "processor",
				     (json_int_t)strtoll(PQgetvalue(byproc, i, 0), NULL, 10), "name",
				     PQgetvalue(byproc, i, 1), "running",
				     (json_int_t)strtoll(PQgetvalue(byproc, i, 2), NULL, 10)));
	json_t *users = json_array();
	for (int i = 0; i < PQntuples(byuser); i++)
		json_array_append_new(
		    users, json_pack("{s:s, s:I}", "user", PQgetvalue(byuser, i, 0), "running",
				     (json_int_t)strtoll(PQgetvalue(byuser, i, 1), NULL, 10)));
	jv_api_json(req, 200,
		    json_pack("{s:o, s:o, s:o, s:{s:I, s:I, s:o}, s:o, s:o}", "byStatus",
			      status_counts(counts), "byType", types, "byQueue", queues, "pending",
			      "due",
			      (json_int_t)strtoll(PQgetvalue(old, 0, 1), NULL, 10), "scheduled",
			      (json_int_t)strtoll(PQgetvalue(old, 0, 2), NULL, 10),
			      "oldestDueAgeSeconds",
			      PQgetisnull(old, 0, 0)
				      ? json_null()
				      : json_real(strtod(PQgetvalue(old, 0, 0), NULL)),
			      "runningByProcessor", procs, "runningByUser", users));
out:
	PQclear(counts);
	PQclear(bytype);
	PQclear(old);
	PQclear(byproc);
	PQclear(byuser);
	PQclear(byqueue);
}

/* POST /api/cron/trigger: claim now instead of at the next poll. */
static void cron_trigger(struct jv_api_req *req)
{
	struct jv_engine_view v;
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, no_args) ||
	    engine_view(req, &v))
		return;
	jv_bridge_trigger(jv_api_bridge(req));
	jv_api_json(req, 202,
		    json_pack("{s:b, s:b, s:b}", "success", 1, "triggered", 1, "paused", v.paused));
}

/* POST /api/cron/reset-stuck-jobs {"timeoutMinutes": N} */
static void cron_reset_stuck(struct jv_api_req *req)
{
	static const char *const keys[] = {"timeoutMinutes", NULL};
	if (jv_api_only_query(req, no_args) || jv_api_only_keys(req, keys))
		return;
	const struct jv_config *cfg = jv_api_config(req);
	int64_t ms = cfg->processor.stuck_job_timeout_ms;
	json_t *x = jv_api_json_body(req) ? json_object_get(jv_api_json_body(req), "timeoutMinutes")
					  : NULL;
	if (x && !json_is_null(x)) {
		double v = json_is_number(x) ? json_number_value(x) : -1;
		if (!(v > 0 && v <= 10080)) {
			jv_api_error(req, 400, "timeoutMinutes must be a number of minutes above 0 and "
					       "at most 10080");
			return;
		}
		ms = (int64_t)(v * 60000.0 + 0.5);
	}
	/* Shorter, and a live processor's running job would run twice: its
	 * heartbeat may be that late without it being dead. (The database also
	 * keeps each processor's own horizon: rescue_stuck() never takes a
	 * processor's jobs sooner than it declared, whatever is asked here.) */
	double least = min_stuck_minutes(cfg);
	if (ms < (int64_t)(least * 60000.0 + 0.5)) {
		jv_api_error(req, 400,
			     "timeoutMinutes must be at least %g: a shorter horizon could take jobs "
			     "from live processors (2 x processor.heartbeat_interval_ms %d + %lld ms "
			     "margin)",
			     least, cfg->processor.heartbeat_interval_ms,
			     (long long)jv_config_fence_margin_ms(cfg));
		return;
	}
	char m[24];
	snprintf(m, sizeof m, "%lld", (long long)ms);
	const char *params[] = {m};
	PGresult *res = jv_api_query_db(
	    req,
	    "SELECT count(*) FROM jobvisor.rescue_stuck(make_interval(secs => $1::float8 / 1000))",
	    1, params);
	if (!res)
		return;
	long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (jv_api_commit(req) != 0)
		return;
	if (n > 0 && jv_api_bridge(req))
		jv_bridge_trigger(jv_api_bridge(req)); /* they are due again */
	jv_api_json(req, 200,
		    json_pack("{s:b, s:I, s:o}", "success", 1, "resetCount", (json_int_t)n,
			      "timeoutMinutes", minutes_json(ms)));
}

/* POST /api/cron/webhook: an outside cron's tick, X-Webhook-Secret. */
static void cron_webhook(struct jv_api_req *req)
{
	const struct jv_config *cfg = jv_api_config(req);
	if (!cfg->api.webhook_secret || !cfg->api.webhook_secret[0]) {
		jv_api_error(req, 403, "no api.webhook_secret is configured: the webhook is off");
		return;
	}
	const char *given = jv_api_header(req, "X-Webhook-Secret");
	if (!given || !jv_api_secret_equal(cfg->api.webhook_secret, given)) {
		jv_api_error(req, 401, given ? "wrong X-Webhook-Secret" : "missing X-Webhook-Secret");
		return;
	}
	cron_trigger(req);
}

/* ------------------------------------------------------- any processor */

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

const struct jv_api_route jv_api_processor_routes[] = {
	{"POST", "/api/cron/start", JV_API_NO_DB | JV_API_OPERATOR, cron_start, "resume claiming; optionally retune"},
	{"POST", "/api/cron/stop", JV_API_NO_DB | JV_API_OPERATOR, cron_stop, "pause claiming; running jobs go on"},
	{"GET", "/api/cron/health", JV_API_PUBLIC | JV_API_HEALTH | JV_API_NO_DB, cron_health,
	 "200 healthy, 503 not (database, heartbeat, workers)"},
	{"GET", "/api/cron/status", 0, cron_status, "this processor, all processors, job counts"},
	{"GET", "/api/cron/queue", 0, cron_queue, "the queue by status, type, processor, user"},
	{"POST", "/api/cron/trigger", JV_API_NO_DB | JV_API_OPERATOR, cron_trigger, "claim now"},
	{"POST", "/api/cron/reset-stuck-jobs", JV_API_OPERATOR, cron_reset_stuck,
	 "rescue jobs of silent processors"},
	{"POST", "/api/cron/webhook", JV_API_PUBLIC | JV_API_NO_DB, cron_webhook,
	 "an outside cron's tick (X-Webhook-Secret): claim now"},
	{"POST", "/api/processors/{id}/pause", JV_API_OPERATOR, processor_pause,
	 "pause claiming on any processor"},
	{"POST", "/api/processors/{id}/resume", JV_API_OPERATOR, processor_resume,
	 "resume claiming on any processor"},
	{NULL, NULL, 0, NULL, NULL},
};

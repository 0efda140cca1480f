/*
 * status.c -- `jobvisor status`: processors, jobs by status, alerts and the
 * history's retention, as text or JSON.
 *
 * Exit codes (cli.h): 0 ok; 1 for anything the user can fix -- bad usage,
 * bad input, bad config, database unreachable, schema missing or too new, a
 * migration that fails (most often rights or a conflicting object); 2 for
 * the unexpected (a query of ours failing on a migrated database).
 */
#include "cli/cli.h"
#include "config/config.h"
#include "engine/migrate.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/jsontext.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void status_help(FILE *f)
{
	fprintf(f, "usage: jobvisor status [-c FILE] [--json]\n"
	           "\n"
	           "Show the processors (running, or stopped within the last hour), the\n"
	           "number of jobs in each state (waiting: for dependencies to finish),\n"
	           "how long the oldest due job has waited,\n"
	           "the queues (jobs pending, running, what holds them back, paused),\n"
	           "and the history: its oldest rows and what retention removed.\n"
	           "A processor whose heartbeat is older than processor.stuck_job_timeout_minutes\n"
	           "is marked stale: its running jobs will be rescued.\n"
	           "\n" JV_CLI_CONFIG_HELP "      --json          print one JSON object instead of text\n"
	           "  -h, --help          show this help\n" JV_CLI_EXIT_HELP);
}

/* "4.2s", "3m07s", "2h05m", "3d04h". */
static void format_age(char *buf, size_t len, double s)
{
	if (s < 0)
		s = 0;
	long t = (long)s;
	if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (t < 3600)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
}

static const char sql_status_processors[] =
    "SELECT p.id, p.name, p.hostname, p.pid, p.state, p.version,"
    " round(extract(epoch FROM now() - p.heartbeat_at), 3)::float8,"
    " (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'running' AND j.locked_by = p.id),"
    " (p.state <> 'stopped' AND p.heartbeat_at < now() - make_interval(secs => $1::float8 / 1000))"
    " FROM jobvisor.processors p"
    " WHERE p.state <> 'stopped' OR p.stopped_at > now() - interval '1 hour'"
    " ORDER BY p.started_at, p.id LIMIT 1000";

/* Counts by status, every status listed (in this order) even when 0 --
 * waiting: jobs whose dependencies have not all finished; then
 * pending due, pending scheduled later, and the age in seconds of the
 * oldest due pending job. */
static const char sql_status_jobs[] =
    /* by partial indexes and the primary key, never the table
     * (sql/014_throughput.sql) */
    "SELECT c.status, c.n FROM jobvisor.job_counts() c ORDER BY array_position("
    "ARRAY['pending', 'waiting', 'running', 'succeeded', 'failed', 'cancelled'], c.status)";
static const char sql_status_pending[] = "SELECT count(*) FILTER (WHERE scheduled_at <= now()),"
                                         " count(*) FILTER (WHERE scheduled_at > now()),"
                                         " round(extract(epoch FROM now() - min(scheduled_at) "
                                         "FILTER (WHERE scheduled_at <= now())), 3)::float8"
                                         " FROM jobvisor.jobs WHERE status = 'pending'";

/* Alerts of the last day, by status (messages, and the events they stood
 * for), and the five most recent. */
static const char sql_status_alerts[] =
    "SELECT s.status, count(a.id), coalesce(sum(a.count), 0)"
    " FROM unnest(ARRAY['sent', 'failed', 'dropped']) AS s(status)"
    " LEFT JOIN jobvisor.alerts a ON a.status = s.status"
    "  AND a.created_at > now() - interval '24 hours'"
    " GROUP BY s.status ORDER BY array_position(ARRAY['sent', 'failed', 'dropped'], s.status)";
static const char sql_status_recent_alerts[] =
    "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), status, sink,"
    " plugin, title FROM jobvisor.alerts ORDER BY created_at DESC, id DESC LIMIT 5";

/* History retention (sql/012_retention.sql): the oldest rows kept (index
 * probes, no scan), the round in progress, the last one, the totals. */
static const char sql_status_history[] =
    "SELECT round(extract(epoch FROM now() - o.finished_at), 3)::float8,"
    " round(extract(epoch FROM now() - o.execution_at), 3)::float8,"
    " h.holder, round(extract(epoch FROM now() - h.round_started_at), 3)::float8,"
    " h.round_jobs, h.round_executions,"
    " h.last_processor, round(extract(epoch FROM now() - h.last_finished_at), 3)::float8,"
    " round(extract(epoch FROM h.last_finished_at - h.last_started_at), 3)::float8,"
    " h.last_jobs, h.last_executions, h.last_schedule_runs,"
    " h.jobs_removed, h.executions_removed, h.schedule_runs_removed"
    " FROM jobvisor.history_oldest() o LEFT JOIN jobvisor.history_purge h ON true";

/* What the config says about retention (the status shows it beside what
 * the database says). */
struct status_retention {
	int days, failed_days, interval_s;
};

static void status_history_text(PGresult *h, const struct status_retention *rt)
{
	char a[32], b[32];
	if (rt->days > 0)
		printf("history: finished jobs kept %d days", rt->days);
	else
		printf("history: finished jobs kept forever");
	if (rt->failed_days != rt->days) {
		if (rt->failed_days > 0)
			printf(" (failed ones %d days)", rt->failed_days);
		else
			printf(" (failed ones forever)");
	}
	printf(", checked every %d s\n", rt->interval_s);
	if (PQgetisnull(h, 0, 0)) {
		printf("  oldest finished job: none");
	} else {
		format_age(a, sizeof a, strtod(PQgetvalue(h, 0, 0), NULL));
		printf("  oldest finished job: finished %s ago", a);
	}
	if (PQgetisnull(h, 0, 1)) {
		printf("; oldest execution: none\n");
	} else {
		format_age(a, sizeof a, strtod(PQgetvalue(h, 0, 1), NULL));
		printf("; oldest execution: started %s ago\n", a);
	}
	if (!PQgetisnull(h, 0, 2)) {
		format_age(a, sizeof a, strtod(PQgetvalue(h, 0, 3), NULL));
		printf("  purging now: processor %s, for %s: %s jobs and %s executions removed so "
		       "far\n",
		       PQgetvalue(h, 0, 2), a, PQgetvalue(h, 0, 4), PQgetvalue(h, 0, 5));
	}
	if (PQgetisnull(h, 0, 6)) {
		printf("  last purge: never\n");
	} else {
		format_age(a, sizeof a, strtod(PQgetvalue(h, 0, 7), NULL));
		format_age(b, sizeof b, strtod(PQgetvalue(h, 0, 8), NULL));
		printf("  last purge: %s ago by processor %s, in %s: removed %s jobs, %s "
		       "executions, %s schedule runs\n",
		       a, PQgetvalue(h, 0, 6), b, PQgetvalue(h, 0, 9), PQgetvalue(h, 0, 10),
		       PQgetvalue(h, 0, 11));
	}
	printf("  removed in all: %s jobs, %s executions, %s schedule runs\n", PQgetvalue(h, 0, 12),
	       PQgetvalue(h, 0, 13), PQgetvalue(h, 0, 14));
}

static void status_alerts_text(PGresult *alerts, PGresult *recent)
{
	printf("alerts (last 24 h):");
	for (int i = 0; i < PQntuples(alerts); i++)
		printf("%s %s %s", i ? "," : "", PQgetvalue(alerts, i, 1), PQgetvalue(alerts, i, 0));
	printf("\n");
	for (int i = 0; i < PQntuples(recent); i++)
		printf("  %s  %-7s %s (%s)  %s\n", PQgetvalue(recent, i, 0), PQgetvalue(recent, i, 1),
		       PQgetvalue(recent, i, 2), PQgetvalue(recent, i, 3), PQgetvalue(recent, i, 4));
}

static int status_text(PGresult *procs, PGresult *jobs, PGresult *pend, int version)
{
	char age[32];
	printf("schema version %d\n", version);
	int np = PQntuples(procs);
	if (np == 0) {
		printf("processors: none\n");
	} else {
		int wname = 4, whost = 4;
		for (int i = 0; i < np; i++) {
			int l1 = (int)strlen(PQgetvalue(procs, i, 1));
			int l2 = (int)strlen(PQgetvalue(procs, i, 2));
			wname = l1 > wname ? l1 : wname;
			whost = l2 > whost ? l2 : whost;
		}
		printf("processors:\n  %-6s %-*s %-*s %-8s %-9s %-10s %-7s %s\n", "ID", wname,
		       "NAME", whost, "HOST", "PID", "STATE", "HEARTBEAT", "RUNNING", "VERSION");
		for (int i = 0; i < np; i++) {
			format_age(age, sizeof age, strtod(PQgetvalue(procs, i, 6), NULL));
			int stale = !strcmp(PQgetvalue(procs, i, 8), "t");
			printf("  %-6s %-*s %-*s %-8s %-9s %-10s %-7s %s%s\n",
			       PQgetvalue(procs, i, 0), wname, PQgetvalue(procs, i, 1), whost,
			       PQgetvalue(procs, i, 2), PQgetvalue(procs, i, 3),
			       PQgetvalue(procs, i, 4), age, PQgetvalue(procs, i, 7),
			       PQgetvalue(procs, i, 5),
			       stale ? "  (stale: heartbeat too old)" : "");
		}
	}
	printf("jobs:\n");
	for (int i = 0; i < PQntuples(jobs); i++) {
		printf("  %-10s %10s", PQgetvalue(jobs, i, 0), PQgetvalue(jobs, i, 1));
		if (!strcmp(PQgetvalue(jobs, i, 0), "pending"))
			printf("  (%s due, %s scheduled later)", PQgetvalue(pend, 0, 0),
			       PQgetvalue(pend, 0, 1));
		printf("\n");
	}
	if (PQgetisnull(pend, 0, 2)) {
		printf("oldest due pending job: none\n");
	} else {
		format_age(age, sizeof age, strtod(PQgetvalue(pend, 0, 2), NULL));
		printf("oldest due pending job: waiting %s\n", age);
	}
	return JV_EXIT_OK;
}

static json_t *json_int_text(const char *s)
{
	return json_integer(strtoll(s, NULL, 10));
}

static json_t *json_real_or_null(PGresult *res, int col)
{
	if (PQgetisnull(res, 0, col))
		return json_null();
	return json_real(strtod(PQgetvalue(res, 0, col), NULL));
}

static json_t *status_history_json(PGresult *h, const struct status_retention *rt)
{
	json_t *o = json_object();
	json_object_set_new(o, "retention_days", json_integer(rt->days));
	json_object_set_new(o, "failed_retention_days", json_integer(rt->failed_days));
	json_object_set_new(o, "check_interval_seconds", json_integer(rt->interval_s));
	json_object_set_new(o, "oldest_finished_job_age_s", json_real_or_null(h, 0));
	json_object_set_new(o, "oldest_execution_age_s", json_real_or_null(h, 1));
	json_object_set_new(o, "purging",
	                    PQgetisnull(h, 0, 2)
	                        ? json_null()
	                        : json_pack("{s:o, s:o, s:o, s:o}", "processor",
	                                    json_int_text(PQgetvalue(h, 0, 2)), "for_s",
	                                    json_real_or_null(h, 3), "jobs",
	                                    json_int_text(PQgetvalue(h, 0, 4)), "executions",
	                                    json_int_text(PQgetvalue(h, 0, 5))));
	json_object_set_new(
	    o, "last_purge",
	    PQgetisnull(h, 0, 6)
	        ? json_null()
	        : json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "processor",
	                    json_int_text(PQgetvalue(h, 0, 6)), "age_s", json_real_or_null(h, 7),
	                    "duration_s", json_real_or_null(h, 8), "jobs",
	                    json_int_text(PQgetvalue(h, 0, 9)), "executions",
	                    json_int_text(PQgetvalue(h, 0, 10)), "schedule_runs",
	                    json_int_text(PQgetvalue(h, 0, 11))));
	json_object_set_new(o, "removed",
	                    json_pack("{s:o, s:o, s:o}", "jobs", json_int_text(PQgetvalue(h, 0, 12)),
	                              "executions", json_int_text(PQgetvalue(h, 0, 13)),
	                              "schedule_runs", json_int_text(PQgetvalue(h, 0, 14))));
	return o;
}

static int status_json(PGresult *procs, PGresult *jobs, PGresult *pend, int version,
		       PGresult *alerts, PGresult *recent, PGresult *hist,
		       const struct status_retention *rt, PGresult *queues)
{
	json_t *root = json_object();
	json_object_set_new(root, "schema_version", json_integer(version));
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(procs); i++) {
		json_t *p = json_object();
		json_object_set_new(p, "id", json_int_text(PQgetvalue(procs, i, 0)));
		json_object_set_new(p, "name", json_string(PQgetvalue(procs, i, 1)));
		json_object_set_new(p, "hostname", json_string(PQgetvalue(procs, i, 2)));
		json_object_set_new(p, "pid", json_int_text(PQgetvalue(procs, i, 3)));
		json_object_set_new(p, "state", json_string(PQgetvalue(procs, i, 4)));
		json_object_set_new(p, "version", json_string(PQgetvalue(procs, i, 5)));
		json_object_set_new(p, "heartbeat_age_s",
		                    json_real(strtod(PQgetvalue(procs, i, 6), NULL)));
		json_object_set_new(p, "running_jobs", json_int_text(PQgetvalue(procs, i, 7)));
		json_object_set_new(p, "stale",
		                    json_boolean(!strcmp(PQgetvalue(procs, i, 8), "t")));
		json_array_append_new(arr, p);
	}
	json_object_set_new(root, "processors", arr);
	json_t *counts = json_object();
	for (int i = 0; i < PQntuples(jobs); i++)
		json_object_set_new(counts, PQgetvalue(jobs, i, 0),
		                    json_int_text(PQgetvalue(jobs, i, 1)));
	json_object_set_new(counts, "pending_due", json_int_text(PQgetvalue(pend, 0, 0)));
	json_object_set_new(counts, "pending_scheduled", json_int_text(PQgetvalue(pend, 0, 1)));
	json_object_set_new(root, "jobs", counts);
	json_object_set_new(root, "oldest_due_pending_age_s",
	                    PQgetisnull(pend, 0, 2)
	                        ? json_null()
	                        : json_real(strtod(PQgetvalue(pend, 0, 2), NULL)));
	json_t *al = json_object();
	for (int i = 0; i < PQntuples(alerts); i++)
		json_object_set_new(al, PQgetvalue(alerts, i, 0),
		                    json_int_text(PQgetvalue(alerts, i, 1)));
	json_object_set_new(root, "queues", jv_cli_queues_json(queues, 1));
	json_object_set_new(root, "history", status_history_json(hist, rt));
	json_object_set_new(root, "alerts_24h", al);
	json_t *rec = json_array();
	for (int i = 0; i < PQntuples(recent); i++)
		json_array_append_new(rec, json_pack("{s:s, s:s, s:s, s:s, s:s}", "at",
		                                     PQgetvalue(recent, i, 0), "status",
		                                     PQgetvalue(recent, i, 1), "sink",
		                                     PQgetvalue(recent, i, 2), "plugin",
		                                     PQgetvalue(recent, i, 3), "title",
		                                     PQgetvalue(recent, i, 4)));
	json_object_set_new(root, "recent_alerts", rec);
	char *text =
	    json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
	json_decref(root);
	if (!text)
		return jv_cli_fail("status", JV_EXIT_INTERNAL, "could not format JSON");
	printf("%s\n", text);
	free(text);
	return JV_EXIT_OK;
}

/* The options, then five queries in one read-only transaction (so the
 * numbers agree with each other) handed to status_text() or
 * status_json(): a straight sequence, each failure ending it. */
int jv_cmd_status(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "status";
	const char *config_arg = NULL;
	int json = 0, c;
	jv_cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_arg = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			status_help(stdout);
			return JV_EXIT_OK;
		default:
			return jv_cli_getopt_fail(cmd, c, argv);
		}
	}
	if (optind < argc)
		return jv_cli_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);

	struct jv_config *cfg = NULL;
	int rc = jv_cli_load_config(config_arg, &cfg);
	if (rc != JV_EXIT_OK)
		return rc;
	char stuck[16];
	snprintf(stuck, sizeof stuck, "%d", cfg->processor.stuck_job_timeout_ms);
	struct status_retention rt = {
	    .days = cfg->history.retention_days,
	    .failed_days = cfg->history.failed_retention_days >= 0
	                       ? cfg->history.failed_retention_days
	                       : cfg->history.retention_days,
	    .interval_s = cfg->history.check_interval_seconds,
	};
	PGconn *conn = jv_cli_connect(cmd, cfg);
	jv_config_free(cfg);
	if (!conn)
		return JV_EXIT_USER;

	char err[1024];
	int version = 0;
	PGresult *procs = NULL, *jobs = NULL, *pend = NULL, *alerts = NULL, *recent = NULL;
	PGresult *hist = NULL, *queues = NULL;
	const char *params[] = {stuck};
	if (jv_schema_check(conn, err, sizeof err) < 0 ||
	    jv_schema_version(conn, &version, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_USER, "%s", err);
		goto out;
	}
	/* One snapshot for all three, so the numbers agree with each other. */
	if (jv_db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err,
	               sizeof err) < 0 ||
	    !(procs = jv_db_query(conn, sql_status_processors, 1, params, NULL, err, sizeof err)) ||
	    !(jobs = jv_db_query(conn, sql_status_jobs, 0, NULL, NULL, err, sizeof err)) ||
	    !(pend = jv_db_query(conn, sql_status_pending, 0, NULL, NULL, err, sizeof err)) ||
	    !(alerts = jv_db_query(conn, sql_status_alerts, 0, NULL, NULL, err, sizeof err)) ||
	    !(recent = jv_db_query(conn, sql_status_recent_alerts, 0, NULL, NULL, err, sizeof err)) ||
	    !(hist = jv_db_query(conn, sql_status_history, 0, NULL, NULL, err, sizeof err)) ||
	    PQntuples(hist) != 1 ||
	    !(queues = jv_db_query(conn, jv_cli_sql_queue_stats, 0, NULL, NULL, err, sizeof err)) ||
	    jv_db_exec(conn, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not read the status: %s", err);
		goto out;
	}
	if (json) {
		rc = status_json(procs, jobs, pend, version, alerts, recent, hist, &rt, queues);
	} else {
		rc = status_text(procs, jobs, pend, version);
		jv_cli_queues_brief(queues);
		status_history_text(hist, &rt);
		status_alerts_text(alerts, recent);
	}
out:
	PQclear(queues);
	PQclear(hist);
	PQclear(alerts);
	PQclear(recent);
	PQclear(procs);
	PQclear(jobs);
	PQclear(pend);
	PQfinish(conn);
	return rc;
}

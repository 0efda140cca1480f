/*
 * queues.c -- `jobvisor queues`: the queues as the claim sees them
 * (jobvisor.queue_stats(): depth, running, limits, the starts in the rate
 * window, what holds their due jobs back, the pause switch), as a table or
 * JSON; `queues pause NAME` and `queues resume NAME` set and clear a
 * queue's cluster-wide pause switch (jobvisor.pause_queue(), by 'cli').
 * Also the short queues table of `jobvisor status`.
 *
 * Exit codes (cli.h): 0 ok; 1 for anything the user can fix -- bad usage,
 * a bad or unknown queue name, bad config, database unreachable, schema
 * missing or too new; 2 for the unexpected (a query of ours failing on a
 * migrated database).
 */
#include "cli/cli.h"
#include "config/config.h"
#include "engine/migrate.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void queues_help(FILE *f)
{
	fprintf(f,
	        "usage: jobvisor queues [-c FILE] [--json]\n"
	        "       jobvisor queues [-c FILE] pause NAME\n"
	        "       jobvisor queues [-c FILE] resume NAME\n"
	        "\n"
	        "List the queues (jobvisor.queues, as the claim sees them now): jobs pending\n"
	        "(and due), running, the limits across all processors (global_concurrency,\n"
	        "rate_limit), the starts in the rate window, what holds due jobs back\n"
	        "(paused, global_concurrency, rate_limit) and since when and by whom a\n"
	        "queue is paused. A queue's concurrency is each processor's own (its config).\n"
	        "\n"
	        "pause NAME stops every processor from starting the queue's jobs (running\n"
	        "ones finish); resume NAME lets them start again at once. Both act on the\n"
	        "whole cluster and are recorded as by 'cli'; a config's paused: true never\n"
	        "resumes a queue.\n"
	        "\n" JV_CLI_CONFIG_HELP
	        "      --json          one JSON array, an object per queue with the columns of\n"
	        "                      jobvisor.queue_stats()\n"
	        "  -h, --help          show this help\n" JV_CLI_EXIT_HELP);
}

/* The columns of jobvisor.queue_stats() the commands show, times in UTC. */
const char jv_cli_sql_queue_stats[] =
    "SELECT name, pending, due, running, global_concurrency, rate_allowed,"
    " rate_period_seconds, rate_partition, window_starts, rate_partitions_full, paused,"
    " to_char(paused_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), paused_by, held_by,"
    " round(oldest_due_age_seconds::numeric, 3)::float8"
    " FROM jobvisor.queue_stats() LIMIT 10000";

enum {
	QS_NAME,
	QS_PENDING,
	QS_DUE,
	QS_RUNNING,
	QS_GLOBAL,
	QS_RATE_ALLOWED,
	QS_RATE_PERIOD,
	QS_RATE_PARTITION,
	QS_WINDOW,
	QS_FULL,
	QS_PAUSED,
	QS_PAUSED_AT,
	QS_PAUSED_BY,
	QS_HELD_BY,
	QS_OLDEST_DUE,
};

/* A text table: a row of cells per line, each column as wide as its
 * widest cell, numbers (right) aligned to the right. */
#define TABLE_COLS 9
struct table {
	size_t ncols, nrows;
	int right[TABLE_COLS];
	char **cells; /* nrows * ncols, each malloc'd */
};

static void table_add(struct table *t, char *const *row)
{
	t->cells = jv_realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *t->cells);
	for (size_t c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = jv_strdup(row[c]);
	t->nrows++;
}

static void table_print(struct table *t, const char *indent)
{
	int w[TABLE_COLS] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			int l = (int)strlen(t->cells[r * t->ncols + c]);
			w[c] = l > w[c] ? l : w[c];
		}
	for (size_t r = 0; r < t->nrows; r++) {
		printf("%s", indent);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			int last = c + 1 == t->ncols;
			if (t->right[c])
				printf("%*s", w[c], s);
			else
				printf("%-*s", last ? 0 : w[c], s);
			printf("%s", last ? "\n" : "  ");
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

static const char *cell(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? "-" : PQgetvalue(res, row, col);
}

/* "100/60s", "100/60s per user_id", or "-". */
static void rate_text(PGresult *res, int i, char *buf, size_t len)
{
	if (PQgetisnull(res, i, QS_RATE_ALLOWED)) {
		snprintf(buf, len, "-");
		return;
	}
	const char *part = PQgetvalue(res, i, QS_RATE_PARTITION);
	snprintf(buf, len, "%s/%ss%s%s", PQgetvalue(res, i, QS_RATE_ALLOWED),
	         PQgetvalue(res, i, QS_RATE_PERIOD), strcmp(part, "none") ? " per " : "",
	         strcmp(part, "none") ? part : "");
}

/* "-", or "since 2026-12-06 17:05:52 UTC by cli". */
static void paused_text(PGresult *res, int i, char *buf, size_t len)
{
	if (strcmp(PQgetvalue(res, i, QS_PAUSED), "t")) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "since %s UTC by %s", cell(res, i, QS_PAUSED_AT),
	         cell(res, i, QS_PAUSED_BY));
}

static void queues_text(PGresult *res)
{
	struct table t = {.ncols = 9, .right = {0, 1, 1, 1, 1, 0, 1, 0, 0}};
	char *head[] = {"NAME",   "PENDING",   "DUE",     "RUNNING", "GLOBAL",
	                "RATE",   "IN WINDOW", "HELD BY", "PAUSED"};
	table_add(&t, head);
	for (int i = 0; i < PQntuples(res); i++) {
		char rate[96], paused[128], window[32];
		rate_text(res, i, rate, sizeof rate);
		paused_text(res, i, paused, sizeof paused);
		snprintf(window, sizeof window, "%s",
		         PQgetisnull(res, i, QS_RATE_ALLOWED) ? "-"
		                                              : PQgetvalue(res, i, QS_WINDOW));
		char *row[] = {PQgetvalue(res, i, QS_NAME),
		               PQgetvalue(res, i, QS_PENDING),
		               PQgetvalue(res, i, QS_DUE),
		               PQgetvalue(res, i, QS_RUNNING),
		               (char *)cell(res, i, QS_GLOBAL),
		               rate,
		               window,
		               (char *)cell(res, i, QS_HELD_BY),
		               paused};
		table_add(&t, row);
	}
	table_print(&t, "");
}

void jv_cli_queues_brief(PGresult *res)
{
	struct table t = {.ncols = 5, .right = {0, 1, 1, 0, 0}};
	char *head[] = {"NAME", "PENDING", "RUNNING", "HELD BY", "PAUSED"};
	printf("queues:\n");
	table_add(&t, head);
	for (int i = 0; i < PQntuples(res); i++) {
		char paused[128];
		paused_text(res, i, paused, sizeof paused);
		char *row[] = {PQgetvalue(res, i, QS_NAME), PQgetvalue(res, i, QS_PENDING),
		               PQgetvalue(res, i, QS_RUNNING), (char *)cell(res, i, QS_HELD_BY),
		               paused};
		table_add(&t, row);
	}
	table_print(&t, "  ");
}

static json_t *int_or_null(PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null()
	                                : json_integer(strtoll(PQgetvalue(res, i, col), NULL, 10));
}

static json_t *str_or_null(PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() : json_string(PQgetvalue(res, i, col));
}

json_t *jv_cli_queues_json(PGresult *res, int brief)
{
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(PQgetvalue(res, i, QS_NAME)));
		json_object_set_new(o, "pending", int_or_null(res, i, QS_PENDING));
		if (!brief)
			json_object_set_new(o, "due", int_or_null(res, i, QS_DUE));
		json_object_set_new(o, "running", int_or_null(res, i, QS_RUNNING));
		if (!brief) {
			json_object_set_new(o, "global_concurrency", int_or_null(res, i, QS_GLOBAL));
			json_object_set_new(
			    o, "rate_limit",
			    PQgetisnull(res, i, QS_RATE_ALLOWED)
			        ? json_null()
			        : json_pack("{s:o, s:o, s:s}", "allowed",
			                    int_or_null(res, i, QS_RATE_ALLOWED), "period_seconds",
			                    int_or_null(res, i, QS_RATE_PERIOD), "partition_by",
			                    PQgetvalue(res, i, QS_RATE_PARTITION)));
			json_object_set_new(o, "window_starts", int_or_null(res, i, QS_WINDOW));
			json_object_set_new(o, "rate_partitions_full", int_or_null(res, i, QS_FULL));
		}
		json_object_set_new(o, "paused",
		                    json_boolean(!strcmp(PQgetvalue(res, i, QS_PAUSED), "t")));
		if (!brief) {
			json_object_set_new(o, "paused_at", str_or_null(res, i, QS_PAUSED_AT));
			json_object_set_new(o, "paused_by", str_or_null(res, i, QS_PAUSED_BY));
		}
		json_object_set_new(o, "held_by", str_or_null(res, i, QS_HELD_BY));
		if (!brief)
			json_object_set_new(o, "oldest_due_age_s",
			                    PQgetisnull(res, i, QS_OLDEST_DUE)
			                        ? json_null()
			                        : json_real(strtod(PQgetvalue(res, i, QS_OLDEST_DUE),
			                                           NULL)));
		json_array_append_new(arr, o);
	}
	return arr;
}

static int queues_list(const char *cmd, PGconn *conn, int json)
{
	char err[1024];
	PGresult *res = jv_db_query(conn, jv_cli_sql_queue_stats, 0, NULL, NULL, err, sizeof err);
	if (!res)
		return jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not read the queues: %s", err);
	if (json) {
		json_t *arr = jv_cli_queues_json(res, 0);
		char *text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		                                 JSON_REAL_PRECISION(12));
		json_decref(arr);
		if (text)
			printf("%s\n", text);
		free(text);
		if (!text) {
			PQclear(res);
			return jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not format JSON");
		}
	} else {
		queues_text(res);
	}
	PQclear(res);
	return fflush(stdout) == 0 ? JV_EXIT_OK : JV_EXIT_INTERNAL;
}

/* pause (paused 1) or resume (0) the queue name: jobvisor.pause_queue(),
 * then the switch as it is now. An unknown queue: exit 1 naming it and
 * the queues there are. */
static int queues_pause(const char *cmd, PGconn *conn, const char *name, int paused)
{
	char err[1024], state[6] = "";
	const char *p[] = {name, paused ? "true" : "false"};
	PGresult *res = jv_db_query(conn, "SELECT jobvisor.pause_queue($1, $2::boolean, 'cli')", 2,
	                            p, state, err, sizeof err);
	if (!res)
		return jv_cli_fail(cmd, !strncmp(state, "22", 2) ? JV_EXIT_USER : JV_EXIT_INTERNAL,
		                   "could not %s queue %s: %s", paused ? "pause" : "resume", name,
		                   err);
	int found = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!found) {
		res = jv_db_query(conn,
		                  "SELECT string_agg(name, ', ' ORDER BY name) FROM"
		                  " (SELECT name FROM jobvisor.queues ORDER BY name LIMIT 20) q",
		                  0, NULL, NULL, err, sizeof err);
		jv_cli_fail(cmd, JV_EXIT_USER,
		            "unknown queue '%s' (queues: %s; a queue is known once a processor's "
		            "config names it under queues:)",
		            name, res ? PQgetvalue(res, 0, 0) : "?");
		PQclear(res);
		return JV_EXIT_USER;
	}
	res = jv_db_query(conn,
	                  "SELECT paused, to_char(paused_at AT TIME ZONE 'UTC',"
	                  " 'YYYY-MM-DD HH24:MI:SS'), paused_by FROM jobvisor.queues WHERE name = $1",
	                  1, p, NULL, err, sizeof err);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		return jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not read queue %s: %s", name,
		                   res ? "it is gone" : err);
	}
	if (!strcmp(PQgetvalue(res, 0, 0), "t"))
		printf("queue %s paused since %s UTC by %s\n", name, cell(res, 0, 1), cell(res, 0, 2));
	else
		printf("queue %s resumed\n", name);
	PQclear(res);
	return fflush(stdout) == 0 ? JV_EXIT_OK : JV_EXIT_INTERNAL;
}

/* The options and the action (list, pause NAME, resume NAME) checked
 * before the database; then connect, check the schema, act. */
int jv_cmd_queues(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "queues";
	const char *config_arg = NULL;
	int json = 0, c;
	jv_cli_getopt_reset();
	/* (a leading '+' would stop at "pause"; options after it are fine too) */
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_arg = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			queues_help(stdout);
			return JV_EXIT_OK;
		default:
			return jv_cli_getopt_fail(cmd, c, argv);
		}
	}
	int pause = -1; /* -1 list, 1 pause, 0 resume */
	const char *name = NULL;
	if (optind < argc) {
		const char *action = argv[optind++];
		if (!strcmp(action, "pause"))
			pause = 1;
		else if (!strcmp(action, "resume"))
			pause = 0;
		else
			return jv_cli_usage_fail(cmd, "unknown action '%s' (list with no action, or "
			                              "pause NAME, resume NAME)",
			                         action);
		if (optind >= argc)
			return jv_cli_usage_fail(cmd, "%s needs the queue's NAME", action);
		name = argv[optind++];
		if (!jv_queue_name_ok(name))
			return jv_cli_usage_fail(cmd, "invalid queue name '%.80s%s': must be %s", name,
			                         strlen(name) > 80 ? "..." : "", JV_QUEUE_NAME_RULE);
		if (optind < argc)
			return jv_cli_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
		if (json)
			return jv_cli_usage_fail(cmd, "--json is for the list, not for %s", action);
	}

	struct jv_config *cfg = NULL;
	int rc = jv_cli_load_config(config_arg, &cfg);
	if (rc != JV_EXIT_OK)
		return rc;
	PGconn *conn = jv_cli_connect(cmd, cfg);
	jv_config_free(cfg);
	if (!conn)
		return JV_EXIT_USER;
	char err[1024];
	if (jv_schema_check(conn, err, sizeof err) < 0)
		rc = jv_cli_fail(cmd, JV_EXIT_USER, "%s", err);
	else if (pause < 0)
		rc = queues_list(cmd, conn, json);
	else
		rc = queues_pause(cmd, conn, name, pause);
	PQfinish(conn);
	return rc;
}

/*
 * schedules.c -- `jobvisor schedules`: each schedule with its cron,
 * zone, state, last run and next five run times in its own zone.
 *
 * The schedules come from the database (config and API ones, as the
 * scheduler sees them); when the database cannot be reached, from the
 * config file, with a note on stderr.
 */
#include "autoconf.h"
#include "cli/cli.h"
#include "config/config.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/mem.h"
#include "lib/tz.h"
#include "sched/scheduler.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NEXT_RUNS 5

struct row {
	const char *name, *cron, *tz, *type, *source, *catch_up, *queue;
	int enabled, jitter;
	int has_last;
	int64_t last;
};

static void schedules_help(FILE *f)
{
	fprintf(f,
		"usage: jobvisor schedules [-c FILE] [--json]\n"
		"List the schedules (from the database, else from the config file) with\n"
		"their cron, time zone, state, last run and next five run times in their\n"
		"time zone.\n\n"
		"  -c, --config FILE   the configuration file (default: $JOBVISOR_CONFIG, then\n"
		"                      " JV_SYSCONFDIR "/jobvisor/jobvisor.yaml)\n"
		"      --json          one JSON array (times in UTC, ISO-8601)\n"
		"  -h, --help          this help\n"
		"\nexit status: 0 ok, 1 usage or config problem, 2 internal error.\n");
}

/* t in zone tz, "2026-11-29 03:00:00 CET". Single-threaded: TZ is ours. */
static void local_time(int64_t t, const char *tz, char *buf, size_t len)
{
	char *old = jv_strdup(getenv("TZ"));
	char *z = jv_asprintf(":%s", tz);
	setenv("TZ", z, 1);
	tzset();
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm))
		snprintf(buf, len, "?");
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(z);
	free(old);
}

static void utc_iso(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	if (!jv_utc_tm(t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

static int print_rows(const struct row *rows, size_t n, int64_t now, int json)
{
	json_t *arr = json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		int64_t next[NEXT_RUNS];
		char err[256], buf[64];
		int k = jv_sched_next_runs(r->cron, r->tz, now, next, NEXT_RUNS, err, sizeof err);
		if (json) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(r->name));
			json_object_set_new(o, "cron", json_string(r->cron));
			json_object_set_new(o, "timezone", json_string(r->tz));
			json_object_set_new(o, "type", json_string(r->type));
			json_object_set_new(o, "queue", json_string(r->queue));
			json_object_set_new(o, "enabled", json_boolean(r->enabled));
			json_object_set_new(o, "source", json_string(r->source));
			json_object_set_new(o, "catchUp", json_string(r->catch_up));
			json_object_set_new(o, "jitterSeconds", json_integer(r->jitter));
			if (r->has_last) {
				utc_iso(r->last, buf, sizeof buf);
				json_object_set_new(o, "lastRunAt", json_string(buf));
			} else {
				json_object_set_new(o, "lastRunAt", json_null());
			}
			json_t *nr = json_array();
			for (int j = 0; j < k; j++) {
				utc_iso(next[j], buf, sizeof buf);
				json_array_append_new(nr, json_string(buf));
			}
			json_object_set_new(o, "nextRuns", nr);
			if (k < 0)
				json_object_set_new(o, "error", json_string(err));
			json_array_append_new(arr, o);
			continue;
		}
		printf("%s%s\n", i ? "\n" : "", r->name);
		printf("  cron      %s (%s)\n", r->cron, r->tz);
		printf("  type      %s\n", r->type);
		printf("  queue     %s\n", r->queue);
		printf("  state     %s, catch_up %s, jitter %ds, from the %s\n",
		       r->enabled ? "enabled" : "paused", r->catch_up, r->jitter, r->source);
		if (r->has_last)
			local_time(r->last, r->tz, buf, sizeof buf);
		printf("  last run  %s\n", r->has_last ? buf : "never");
		if (k < 0) {
			printf("  next runs none: %s\n", err);
			continue;
		}
		for (int j = 0; j < k; j++) {
			local_time(next[j], r->tz, buf, sizeof buf);
			printf("  %s %s\n", j ? "         " : "next runs", buf);
		}
		if (k == 0)
			printf("  next runs none\n");
	}
	if (json) {
		char *s = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(arr);
	} else if (n == 0) {
		printf("no schedules\n");
	}
	return fflush(stdout) == 0 ? JV_EXIT_OK : JV_EXIT_INTERNAL;
}

static const char sql_list[] =
    "SELECT name, cron, timezone, type, source, catch_up, enabled, jitter_seconds, "
    "  extract(epoch FROM last_run_at)::bigint, floor(extract(epoch FROM now()))::bigint, "
    "  queue "
    "FROM jobvisor.schedules ORDER BY name";

/* The options, the config's schedules synced as serve would, then the list:
 * a straight sequence of steps, each failure ending it with its message;
 * the printing is print_rows(). */
int jv_cmd_schedules(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_arg = NULL;
	int json = 0, c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_arg = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			schedules_help(stdout);
			return JV_EXIT_OK;
		default:
			fprintf(stderr, "jobvisor schedules: %s '%s'\n",
				c == ':' ? "option needs a value:" : "unknown option",
				optind > 0 ? argv[optind - 1] : "");
			fprintf(stderr, "Try 'jobvisor schedules --help'.\n");
			return JV_EXIT_USER;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jobvisor schedules: unexpected argument '%s'\n", argv[optind]);
		fprintf(stderr, "Try 'jobvisor schedules --help'.\n");
		return JV_EXIT_USER;
	}
	struct jv_config *cfg = NULL;
	char err[1024];
	if (jv_config_load(jv_cli_config_path(config_arg), &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return JV_EXIT_USER;
	}
	int rc;
	PGconn *conn = jv_db_connect(cfg->database.url, "jobvisor schedules", err, sizeof err);
	PGresult *res = NULL;
	if (conn)
		res = jv_db_query(conn, sql_list, 0, NULL, NULL, err, sizeof err);
	if (res) {
		size_t n = (size_t)PQntuples(res);
		struct row *rows = jv_calloc(n ? n : 1, sizeof *rows);
		int64_t now = n ? strtoll(PQgetvalue(res, 0, 9), NULL, 10) : 0;
		for (size_t i = 0; i < n; i++) {
			struct row *r = &rows[i];
			int ri = (int)i;
			r->name = PQgetvalue(res, ri, 0);
			r->cron = PQgetvalue(res, ri, 1);
			r->tz = PQgetvalue(res, ri, 2);
			r->type = PQgetvalue(res, ri, 3);
			r->source = PQgetvalue(res, ri, 4);
			r->catch_up = PQgetvalue(res, ri, 5);
			r->enabled = !strcmp(PQgetvalue(res, ri, 6), "t");
			r->jitter = (int)strtol(PQgetvalue(res, ri, 7), NULL, 10);
			r->has_last = !PQgetisnull(res, ri, 8);
			r->last = r->has_last ? strtoll(PQgetvalue(res, ri, 8), NULL, 10) : 0;
			r->queue = PQgetvalue(res, ri, 10);
		}
		rc = print_rows(rows, n, now, json);
		free(rows);
		PQclear(res);
	} else {
		fprintf(stderr,
			"jobvisor schedules: cannot read the database (%s): the config's schedules\n",
			err);
		size_t n = cfg->n_schedules;
		struct row *rows = jv_calloc(n ? n : 1, sizeof *rows);
		for (size_t i = 0; i < n; i++) {
			const struct jv_schedule_cfg *sc = &cfg->schedules[i];
			rows[i] = (struct row){
			    .name = sc->name,
			    .cron = sc->cron,
			    .tz = sc->timezone ? sc->timezone : "UTC",
			    .type = sc->type,
			    .source = "config",
			    .catch_up = sc->catch_up ? sc->catch_up : "latest",
			    .enabled = sc->enabled,
			    .jitter = sc->jitter_seconds,
			    .queue = sc->queue ? sc->queue : "default",
			};
		}
		rc = print_rows(rows, n, (int64_t)time(NULL), json);
		free(rows);
	}
	if (conn)
		PQfinish(conn);
	jv_config_free(cfg);
	return rc;
}

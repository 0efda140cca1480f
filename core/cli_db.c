/*
 * cli_db.c -- the subcommands that talk to the database: migrate, enqueue,
 * status.
 *
 * Exit codes (cli.h): 0 ok; 1 for anything the user can fix -- bad usage,
 * bad input, bad config, database unreachable, schema missing or too new, a
 * migration that fails (most often rights or a conflicting object); 2 for
 * the unexpected (a query of ours failing on a migrated database).
 *
 * Messages go to stderr as "jobvisor CMD: message"; config errors are the
 * loader's own "FILE:LINE:COL: message" line. Results go to stdout.
 */
#include "cli.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "sizelimits.h"
#include "jsontext.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_HELP                                                                                \
	"  -c, --config FILE   the configuration file (default: $JOBVISOR_CONFIG, then\n"          \
	"                      " JV_SYSCONFDIR "/jobvisor/jobvisor.yaml)\n"

#define EXIT_HELP                                                                                  \
	"\nexit status: 0 ok, 1 usage, input, config or database problem, 2 internal error.\n"

static void cli_verror(const char *cmd, const char *fmt, va_list ap)
{
	char *msg = jv_vasprintf(fmt, ap);
	fprintf(stderr, "jobvisor %s: %s\n", cmd, msg);
	free(msg);
}

/* Print "jobvisor CMD: message" to stderr; returns code. */
static int cli_fail(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cli_fail(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_verror(cmd, fmt, ap);
	va_end(ap);
	return code;
}

/* A usage error: the message, then where to find help. JV_EXIT_USER. */
static int usage_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_verror(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'jobvisor %s --help'.\n", cmd);
	return JV_EXIT_USER;
}

/* Report what getopt_long (with opterr = 0 and a leading ':') refused. */
static int getopt_fail(const char *cmd, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	char shortopt[3] = {'-', (char)optopt, '\0'};
	const char *name = (!strncmp(arg, "--", 2) || !optopt) ? arg : shortopt;
	if (c == ':')
		return usage_fail(cmd, "option '%s' needs a value", name);
	return usage_fail(cmd, "unknown option '%s'", name);
}

/* Reset getopt for a fresh parse (GNU: optind 0 re-initialises). */
static void getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

/* Load the config; on failure print its one-line error. */
static int load_config(const char *arg, struct jv_config **cfg)
{
	char err[1024];
	const char *path = jv_cli_config_path(arg);
	if (jv_config_load(path, cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return JV_EXIT_USER;
	}
	return JV_EXIT_OK;
}

/* Connect to the configured database; on failure print why. */
static PGconn *connect_db(const char *cmd, const struct jv_config *cfg)
{
	char err[1024];
	char *app = jv_asprintf("jobvisor %s", cmd);
	PGconn *conn = jv_db_connect(cfg->database.url, app, err, sizeof err);
	free(app);
	if (!conn)
		cli_fail(cmd, JV_EXIT_USER, "%s", err);
	return conn;
}

/*
 * Parse s as a whole base-10 integer in [min, max] for option opt. Leading
 * blanks, trailing garbage, an empty string and overflow are all refused.
 * Returns 0, or JV_EXIT_USER after printing the problem.
 */
static int parse_long(const char *cmd, const char *opt, const char *s, long min, long max,
                      long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || isspace((unsigned char)*s) || end == s || *end)
		return usage_fail(cmd, "invalid %s '%s': not an integer", opt, s);
	if (errno == ERANGE || v < min || v > max)
		return usage_fail(cmd, "invalid %s '%s': must be between %ld and %ld", opt, s, min,
		                  max);
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ migrate */

static void print_applied(const struct jv_migration *m, void *arg)
{
	(void)arg;
	printf("applied %s\n", m->name);
	fflush(stdout);
}

static void migrate_help(FILE *f)
{
	fprintf(f, "usage: jobvisor migrate [-c FILE]\n"
	           "\n"
	           "Apply the schema migrations built into this jobvisor (sql/NNN_*.sql) that\n"
	           "the database has not recorded yet, in order, each in its own transaction.\n"
	           "Running it again does nothing; concurrent runs wait for each other.\n"
	           "\n" CONFIG_HELP "  -h, --help          show this help\n" EXIT_HELP);
}

int jv_cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "migrate";
	const char *config_arg = NULL;
	int c;
	getopt_reset();
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_arg = optarg;
			break;
		case 'h':
			migrate_help(stdout);
			return JV_EXIT_OK;
		default:
			return getopt_fail(cmd, c, argv);
		}
	}
	if (optind < argc)
		return usage_fail(cmd, "unexpected argument '%s'", argv[optind]);

	struct jv_config *cfg = NULL;
	int rc = load_config(config_arg, &cfg);
	if (rc != JV_EXIT_OK)
		return rc;
	PGconn *conn = connect_db(cmd, cfg);
	jv_config_free(cfg);
	if (!conn)
		return JV_EXIT_USER;

	char err[2048];
	int applied = 0, version = 0;
	if (jv_migrate_with(conn, print_applied, NULL, &applied, err, sizeof err) < 0) {
		rc = cli_fail(cmd, JV_EXIT_USER, "%s", err);
	} else if (jv_schema_version(conn, &version, err, sizeof err) < 0) {
		rc = cli_fail(cmd, JV_EXIT_INTERNAL, "could not read the schema version: %s", err);
	} else if (applied == 0) {
		printf("schema is up to date (version %d)\n", version);
	} else {
		printf("schema is at version %d\n", version);
	}
	PQfinish(conn);
	return rc;
}

/* ------------------------------------------------------------------ enqueue */

static void enqueue_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: jobvisor enqueue [-c FILE] --type T [--user U] [--payload JSON] [--at TIME]\n"
	    "                        [--priority N] [--max-attempts N] [--timeout SECONDS]\n"
	    "                        [--unique-key K [--unique-states S,...]]\n"
	    "\n"
	    "Add a job to jobvisor.jobs and print its id.\n"
	    "\n" CONFIG_HELP
	    "  -t, --type T        the job type: an executor named in the config (required)\n"
	    "  -u, --user U        the user the job belongs to (per_user_limit applies)\n"
	    "  -p, --payload JSON  the job's payload, a JSON object (default {})\n"
	    "      --at TIME       when it is due: an ISO-8601 timestamp such as\n"
	    "                      2026-12-01T03:00:00Z (without a zone: the server's), or\n"
	    "                      relative: +30s, +5m, +2h, +1d (default: now)\n"
	    "      --priority N    higher runs first (default 0)\n"
	    "      --max-attempts N  attempts before it fails for good, 1..1000 (default 3)\n"
	    "      --timeout SECONDS  hard limit per attempt, 1..604800 (default: the\n"
	    "                      executor's, else processor.timeout_seconds)\n"
	    "      --unique-key K  when a pending or running job has this key, print its id\n"
	    "                      and add nothing; stderr then says \"existing job N holds\n"
	    "                      unique key K\"\n"
	    "      --unique-states S,...  the states in which a job holds its key, a comma\n"
	    "                      list of pending, running, succeeded, failed, cancelled\n"
	    "                      that includes pending and running (default\n"
	    "                      pending,running; pending,running,succeeded: at most\n"
	    "                      once until it fails)\n"
	    "  -h, --help          show this help\n" EXIT_HELP);
}

/* "+30s", "+5m", "+2h", "+1d", "+90" (seconds) -> seconds. 0 ok, -1 not
 * relative (no '+'), JV_EXIT_USER after printing a bad one. */
static int parse_relative(const char *cmd, const char *s, long *seconds)
{
	if (s[0] != '+')
		return -1;
	const char *p = s + 1;
	if (!isdigit((unsigned char)*p))
		return usage_fail(cmd, "invalid --at '%s': expected +N followed by s, m, h or d",
		                  s);
	char *end;
	errno = 0;
	long n = strtol(p, &end, 10);
	long unit = 1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return usage_fail(cmd, "invalid --at '%s': expected +N followed by s, m, h or d",
		                  s);
	}
	if (*end && end[1])
		return usage_fail(cmd, "invalid --at '%s': expected +N followed by s, m, h or d",
		                  s);
	const long max = 10L * 366 * 86400; /* ten years */
	if (errno == ERANGE || n > max / unit)
		return usage_fail(cmd, "invalid --at '%s': more than ten years ahead", s);
	*seconds = n * unit;
	return 0;
}

/* Check payload is a JSON object (duplicate keys refused) an executor is
 * handed: at most JV_PAYLOAD_MAX_DEPTH deep; integers beyond int64 are
 * fine (stored as given, read as reals: jsontext.h). */
static int check_payload(const char *cmd, const char *text)
{
	char why[200];
	json_t *j = jv_json_load_pg(text, strlen(text), JSON_REJECT_DUPLICATES, why, sizeof why);
	if (!j)
		return usage_fail(cmd, "invalid --payload: %s", why);
	int rc = 0, depth = jv_json_depth(text, strlen(text));
	if (depth > JV_PAYLOAD_MAX_DEPTH) {
		rc = usage_fail(cmd,
		                "invalid --payload: nested %d levels deep: at most %d levels of "
		                "arrays and objects",
		                depth, JV_PAYLOAD_MAX_DEPTH);
	} else if (!json_is_object(j)) {
		static const char *const names[] = {
		    [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
		    [JSON_STRING] = "a string",  [JSON_INTEGER] = "a number",
		    [JSON_REAL] = "a number",    [JSON_TRUE] = "true",
		    [JSON_FALSE] = "false",      [JSON_NULL] = "null",
		};
		rc = usage_fail(cmd, "invalid --payload: must be a JSON object ({...}), not %s",
		                names[json_typeof(j)]);
	}
	json_decref(j);
	return rc;
}

/* An option's value over its documented limit (README "Limits"). */
static int too_long(const char *cmd, const char *opt, const char *s, size_t max)
{
	if (strlen(s) <= max)
		return 0;
	return usage_fail(cmd, "invalid %s: too long: %zu bytes, the limit is %zu bytes", opt,
	                  strlen(s), max);
}

/* The type must name a configured executor. */
static int check_type(const char *cmd, const struct jv_config *cfg, const char *type)
{
	for (size_t i = 0; i < cfg->n_executors; i++)
		if (!strcmp(cfg->executors[i].name, type))
			return 0;
	struct jv_buf names = {0};
	for (size_t i = 0; i < cfg->n_executors; i++)
		jv_buf_printf(&names, "%s%s", i ? ", " : "", cfg->executors[i].name);
	if (cfg->n_executors)
		cli_fail(cmd, JV_EXIT_USER, "unknown job type '%s' (configured: %s)", type,
		         names.data);
	else
		cli_fail(cmd, JV_EXIT_USER,
		         "unknown job type '%s' (no executors are configured in %s)", type,
		         cfg->path ? cfg->path : "the config");
	jv_buf_free(&names);
	return JV_EXIT_USER;
}

struct enqueue_args {
	const char *config;
	const char *type, *user, *payload, *at, *unique_key;
	char *unique_states;                           /* "{pending,running}", malloc'd */
	const char *priority, *max_attempts, *timeout; /* validated text */
	long at_seconds;                               /* when at is relative */
	int at_relative;
};

/* Check an absolute --at by letting PostgreSQL parse it. */
static int check_at(const char *cmd, PGconn *conn, const char *at)
{
	char err[1024], state[6];
	const char *params[] = {at};
	PGresult *res = jv_db_query(conn, "SELECT isfinite($1::timestamptz)", 1, params, state, err,
	                            sizeof err);
	if (!res) {
		if (!strncmp(state, "22", 2)) /* data exception: the value */
			return usage_fail(cmd, "invalid --at '%s': %s", at, err);
		return cli_fail(cmd, JV_EXIT_INTERNAL, "could not check --at: %s", err);
	}
	int finite = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!finite)
		return usage_fail(cmd, "invalid --at '%s': must be a finite time", at);
	return 0;
}

/* --unique-states "pending,running,succeeded" -> the array literal
 * "{pending,running,succeeded}" in *out (malloc'd). Every element a known
 * state, pending and running among them (the unique index allows one
 * pending or running job per key whatever the set). */
static int parse_unique_states(const char *cmd, const char *s, char **out)
{
	static const char *const known[] = {"pending", "running", "succeeded", "failed",
	                                    "cancelled"};
	int seen[5] = {0};
	struct jv_buf b = {0};
	const char *p = s;
	jv_buf_puts(&b, "{");
	for (;;) {
		size_t n = strcspn(p, ",");
		size_t i;
		for (i = 0; i < 5; i++)
			if (strlen(known[i]) == n && !strncmp(known[i], p, n))
				break;
		if (i == 5) {
			jv_buf_free(&b);
			return usage_fail(cmd,
			                  "invalid --unique-states '%s': '%.*s' is not one of pending, "
			                  "running, succeeded, failed, cancelled",
			                  s, (int)n, p);
		}
		if (!seen[i]) {
			if (b.len > 1)
				jv_buf_puts(&b, ",");
			jv_buf_puts(&b, known[i]);
		}
		seen[i] = 1;
		if (!p[n])
			break;
		p += n + 1;
	}
	if (!seen[0] || !seen[1]) {
		jv_buf_free(&b);
		return usage_fail(cmd,
		                  "invalid --unique-states '%s': must include pending and running "
		                  "(one pending or running job per key is always the rule)",
		                  s);
	}
	jv_buf_puts(&b, "}");
	*out = b.data;
	return 0;
}

static int enqueue_run(const char *cmd, const struct enqueue_args *a)
{
	struct jv_config *cfg = NULL;
	int rc = load_config(a->config, &cfg);
	if (rc != JV_EXIT_OK)
		return rc;
	rc = check_type(cmd, cfg, a->type);
	PGconn *conn = rc ? NULL : connect_db(cmd, cfg);
	jv_config_free(cfg);
	if (rc)
		return rc;
	if (!conn)
		return JV_EXIT_USER;

	char err[1024];
	if (jv_schema_check(conn, err, sizeof err) < 0) {
		rc = cli_fail(cmd, JV_EXIT_USER, "%s", err);
		goto out;
	}
	if (a->at && !a->at_relative && (rc = check_at(cmd, conn, a->at)) != 0)
		goto out;

	char seconds[32];
	snprintf(seconds, sizeof seconds, "%ld", a->at_seconds);
	const char *params[] = {
	    a->type,
	    a->payload,
	    a->user,
	    a->at_relative ? NULL : a->at,
	    a->at_relative ? seconds : NULL,
	    a->priority,
	    a->max_attempts,
	    a->timeout,
	    a->unique_key,
	    a->unique_states,
	};
	/* One transaction, so that "created" can be told: the job is ours when
	 * its row's xmin is this transaction (with a unique key, enqueue may
	 * return another job's id). NULL arguments take enqueue's defaults. */
	char state[6] = "";
	if (jv_db_exec(conn, "BEGIN", 0, NULL, err, sizeof err) < 0) {
		rc = cli_fail(cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
		goto out;
	}
	PGresult *res = jv_db_query(
	    conn,
	    "SELECT jobvisor.enqueue($1, $2::jsonb, $3,"
	    " coalesce($4::timestamptz, now() + make_interval(secs => $5::double precision)),"
	    " $6::integer, $7::integer, $8::integer, $9, $10::text[])",
	    10, params, state, err, sizeof err);
	if (!res) {
		/* 22: a data exception, the input's fault (a bad unique_states,
		 * a payload that grows past its limit as the database writes it) */
		rc = cli_fail(cmd, !strncmp(state, "22", 2) ? JV_EXIT_USER : JV_EXIT_INTERNAL,
		              "could not enqueue: %s", err);
		goto out;
	}
	char id[32];
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *idp[] = {id};
	res = jv_db_query(conn,
	                  "SELECT j.xmin = pg_current_xact_id()::xid FROM jobvisor.jobs j"
	                  " WHERE j.id = $1::bigint",
	                  1, idp, NULL, err, sizeof err);
	if (!res) {
		rc = cli_fail(cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
		goto out;
	}
	int created = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (jv_db_exec(conn, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		rc = cli_fail(cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
		goto out;
	}
	printf("%s\n", id);
	if (!created && a->unique_key)
		fprintf(stderr, "existing job %s holds unique key %s\n", id, a->unique_key);
out:
	PQfinish(conn);
	return rc;
}

int jv_cmd_enqueue(int argc, char **argv)
{
	enum {
		OPT_AT = 256,
		OPT_PRIORITY,
		OPT_MAX_ATTEMPTS,
		OPT_TIMEOUT,
		OPT_UNIQUE_KEY,
		OPT_UNIQUE_STATES
	};
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"type", required_argument, NULL, 't'},
	    {"user", required_argument, NULL, 'u'},
	    {"payload", required_argument, NULL, 'p'},
	    {"at", required_argument, NULL, OPT_AT},
	    {"priority", required_argument, NULL, OPT_PRIORITY},
	    {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"unique-key", required_argument, NULL, OPT_UNIQUE_KEY},
	    {"unique-states", required_argument, NULL, OPT_UNIQUE_STATES},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "enqueue";
	struct enqueue_args a = {0};
	const char *states = NULL;
	long n;
	int c, rc;
	getopt_reset();
	while ((c = getopt_long(argc, argv, ":c:t:u:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a.config = optarg;
			break;
		case 't':
			if (!*optarg)
				return usage_fail(cmd, "invalid --type: must not be empty");
			if ((rc = too_long(cmd, "--type", optarg, JV_TYPE_MAX)) != 0)
				return rc;
			a.type = optarg;
			break;
		case 'u':
			if (!*optarg)
				return usage_fail(cmd, "invalid --user: must not be empty");
			if ((rc = too_long(cmd, "--user", optarg, JV_USER_MAX)) != 0)
				return rc;
			a.user = optarg;
			break;
		case 'p':
			if ((rc = too_long(cmd, "--payload", optarg, JV_PAYLOAD_MAX)) != 0 ||
			    (rc = check_payload(cmd, optarg)) != 0)
				return rc;
			a.payload = optarg;
			break;
		case OPT_AT:
			if (!*optarg)
				return usage_fail(cmd, "invalid --at: must not be empty");
			rc = parse_relative(cmd, optarg, &a.at_seconds);
			if (rc > 0)
				return rc;
			a.at_relative = rc == 0;
			a.at = optarg;
			break;
		case OPT_PRIORITY:
			if ((rc = parse_long(cmd, "--priority", optarg, -2147483647L - 1,
			                     2147483647L, &n)) != 0)
				return rc;
			a.priority = optarg;
			break;
		case OPT_MAX_ATTEMPTS:
			if ((rc = parse_long(cmd, "--max-attempts", optarg, 1, 1000, &n)) != 0)
				return rc;
			a.max_attempts = optarg;
			break;
		case OPT_TIMEOUT:
			if ((rc = parse_long(cmd, "--timeout", optarg, 1, 604800, &n)) != 0)
				return rc;
			a.timeout = optarg;
			break;
		case OPT_UNIQUE_KEY:
			if (!*optarg)
				return usage_fail(cmd, "invalid --unique-key: must not be empty");
			if ((rc = too_long(cmd, "--unique-key", optarg, JV_UNIQUE_KEY_MAX)) != 0)
				return rc;
			a.unique_key = optarg;
			break;
		case OPT_UNIQUE_STATES:
			states = optarg;
			break;
		case 'h':
			enqueue_help(stdout);
			return JV_EXIT_OK;
		default:
			return getopt_fail(cmd, c, argv);
		}
	}
	if (optind < argc)
		return usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
	if (!a.type)
		return usage_fail(cmd, "missing --type (the job type, an executor of the config)");
	if (states && !a.unique_key)
		return usage_fail(cmd, "--unique-states needs --unique-key");
	if (states && (rc = parse_unique_states(cmd, states, &a.unique_states)) != 0)
		return rc;
	rc = enqueue_run(cmd, &a);
	free(a.unique_states);
	return rc;
}

/* ------------------------------------------------------------------- status */

static void status_help(FILE *f)
{
	fprintf(f, "usage: jobvisor status [-c FILE] [--json]\n"
	           "\n"
	           "Show the processors (running, or stopped within the last hour), the\n"
	           "number of jobs in each state, how long the oldest due job has waited,\n"
	           "and the history: its oldest rows and what retention removed.\n"
	           "A processor whose heartbeat is older than processor.stuck_job_timeout_minutes\n"
	           "is marked stale: its running jobs will be rescued.\n"
	           "\n" CONFIG_HELP "      --json          print one JSON object instead of text\n"
	           "  -h, --help          show this help\n" EXIT_HELP);
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

/* Counts by status, every status listed (in this order) even when 0; then
 * pending due, pending scheduled later, and the age in seconds of the
 * oldest due pending job. */
static const char sql_status_jobs[] =
    "SELECT s.status, coalesce(c.n, 0)"
    " FROM unnest(ARRAY['pending', 'running', 'succeeded', 'failed', 'cancelled'])"
    "      WITH ORDINALITY AS s(status, ord)"
    " LEFT JOIN (SELECT status, count(*) AS n FROM jobvisor.jobs GROUP BY status) c"
    "      USING (status)"
    " ORDER BY s.ord";
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
		if (i == 0)
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
		       const struct status_retention *rt)
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
		return cli_fail("status", JV_EXIT_INTERNAL, "could not format JSON");
	printf("%s\n", text);
	free(text);
	return JV_EXIT_OK;
}

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
	getopt_reset();
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
			return getopt_fail(cmd, c, argv);
		}
	}
	if (optind < argc)
		return usage_fail(cmd, "unexpected argument '%s'", argv[optind]);

	struct jv_config *cfg = NULL;
	int rc = load_config(config_arg, &cfg);
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
	PGconn *conn = connect_db(cmd, cfg);
	jv_config_free(cfg);
	if (!conn)
		return JV_EXIT_USER;

	char err[1024];
	int version = 0;
	PGresult *procs = NULL, *jobs = NULL, *pend = NULL, *alerts = NULL, *recent = NULL;
	PGresult *hist = NULL;
	const char *params[] = {stuck};
	if (jv_schema_check(conn, err, sizeof err) < 0 ||
	    jv_schema_version(conn, &version, err, sizeof err) < 0) {
		rc = cli_fail(cmd, JV_EXIT_USER, "%s", err);
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
	    PQntuples(hist) != 1 || jv_db_exec(conn, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		rc = cli_fail(cmd, JV_EXIT_INTERNAL, "could not read the status: %s", err);
		goto out;
	}
	if (json) {
		rc = status_json(procs, jobs, pend, version, alerts, recent, hist, &rt);
	} else {
		rc = status_text(procs, jobs, pend, version);
		status_history_text(hist, &rt);
		status_alerts_text(alerts, recent);
	}
out:
	PQclear(hist);
	PQclear(alerts);
	PQclear(recent);
	PQclear(procs);
	PQclear(jobs);
	PQclear(pend);
	PQfinish(conn);
	return rc;
}

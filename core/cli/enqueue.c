/*
 * enqueue.c -- `jobvisor enqueue`: insert one job, its payload, type and
 * options checked as the API checks them.
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

static void enqueue_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: jobvisor enqueue [-c FILE] --type T [--user U] [--payload JSON] [--at TIME]\n"
	    "                        [--priority N] [--max-attempts N] [--timeout SECONDS]\n"
	    "                        [--unique-key K [--unique-states S,...]] [--queue NAME]\n"
	    "                        [--after ID,... [--run-when success|always]] [--json]\n"
	    "       jobvisor enqueue [-c FILE] --file FILE|- [--json]\n"
	    "\n"
	    "Add a job to jobvisor.jobs and print its id; with --file, add one job per\n"
	    "line of FILE, all or none, and print how many and their ids.\n"
	    "\n" JV_CLI_CONFIG_HELP
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
	    "  -q, --queue NAME    the queue, " JV_QUEUE_NAME_RULE "\n"
	    "                      (default 'default'); one the processors' config names\n"
	    "                      under queues: (the database refuses an unknown one)\n"
	    "      --after ID,...  run only after these jobs (1 to 100 ids): the job waits\n"
	    "                      until every one succeeded, and is cancelled when one\n"
	    "                      fails for good or is cancelled\n"
	    "      --run-when W    success (default): as above; always: run once every\n"
	    "                      job of --after finished, however it ended\n"
	    "  -f, --file FILE     one job per line (- for standard input), a JSON object\n"
	    "                      with the REST API's fields: type, payload, user, runAt,\n"
	    "                      priority, maxAttempts, timeoutSeconds, uniqueKey,\n"
	    "                      uniqueStates, queue, dependsOn, runWhen; blank lines\n"
	    "                      are skipped; a line at most 2 MiB, at most 1000000\n"
	    "                      jobs; one transaction: a bad line (named FILE:LINE)\n"
	    "                      adds none\n"
	    "      --json          print JSON: {\"id\", \"created\"}, with --file\n"
	    "                      {\"count\", \"created\", \"ids\"} (ids in line order)\n"
	    "  -h, --help          show this help\n" JV_CLI_EXIT_HELP);
}

/* "+30s", "+5m", "+2h", "+1d", "+90" (seconds) -> seconds. 0 ok, -1 not
 * relative (no '+'), JV_EXIT_USER after printing a bad one. */
static int parse_relative(const char *cmd, const char *s, long *seconds)
{
	if (s[0] != '+')
		return -1;
	const char *p = s + 1;
	if (!isdigit((unsigned char)*p))
		return jv_cli_usage_fail(cmd, "invalid --at '%s': expected +N followed by s, m, h or d",
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
		return jv_cli_usage_fail(cmd, "invalid --at '%s': expected +N followed by s, m, h or d",
		                  s);
	}
	if (*end && end[1])
		return jv_cli_usage_fail(cmd, "invalid --at '%s': expected +N followed by s, m, h or d",
		                  s);
	const long max = 10L * 366 * 86400; /* ten years */
	if (errno == ERANGE || n > max / unit)
		return jv_cli_usage_fail(cmd, "invalid --at '%s': more than ten years ahead", s);
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
		return jv_cli_usage_fail(cmd, "invalid --payload: %s", why);
	int rc = 0, depth = jv_json_depth(text, strlen(text));
	if (depth > JV_PAYLOAD_MAX_DEPTH) {
		rc = jv_cli_usage_fail(cmd,
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
		rc = jv_cli_usage_fail(cmd, "invalid --payload: must be a JSON object ({...}), not %s",
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
	return jv_cli_usage_fail(cmd, "invalid %s: too long: %zu bytes, the limit is %zu bytes", opt,
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
		jv_cli_fail(cmd, JV_EXIT_USER, "unknown job type '%s' (configured: %s)", type,
		         names.data);
	else
		jv_cli_fail(cmd, JV_EXIT_USER,
		         "unknown job type '%s' (no executors are configured in %s)", type,
		         cfg->path ? cfg->path : "the config");
	jv_buf_free(&names);
	return JV_EXIT_USER;
}

struct enqueue_args {
	const char *config;
	const char *type, *user, *payload, *at, *unique_key, *queue;
	char *unique_states;                           /* "{pending,running}", malloc'd */
	const char *priority, *max_attempts, *timeout; /* validated text */
	char *after;                                   /* "{1,2,3}", malloc'd */
	const char *run_when;
	long at_seconds;                               /* when at is relative */
	int at_relative;
	int json;
};

/* --after "12,13,20" -> the array literal "{12,13,20}" in *out (malloc'd):
 * 1 to JV_DEPENDS_MAX job ids, each a positive integer; one listed twice
 * counts once. */
static int parse_after(const char *cmd, const char *s, char **out)
{
	struct jv_buf b = {0};
	long long ids[JV_DEPENDS_MAX];
	size_t n = 0;
	const char *p = s;
	jv_buf_puts(&b, "{");
	for (;;) {
		size_t len = strcspn(p, ",");
		char *end = (char *)p;
		errno = 0;
		long long id = isdigit((unsigned char)*p) ? strtoll(p, &end, 10) : 0;
		if (end != p + len || len == 0 || errno == ERANGE || id < 1) {
			jv_buf_free(&b);
			return jv_cli_usage_fail(cmd,
			                         "invalid --after '%.80s%s': '%.*s' is not a job id "
			                         "(a positive integer)",
			                         s, strlen(s) > 80 ? "..." : "", len > 40 ? 40 : (int)len,
			                         p);
		}
		size_t i = 0;
		while (i < n && ids[i] != id)
			i++;
		if (i == n) {
			if (n == JV_DEPENDS_MAX) {
				jv_buf_free(&b);
				return jv_cli_usage_fail(cmd,
				                         "invalid --after: more than %d job ids (a job "
				                         "has at most %d dependencies)",
				                         JV_DEPENDS_MAX, JV_DEPENDS_MAX);
			}
			ids[n++] = id;
			jv_buf_printf(&b, "%s%lld", n > 1 ? "," : "", id);
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	jv_buf_puts(&b, "}");
	*out = b.data;
	return 0;
}

/* Check an absolute --at by letting PostgreSQL parse it. */
static int check_at(const char *cmd, PGconn *conn, const char *at)
{
	char err[1024], state[6];
	const char *params[] = {at};
	PGresult *res = jv_db_query(conn, "SELECT isfinite($1::timestamptz)", 1, params, state, err,
	                            sizeof err);
	if (!res) {
		if (!strncmp(state, "22", 2)) /* data exception: the value */
			return jv_cli_usage_fail(cmd, "invalid --at '%s': %s", at, err);
		return jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not check --at: %s", err);
	}
	int finite = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!finite)
		return jv_cli_usage_fail(cmd, "invalid --at '%s': must be a finite time", at);
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
			return jv_cli_usage_fail(cmd,
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
		return jv_cli_usage_fail(cmd,
		                  "invalid --unique-states '%s': must include pending and running "
		                  "(one pending or running job per key is always the rule)",
		                  s);
	}
	jv_buf_puts(&b, "}");
	*out = b.data;
	return 0;
}

/* Connect, check what needs the database (the schema, an absolute --at),
 * then one transaction: jobvisor.enqueue() and whether it inserted the row.
 * One linear sequence of round trips, each failure ending it with its own
 * message, so it stays in one function. */
static int enqueue_run(const char *cmd, const struct enqueue_args *a)
{
	struct jv_config *cfg = NULL;
	int rc = jv_cli_load_config(a->config, &cfg);
	if (rc != JV_EXIT_OK)
		return rc;
	rc = check_type(cmd, cfg, a->type);
	PGconn *conn = rc ? NULL : jv_cli_connect(cmd, cfg);
	jv_config_free(cfg);
	if (rc)
		return rc;
	if (!conn)
		return JV_EXIT_USER;

	char err[1024];
	if (jv_schema_check(conn, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_USER, "%s", err);
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
	    a->queue,
	    a->after,
	    a->run_when ? a->run_when : "success",
	};
	/* One transaction, so that "created" can be told: the job is ours when
	 * its row's xmin is this transaction (with a unique key, enqueue may
	 * return another job's id). NULL arguments take enqueue's defaults. */
	char state[6] = "";
	if (jv_db_exec(conn, "BEGIN", 0, NULL, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
		goto out;
	}
	/* Dependencies only when given: the call without them is the one of
	 * every schema this binary was tested against. */
	PGresult *res = jv_db_query(
	    conn,
	    a->after ? "SELECT jobvisor.enqueue($1, $2::jsonb, $3,"
	               " coalesce($4::timestamptz, now() + make_interval(secs => $5::double "
	               "precision)),"
	               " $6::integer, $7::integer, $8::integer, $9, $10::text[], $11,"
	               " depends_on => $12::bigint[], run_when => $13)"
	             : "SELECT jobvisor.enqueue($1, $2::jsonb, $3,"
	               " coalesce($4::timestamptz, now() + make_interval(secs => $5::double "
	               "precision)),"
	               " $6::integer, $7::integer, $8::integer, $9, $10::text[], $11)",
	    a->after ? 13 : 11, params, state, err, sizeof err);
	if (!res) {
		/* 22: a data exception, the input's fault (a bad unique_states,
		 * a payload that grows past its limit as the database writes it,
		 * a queue no processor's config names: 22023) */
		rc = jv_cli_fail(cmd, !strncmp(state, "22", 2) ? JV_EXIT_USER : JV_EXIT_INTERNAL,
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
		rc = jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
		goto out;
	}
	int created = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (jv_db_exec(conn, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
		goto out;
	}
	if (a->json)
		printf("{\"id\": %s, \"created\": %s}\n", id, created ? "true" : "false");
	else
		printf("%s\n", id);
	if (!created && a->unique_key)
		fprintf(stderr, "existing job %s holds unique key %s\n", id, a->unique_key);
out:
	PQfinish(conn);
	return rc;
}

/* Long, on purpose: one getopt case per option, each holding the checks of
 * its value (the limit, the syntax), so that an option and its rules read
 * together; the work is in enqueue_run(). */
int jv_cmd_enqueue(int argc, char **argv)
{
	enum {
		OPT_AT = 256,
		OPT_PRIORITY,
		OPT_MAX_ATTEMPTS,
		OPT_TIMEOUT,
		OPT_UNIQUE_KEY,
		OPT_UNIQUE_STATES,
		OPT_AFTER,
		OPT_RUN_WHEN,
		OPT_JSON
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
	    {"queue", required_argument, NULL, 'q'},
	    {"after", required_argument, NULL, OPT_AFTER},
	    {"run-when", required_argument, NULL, OPT_RUN_WHEN},
	    {"file", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "enqueue";
	struct enqueue_args a = {0};
	const char *states = NULL, *after = NULL, *file = NULL, *job_option = NULL;
	long n;
	int c, rc;
	jv_cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":c:t:u:p:q:f:h", opts, NULL)) != -1) {
		for (const struct option *o = opts; o->name && c != 'c' && c != 'f' && c != OPT_JSON;
		     o++)
			if (o->val == c && o->has_arg)
				job_option = o->name;
		switch (c) {
		case 'c':
			a.config = optarg;
			break;
		case 't':
			if (!*optarg)
				return jv_cli_usage_fail(cmd, "invalid --type: must not be empty");
			if ((rc = too_long(cmd, "--type", optarg, JV_TYPE_MAX)) != 0)
				return rc;
			a.type = optarg;
			break;
		case 'u':
			if (!*optarg)
				return jv_cli_usage_fail(cmd, "invalid --user: must not be empty");
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
				return jv_cli_usage_fail(cmd, "invalid --at: must not be empty");
			rc = parse_relative(cmd, optarg, &a.at_seconds);
			if (rc > 0)
				return rc;
			a.at_relative = rc == 0;
			a.at = optarg;
			break;
		case OPT_PRIORITY:
			if ((rc = jv_cli_parse_long(cmd, "--priority", optarg, -2147483647L - 1,
			                     2147483647L, &n)) != 0)
				return rc;
			a.priority = optarg;
			break;
		case OPT_MAX_ATTEMPTS:
			if ((rc = jv_cli_parse_long(cmd, "--max-attempts", optarg, 1, 1000, &n)) != 0)
				return rc;
			a.max_attempts = optarg;
			break;
		case OPT_TIMEOUT:
			if ((rc = jv_cli_parse_long(cmd, "--timeout", optarg, 1, 604800, &n)) != 0)
				return rc;
			a.timeout = optarg;
			break;
		case OPT_UNIQUE_KEY:
			if (!*optarg)
				return jv_cli_usage_fail(cmd, "invalid --unique-key: must not be empty");
			if ((rc = too_long(cmd, "--unique-key", optarg, JV_UNIQUE_KEY_MAX)) != 0)
				return rc;
			a.unique_key = optarg;
			break;
		case OPT_UNIQUE_STATES:
			states = optarg;
			break;
		case 'q':
			if (!jv_queue_name_ok(optarg))
				return jv_cli_usage_fail(cmd, "invalid --queue '%.80s%s': must be %s",
				                         optarg, strlen(optarg) > 80 ? "..." : "",
				                         JV_QUEUE_NAME_RULE);
			a.queue = optarg;
			break;
		case OPT_AFTER:
			after = optarg;
			break;
		case OPT_RUN_WHEN:
			if (strcmp(optarg, "success") && strcmp(optarg, "always"))
				return jv_cli_usage_fail(
				    cmd, "invalid --run-when '%.80s': must be success or always", optarg);
			a.run_when = optarg;
			break;
		case 'f':
			if (!*optarg)
				return jv_cli_usage_fail(cmd, "invalid --file: must not be empty (- "
				                              "reads standard input)");
			file = optarg;
			break;
		case OPT_JSON:
			a.json = 1;
			break;
		case 'h':
			enqueue_help(stdout);
			return JV_EXIT_OK;
		default:
			return jv_cli_getopt_fail(cmd, c, argv);
		}
	}
	if (optind < argc)
		return jv_cli_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
	if (file && job_option)
		return jv_cli_usage_fail(cmd,
		                         "--file takes every job from the file: --%s cannot go "
		                         "with it (put the field in each line)",
		                         job_option);
	if (file)
		return jv_cli_enqueue_file(cmd, a.config, file, a.json);
	if (!a.type)
		return jv_cli_usage_fail(cmd, "missing --type (the job type, an executor of the config)");
	if (states && !a.unique_key)
		return jv_cli_usage_fail(cmd, "--unique-states needs --unique-key");
	if (a.run_when && !after)
		return jv_cli_usage_fail(cmd, "--run-when needs --after");
	if (after && a.unique_key)
		return jv_cli_usage_fail(cmd, "--unique-key cannot go with --after (a job with "
		                              "dependencies has no unique key)");
	if (after && (rc = parse_after(cmd, after, &a.after)) != 0)
		return rc;
	if (states && (rc = parse_unique_states(cmd, states, &a.unique_states)) != 0) {
		free(a.after);
		return rc;
	}
	rc = enqueue_run(cmd, &a);
	free(a.unique_states);
	free(a.after);
	return rc;
}

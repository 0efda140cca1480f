/*
 * workflow.c -- `jobvisor workflow --file W.json`: insert a workflow, the
 * body POST /api/workflows takes ({"name", "jobs": [{"key", "type",
 * "dependsOn": [keys], ...}]}), through jobvisor.enqueue_workflow() in one
 * transaction, and print its id and each step's job id.
 *
 * The database checks the workflow (keys, dependencies, cycles, limits)
 * and names the problem (SQLSTATE 22023): exit status 1 with its message.
 * Here only what needs the file or the config: readable JSON, an object,
 * and each step's type an executor of the config, as for `enqueue`.
 */
#include "cli/cli.h"
#include "config/config.h"
#include "engine/migrate.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/jsontext.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void workflow_help(FILE *f)
{
	fprintf(f,
	        "usage: jobvisor workflow [-c FILE] --file W.json|- [--json]\n"
	        "\n"
	        "Add a workflow -- named jobs (steps) that depend on each other by key -- in\n"
	        "one transaction, and print its id and each step's job id. W.json is the\n"
	        "body of POST /api/workflows:\n"
	        "  {\"name\": \"nightly\", \"jobs\": [{\"key\": \"a\", \"type\": \"shell\", \"payload\": {},\n"
	        "   ...}, {\"key\": \"b\", \"type\": \"shell\", \"dependsOn\": [\"a\"],\n"
	        "   \"runWhen\": \"success\"}]}\n"
	        "A cycle, an unknown or duplicate key, or a bad field is refused, naming it,\n"
	        "and nothing is added.\n"
	        "\n" JV_CLI_CONFIG_HELP
	        "  -f, --file W.json   the workflow (- for standard input), at most 64 MiB\n"
	        "      --json          print the database's answer, {\"id\", \"name\", \"jobs\":\n"
	        "                      {key: job id}}\n"
	        "  -h, --help          show this help\n" JV_CLI_EXIT_HELP);
}

/* The whole of in, at most JV_WORKFLOW_FILE_MAX bytes, into *out. */
static int read_all(const char *cmd, FILE *in, const char *name, struct jv_buf *out)
{
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0) {
		if (out->len + n > JV_WORKFLOW_FILE_MAX)
			return jv_cli_fail(cmd, JV_EXIT_USER, "%s: too large: the limit is %d bytes",
			                   name, JV_WORKFLOW_FILE_MAX);
		jv_buf_append(out, chunk, n);
	}
	if (ferror(in))
		return jv_cli_fail(cmd, JV_EXIT_USER, "cannot read %s: %s", name, strerror(errno));
	if (!out->data)
		jv_buf_puts(out, "");
	return 0;
}

/* Every step's type must name an executor of the config (the database
 * checks the rest, shapes included: a step that is no object is its to
 * name). */
static int check_types(const char *cmd, const char *name, const json_t *wf,
                       const struct jv_config *cfg)
{
	size_t i;
	const json_t *step;
	json_array_foreach(json_object_get(wf, "jobs"), i, step)
	{
		const char *type = json_string_value(json_object_get(step, "type"));
		if (!type)
			continue;
		size_t e = 0;
		while (e < cfg->n_executors && strcmp(cfg->executors[e].name, type))
			e++;
		if (e == cfg->n_executors)
			return jv_cli_fail(cmd, JV_EXIT_USER,
			                   "%s: jobs[%zu].type: unknown job type '%.128s' (not an "
			                   "executor of %s)",
			                   name, i, type, cfg->path ? cfg->path : "the config");
	}
	return 0;
}

/* "workflow W (NAME): N steps", then a line per step in the file's order:
 * its key and job id. */
static int print_text(const char *cmd, const json_t *wf, const char *answer)
{
	json_t *r = jv_json_load_pg(answer, strlen(answer), 0, NULL, 0);
	json_t *ids = json_object_get(r, "jobs");
	if (!json_is_object(ids)) {
		json_decref(r);
		return jv_cli_fail(cmd, JV_EXIT_INTERNAL, "unexpected answer: %.200s", answer);
	}
	printf("workflow %" JSON_INTEGER_FORMAT " (%s): %zu step%s\n",
	       json_integer_value(json_object_get(r, "id")),
	       json_string_value(json_object_get(r, "name")) ? json_string_value(
	                                                           json_object_get(r, "name"))
	                                                     : "",
	       json_object_size(ids), json_object_size(ids) == 1 ? "" : "s");
	size_t i;
	const json_t *step;
	json_array_foreach(json_object_get(wf, "jobs"), i, step)
	{
		const char *key = json_string_value(json_object_get(step, "key"));
		json_t *id = key ? json_object_get(ids, key) : NULL;
		if (id)
			printf("  %s %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(id));
	}
	json_decref(r);
	return JV_EXIT_OK;
}

/* Load, check, connect, insert: one call, which is its own transaction. */
static int workflow_run(const char *cmd, const char *config, const char *name,
                        const struct jv_buf *text, int json)
{
	char why[512];
	json_t *wf = jv_json_load_pg(text->data, text->len, JSON_REJECT_DUPLICATES, why, sizeof why);
	if (!wf)
		return jv_cli_fail(cmd, JV_EXIT_USER, "%s: %s", name, why);
	int rc = JV_EXIT_OK;
	PGconn *conn = NULL;
	struct jv_config *cfg = NULL;
	if (!json_is_object(wf)) {
		rc = jv_cli_fail(cmd, JV_EXIT_USER,
		                 "%s: must be a JSON object: {\"name\": ..., \"jobs\": [...]}", name);
		goto out;
	}
	if ((rc = jv_cli_load_config(config, &cfg)) != JV_EXIT_OK ||
	    (rc = check_types(cmd, name, wf, cfg)) != JV_EXIT_OK)
		goto out;
	if (!(conn = jv_cli_connect(cmd, cfg))) {
		rc = JV_EXIT_USER;
		goto out;
	}
	char err[1024], state[6] = "";
	if (jv_schema_check(conn, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_USER, "%s", err);
		goto out;
	}
	const char *params[] = {text->data, "cli"};
	PGresult *res = jv_db_query(conn, "SELECT jobvisor.enqueue_workflow($1::jsonb, $2)", 2,
	                            params, state, err, sizeof err);
	if (!res) {
		/* 22: the workflow's fault (22023 from the checks, 22P02 not
		 * JSON to PostgreSQL, 22001 a value past its limit) */
		rc = jv_cli_fail(cmd, !strncmp(state, "22", 2) ? JV_EXIT_USER : JV_EXIT_INTERNAL,
		                 "%s: %s", name, err);
		goto out;
	}
	if (json)
		printf("%s\n", PQgetvalue(res, 0, 0));
	else
		rc = print_text(cmd, wf, PQgetvalue(res, 0, 0));
	PQclear(res);
out:
	PQfinish(conn);
	jv_config_free(cfg);
	json_decref(wf);
	return rc;
}

int jv_cmd_workflow(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"file", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "workflow";
	const char *config = NULL, *file = NULL;
	int json = 0, c;
	jv_cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":c:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			if (!*optarg)
				return jv_cli_usage_fail(cmd, "invalid --file: must not be empty (- "
				                              "reads standard input)");
			file = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			workflow_help(stdout);
			return JV_EXIT_OK;
		default:
			return jv_cli_getopt_fail(cmd, c, argv);
		}
	}
	if (optind < argc)
		return jv_cli_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
	if (!file)
		return jv_cli_usage_fail(cmd, "missing --file (the workflow, a JSON object)");
	FILE *in = stdin;
	const char *name = "<stdin>";
	if (strcmp(file, "-")) {
		name = file;
		if (!(in = fopen(file, "r")))
			return jv_cli_fail(cmd, JV_EXIT_USER, "cannot open %s: %s", file,
			                   strerror(errno));
	}
	struct jv_buf text = {0};
	int rc = read_all(cmd, in, name, &text);
	if (in != stdin)
		fclose(in);
	if (rc == 0)
		rc = workflow_run(cmd, config, name, &text, json);
	jv_buf_free(&text);
	return rc;
}

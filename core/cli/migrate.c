/*
 * migrate.c -- `jobvisor migrate`: apply the schema's pending migrations
 * (engine/migrate.c), one transaction each.
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

static void print_applied(const struct jv_migration *m, void *arg)
{
	(void)arg;
	printf("applied %s\n", m->name);
	fflush(stdout);
}

static void migrate_help(FILE *f)
{
	fprintf(f, "usage: jobvisor migrate [-c FILE] [--to VERSION]\n"
	           "\n"
	           "Apply the schema migrations built into this jobvisor (sql/NNN_*.sql) that\n"
	           "the database has not recorded yet, in order, each in its own transaction.\n"
	           "Running it again does nothing; concurrent runs wait for each other.\n"
	           "Safe while processors run: index builds are concurrent, and a migration\n"
	           "waits for a table's lock at most 500 ms at a time, then tries again.\n"
	           "\n" JV_CLI_CONFIG_HELP
	           "      --to VERSION    apply none above VERSION (1..%d; staged upgrades)\n"
	           "  -h, --help          show this help\n" JV_CLI_EXIT_HELP,
	        jv_schema_latest());
}

int jv_cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"to", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "migrate";
	const char *config_arg = NULL;
	long to = 0;
	int c;
	jv_cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_arg = optarg;
			break;
		case 't': {
			char *end;
			errno = 0;
			to = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || to < 1 || to > jv_schema_latest())
				return jv_cli_usage_fail(cmd, "--to: '%s' is not a version from 1 to %d",
				                         optarg, jv_schema_latest());
			break;
		}
		case 'h':
			migrate_help(stdout);
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
	PGconn *conn = jv_cli_connect(cmd, cfg);
	char *queues = jv_config_queues_json(cfg);
	jv_config_free(cfg);
	if (!conn) {
		free(queues);
		return JV_EXIT_USER;
	}

	char err[2048];
	int applied = 0, version = 0;
	if (jv_migrate(conn, (int)to, print_applied, NULL, &applied, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_USER, "%s", err);
	} else if (jv_schema_version(conn, &version, err, sizeof err) < 0) {
		rc = jv_cli_fail(cmd, JV_EXIT_INTERNAL, "could not read the schema version: %s", err);
	} else {
		if (applied == 0)
			printf("schema is up to date (version %d)\n", version);
		else
			printf("schema is at version %d\n", version);
		/* The config's queues, known from now on: jobs can be enqueued
		 * to them before any processor has started with this config. */
		const char *params[] = {queues};
		if (queues && version >= 15 &&
		    jv_db_exec(conn, "SELECT jobvisor.sync_queues($1::jsonb, 'migrate')", 1, params,
			       err, sizeof err) != 0)
			rc = jv_cli_fail(cmd, JV_EXIT_USER, "could not store the config's queues: %s",
					 err);
	}
	free(queues);
	PQfinish(conn);
	return rc;
}

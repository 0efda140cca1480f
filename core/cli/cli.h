/*
 * cli.h -- the subcommands of the jobvisor binary. Each takes the arguments
 * after the subcommand name (argv[0] is the subcommand) and returns an exit
 * code: JV_EXIT_OK, JV_EXIT_USER (bad usage, bad config, bad input) or
 * JV_EXIT_INTERNAL.
 */
#ifndef JV_CLI_H
#define JV_CLI_H

int jv_cmd_serve(int argc, char **argv);
int jv_cmd_check_config(int argc, char **argv);
int jv_cmd_migrate(int argc, char **argv);
int jv_cmd_enqueue(int argc, char **argv);
int jv_cmd_status(int argc, char **argv);
int jv_cmd_test_alert(int argc, char **argv);
int jv_cmd_schedules(int argc, char **argv);
int jv_cmd_queues(int argc, char **argv);
int jv_cmd_workflow(int argc, char **argv);

/* The config path: the -c argument, else $JOBVISOR_CONFIG, else
 * SYSCONFDIR/jobvisor/jobvisor.yaml. Static storage or argv. */
const char *jv_cli_config_path(const char *arg);

/* --- shared by the commands (common.c) ---------------------------------
 * Messages go to stderr as "jobvisor CMD: message"; config errors are the
 * loader's own "FILE:LINE:COL: message" line. Results go to stdout. */

#define JV_CLI_CONFIG_HELP                                                                         \
	"  -c, --config FILE   the configuration file (default: $JOBVISOR_CONFIG, then\n"          \
	"                      " JV_SYSCONFDIR "/jobvisor/jobvisor.yaml)\n"

#define JV_CLI_EXIT_HELP                                                                           \
	"\nexit status: 0 ok, 1 usage, input, config or database problem, 2 internal error.\n"

struct jv_config;
typedef struct pg_conn PGconn;

/* Print "jobvisor CMD: message" to stderr; returns code. */
int jv_cli_fail(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A usage error: the message, then where to find help. JV_EXIT_USER. */
int jv_cli_usage_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report what getopt_long (with opterr = 0 and a leading ':') refused;
 * JV_EXIT_USER. */
int jv_cli_getopt_fail(const char *cmd, int c, char **argv);
/* Reset getopt for a fresh parse (GNU: optind 0 re-initialises). */
void jv_cli_getopt_reset(void);
/* Load the config at jv_cli_config_path(arg); on failure print its one-line
 * error and return JV_EXIT_USER. */
int jv_cli_load_config(const char *arg, struct jv_config **cfg);
/* Connect to the configured database as application "jobvisor CMD"; on
 * failure print why and return NULL. */
PGconn *jv_cli_connect(const char *cmd, const struct jv_config *cfg);
/* Parse s as a whole base-10 integer in [min, max] for option opt. Leading
 * blanks, trailing garbage, an empty string and overflow are all refused.
 * Returns 0, or JV_EXIT_USER after printing the problem. */
int jv_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max,
                      long *out);

/* `enqueue --file PATH` (enqueue_file.c): PATH "-" is standard input;
 * json: print {"count", "created", "ids"}. An exit code. */
int jv_cli_enqueue_file(const char *cmd, const char *config, const char *path, int json);

/* --- the queues (queues.c), shown by `queues` and `status` --------------
 * jv_cli_sql_queue_stats: the query (no parameters) whose result the two
 * functions below take. jv_cli_queues_brief prints "queues:" and a table of
 * name, pending, running, held by, paused; jv_cli_queues_json returns a new
 * array (caller decrefs), with every column, or with those of the brief
 * table when brief. */
typedef struct pg_result PGresult;
struct json_t;
extern const char jv_cli_sql_queue_stats[];
void jv_cli_queues_brief(PGresult *res);
struct json_t *jv_cli_queues_json(PGresult *res, int brief);

#endif

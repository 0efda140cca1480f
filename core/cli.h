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

/* The config path: the -c argument, else $JOBVISOR_CONFIG, else
 * SYSCONFDIR/jobvisor/jobvisor.yaml. Static storage or argv. */
const char *jv_cli_config_path(const char *arg);

#endif

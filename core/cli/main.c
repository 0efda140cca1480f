/* main.c -- the jobvisor command: dispatch to a subcommand. */
#include "autoconf.h"
#include <jobvisor/plugin.h>

#include "cli/cli.h"
#include "lib/error.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"serve", jv_cmd_serve, "run the supervisor (foreground; systemd-friendly)"},
	{"check-config", jv_cmd_check_config, "validate config and load every plugin"},
	{"migrate", jv_cmd_migrate, "apply sql/ migrations (idempotent, safe concurrently)"},
	{"enqueue", jv_cmd_enqueue, "add a job, or one per line of a file; prints the ids"},
	{"workflow", jv_cmd_workflow, "add a workflow (jobs depending on each other by key)"},
	{"status", jv_cmd_status, "processors, queue depth by state, oldest pending age"},
	{"test-alert", jv_cmd_test_alert, "send a test alert through the alert sinks now"},
	{"schedules", jv_cmd_schedules, "schedules with their next five run times"},
	{"queues", jv_cmd_queues, "queues with depth, limits, pause; pause or resume one"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: jobvisor COMMAND [-c FILE] [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n  jobvisor --version\n  jobvisor COMMAND --help\n\n"
		   "-c defaults to $JOBVISOR_CONFIG, then %s/jobvisor/jobvisor.yaml.\n"
		   "exit status: 0 ok, 1 user error, 2 internal error.\n",
		JV_SYSCONFDIR);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return JV_EXIT_USER;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("jobvisor %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, JV_PLUGIN_ABI_MAJOR,
		       JV_PLUGIN_ABI_MINOR);
		return JV_EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return JV_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "jobvisor: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return JV_EXIT_USER;
}

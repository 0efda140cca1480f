/* serve.c -- `jobvisor serve [-c FILE]`: its options, then the engine
 * (engine/serve.h) in the foreground. */
#include "cli/cli.h"
#include "engine/serve.h"
#include "lib/error.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: jobvisor serve [-c FILE]\n\n"
		   "Run the supervisor in the foreground: claim due jobs, run them through\n"
		   "their executors, record every attempt. SIGTERM/SIGINT stop it gracefully,\n"
		   "SIGHUP reloads the config file.\n\n"
		   "  -c, --config FILE   the config (default: $JOBVISOR_CONFIG, then the\n"
		   "                      installed jobvisor.yaml)\n"
		   "  -h, --help          this text\n");
}

int jv_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cpath = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cpath = optarg; break;
		case 'h': usage(stdout); return JV_EXIT_OK;
		default: usage(stderr); return JV_EXIT_USER;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jobvisor serve: unexpected argument '%s'\n", argv[optind]);
		return JV_EXIT_USER;
	}
	return jv_serve(jv_cli_config_path(cpath));
}

/*
 * common.c -- what the commands share: where the config file is, loading it
 * and connecting with one-line errors, option parsing and its errors
 * ("jobvisor CMD: message" on stderr, then where to find help).
 */
#include "cli/cli.h"
#include "config/config.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/mem.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *jv_cli_config_path(const char *arg)
{
	if (arg && *arg)
		return arg;
	const char *env = getenv("JOBVISOR_CONFIG");
	if (env && *env)
		return env;
	return JV_SYSCONFDIR "/jobvisor/jobvisor.yaml";
}

static void cli_verror(const char *cmd, const char *fmt, va_list ap)
{
	char *msg = jv_vasprintf(fmt, ap);
	fprintf(stderr, "jobvisor %s: %s\n", cmd, msg);
	free(msg);
}

int jv_cli_fail(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_verror(cmd, fmt, ap);
	va_end(ap);
	return code;
}

int jv_cli_usage_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_verror(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'jobvisor %s --help'.\n", cmd);
	return JV_EXIT_USER;
}

int jv_cli_getopt_fail(const char *cmd, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	char shortopt[3] = {'-', (char)optopt, '\0'};
	const char *name = (!strncmp(arg, "--", 2) || !optopt) ? arg : shortopt;
	if (c == ':')
		return jv_cli_usage_fail(cmd, "option '%s' needs a value", name);
	return jv_cli_usage_fail(cmd, "unknown option '%s'", name);
}

void jv_cli_getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

int jv_cli_load_config(const char *arg, struct jv_config **cfg)
{
	char err[1024];
	const char *path = jv_cli_config_path(arg);
	if (jv_config_load(path, cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return JV_EXIT_USER;
	}
	return JV_EXIT_OK;
}

PGconn *jv_cli_connect(const char *cmd, const struct jv_config *cfg)
{
	char err[1024];
	char *app = jv_asprintf("jobvisor %s", cmd);
	PGconn *conn = jv_db_connect(cfg->database.url, app, err, sizeof err);
	free(app);
	if (!conn)
		jv_cli_fail(cmd, JV_EXIT_USER, "%s", err);
	return conn;
}

int jv_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max,
                      long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || isspace((unsigned char)*s) || end == s || *end)
		return jv_cli_usage_fail(cmd, "invalid %s '%s': not an integer", opt, s);
	if (errno == ERANGE || v < min || v > max)
		return jv_cli_usage_fail(cmd, "invalid %s '%s': must be between %ld and %ld", opt, s, min,
		                  max);
	*out = v;
	return 0;
}

/* check_config.c -- `jobvisor check-config`. */
#include "cli/cli.h"

#include "api/tls.h"
#include "config/config.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "plugin/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_config_usage(FILE *f)
{
	fprintf(f,
		"usage: jobvisor check-config [-c FILE]\n"
		"\n"
		"Validate the configuration (database.url, and listen_url when set,\n"
		"must read as a connection string or URI; api.tls_cert_file and\n"
		"api.tls_key_file, when set, must hold a certificate and its key)\n"
		"and load every plugin of\n"
		"plugins.dir, making each configured executor and alert instance as\n"
		"`serve` would (nothing touches the database). Prints a one-line\n"
		"summary and exits 0 when all is well; prints the first error, as\n"
		"FILE:LINE:COL: message, and exits 1 otherwise. Plugins that are\n"
		"refused but not used are warnings.\n"
		"\n"
		"  -c, --config FILE   the config file (default: $JOBVISOR_CONFIG, then\n"
		"                      %s/jobvisor/jobvisor.yaml)\n"
		"  -h, --help          this text\n",
		JV_SYSCONFDIR);
}

/* The config's log.level (text format: this is a terminal command). */
static void setup_log(const struct jv_config *cfg)
{
	for (int i = JV_ERROR; i <= JV_DEBUG; i++)
		if (cfg->log.level && !strcmp(cfg->log.level, jv_log_level_names[i]))
			jv_log_setup((enum jv_level)i, JV_LOG_TEXT);
}

/* Order plugins by name in the summary. */
static int by_name(const void *a, const void *b)
{
	const struct jv_loaded_plugin *const *x = a, *const *y = b;
	return strcmp((*x)->desc.name, (*y)->desc.name);
}

/* "FILE: ok (N executors, M alerts, K schedules; plugins: noop 0.1.0, ...)" */
static void print_summary(const struct jv_config *cfg, const struct jv_plugins *plugins)
{
	size_t n = jv_plugins_count(plugins);
	const struct jv_loaded_plugin **sorted = jv_calloc(n + 1, sizeof *sorted);
	for (size_t i = 0; i < n; i++)
		sorted[i] = jv_plugins_at(plugins, i);
	qsort(sorted, n, sizeof *sorted, by_name);

	struct jv_buf b = {0};
	jv_buf_printf(&b, "%s: ok (%zu executor%s, %zu alert%s, %zu schedule%s; plugins: ",
		      cfg->path, cfg->n_executors, cfg->n_executors == 1 ? "" : "s",
		      cfg->n_alerts, cfg->n_alerts == 1 ? "" : "s", cfg->n_schedules,
		      cfg->n_schedules == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		jv_buf_printf(&b, "%s%s %s", i ? ", " : "", sorted[i]->desc.name,
			      sorted[i]->desc.version);
	jv_buf_puts(&b, n ? ")" : "none)");
	puts(b.data);
	jv_buf_free(&b);
	free(sorted);
}

int jv_cmd_check_config(int argc, char **argv)
{
	const char *arg = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			check_config_usage(stdout);
			return JV_EXIT_OK;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "jobvisor check-config: %s needs a file name\n", a);
				return JV_EXIT_USER;
			}
			arg = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			arg = a + 9;
		} else if (!strncmp(a, "-c", 2)) {
			arg = a + 2;
		} else {
			fprintf(stderr, "jobvisor check-config: unexpected argument '%s'\n\n", a);
			check_config_usage(stderr);
			return JV_EXIT_USER;
		}
	}
	const char *path = jv_cli_config_path(arg);

	char err[1024];
	struct jv_config *cfg = NULL;
	if (jv_config_load(path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return JV_EXIT_USER;
	}
	setup_log(cfg);

	/* libpq reads the url the same way when serve connects */
	if (jv_db_check_url(cfg->database.url, err, sizeof err) != 0) {
		const struct jv_node *url = jv_node_get(jv_node_get(cfg->root, "database"), "url");
		char line[1200];
		jv_config_errorf(cfg, url, line, sizeof line, "database.url: %s", err);
		fprintf(stderr, "%s\n", line);
		jv_config_free(cfg);
		return JV_EXIT_USER;
	}
	if (cfg->database.listen_url &&
	    jv_db_check_url(cfg->database.listen_url, err, sizeof err) != 0) {
		const struct jv_node *url =
		    jv_node_get(jv_node_get(cfg->root, "database"), "listen_url");
		char line[1200];
		jv_config_errorf(cfg, url, line, sizeof line, "database.listen_url: %s", err);
		fprintf(stderr, "%s\n", line);
		jv_config_free(cfg);
		return JV_EXIT_USER;
	}

	/* serve reads them the same way at start and at a reload */
	struct jv_api_tls *tls = NULL;
	if (cfg->api.enabled && jv_api_tls_load(cfg, &tls, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		jv_config_free(cfg);
		return JV_EXIT_USER;
	}
	jv_api_tls_free(tls);

	struct jv_plugins *plugins = NULL;
	if (jv_plugins_load_dir(cfg->plugins.dir, &plugins, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		jv_config_free(cfg);
		return JV_EXIT_USER;
	}

	struct jv_runtime *rt = NULL;
	int rc = jv_runtime_create(cfg, plugins, &rt, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	else
		print_summary(cfg, plugins);

	jv_runtime_free(rt);
	jv_plugins_free(plugins);
	jv_config_free(cfg);
	return rc == 0 ? JV_EXIT_OK : JV_EXIT_USER;
}

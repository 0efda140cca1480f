/* test_alert.c -- `jobvisor test-alert`: send one alert through the
 * configured sinks now, to check a webhook URL or an SMTP login before a
 * real failure needs them. */
#include "alert/alert.h"
#include "cli/cli.h"

#include "config/config.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "plugin/host.h"
#include "plugin/loader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jobvisor test-alert [-c FILE] [--sink N] [--event EVENT] [--job-id N]\n"
		"                          [--type T] [--user U] [--error TEXT] [--count N]\n"
		"\n"
		"Send one alert through every configured alert sink (or only alerts[N]) at\n"
		"once, whatever their on/type/user filters, and say for each whether it was\n"
		"delivered. Nothing touches the database. Exits 0 when every sink took it.\n"
		"\n"
		"  -c, --config FILE  the config file (default: $JOBVISOR_CONFIG, then\n"
		"                     %s/jobvisor/jobvisor.yaml)\n"
		"  --sink N           only the N-th entry under alerts: (from 0)\n",
		JV_SYSCONFDIR);
	/* The events, wrapped at 76 columns: "job_failed (default), ...". */
	size_t col = (size_t)fprintf(f, "  --event EVENT     ");
	for (size_t i = 0; jv_event_names[i]; i++) {
		char word[48];
		size_t n = (size_t)snprintf(word, sizeof word, " %s%s%s", jv_event_names[i],
					    i == JV_EV_JOB_FAILED ? " (default)" : "", jv_event_names[i + 1] ? "," : "");
		if (i && col + n > 76) {
			fputs("\n                    ", f);
			col = 20;
		}
		fputs(word, f);
		col += n;
	}
	fprintf(f,
		"\n"
		"  --job-id N         the job it is about (default 42)\n"
		"  --type T           its type (default: test)\n"
		"  --user U           its user (default: none)\n"
		"  --error TEXT       its error (default: a line saying this is a test)\n"
		"  --count N          pretend N identical alerts were folded into this one\n"
		"  -h, --help         this text\n");
}

static int parse_i64(const char *s, int64_t min, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

int jv_cmd_test_alert(int argc, char **argv)
{
	const char *arg = NULL, *event = jv_event_names[JV_EV_JOB_FAILED], *type = "test";
	const char *user = NULL;
	const char *error = "this is a test alert from `jobvisor test-alert`";
	int64_t sink = -1, job_id = 42, count = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return JV_EXIT_OK;
		}
		int takes = !strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--sink") ||
			    !strcmp(a, "--event") || !strcmp(a, "--job-id") ||
			    !strcmp(a, "--type") || !strcmp(a, "--user") || !strcmp(a, "--error") ||
			    !strcmp(a, "--count");
		if (!takes) {
			fprintf(stderr, "jobvisor test-alert: unexpected argument '%s'\n\n", a);
			usage(stderr);
			return JV_EXIT_USER;
		}
		if (!v) {
			fprintf(stderr, "jobvisor test-alert: %s needs a value\n", a);
			return JV_EXIT_USER;
		}
		i++;
		if (!strcmp(a, "-c") || !strcmp(a, "--config"))
			arg = v;
		else if (!strcmp(a, "--event"))
			event = v;
		else if (!strcmp(a, "--type"))
			type = v;
		else if (!strcmp(a, "--user"))
			user = v;
		else if (!strcmp(a, "--error"))
			error = v;
		else if ((!strcmp(a, "--sink") && parse_i64(v, 0, &sink)) ||
			 (!strcmp(a, "--job-id") && parse_i64(v, 1, &job_id)) ||
			 (!strcmp(a, "--count") && parse_i64(v, 1, &count))) {
			fprintf(stderr, "jobvisor test-alert: %s: '%s' is not a valid number\n", a, v);
			return JV_EXIT_USER;
		}
	}
	int kind = jv_event_parse(event);
	if (kind < 0) {
		fprintf(stderr, "jobvisor test-alert: --event: unknown event '%s'\n", event);
		return JV_EXIT_USER;
	}

	char err[1024];
	struct jv_config *cfg = NULL;
	if (jv_config_load(jv_cli_config_path(arg), &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return JV_EXIT_USER;
	}
	struct jv_plugins *plugins = NULL;
	struct jv_runtime *rt = NULL;
	int rc = JV_EXIT_USER;
	if (jv_plugins_load_dir(cfg->plugins.dir, &plugins, err, sizeof err) != 0 ||
	    jv_runtime_create(cfg, plugins, &rt, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (rt->n_alerts == 0) {
		fprintf(stderr, "%s: no alert sinks configured (alerts: is empty)\n", cfg->path);
		goto out;
	}
	if (sink >= (int64_t)rt->n_alerts) {
		fprintf(stderr, "jobvisor test-alert: --sink %lld: there are %zu alert sinks (0..%zu)\n",
			(long long)sink, rt->n_alerts, rt->n_alerts - 1);
		goto out;
	}

	int is_job = kind <= JV_EV_JOB_RETRYING;
	struct jv_event ev = {
		.kind = (enum jv_event_kind)kind,
		.at_ms = jv_unix_ms(),
		.job_id = is_job ? job_id : 0,
		.job_type = (char *)(is_job || kind == JV_EV_FAILURE_RATE ? type : NULL),
		.user_id = (char *)(is_job ? user : NULL),
		.attempt = !is_job ? 0 : kind == JV_EV_JOB_RETRYING ? 1 : 3,
		.max_attempts = is_job ? 3 : 0,
		.error = (char *)(is_job ? error : NULL),
		.subject = (char *)(kind >= JV_EV_PROCESSOR_DOWN && kind <= JV_EV_PROCESSOR_STOPPED
					    ? cfg->processor.name
					    : NULL),
		.number = 5,
		.total = 8,
		.seconds = 300,
	};
	struct jv_event last = ev;
	last.job_id = is_job ? job_id + count - 1 : 0;
	if (count > 1)
		ev.at_ms -= 60000; /* the fold's window: a minute */
	char proc[320];
	char host[128] = "";
	gethostname(host, sizeof host - 1);
	snprintf(proc, sizeof proc, "%s (test-alert on %s)", cfg->processor.name, host);
	struct jv_alert_msg m;
	jv_alert_render(&m, &ev, count > 1 ? &last : NULL, (uint32_t)count, 60, proc,
			cfg->api.dashboard_url);

	rc = JV_EXIT_OK;
	for (size_t i = 0; i < rt->n_alerts; i++) {
		if (sink >= 0 && (size_t)sink != i)
			continue;
		struct jv_instance *inst = rt->alerts[i];
		struct jv_run run;
		jv_run_init(&run, (int64_t)cfg->alerts[i].timeout_seconds * 1000, 4096);
		int st = jv_instance_send(inst, &m.alert, &run);
		const char *out = jv_run_output(&run);
		int len = (int)strlen(out);
		while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
			len--;
		if (st == JV_SUCCESS) {
			printf("alerts[%zu] (%s): sent%s%.*s\n", i, cfg->alerts[i].plugin,
			       len ? ": " : "", len, out);
		} else {
			char later[64] = "";
			if (st == JV_RETRY && run.retry_in_ms >= 0)
				snprintf(later, sizeof later, " [asked to wait %lld ms]",
					 (long long)run.retry_in_ms);
			printf("alerts[%zu] (%s): %s: %s%s\n", i, cfg->alerts[i].plugin,
			       st == JV_RETRY ? "failed (would be retried)" : "failed",
			       run.error ? run.error : "no reason given", later);
			rc = JV_EXIT_USER;
		}
		jv_run_free(&run);
	}
	jv_alert_msg_free(&m);
out:
	jv_runtime_free(rt);
	jv_plugins_free(plugins);
	jv_config_free(cfg);
	return rc;
}

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

/* What the options ask for. */
struct args {
	const char *config, *event, *type, *user, *error;
	int64_t sink, job_id, count;
};

/* Parse the options into a: -1 when they are fine, else the exit code
 * (after the help, or after saying what is wrong). */
static int parse_args(int argc, char **argv, struct args *a)
{
	*a = (struct args){.event = jv_event_names[JV_EV_JOB_FAILED], .type = "test",
			   .error = "this is a test alert from `jobvisor test-alert`",
			   .sink = -1, .job_id = 42, .count = 1};
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return JV_EXIT_OK;
		}
		int takes = !strcmp(o, "-c") || !strcmp(o, "--config") || !strcmp(o, "--sink") ||
			    !strcmp(o, "--event") || !strcmp(o, "--job-id") ||
			    !strcmp(o, "--type") || !strcmp(o, "--user") || !strcmp(o, "--error") ||
			    !strcmp(o, "--count");
		if (!takes) {
			fprintf(stderr, "jobvisor test-alert: unexpected argument '%s'\n\n", o);
			usage(stderr);
			return JV_EXIT_USER;
		}
		if (!v) {
			fprintf(stderr, "jobvisor test-alert: %s needs a value\n", o);
			return JV_EXIT_USER;
		}
		i++;
		if (!strcmp(o, "-c") || !strcmp(o, "--config"))
			a->config = v;
		else if (!strcmp(o, "--event"))
			a->event = v;
		else if (!strcmp(o, "--type"))
			a->type = v;
		else if (!strcmp(o, "--user"))
			a->user = v;
		else if (!strcmp(o, "--error"))
			a->error = v;
		else if ((!strcmp(o, "--sink") && parse_i64(v, 0, &a->sink)) ||
			 (!strcmp(o, "--job-id") && parse_i64(v, 1, &a->job_id)) ||
			 (!strcmp(o, "--count") && parse_i64(v, 1, &a->count))) {
			fprintf(stderr, "jobvisor test-alert: %s: '%s' is not a valid number\n", o, v);
			return JV_EXIT_USER;
		}
	}
	return -1;
}

/* The alert a real event of this kind would give, with sample values;
 * folded from a->count events in a minute when more than one. m points
 * into proc (the processor's name, written here), which must outlive it. */
static void render_sample(struct jv_alert_msg *m, enum jv_event_kind kind, const struct args *a,
			  const struct jv_config *cfg, char *proc, size_t proclen)
{
	int is_job = kind <= JV_EV_JOB_RETRYING;
	struct jv_event ev = {
		.kind = kind,
		.at_ms = jv_unix_ms(),
		.job_id = is_job ? a->job_id : 0,
		.job_type = (char *)(is_job || kind == JV_EV_FAILURE_RATE ? a->type : NULL),
		.user_id = (char *)(is_job ? a->user : NULL),
		.attempt = !is_job ? 0 : kind == JV_EV_JOB_RETRYING ? 1 : 3,
		.max_attempts = is_job ? 3 : 0,
		.error = (char *)(is_job ? a->error : NULL),
		.subject = (char *)(kind >= JV_EV_PROCESSOR_DOWN && kind <= JV_EV_PROCESSOR_STOPPED
					    ? cfg->processor.name
					    : NULL),
		.number = 5,
		.total = 8,
		.seconds = 300,
	};
	struct jv_event last = ev;
	last.job_id = is_job ? a->job_id + a->count - 1 : 0;
	if (a->count > 1)
		ev.at_ms -= 60000; /* the fold's window: a minute */
	char host[128] = "";
	gethostname(host, sizeof host - 1);
	snprintf(proc, proclen, "%s (test-alert on %s)", cfg->processor.name, host);
	jv_alert_render(m, &ev, a->count > 1 ? &last : NULL, (uint32_t)a->count, 60, proc,
			cfg->api.dashboard_url);
}

/* Send m through sink i (every one when sink < 0), printing a line for
 * each. JV_EXIT_OK when all took it, else JV_EXIT_USER. */
static int send_sample(const struct jv_config *cfg, struct jv_runtime *rt, int64_t sink,
		       const struct jv_alert_msg *m)
{
	int rc = JV_EXIT_OK;
	for (size_t i = 0; i < rt->n_alerts; i++) {
		if (sink >= 0 && (size_t)sink != i)
			continue;
		struct jv_instance *inst = rt->alerts[i];
		struct jv_run run;
		jv_run_init(&run, (int64_t)cfg->alerts[i].timeout_seconds * 1000, 4096);
		int st = jv_instance_send(inst, &m->alert, &run);
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
	return rc;
}

int jv_cmd_test_alert(int argc, char **argv)
{
	struct args a;
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	int kind = jv_event_parse(a.event);
	if (kind < 0) {
		fprintf(stderr, "jobvisor test-alert: --event: unknown event '%s'\n", a.event);
		return JV_EXIT_USER;
	}

	char err[1024];
	struct jv_config *cfg = NULL;
	if (jv_config_load(jv_cli_config_path(a.config), &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return JV_EXIT_USER;
	}
	struct jv_plugins *plugins = NULL;
	struct jv_runtime *rt = NULL;
	rc = JV_EXIT_USER;
	if (jv_plugins_load_dir(cfg->plugins.dir, &plugins, err, sizeof err) != 0 ||
	    jv_runtime_create(cfg, plugins, &rt, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
	} else if (rt->n_alerts == 0) {
		fprintf(stderr, "%s: no alert sinks configured (alerts: is empty)\n", cfg->path);
	} else if (a.sink >= (int64_t)rt->n_alerts) {
		fprintf(stderr, "jobvisor test-alert: --sink %lld: there are %zu alert sinks (0..%zu)\n",
			(long long)a.sink, rt->n_alerts, rt->n_alerts - 1);
	} else {
		struct jv_alert_msg m;
		char proc[320];
		render_sample(&m, (enum jv_event_kind)kind, &a, cfg, proc, sizeof proc);
		rc = send_sample(cfg, rt, a.sink, &m);
		jv_alert_msg_free(&m);
	}
	jv_runtime_free(rt);
	jv_plugins_free(plugins);
	jv_config_free(cfg);
	return rc;
}

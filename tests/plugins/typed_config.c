/*
 * typed_config.c -- an executor that reads one key of each type in create()
 * and writes what it read to the output of every run, so tests can check
 * the host's config accessors end to end.
 */
#include "common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tc {
	const struct jv_host *host;
	int64_t count;
	double ratio;
	int enabled;
	const char *const *names;
	size_t n_names;
	const char *label;
	const char *extra;
	const char *secret;
};

static const char *const tc_keys[] = {"count", "ratio", "enabled", "names", "label",
				      "extra", "secret", NULL};

/* 0 when present or absent (default kept), else the error. */
static int tc_ok(int rc) { return rc == JV_HOST_ENOENT ? 0 : rc; }

static int tc_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	struct tc t = {.host = host, .count = -1, .ratio = -1, .enabled = -1, .label = "(none)",
		       .extra = "(none)", .secret = "(none)"};
	static const char *const no_names[] = {NULL};
	t.names = no_names;
	int rc;
	if ((rc = tc_ok(host->config_int(inst, "count", &t.count))) ||
	    (rc = tc_ok(host->config_double(inst, "ratio", &t.ratio))) ||
	    (rc = tc_ok(host->config_bool(inst, "enabled", &t.enabled))) ||
	    (rc = tc_ok(host->config_strings(inst, "names", &t.names, &t.n_names))) ||
	    (rc = tc_ok(host->config_string(inst, "label", &t.label))) ||
	    (rc = tc_ok(host->config_json(inst, "extra", &t.extra))) ||
	    (rc = tc_ok(host->config_string(inst, "secret", &t.secret))))
		return rc;
	struct tc *p = malloc(sizeof *p);
	if (!p)
		return -1;
	*p = t;
	*state = p;
	host->log(inst, JV_LOG_DEBUG, "created %s", host->instance_name(inst));
	return 0;
}

static void tc_destroy(void *state) { free(state); }

static int tc_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct tc *t = state;
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "count=%lld ratio=%g enabled=%d n_names=%zu names=",
			 (long long)t->count, t->ratio, t->enabled, t->n_names);
	t->host->output(run, buf, (size_t)n);
	for (size_t i = 0; t->names[i]; i++) {
		if (i)
			t->host->output(run, "|", 1);
		t->host->output(run, t->names[i], strlen(t->names[i]));
	}
	n = snprintf(buf, sizeof buf, " label=%s extra=%s secret=%s payload=%s", t->label,
		     t->extra, t->secret, job->payload);
	t->host->output(run, buf, (size_t)n);
	return JV_SUCCESS;
}

static const struct jv_plugin typed_config = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "typed_config",
	.version = "1",
	.config_keys = tc_keys,
	.create = tc_create,
	.destroy = tc_destroy,
	.execute = tc_execute,
};
JV_PLUGIN_ENTRY(typed_config)

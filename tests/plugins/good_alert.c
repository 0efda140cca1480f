/* good_alert.c -- a well-formed alert sink. Config: channel (required
 * string), webhook_url (optional string, also as webhook_url_file). send()
 * writes what it got to the run's output. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

struct ga {
	const struct jv_host *host;
	const char *channel;
	const char *webhook_url;
};

static const char *const ga_keys[] = {"channel", "webhook_url", NULL};

static int ga_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	const char *channel = NULL, *url = "";
	int rc = host->config_string(inst, "channel", &channel);
	if (rc == JV_HOST_ENOENT)
		return host->config_error(inst, "channel", "is required");
	if (rc != 0)
		return rc;
	if ((rc = host->config_string(inst, "webhook_url", &url)) != 0 && rc != JV_HOST_ENOENT)
		return rc;
	struct ga *g = calloc(1, sizeof *g);
	if (!g)
		return -1;
	g->host = host;
	g->channel = channel;
	g->webhook_url = url;
	*state = g;
	return 0;
}

static void ga_destroy(void *state) { free(state); }

static int ga_send(void *state, const struct jv_alert *alert, struct jv_run *run)
{
	const struct ga *g = state;
	const char *parts[] = {"channel=", g->channel, " url=", g->webhook_url, " event=",
			       alert->event, " title=", alert->title};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		g->host->output(run, parts[i], strlen(parts[i]));
	if (!strcmp(alert->event, "rate_limited")) {
		g->host->retry_in(run, 1500);
		g->host->error(run, "slow down");
		return JV_RETRY;
	}
	return JV_SUCCESS;
}

static const struct jv_plugin good_alert = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_ALERT,
	.name = "good_alert",
	.version = "2.1",
	.description = "a test alert sink",
	.config_keys = ga_keys,
	.create = ga_create,
	.destroy = ga_destroy,
	.send = ga_send,
};
JV_PLUGIN_ENTRY(good_alert)

/* slack.c -- placeholder, being written. */
#include <jobvisor/plugin.h>

static int slack_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

static int slack_send(void *state, const struct jv_alert *alert, struct jv_run *run)
{
	const struct jv_host *host = state;
	(void)alert;
	host->error(run, "slack: not implemented yet");
	return JV_FAIL;
}

static const struct jv_plugin slack_plugin = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_ALERT,
	.name = "slack",
	.version = "0",
	.create = slack_create,
	.send = slack_send,
};

JV_PLUGIN_ENTRY(slack_plugin)

/* webhook.c -- placeholder, being written. */
#include <jobvisor/plugin.h>

static int webhook_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

static int webhook_send(void *state, const struct jv_alert *alert, struct jv_run *run)
{
	const struct jv_host *host = state;
	(void)alert;
	host->error(run, "webhook: not implemented yet");
	return JV_FAIL;
}

static const struct jv_plugin webhook_plugin = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_ALERT,
	.name = "webhook",
	.version = "0",
	.create = webhook_create,
	.send = webhook_send,
};

JV_PLUGIN_ENTRY(webhook_plugin)

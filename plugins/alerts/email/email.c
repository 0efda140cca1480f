/* email.c -- placeholder, being written. */
#include <jobvisor/plugin.h>

static int email_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

static int email_send(void *state, const struct jv_alert *alert, struct jv_run *run)
{
	const struct jv_host *host = state;
	(void)alert;
	host->error(run, "email: not implemented yet");
	return JV_FAIL;
}

static const struct jv_plugin email_plugin = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_ALERT,
	.name = "email",
	.version = "0",
	.create = email_create,
	.send = email_send,
};

JV_PLUGIN_ENTRY(email_plugin)

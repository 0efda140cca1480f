/* http.c -- placeholder, being written. */
#include <jobvisor/plugin.h>

static int http_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

static int http_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host *host = state;
	(void)job;
	host->error(run, "http: not implemented yet");
	return JV_FAIL;
}

static const struct jv_plugin http_plugin = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "http",
	.version = "0",
	.create = http_create,
	.execute = http_execute,
};

JV_PLUGIN_ENTRY(http_plugin)

/* sql.c -- placeholder, being written. */
#include <jobvisor/plugin.h>

static int sql_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

static int sql_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host *host = state;
	(void)job;
	host->error(run, "sql: not implemented yet");
	return JV_FAIL;
}

static const struct jv_plugin sql_plugin = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "sql",
	.version = "0",
	.create = sql_create,
	.execute = sql_execute,
};

JV_PLUGIN_ENTRY(sql_plugin)

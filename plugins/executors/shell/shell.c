/* shell.c -- placeholder, being written. */
#include <jobvisor/plugin.h>

static int shell_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	(void)inst;
	*state = (void *)host;
	return 0;
}

static int shell_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host *host = state;
	(void)job;
	host->error(run, "shell: not implemented yet");
	return JV_FAIL;
}

static const struct jv_plugin shell_plugin = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "shell",
	.version = "0",
	.create = shell_create,
	.execute = shell_execute,
};

JV_PLUGIN_ENTRY(shell_plugin)

/* undef_sym.c -- needs a symbol nobody defines. Refused by dlopen(RTLD_NOW). */
#include "common.h"

void jv_testplugin_nowhere(void);

static int undef_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	(void)state;
	(void)job;
	(void)run;
	jv_testplugin_nowhere();
	return JV_SUCCESS;
}

static const struct jv_plugin undef_sym = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "undef_sym",
	.version = "1",
	.create = tp_create,
	.execute = undef_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(undef_sym)

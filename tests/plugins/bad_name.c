/* bad_name.c -- declares the name "Bad-Name". Refused: invalid name. */
#include "common.h"

static const struct jv_plugin bad_name = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "Bad-Name",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(bad_name)

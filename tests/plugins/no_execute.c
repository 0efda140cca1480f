/* no_execute.c -- an executor without execute(). Refused: incomplete. */
#include "common.h"

static const struct jv_plugin no_execute = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "no_execute",
	.version = "1",
	.create = tp_create,
	.send = tp_send, /* the wrong op for its kind */
};
JV_PLUGIN_ENTRY(no_execute)

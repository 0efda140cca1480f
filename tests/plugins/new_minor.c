/* new_minor.c -- built for ABI 1.99. Refused: a newer minor than the host's. */
#include "common.h"

static const struct jv_plugin new_minor = {
	.abi_major = JV_PLUGIN_ABI_MAJOR,
	.abi_minor = 99,
	.struct_size = sizeof(struct jv_plugin),
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "new_minor",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(new_minor)

/* small_size.c -- a descriptor claiming 24 bytes. Refused: too small. */
#include "common.h"

static const struct jv_plugin small_size = {
	.abi_major = JV_PLUGIN_ABI_MAJOR,
	.abi_minor = JV_PLUGIN_ABI_MINOR,
	.struct_size = 24,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "small_size",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(small_size)

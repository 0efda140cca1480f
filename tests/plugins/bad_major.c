/* bad_major.c -- built for ABI 2.0. Refused: another major. */
#include "common.h"

static const struct jv_plugin bad_major = {
	.abi_major = 2,
	.abi_minor = 0,
	.struct_size = sizeof(struct jv_plugin),
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "bad_major",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(bad_major)

/* next_minor.c -- built for the minor after this header's: refused by the
 * real host, loaded by tests/test_abi's host, which is built one minor
 * ahead. */
#include "common.h"

static const struct jv_plugin next_minor = {
	.abi_major = JV_PLUGIN_ABI_MAJOR,
	.abi_minor = JV_PLUGIN_ABI_MINOR + 1,
	.struct_size = sizeof(struct jv_plugin),
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "next_minor",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute,
};
JV_PLUGIN_ENTRY(next_minor)

/* dup_b.c -- declares the name "dup" too. Refused: duplicate name. */
#include "common.h"

static const struct jv_plugin dup_b = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "dup",
	.version = "b",
	.create = tp_create,
	.execute = tp_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(dup_b)

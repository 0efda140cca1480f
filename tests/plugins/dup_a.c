/* dup_a.c -- declares the name "dup" (accepted: first in name order). */
#include "common.h"

static const struct jv_plugin dup_a = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "dup",
	.version = "a",
	.create = tp_create,
	.execute = tp_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(dup_a)

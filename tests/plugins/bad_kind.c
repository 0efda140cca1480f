/* bad_kind.c -- kind 7. Refused: unknown kind. */
#include "common.h"

static const struct jv_plugin bad_kind = {
	JV_PLUGIN_HEADER,
	.kind = 7,
	.name = "bad_kind",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute,
	.send = tp_send,
};
JV_PLUGIN_ENTRY(bad_kind)

/* no_entry.c -- a plugin without the jv_plugin_entry symbol (it exports
 * another name instead). Refused: no entry symbol. */
#include "common.h"

static const struct jv_plugin no_entry = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "no_entry",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute,
};

JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry_typo(void);
JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry_typo(void) { return &no_entry; }

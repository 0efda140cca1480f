/* null_desc.c -- jv_plugin_entry() returns NULL. Refused. */
#include "common.h"

JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void);
JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void) { return NULL; }

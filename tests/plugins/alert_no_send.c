/* alert_no_send.c -- an alert sink without send(). Refused: incomplete. */
#include "common.h"

static const struct jv_plugin alert_no_send = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_ALERT,
	.name = "alert_no_send",
	.version = "1",
	.create = tp_create,
	.execute = tp_execute, /* the wrong op for its kind */
};
JV_PLUGIN_ENTRY(alert_no_send)

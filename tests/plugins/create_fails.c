/*
 * create_fails.c -- an executor whose create() refuses its config.
 * level absent: config_error on the missing key ("is required");
 * level > 3: config_error on the key's value;
 * level 0: returns -1 without saying why;
 * level 1: reads label as an integer, ignores the error, returns 0 (the host
 *          must refuse the config anyway);
 * level 2 or 3: accepted.
 */
#include "common.h"

#include <stdint.h>

static const char *const cf_keys[] = {"level", "label", NULL};

static int cf_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	int64_t level;
	int rc = host->config_int(inst, "level", &level);
	if (rc == JV_HOST_ENOENT)
		return host->config_error(inst, "level", "is required");
	if (rc != 0)
		return rc;
	if (level > 3)
		return host->config_error(inst, "level", "must be at most 3, not %lld",
					  (long long)level);
	if (level == 0)
		return -1;
	if (level == 1) {
		int64_t ignored;
		(void)host->config_int(inst, "label", &ignored);
	}
	*state = NULL;
	return 0;
}

static const struct jv_plugin create_fails = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "create_fails",
	.version = "1",
	.config_keys = cf_keys,
	.create = cf_create,
	.execute = tp_execute,
};
JV_PLUGIN_ENTRY(create_fails)

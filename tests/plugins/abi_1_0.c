/*
 * abi_1_0.c -- a plugin as it was built against ABI 1.0, before the host
 * table grew: it carries its own frozen copy of the 1.0 descriptor and host
 * table layouts, says abi_minor 0, and only calls what 1.0 had. A host of
 * any later 1.x must load and run it (tests/test_abi).
 */
#include <jobvisor/plugin.h>

#include <stdio.h>

/* struct jv_plugin as of ABI 1.0 (2026-11-28). */
struct jv_plugin_1_0 {
	uint32_t abi_major, abi_minor, struct_size, kind;
	const char *name, *version, *description;
	const char *const *config_keys;
	int (*create)(const void *host, struct jv_instance *inst, void **state);
	void (*destroy)(void *state);
	int (*execute)(void *state, const struct jv_job *job, struct jv_run *run);
	int (*send)(void *state, const struct jv_alert *alert, struct jv_run *run);
};

/* struct jv_host as of ABI 1.0: the fields up to retry_in. */
struct jv_host_1_0 {
	uint32_t abi_major, abi_minor, struct_size;
	void (*log)(const struct jv_instance *inst, int level, const char *fmt, ...);
	void (*vlog)(const struct jv_instance *inst, int level, const char *fmt, va_list ap);
	const char *(*instance_name)(const struct jv_instance *inst);
	int (*config_string)(struct jv_instance *inst, const char *key, const char **out);
	int (*config_int)(struct jv_instance *inst, const char *key, int64_t *out);
	int (*config_double)(struct jv_instance *inst, const char *key, double *out);
	int (*config_bool)(struct jv_instance *inst, const char *key, int *out);
	int (*config_strings)(struct jv_instance *inst, const char *key, const char *const **out, size_t *n);
	int (*config_json)(struct jv_instance *inst, const char *key, const char **out);
	int (*config_error)(struct jv_instance *inst, const char *key, const char *fmt, ...);
	int64_t (*remaining_ms)(const struct jv_run *run);
	int (*cancelled)(const struct jv_run *run);
	int (*output)(struct jv_run *run, const char *data, size_t len);
	int (*error)(struct jv_run *run, const char *fmt, ...);
	int (*result_json)(struct jv_run *run, const char *json);
	int (*retry_in)(struct jv_run *run, int64_t ms);
};

static const char *const old_keys[] = {"greeting", NULL};

static int old_create(const void *h, struct jv_instance *inst, void **state)
{
	const struct jv_host_1_0 *host = h;
	if (host->abi_major != 1 || host->struct_size < sizeof(struct jv_host_1_0))
		return -1;
	*state = (void *)host;
	const char *greeting = NULL;
	return host->config_string(inst, "greeting", &greeting) == 0 ? 0 : -1;
}

static int old_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host_1_0 *host = state;
	char line[128];
	int n = snprintf(line, sizeof line, "built for 1.0, running on %u.%u, job %lld",
			 host->abi_major, host->abi_minor, (long long)job->id);
	host->output(run, line, (size_t)n);
	host->result_json(run, "{\"abi\":\"1.0\"}");
	return JV_SUCCESS;
}

static const struct jv_plugin_1_0 abi_1_0 = {
	.abi_major = 1,
	.abi_minor = 0,
	.struct_size = sizeof(struct jv_plugin_1_0),
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "abi_1_0",
	.version = "1.0",
	.config_keys = old_keys,
	.create = old_create,
	.execute = old_execute,
};

JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void);
JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void)
{
	return (const struct jv_plugin *)&abi_1_0;
}

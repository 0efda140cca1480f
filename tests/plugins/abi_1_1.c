/*
 * abi_1_1.c -- a plugin as it was built against ABI 1.1, before 1.2 added
 * dependency_results and progress: its own frozen copy of the 1.1 host
 * table layout, abi_minor 1, and it calls what 1.1 added (database_url).
 * A host of any later 1.x must load and run it (tests/test_abi).
 */
#include <jobvisor/plugin.h>

#include <stdio.h>

/* struct jv_plugin as of ABI 1.0 (2026-11-28), unchanged in 1.1. */
struct jv_plugin_1_1 {
	uint32_t abi_major, abi_minor, struct_size, kind;
	const char *name, *version, *description;
	const char *const *config_keys;
	int (*create)(const void *host, struct jv_instance *inst, void **state);
	void (*destroy)(void *state);
	int (*execute)(void *state, const struct jv_job *job, struct jv_run *run);
	int (*send)(void *state, const struct jv_alert *alert, struct jv_run *run);
};

/* struct jv_host as of ABI 1.1 (2026-11-29): the fields up to database_url. */
struct jv_host_1_1 {
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
	const char *(*database_url)(const struct jv_instance *inst);
};

static const struct jv_host_1_1 *old_host;

static int old_create(const void *h, struct jv_instance *inst, void **state)
{
	const struct jv_host_1_1 *host = h;
	old_host = host;
	if (host->abi_major != 1 || host->struct_size < sizeof(struct jv_host_1_1))
		return -1;
	if (host->abi_minor < 1)
		return -1;
	*state = inst;
	return 0;
}

static int old_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_host_1_1 *host = old_host;
	char line[200];
	int n = snprintf(line, sizeof line, "built for 1.1, running on %u.%u, job %lld, url %s",
			 host->abi_major, host->abi_minor, (long long)job->id,
			 host->database_url(state));
	host->output(run, line, (size_t)n);
	host->result_json(run, "{\"abi\":\"1.1\"}");
	return JV_SUCCESS;
}

static const struct jv_plugin_1_1 abi_1_1 = {
	.abi_major = 1,
	.abi_minor = 1,
	.struct_size = sizeof(struct jv_plugin_1_1),
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "abi_1_1",
	.version = "1.1",
	.create = old_create,
	.execute = old_execute,
};

JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void);
JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void)
{
	return (const struct jv_plugin *)&abi_1_1;
}

/* greet.c -- an example executor: payload {"name": "Ada"} gives the output "Hello, Ada!"
 * and the result {"greeted": "Ada"}. Config: greeting (default "Hello"). docs/plugins.md */
#include <jobvisor/plugin.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct greet {
	const struct jv_host *host;
	const char *greeting; /* owned by the host until destroy() */
};

static const char *const greet_keys[] = {"greeting", NULL};

static int greet_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	struct greet *g = calloc(1, sizeof *g);
	if (!g)
		return JV_HOST_ENOMEM;
	g->host = host;
	g->greeting = "Hello";
	int rc = host->config_string(inst, "greeting", &g->greeting);
	if (rc != 0 && rc != JV_HOST_ENOENT) {
		free(g); /* the host has already said where the config is wrong */
		return rc;
	}
	*state = g;
	return 0;
}

static int greet_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct greet *g = state;
	json_t *payload = json_loadb(job->payload, job->payload_len, 0, NULL);
	json_t *name = json_object_get(payload, "name");
	if (!json_is_string(name)) {
		json_decref(payload);
		g->host->error(run, "greet: payload.name must be a string");
		return JV_FAIL; /* permanent: another attempt would fail the same way */
	}
	char line[256];
	snprintf(line, sizeof line, "%s, %s!\n", g->greeting, json_string_value(name));
	g->host->output(run, line, strlen(line));
	json_t *result = json_pack("{s:O}", "greeted", name);
	char *text = json_dumps(result, JSON_COMPACT);
	g->host->result_json(run, text);
	free(text);
	json_decref(result);
	json_decref(payload);
	return JV_SUCCESS;
}

static const struct jv_plugin greet = {
	JV_PLUGIN_HEADER, .kind = JV_PLUGIN_EXECUTOR, .name = "greet", .version = "1.0",
	.description = "greets payload.name", .config_keys = greet_keys,
	.create = greet_create, .destroy = free, .execute = greet_execute,
};
JV_PLUGIN_ENTRY(greet)

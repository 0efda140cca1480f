/*
 * fuzz_exec.c -- the executors' config and payload checks on arbitrary
 * input, without running anything: no program is started, no HTTP request
 * made, no database reached.
 *
 * The four plugin sources are compiled into this file (their functions are
 * static; each names its own with its prefix, only the entry point is
 * renamed), and instances are made through the real host table from a real
 * config, as `jobvisor serve` makes them. Then each payload goes through
 * what the plugin's execute() does before it acts:
 *   noop   noop_parse()
 *   shell  shell_parse(), the argv/env/cwd/stdin built for fork()
 *   http   http_build(), the request built for libcurl, its header lists
 *          and the URL as logged
 *   sql    sql_execute() on a run already cancelled: sql_run() checks the
 *          payload and its params, then stops before taking a connection
 *          (database_url names a socket that does not exist anyway)
 *
 * Input: a first line naming the plugin (noop, shell, http or sql), then
 * either the payload, or config lines for the instance's section (as
 * written under `executors: t:`), a line "%%", and the payload. Without
 * config lines a fixed, permissive section is used.
 *
 * With -DJV_LIBFUZZER it is a libFuzzer target (contrib/fuzz.sh); without,
 * tests/fuzz_main.c replays tests/fuzz/exec/ and mutations of it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#define jv_plugin_entry jv_plugin_entry_noop
#include "plugins/executors/noop/noop.c"
#undef jv_plugin_entry
#define jv_plugin_entry jv_plugin_entry_shell
#include "plugins/executors/shell/shell.c"
#undef jv_plugin_entry
#define jv_plugin_entry jv_plugin_entry_http
#include "plugins/executors/http/http.c"
#undef jv_plugin_entry
#define jv_plugin_entry jv_plugin_entry_sql
#include "plugins/executors/sql/sql.c"
#undef jv_plugin_entry

#include "config/config.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "lib/log.h"
#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct target {
	const char *name;
	const struct jv_plugin *(*entry)(void);
	const char *section; /* the default config lines, indented by 4 */
	struct jv_loaded_plugin lp;
	struct jv_config *cfg;   /* the default instance, made once */
	struct jv_instance *inst;
};

static struct target targets[] = {
	{.name = "noop", .entry = jv_plugin_entry_noop, .section = "    default_sleep_ms: 0\n"},
	{.name = "shell", .entry = jv_plugin_entry_shell, .section =
	 "    allowed_commands: [/bin/*, /usr/bin/env, /opt/x/**]\n"
	 "    allow_shell: true\n"
	 "    env: { TZ: UTC, LANG: C }\n"
	 "    allowed_env: [APP_*, DRY_RUN, \"L*\"]\n"
	 "    pass_env: [HOME, LC_*]\n"
	 "    exit_codes: { retryable: [75, 111], permanent: [2] }\n"},
	{.name = "http", .entry = jv_plugin_entry_http, .section =
	 "    base_url: http://127.0.0.1:1/api/\n"
	 "    allowed_hosts: [127.0.0.1, localhost, '*.example.com']\n"
	 "    headers: { X-Team: ops, Authorization: Bearer t }\n"},
	{.name = "sql", .entry = jv_plugin_entry_sql, .section =
	 "    database_url: postgresql:///none?host=/nonexistent/jv-fuzz\n"
	 "    queries:\n"
	 "      one: SELECT 1\n"
	 "      add: SELECT $1::int + $2::int\n"
	 "      vacuum: VACUUM\n"},
};

static void quiet(enum jv_level level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

/* An instance of t from the section lines (n bytes). NULL when the config
 * or create() refuses it, which is a fine outcome for a fuzzed section. */
static struct jv_instance *make(struct target *t, const char *section, size_t n,
				struct jv_config **cfgp)
{
	struct jv_buf y = {0};
	jv_buf_printf(&y, "database:\n  url: postgresql:///none?host=/nonexistent/jv-fuzz\n"
			  "executors:\n  t:\n    plugin: %s\n",
		      t->name);
	jv_buf_append(&y, section, n);
	char err[1024];
	*cfgp = NULL;
	int rc = jv_config_load_string("fuzz.yaml", y.data, cfgp, err, sizeof err);
	jv_buf_free(&y);
	if (rc) {
		if (!err[0])
			abort(); /* an error must say why */
		return NULL;
	}
	struct jv_config *cfg = *cfgp;
	if (cfg->n_executors != 1)
		abort();
	struct jv_instance *inst = jv_instance_new("t", "executors.t", &t->lp, cfg,
						   cfg->executors[0].node, &cfg->executors[0], NULL);
	if (jv_instance_create(inst, err, sizeof err) != 0) {
		if (!err[0])
			abort();
		jv_instance_free(inst);
		return NULL;
	}
	return inst;
}

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	jv_log_capture(quiet, NULL);
	for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
		struct target *t = &targets[i];
		t->lp.path = (char *)"(built in)";
		t->lp.desc = *t->entry();
		t->inst = make(t, t->section, strlen(t->section), &t->cfg);
		if (!t->inst) {
			fprintf(stderr, "fuzz_exec: the default %s section is refused\n", t->name);
			abort();
		}
	}
}

/* Run payload (NUL-terminated, n bytes) through t's checks. */
static void check_payload(const struct target *t, struct jv_instance *inst, const char *payload,
			  size_t n)
{
	struct jv_run run;
	jv_run_init(&run, 1000, 4096);
	json_error_t e;
	json_t *p = NULL;
	if (strcmp(t->name, "sql")) {
		p = json_loadb(payload, n, JSON_DECODE_ANY, &e);
		if (!p) {
			jv_run_free(&run);
			return;
		}
	}
	int rc;
	if (!strcmp(t->name, "noop")) {
		struct noop_spec sp;
		rc = noop_parse(inst->state, &run, p, &sp);
	} else if (!strcmp(t->name, "shell")) {
		struct shell_spec sp;
		memset(&sp, 0, sizeof sp);
		rc = shell_parse(inst->state, &run, p, &sp);
		if (rc == 0 && (!sp.argv || !sp.argv[0]))
			abort(); /* a checked payload runs something */
		shell_spec_free(&sp);
	} else if (!strcmp(t->name, "http")) {
		struct http_req r = {0};
		rc = http_build(inst->state, &run, p, &r);
		if (rc == 0 && !r.url)
			abort();
		if (rc == 0) { /* what http_perform() hands libcurl first */
			curl_slist_free_all(http_header_list(&r, 1));
			curl_slist_free_all(http_header_list(&r, 0));
			curl_free(http_display_url(r.url));
		}
		http_req_free(&r);
	} else {
		struct jv_job job = {.struct_size = sizeof job, .id = 1, .type = "t",
				     .payload = payload, .payload_len = n, .attempt = 1,
				     .max_attempts = 1, .timeout_ms = 1000};
		jv_run_cancel(&run);
		rc = sql_execute(inst->state, &job, &run);
		/* Past the checks it must have stopped at the cancellation, never
		 * gone on to the database. */
		if (rc == JV_RETRY && (!run.error || !strstr(run.error, "cancelled before")))
			abort();
		if (rc == JV_SUCCESS)
			abort();
		rc = rc == JV_RETRY ? 0 : -1;
	}
	if (rc != 0 && !run.error)
		abort(); /* a refusal must say why */
	json_decref(p);
	jv_run_free(&run);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	setup();
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char *nl = memchr(s, '\n', size);
	struct target *t = NULL;
	for (size_t i = 0; nl && i < sizeof targets / sizeof *targets; i++)
		if (strlen(targets[i].name) == (size_t)(nl - s) &&
		    !memcmp(s, targets[i].name, (size_t)(nl - s)))
			t = &targets[i];
	if (!t) {
		free(s);
		return 0;
	}
	char *body = nl + 1;
	size_t blen = size - (size_t)(body - s);
	char *sep = NULL;
	if (!memchr(body, '\0', blen)) /* config text stops at a NUL */
		sep = strstr(body, "\n%%\n");
	if (!sep && blen >= 3 && !memcmp(body, "%%\n", 3))
		sep = body - 1;
	if (sep) {
		struct jv_config *cfg = NULL;
		size_t clen = sep > body ? (size_t)(sep - body) + 1 : 0;
		struct jv_instance *inst = make(t, body, clen, &cfg);
		const char *payload = sep + 4;
		if (inst)
			check_payload(t, inst, payload, blen - (size_t)(payload - body));
		jv_instance_free(inst);
		jv_config_free(cfg);
	} else {
		check_payload(t, t->inst, body, blen);
	}
	free(s);
	return 0;
}

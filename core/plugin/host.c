/* host.c -- the host table handed to plugins, their instances and runs. */
#include "plugin/host.h"

#include "config/config.h"
#include "lib/error.h"
#include "lib/jsontext.h"
#include "lib/log.h"
#include "lib/redact.h"
#include "lib/text.h"
#include "plugin/loader.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ instances */

struct jv_instance *jv_instance_new(const char *name, const char *path,
				    const struct jv_loaded_plugin *plugin,
				    const struct jv_config *cfg, const struct jv_node *node,
				    const struct jv_executor_cfg *executor,
				    const struct jv_alert_cfg *alert)
{
	struct jv_instance *inst = jv_calloc(1, sizeof *inst);
	inst->name = jv_strdup(name);
	inst->path = jv_strdup(path ? path : name);
	inst->log_source = jv_asprintf("plugin %s[%s]", plugin->desc.name, name);
	inst->plugin = plugin;
	inst->cfg = cfg;
	inst->node = node;
	inst->executor = executor;
	inst->alert = alert;
	pthread_mutex_init(&inst->lock, NULL);
	return inst;
}

/* Keep p (from malloc) until inst is freed; returns p. */
static void *own(struct jv_instance *inst, void *p)
{
	pthread_mutex_lock(&inst->lock);
	if (inst->n_owned == inst->cap_owned) {
		inst->cap_owned = inst->cap_owned ? 2 * inst->cap_owned : 8;
		inst->owned = jv_realloc(inst->owned, inst->cap_owned * sizeof *inst->owned);
	}
	inst->owned[inst->n_owned++] = p;
	pthread_mutex_unlock(&inst->lock);
	return p;
}

/* ------------------------------------------------------------ secrets */

/* A key whose value is a secret as a whole: passwords, tokens, keys,
 * Authorization and Cookie headers, a Slack webhook URL (its path is the
 * secret). */
static int key_is_secret(const char *key)
{
	char k[64];
	size_t n = strlen(key);
	if (n >= sizeof k)
		n = sizeof k - 1;
	for (size_t i = 0; i < n; i++)
		k[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] - 'A' + 'a' : key[i]);
	k[n] = '\0';
	return strstr(k, "password") || strstr(k, "secret") || strstr(k, "token") ||
	       strstr(k, "authorization") || strstr(k, "cookie") || !strcmp(k, "key") ||
	       (n > 4 && (!strcmp(k + n - 4, "_key") || !strcmp(k + n - 4, "-key"))) ||
	       !strcmp(k, "webhook_url");
}

/* The secrets of the section n, at any depth (headers: { ... } too). */
static void add_node_secrets(struct jv_secrets *sec, const struct jv_node *n, int depth)
{
	for (size_t i = 0; n && depth < 8 && i < n->n_items; i++) {
		const struct jv_node *c = n->items[i];
		if (c->type != JV_NODE_SCALAR) {
			add_node_secrets(sec, c, depth + 1);
			continue;
		}
		if (!c->key || !c->value || !c->value[0])
			continue;
		size_t kl = strlen(c->key);
		if (key_is_secret(c->key)) {
			jv_secrets_add(sec, c->value);
			const char *sp = strrchr(c->value, ' '); /* "Bearer TOKEN" */
			if (sp && sp[1])
				jv_secrets_add(sec, sp + 1);
		} else if (kl >= 3 && !strcmp(c->key + kl - 3, "url")) {
			jv_secrets_add_url(sec, c->value);
		}
	}
}

/*
 * text (a plugin's log line or error) with the secrets the plugin may hold
 * masked: jobvisor's database.url (lent through database_url()), and the
 * URL passwords and secret values of the instance's own section, however
 * the plugin came to print them (a libpq or curl message quoting a URL).
 * Freshly allocated.
 */
static char *inst_redact(const struct jv_instance *inst, const char *text)
{
	struct jv_secrets sec = {0};
	if (inst && inst->cfg) {
		jv_secrets_add_url(&sec, inst->cfg->database.url);
		jv_secrets_add_url(&sec, inst->cfg->database.listen_url);
	}
	if (inst)
		add_node_secrets(&sec, inst->node, 0);
	char *r = jv_redact(text, &sec);
	jv_secrets_free(&sec);
	return r;
}

/* One line from source: a plugin instance's lines carry its name. */
static void log_line(enum jv_level level, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Record an error about key of inst at the place of node (the key's value,
 * or the section when the key is absent): "FILE:LINE:COL: PATH.KEY: msg".
 * The first error is kept for jv_instance_create(); one recorded after
 * create() (an accessor called from execute()) is logged instead.
 */
static void record_error(struct jv_instance *inst, const struct jv_node *node, const char *key,
			 const char *msg)
{
	char line[1024];
	const char *dot = key ? "." : "";
	if (!key)
		key = "";
	char *safe = inst_redact(inst, msg);
	if (inst->cfg && node)
		jv_config_errorf(inst->cfg, node, line, sizeof line, "%s%s%s: %s", inst->path, dot,
				 key, safe);
	else
		snprintf(line, sizeof line, "%s%s%s: %s", inst->path, dot, key, safe);
	free(safe);

	pthread_mutex_lock(&inst->lock);
	int first = inst->error == NULL;
	if (first)
		inst->error = jv_strdup(line);
	int created = inst->created;
	pthread_mutex_unlock(&inst->lock);
	if (created || !first)
		log_line(created ? JV_WARNING : JV_DEBUG, inst->log_source, "%s", line);
}

int jv_instance_create(struct jv_instance *inst, char *err, size_t errlen)
{
	const struct jv_plugin *p = &inst->plugin->desc;
	inst->state = NULL;
	int rc = p->create(jv_host_table(), inst, &inst->state);
	if (rc == 0 && !inst->error) {
		inst->created = 1;
		return 0;
	}
	/* create() succeeded but an accessor refused a value the plugin then
	 * ignored: the config is still wrong. */
	if (rc == 0 && p->destroy)
		p->destroy(inst->state);
	inst->state = NULL;
	if (inst->error)
		snprintf(err, errlen, "%s", inst->error);
	else
		jv_config_errorf(inst->cfg, inst->node, err, errlen,
				 "%s: plugin '%s' refused this instance (create() returned %d without "
				 "saying why)",
				 inst->path, p->name, rc);
	return JV_ECONFIG;
}

const char *jv_instance_error(const struct jv_instance *inst) { return inst->error; }

void jv_instance_free(struct jv_instance *inst)
{
	if (!inst)
		return;
	if (inst->created && inst->plugin->desc.destroy)
		inst->plugin->desc.destroy(inst->state);
	for (size_t i = 0; i < inst->n_owned; i++)
		free(inst->owned[i]);
	free(inst->owned);
	free(inst->error);
	free(inst->name);
	free(inst->path);
	free(inst->log_source);
	pthread_mutex_destroy(&inst->lock);
	free(inst);
}

/* ------------------------------------------------------------ logging */

static enum jv_level host_level(int level)
{
	if (level <= JV_LOG_ERROR)
		return JV_ERROR;
	if (level == JV_LOG_WARNING)
		return JV_WARNING;
	if (level == JV_LOG_INFO)
		return JV_INFO;
	return JV_DEBUG;
}

static void log_line(enum jv_level level, const char *source, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	jv_vlog(level, source, fmt, ap);
	va_end(ap);
}

static void host_vlog(const struct jv_instance *inst, int level, const char *fmt, va_list ap)
{
	if (!fmt || host_level(level) > jv_log_level())
		return;
	char *msg = jv_vasprintf(fmt, ap);
	char *safe = inst_redact(inst, msg);
	log_line(host_level(level), inst ? inst->log_source : "plugin", "%s", safe);
	free(safe);
	free(msg);
}

static void host_log(const struct jv_instance *inst, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void host_log(const struct jv_instance *inst, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	host_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static const char *host_instance_name(const struct jv_instance *inst)
{
	return inst ? inst->name : "";
}

/* ------------------------------------------------------------ config */

static const char *node_kind(const struct jv_node *n)
{
	switch (n->type) {
	case JV_NODE_MAP: return "a map";
	case JV_NODE_SEQ: return "a list";
	case JV_NODE_SCALAR: return "a scalar";
	}
	return "something else";
}

/* A plain scalar YAML reads as null (nothing, ~, null): "not set", as
 * everywhere in the configuration. */
static int is_null(const struct jv_node *n)
{
	if (n->type != JV_NODE_SCALAR || n->quoted)
		return 0;
	const char *v = n->value ? n->value : "";
	return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* The value of key in inst's section: 0 and *n, JV_HOST_ENOENT when absent
 * or null, or JV_HOST_EINVAL on bad arguments. */
static int lookup(struct jv_instance *inst, const char *key, const void *out,
		  const struct jv_node **n)
{
	if (!inst || !key || !out)
		return JV_HOST_EINVAL;
	*n = inst->node ? jv_node_get(inst->node, key) : NULL;
	return *n && !is_null(*n) ? 0 : JV_HOST_ENOENT;
}

/* A scalar is required: else record "expected WHAT, got a map". */
static int want_scalar(struct jv_instance *inst, const struct jv_node *n, const char *key,
		       const char *what)
{
	if (n->type == JV_NODE_SCALAR)
		return 0;
	char msg[128];
	snprintf(msg, sizeof msg, "expected %s, got %s", what, node_kind(n));
	record_error(inst, n, key, msg);
	return JV_HOST_ETYPE;
}

/* After jv_node_int() refused s: JV_HOST_ERANGE when s is a decimal
 * integer too large for int64, else JV_HOST_ETYPE. */
static int int_failure(const char *s)
{
	char *end;
	errno = 0;
	(void)strtoll(s, &end, 10);
	return (errno == ERANGE && end != s && *end == '\0') ? JV_HOST_ERANGE : JV_HOST_ETYPE;
}

static int host_config_string(struct jv_instance *inst, const char *key, const char **out)
{
	const struct jv_node *n;
	int rc = lookup(inst, key, out, &n);
	if (rc)
		return rc;
	if ((rc = want_scalar(inst, n, key, "a string")))
		return rc;
	*out = own(inst, jv_strdup(n->value ? n->value : ""));
	return 0;
}

static int host_config_int(struct jv_instance *inst, const char *key, int64_t *out)
{
	const struct jv_node *n;
	int rc = lookup(inst, key, out, &n);
	if (rc)
		return rc;
	if ((rc = want_scalar(inst, n, key, "an integer")))
		return rc;
	char msg[256];
	int64_t v;
	if (jv_node_int(n, &v, msg, sizeof msg) != 0) {
		record_error(inst, n, key, msg);
		return int_failure(n->value ? n->value : "");
	}
	*out = v;
	return 0;
}

static int host_config_double(struct jv_instance *inst, const char *key, double *out)
{
	const struct jv_node *n;
	int rc = lookup(inst, key, out, &n);
	if (rc)
		return rc;
	if ((rc = want_scalar(inst, n, key, "a number")))
		return rc;
	char msg[256];
	double v;
	if (jv_node_double(n, &v, msg, sizeof msg) != 0) {
		record_error(inst, n, key, msg);
		return JV_HOST_ETYPE;
	}
	*out = v;
	return 0;
}

static int host_config_bool(struct jv_instance *inst, const char *key, int *out)
{
	const struct jv_node *n;
	int rc = lookup(inst, key, out, &n);
	if (rc)
		return rc;
	if ((rc = want_scalar(inst, n, key, "a boolean")))
		return rc;
	char msg[256];
	int v;
	if (jv_node_bool(n, &v, msg, sizeof msg) != 0) {
		record_error(inst, n, key, msg);
		return JV_HOST_ETYPE;
	}
	*out = v ? 1 : 0;
	return 0;
}

/* One block: the NULL-terminated pointer array, then the strings. */
static int host_config_strings(struct jv_instance *inst, const char *key, const char *const **out,
			       size_t *n_out)
{
	const struct jv_node *n;
	int rc = lookup(inst, key, out, &n);
	if (rc)
		return rc;
	const struct jv_node *const *items = (const struct jv_node *const *)&n;
	size_t count = 1;
	if (n->type == JV_NODE_SEQ) {
		items = (const struct jv_node *const *)n->items;
		count = n->n_items;
	} else if (n->type != JV_NODE_SCALAR) {
		return want_scalar(inst, n, key, "a list of strings");
	}
	size_t bytes = (count + 1) * sizeof(char *);
	for (size_t i = 0; i < count; i++) {
		if (items[i]->type != JV_NODE_SCALAR) {
			char msg[128];
			snprintf(msg, sizeof msg, "expected a list of strings, item %zu is %s",
				 i + 1, node_kind(items[i]));
			record_error(inst, items[i], key, msg);
			return JV_HOST_ETYPE;
		}
		bytes += strlen(items[i]->value ? items[i]->value : "") + 1;
	}
	char **arr = own(inst, jv_malloc(bytes));
	char *p = (char *)(arr + count + 1);
	for (size_t i = 0; i < count; i++) {
		const char *v = items[i]->value ? items[i]->value : "";
		size_t len = strlen(v) + 1;
		memcpy(p, v, len);
		arr[i] = p;
		p += len;
	}
	arr[count] = NULL;
	*out = (const char *const *)arr;
	if (n_out)
		*n_out = count;
	return 0;
}

static int host_config_json(struct jv_instance *inst, const char *key, const char **out)
{
	const struct jv_node *n;
	int rc = lookup(inst, key, out, &n);
	if (rc)
		return rc;
	char *json = jv_node_to_json(n);
	if (!json) {
		record_error(inst, n, key, "cannot be converted to JSON");
		return JV_HOST_ETYPE;
	}
	*out = own(inst, json);
	return 0;
}

static int host_config_error(struct jv_instance *inst, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int host_config_error(struct jv_instance *inst, const char *key, const char *fmt, ...)
{
	if (!inst || !fmt)
		return JV_HOST_EINVAL;
	const struct jv_node *n = key && inst->node ? jv_node_get(inst->node, key) : NULL;
	va_list ap;
	va_start(ap, fmt);
	char *msg = jv_vasprintf(fmt, ap);
	va_end(ap);
	record_error(inst, n ? n : inst->node, key, msg);
	free(msg);
	return JV_HOST_EINVAL;
}

/* ------------------------------------------------------------ runs */

void jv_run_init(struct jv_run *run, int64_t timeout_ms, size_t max_output_bytes)
{
	memset(run, 0, sizeof *run);
	atomic_init(&run->cancelled, 0);
	run->max_output = max_output_bytes < JV_OUTPUT_MAX ? max_output_bytes : JV_OUTPUT_MAX;
	run->retry_in_ms = -1;
	run->progress = -1;
	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &run->deadline);
		run->deadline.tv_sec += timeout_ms / 1000;
		run->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (run->deadline.tv_nsec >= 1000000000L) {
			run->deadline.tv_sec++;
			run->deadline.tv_nsec -= 1000000000L;
		}
	}
}

void jv_run_cancel(struct jv_run *run) { atomic_store(&run->cancelled, 1); }

int64_t jv_run_remaining_ms(const struct jv_run *run)
{
	if (run->deadline.tv_sec == 0 && run->deadline.tv_nsec == 0)
		return INT64_MAX;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (int64_t)(run->deadline.tv_sec - now.tv_sec) * 1000 +
		     (run->deadline.tv_nsec - now.tv_nsec) / 1000000L;
	return ms > 0 ? ms : 0;
}

const char *jv_run_output(struct jv_run *run)
{
	if (run->dropped && !run->output_marked) {
		jv_buf_printf(&run->output, "\n[output truncated: %zu bytes dropped]", run->dropped);
		run->output_marked = 1;
	}
	return run->output.data ? run->output.data : "";
}

void jv_run_free(struct jv_run *run)
{
	jv_buf_free(&run->output);
	free(run->error);
	free(run->result);
	free(run->progress_note);
	free(run->dependency_results);
	run->error = run->result = run->progress_note = run->dependency_results = NULL;
}

void jv_run_link(struct jv_run *run, const struct jv_run_link *link, void *arg)
{
	run->link = link;
	run->link_arg = arg;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void jv_run_flush_progress(struct jv_run *run)
{
	if (!run->progress_unsent)
		return;
	run->progress_unsent = 0;
	run->progress_sent_ms = mono_ms();
	if (run->link && run->link->progress)
		run->link->progress(run->link_arg, run, run->progress, run->progress_note);
}

/* A progress update held back by the throttle goes once the throttle
 * allows, at the run's next call of the host (the run's own thread: a
 * plugin that went quiet still polls cancelled() or remaining_ms()). */
static void progress_due(const struct jv_run *run)
{
	struct jv_run *r = (struct jv_run *)run;
	if (r->progress_unsent && mono_ms() >= r->progress_sent_ms + JV_PROGRESS_THROTTLE_MS)
		jv_run_flush_progress(r);
}

static int64_t host_remaining_ms(const struct jv_run *run)
{
	if (run)
		progress_due(run);
	return run ? jv_run_remaining_ms(run) : INT64_MAX;
}

static int host_cancelled(const struct jv_run *run)
{
	if (!run)
		return 0;
	progress_due(run);
	if (atomic_load(&((struct jv_run *)run)->cancelled) != 0)
		return 1;
	return jv_run_remaining_ms(run) == 0; /* the deadline passed */
}

/* Keep what fits of data, cut at a UTF-8 character boundary; once output
 * was cut, everything after it is dropped too, so the kept part is a
 * prefix of what the plugin wrote. */
static int host_output(struct jv_run *run, const char *data, size_t len)
{
	if (!run || (!data && len))
		return JV_HOST_EINVAL;
	size_t room = run->max_output > run->output.len ? run->max_output - run->output.len : 0;
	if (run->dropped)
		room = 0;
	size_t keep = len <= room ? len : room;
	/* cppcheck-suppress knownConditionTrueFalse ; 2.10 misreads x = a < b ? a : b */
	if (keep < len)
		while (keep > 0 && ((unsigned char)data[keep] & 0xC0) == 0x80)
			keep--;
	if (keep)
		jv_buf_append(&run->output, data, keep);
	run->dropped += len - keep;
	return 0;
}

/* Keep at most JV_ERROR_MAX bytes of an error, cut at a UTF-8 character
 * boundary and marked: a message built from a huge input (a payload, a
 * response body) must not swell the worker's result frame or the history. */
static void set_verror(struct jv_run *run, const char *fmt, va_list ap)
{
	char *msg = jv_malloc(JV_ERROR_MAX + 1);
	int n = vsnprintf(msg, JV_ERROR_MAX + 1, fmt, ap);
	if (n < 0) {
		n = 0;
		msg[0] = '\0';
	}
	if ((size_t)n > JV_ERROR_MAX) {
		static const char mark[] = " [error truncated: %zu bytes dropped]";
		size_t keep = JV_ERROR_MAX - (sizeof mark + 16);
		while (keep > 0 && ((unsigned char)msg[keep] & 0xC0) == 0x80)
			keep--;
		snprintf(msg + keep, JV_ERROR_MAX + 1 - keep, mark, (size_t)n - keep);
	}
	free(run->error);
	run->error = msg;
}

static void set_error(struct jv_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct jv_run *run, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_verror(run, fmt, ap);
	va_end(ap);
}

static int host_error(struct jv_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int host_error(struct jv_run *run, const char *fmt, ...)
{
	if (!run || !fmt)
		return JV_HOST_EINVAL;
	va_list ap;
	va_start(ap, fmt);
	set_verror(run, fmt, ap);
	va_end(ap);
	return 0;
}

static int host_result_json(struct jv_run *run, const char *json)
{
	if (!run || !json)
		return JV_HOST_EINVAL;
	/* integers beyond int64 (a plugin may pass PostgreSQL's text on) as reals */
	json_t *j = jv_json_load_pg(json, strlen(json), JSON_REJECT_DUPLICATES, NULL, 0);
	if (!j)
		return JV_HOST_EINVAL;
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (!text)
		return JV_HOST_ENOMEM;
	size_t len = strlen(text);
	if (len > JV_RESULT_MAX) {
		/* Remembered: a run that succeeds without a smaller result
		 * fails (settle), rather than losing it silently. */
		free(text);
		run->result_refused = len;
		return JV_HOST_ERANGE;
	}
	free(run->result);
	run->result = jv_strdup(text);
	run->result_refused = 0;
	free(text);
	return 0;
}

static int host_retry_in(struct jv_run *run, int64_t ms)
{
	if (!run || ms < 0)
		return JV_HOST_EINVAL;
	run->retry_in_ms = ms;
	return 0;
}

/* The first JV_PROGRESS_NOTE_MAX characters of note, valid UTF-8 without
 * control characters (freshly allocated; NULL for NULL or ""). */
static char *clean_note(const char *note)
{
	if (!note || !note[0])
		return NULL;
	/* (cut after cleaning: a bad byte becomes one character of three bytes) */
	size_t len = strlen(note);
	char *clean = jv_text_sanitize(note, len < 4 * JV_PROGRESS_NOTE_MAX ? len : 4 * JV_PROGRESS_NOTE_MAX);
	size_t end = 0;
	for (int chars = 0; clean[end] && chars < JV_PROGRESS_NOTE_MAX; chars++) {
		end++;
		while (((unsigned char)clean[end] & 0xC0) == 0x80)
			end++;
	}
	clean[end] = '\0';
	/* one line: what a dashboard shows in a bar */
	for (char *c = clean; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return clean;
}

static int host_progress(struct jv_run *run, int percent, const char *note)
{
	if (!run || percent < 0 || percent > 100)
		return JV_HOST_EINVAL;
	char *clean = clean_note(note);
	if (run->progress == percent && run->progress_unsent == 0 &&
	    ((!clean && !run->progress_note) ||
	     (clean && run->progress_note && !strcmp(clean, run->progress_note)))) {
		free(clean); /* nothing new */
		return 0;
	}
	free(run->progress_note);
	run->progress_note = clean;
	run->progress = percent;
	run->progress_unsent = 1;
	uint64_t now = mono_ms();
	if (run->progress_sent_ms == 0 || now >= run->progress_sent_ms + JV_PROGRESS_THROTTLE_MS)
		jv_run_flush_progress(run);
	return 0;
}

static int host_dependency_results(struct jv_run *run, const char **json)
{
	if (!run || !json)
		return JV_HOST_EINVAL;
	if (!run->dependency_results) {
		if (!run->link || !run->link->dependency_results)
			return JV_HOST_ENOENT;
		char *text = NULL;
		int rc = run->link->dependency_results(run->link_arg, run, &text);
		if (rc != 0) {
			free(text);
			return rc;
		}
		if (!text)
			return JV_HOST_EUNAVAIL;
		if (strlen(text) > JV_DEPENDENCY_RESULTS_MAX) {
			free(text);
			return JV_HOST_ERANGE;
		}
		run->dependency_results = text;
	}
	*json = run->dependency_results;
	return 0;
}

static const char *host_database_url(const struct jv_instance *inst)
{
	if (!inst || !inst->cfg || !inst->cfg->database.url)
		return "";
	return inst->cfg->database.url;
}

/* ------------------------------------------------------------ the table */

static const struct jv_host host_table = {
	.abi_major = JV_PLUGIN_ABI_MAJOR,
	.abi_minor = JV_HOST_ABI_MINOR,
	.struct_size = sizeof(struct jv_host),
	.log = host_log,
	.vlog = host_vlog,
	.instance_name = host_instance_name,
	.config_string = host_config_string,
	.config_int = host_config_int,
	.config_double = host_config_double,
	.config_bool = host_config_bool,
	.config_strings = host_config_strings,
	.config_json = host_config_json,
	.config_error = host_config_error,
	.remaining_ms = host_remaining_ms,
	.cancelled = host_cancelled,
	.output = host_output,
	.error = host_error,
	.result_json = host_result_json,
	.retry_in = host_retry_in,
	.database_url = host_database_url,
	.dependency_results = host_dependency_results,
	.progress = host_progress,
};

const struct jv_host *jv_host_table(void) { return &host_table; }

/* ------------------------------------------------------------ calling plugins */

/* Make rc one of the three statuses and the run consistent with it. */
static int settle(const struct jv_instance *inst, struct jv_run *run, int rc)
{
	if (rc != JV_SUCCESS && rc != JV_RETRY && rc != JV_FAIL) {
		set_error(run, "plugin returned invalid status %d", rc);
		rc = JV_FAIL;
	}
	if (rc == JV_SUCCESS && run->result_refused) {
		/* The same job would make the same result: not worth a retry. */
		set_error(run,
			  "result is too large: %zu bytes as JSON, the limit is %d bytes (plugin %s "
			  "succeeded but its result was refused)",
			  run->result_refused, JV_RESULT_MAX, inst->plugin->desc.name);
		rc = JV_FAIL;
	}
	if (rc == JV_SUCCESS) {
		free(run->error);
		run->error = NULL;
	} else if (!run->error) {
		set_error(run, "plugin %s failed without an error message", inst->plugin->desc.name);
	} else {
		/* the error is stored, shown by the API and sent in alerts */
		char *safe = inst_redact(inst, run->error);
		free(run->error);
		run->error = safe;
	}
	if (rc != JV_RETRY)
		run->retry_in_ms = -1;
	return rc;
}

int jv_instance_execute(struct jv_instance *inst, const struct jv_job *job, struct jv_run *run)
{
	const struct jv_plugin *p = &inst->plugin->desc;
	if (!inst->created || p->kind != JV_PLUGIN_EXECUTOR || !p->execute) {
		set_error(run, "instance '%s' cannot run jobs", inst->name);
		return JV_FAIL;
	}
	return settle(inst, run, p->execute(inst->state, job, run));
}

int jv_instance_send(struct jv_instance *inst, const struct jv_alert *alert, struct jv_run *run)
{
	const struct jv_plugin *p = &inst->plugin->desc;
	if (!inst->created || p->kind != JV_PLUGIN_ALERT || !p->send) {
		set_error(run, "instance '%s' cannot send alerts", inst->name);
		return JV_FAIL;
	}
	return settle(inst, run, p->send(inst->state, alert, run));
}

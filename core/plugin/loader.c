/* loader.c -- load plugins from the plugin dir; make the configured instances. */
#include "plugin/loader.h"

#include "config/config.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "plugin/host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The size of struct jv_plugin in ABI 1.0: its fields end with send. A
 * descriptor smaller than this lacks fields every 1.0 plugin has. */
#define JV_PLUGIN_SIZE_1_0 (offsetof(struct jv_plugin, send) + sizeof(((struct jv_plugin *)0)->send))

struct refusal {
	char *stem;   /* file name without .so */
	char *path;
	char *reason;
};

struct jv_plugins {
	char *dir;
	struct jv_loaded_plugin **items;
	size_t n, cap;
	struct refusal *refused;
	size_t n_refused, cap_refused;
};

/* ------------------------------------------------------------ registry */

struct jv_plugins *jv_plugins_new(const char *dir)
{
	struct jv_plugins *reg = jv_calloc(1, sizeof *reg);
	reg->dir = jv_strdup(dir ? dir : "");
	return reg;
}

const char *jv_plugins_dir(const struct jv_plugins *reg) { return reg->dir; }
size_t jv_plugins_count(const struct jv_plugins *reg) { return reg->n; }

const struct jv_loaded_plugin *jv_plugins_at(const struct jv_plugins *reg, size_t i)
{
	return i < reg->n ? reg->items[i] : NULL;
}

const struct jv_loaded_plugin *jv_plugins_find(const struct jv_plugins *reg, const char *name)
{
	if (!reg || !name)
		return NULL;
	for (size_t i = 0; i < reg->n; i++)
		if (!strcmp(reg->items[i]->desc.name, name))
			return reg->items[i];
	return NULL;
}

const char *jv_plugins_refusal(const struct jv_plugins *reg, const char *stem, const char **path)
{
	if (!reg || !stem)
		return NULL;
	for (size_t i = reg->n_refused; i-- > 0;) {
		if (!strcmp(reg->refused[i].stem, stem)) {
			if (path)
				*path = reg->refused[i].path;
			return reg->refused[i].reason;
		}
	}
	return NULL;
}

void jv_plugins_free(struct jv_plugins *reg)
{
	if (!reg)
		return;
	for (size_t i = reg->n; i-- > 0;) {
		dlclose(reg->items[i]->handle);
		free(reg->items[i]->path);
		free(reg->items[i]);
	}
	for (size_t i = 0; i < reg->n_refused; i++) {
		free(reg->refused[i].stem);
		free(reg->refused[i].path);
		free(reg->refused[i].reason);
	}
	free(reg->items);
	free(reg->refused);
	free(reg->dir);
	free(reg);
}

/* ------------------------------------------------------------ loading one file */

/* [a-z0-9_]+, the pattern of plugin names and of NAME in NAME.so. */
static int valid_name(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* The NAME of a file .../NAME.so (freshly allocated), or the base name. */
static char *file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t len = strlen(base);
	if (len > 3 && !strcmp(base + len - 3, ".so"))
		len -= 3;
	return jv_strndup(base, len);
}

/* A plugin-supplied string made safe for a one-line message: at most 64
 * characters, anything unprintable as '?'. */
static void printable(char *dst, size_t dstlen, const char *s)
{
	size_t i = 0;
	for (; i + 1 < dstlen && i < 64 && s[i]; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[i] = '\0';
}

static void remember_refusal(struct jv_plugins *reg, const char *path, const char *why)
{
	if (reg->n_refused == reg->cap_refused) {
		reg->cap_refused = reg->cap_refused ? 2 * reg->cap_refused : 8;
		reg->refused = jv_realloc(reg->refused, reg->cap_refused * sizeof *reg->refused);
	}
	reg->refused[reg->n_refused].stem = file_stem(path);
	reg->refused[reg->n_refused].path = jv_strdup(path);
	reg->refused[reg->n_refused].reason = jv_strdup(why);
	reg->n_refused++;
}

/* Check the descriptor d of path; 0, or non-zero with the reason in why. */
static int check_descriptor(const struct jv_plugins *reg, const struct jv_plugin *d, char *why,
			    size_t whylen)
{
	/* The major first: with another major, nothing past the first three
	 * fields can be trusted to mean what we think. */
	if (d->abi_major != JV_PLUGIN_ABI_MAJOR) {
		snprintf(why, whylen, "built for ABI %u.%u, this host has %d.%d", d->abi_major,
			 d->abi_minor, JV_PLUGIN_ABI_MAJOR, JV_HOST_ABI_MINOR);
		return -1;
	}
	if (d->abi_minor > JV_HOST_ABI_MINOR) {
		snprintf(why, whylen, "built for ABI %u.%u, newer than this host's %d.%d",
			 d->abi_major, d->abi_minor, JV_PLUGIN_ABI_MAJOR, JV_HOST_ABI_MINOR);
		return -1;
	}
	if (d->struct_size < JV_PLUGIN_SIZE_1_0) {
		snprintf(why, whylen,
			 "descriptor too small: %u bytes, ABI %u.%u needs at least %zu",
			 d->struct_size, d->abi_major, d->abi_minor, (size_t)JV_PLUGIN_SIZE_1_0);
		return -1;
	}
	if (d->kind != JV_PLUGIN_EXECUTOR && d->kind != JV_PLUGIN_ALERT) {
		snprintf(why, whylen, "unknown kind %u (1: executor, 2: alert)", d->kind);
		return -1;
	}
	if (!d->name) {
		snprintf(why, whylen, "no name");
		return -1;
	}
	if (!valid_name(d->name, strlen(d->name))) {
		char name[80];
		printable(name, sizeof name, d->name);
		snprintf(why, whylen, "invalid name '%s' (must match [a-z0-9_]+)", name);
		return -1;
	}
	const char *missing = NULL;
	if (!d->create)
		missing = "create";
	else if (d->kind == JV_PLUGIN_EXECUTOR && !d->execute)
		missing = "execute";
	else if (d->kind == JV_PLUGIN_ALERT && !d->send)
		missing = "send";
	if (missing) {
		snprintf(why, whylen, "incomplete plugin: no %s()", missing);
		return -1;
	}
	const struct jv_loaded_plugin *other = jv_plugins_find(reg, d->name);
	if (other) {
		snprintf(why, whylen, "duplicate name '%s', already declared by %s", d->name,
			 other->path);
		return -1;
	}
	return 0;
}

/* Checks on the file itself, before dlopen() runs any of its code. */
static int check_file(const char *path, char *why, size_t whylen)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "is a symbolic link (copy the file instead)");
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "writable by group or others (mode %04o)",
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	uid_t euid = geteuid();
	if (st.st_uid != 0 && st.st_uid != euid) {
		snprintf(why, whylen, "owned by uid %u, not by root or the running user (uid %u)",
			 (unsigned)st.st_uid, (unsigned)euid);
		return -1;
	}
	return 0;
}

int jv_plugins_load_file(struct jv_plugins *reg, const char *path, char *why, size_t whylen)
{
	/* dlopen() searches the library path for a name without a slash. */
	char *file = strchr(path, '/') ? jv_strdup(path) : jv_asprintf("./%s", path);
	void *handle = NULL;

	if (check_file(file, why, whylen) != 0)
		goto refused;

	dlerror();
	handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *e = dlerror();
		snprintf(why, whylen, "cannot load: %s", e ? e : "dlopen failed");
		goto refused;
	}

	dlerror();
	void *sym = dlsym(handle, JV_PLUGIN_ENTRY_SYMBOL);
	if (!sym) {
		snprintf(why, whylen, "no entry symbol %s() (not a jobvisor plugin?)",
			 JV_PLUGIN_ENTRY_SYMBOL);
		goto refused;
	}
	jv_plugin_entry_fn entry;
	memcpy(&entry, &sym, sizeof entry); /* object to function pointer, as POSIX allows */
	const struct jv_plugin *d = entry();
	if (!d) {
		snprintf(why, whylen, "%s() returned NULL", JV_PLUGIN_ENTRY_SYMBOL);
		goto refused;
	}
	if (check_descriptor(reg, d, why, whylen) != 0)
		goto refused;

	struct jv_loaded_plugin *lp = jv_calloc(1, sizeof *lp);
	lp->path = file;
	lp->handle = handle;
	/* Copy what the plugin has; fields of a later minor stay zero. */
	memcpy(&lp->desc, d, d->struct_size < sizeof lp->desc ? d->struct_size : sizeof lp->desc);
	if (!lp->desc.version)
		lp->desc.version = "unknown";
	if (reg->n == reg->cap) {
		reg->cap = reg->cap ? 2 * reg->cap : 8;
		reg->items = jv_realloc(reg->items, reg->cap * sizeof *reg->items);
	}
	reg->items[reg->n++] = lp;
	return 0;

refused:
	if (handle)
		dlclose(handle);
	remember_refusal(reg, file, why);
	free(file);
	return JV_EPLUGIN;
}

/* ------------------------------------------------------------ loading a dir */

/* NAME.so with NAME matching [a-z0-9_]+. */
static int plugin_file_name(const char *name)
{
	size_t len = strlen(name);
	return len > 3 && !strcmp(name + len - 3, ".so") && valid_name(name, len - 3);
}

/* Is folder p, one above the plugin dir, safe: owned by root or us, and
 * not writable by group or others unless it has the sticky bit (as /tmp
 * has: then others may add names to it but not rename or remove ours)?
 * 0, or -1 with the reason in err. */
static int check_above(const char *dir, const char *p, char *err, size_t errlen)
{
	struct stat st;
	uid_t euid = geteuid();
	if (stat(p, &st) != 0) {
		snprintf(err, errlen, "plugin dir %s refused: cannot stat the folder %s above it: %s",
			 dir, p, strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != euid) {
		snprintf(err, errlen,
			 "plugin dir %s refused: the folder %s above it is owned by uid %u, not by "
			 "root or the running user (uid %u), so that user could replace the "
			 "plugin folder",
			 dir, p, (unsigned)st.st_uid, (unsigned)euid);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen,
			 "plugin dir %s refused: the folder %s above it is writable by group or "
			 "others (mode %04o, no sticky bit), so anyone could replace the plugin "
			 "folder",
			 dir, p, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* check_above() every folder above path (absolute), up to /. */
static int check_all_above(const char *dir, const char *path, char *err, size_t errlen)
{
	char *p = jv_strdup(path);
	int rc = 0;
	for (;;) {
		size_t n = strlen(p);
		while (n > 1 && p[n - 1] == '/')
			p[--n] = '\0';
		char *slash = strrchr(p, '/');
		if (!slash || n <= 1)
			break;
		slash[slash == p ? 1 : 0] = '\0'; /* "/a" -> "/", "/a/b" -> "/a" */
		if ((rc = check_above(dir, p, err, errlen)) != 0)
			break;
	}
	free(p);
	return rc;
}

int jv_plugins_load_dir(const char *dir, struct jv_plugins **out, char *err, size_t errlen)
{
	*out = NULL;
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return JV_EPLUGIN;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "plugin dir %s: not a directory", dir);
		return JV_EPLUGIN;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
			 "plugin dir %s refused: writable by group or others (mode %04o), so "
			 "anyone could plant code in it",
			 dir, (unsigned)(st.st_mode & 07777));
		return JV_EPLUGIN;
	}
	uid_t euid = geteuid();
	if (st.st_uid != 0 && st.st_uid != euid) {
		snprintf(err, errlen,
			 "plugin dir %s refused: owned by uid %u, not by root or the running user "
			 "(uid %u)",
			 dir, (unsigned)st.st_uid, (unsigned)euid);
		return JV_EPLUGIN;
	}
	/* Whoever can rename a folder above it can put another folder in its
	 * place: every folder up to / counts, on the path as written (its
	 * symbolic links live in those) and on the path they resolve to. */
	char *real = realpath(dir, NULL);
	if (!real) {
		snprintf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return JV_EPLUGIN;
	}
	int unsafe = check_all_above(dir, real, err, errlen) ||
		     (dir[0] == '/' && strcmp(dir, real) && check_all_above(dir, dir, err, errlen));
	free(real);
	if (unsafe)
		return JV_EPLUGIN;
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return JV_EPLUGIN;
	}

	struct jv_plugins *reg = jv_plugins_new(dir);
	size_t dlen = strlen(dir);
	const char *sep = (dlen > 0 && dir[dlen - 1] == '/') ? "" : "/";
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (!plugin_file_name(name)) {
			if (strcmp(name, ".") && strcmp(name, ".."))
				jv_debug("plugin dir %s: ignoring %s (not NAME.so with NAME "
					 "matching [a-z0-9_]+)",
					 dir, name);
			free(names[i]);
			continue;
		}
		char *path = jv_asprintf("%s%s%s", dir, sep, name);
		char why[512];
		if (jv_plugins_load_file(reg, path, why, sizeof why) != 0) {
			jv_warn("plugin %s refused: %s", path, why);
		} else {
			const struct jv_loaded_plugin *lp = reg->items[reg->n - 1];
			jv_debug("plugin %s loaded: %s %s (ABI %u.%u)", path, lp->desc.name,
				 lp->desc.version, lp->desc.abi_major, lp->desc.abi_minor);
		}
		free(path);
		free(names[i]);
	}
	free(names);
	*out = reg;
	return 0;
}

/* ------------------------------------------------------------ the runtime */

static int in_list(const char *const *list, const char *key, size_t len)
{
	for (; list && *list; list++)
		if (strlen(*list) == len && !strncmp(*list, key, len))
			return 1;
	return 0;
}

/* Is key allowed in a section of plugin p? The host's keys, the plugin's,
 * and KEY_file for the plugin's (a secret read from a file). */
static int key_allowed(const struct jv_plugin *p, const char *const *host_keys, const char *key)
{
	size_t len = strlen(key);
	if (in_list(host_keys, key, len) || in_list(p->config_keys, key, len))
		return 1;
	return len > 5 && !strcmp(key + len - 5, "_file") &&
	       in_list(p->config_keys, key, len - 5);
}

/* "FILE:LINE:COL: message" at node, or "FILE: message" without one. */
static int place_error(const struct jv_config *cfg, const struct jv_node *node, char *err,
		       size_t errlen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int place_error(const struct jv_config *cfg, const struct jv_node *node, char *err,
		       size_t errlen, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (node)
		return jv_config_errorf(cfg, node, err, errlen, "%s", msg);
	snprintf(err, errlen, "%s: %s", cfg->path ? cfg->path : "config", msg);
	return JV_ECONFIG;
}

/* Append list to b as "a, b, c". */
static void list_keys(struct jv_buf *b, const char *const *list)
{
	for (size_t i = 0; list && list[i]; i++)
		jv_buf_printf(b, "%s%s", b->len ? ", " : "", list[i]);
}

/* The key of the lists closest to key when it is a likely typo (at most 3
 * edits, and at most a third of the longer word, as config.c judges), or
 * NULL. */
static const char *closest(const char *key, const char *const *l1, const char *const *l2)
{
	const char *best = NULL;
	size_t bestd = 4;
	const char *const *lists[] = {l1, l2};
	for (size_t k = 0; k < 2; k++) {
		for (const char *const *p = lists[k]; p && *p; p++) {
			size_t d = jv_edit_distance(key, *p);
			size_t len = strlen(*p) > strlen(key) ? strlen(*p) : strlen(key);
			if (d > 0 && d < bestd && d * 3 <= len) {
				bestd = d;
				best = *p;
			}
		}
	}
	return best;
}

/* The names of the loaded plugins of kind, "a, b", or "none". */
static void list_plugins(struct jv_buf *b, const struct jv_plugins *plugins, uint32_t kind)
{
	size_t start = b->len;
	for (size_t i = 0; i < jv_plugins_count(plugins); i++) {
		const struct jv_loaded_plugin *lp = jv_plugins_at(plugins, i);
		if (lp->desc.kind == kind)
			jv_buf_printf(b, "%s%s", b->len > start ? ", " : "", lp->desc.name);
	}
	if (b->len == start)
		jv_buf_puts(b, "none");
}

/* Check one section: its plugin exists and is of kind, and its keys are
 * known. path names it in messages ("executors.shell", "alerts[0]"). */
static int check_section(const struct jv_config *cfg, const struct jv_plugins *plugins,
			 const struct jv_node *section, const char *plugin_name, uint32_t kind,
			 const char *path, const struct jv_loaded_plugin **out, char *err,
			 size_t errlen)
{
	const struct jv_node *pnode = section ? jv_node_get(section, "plugin") : NULL;
	if (!pnode)
		pnode = section;
	if (!plugin_name)
		return place_error(cfg, pnode, err, errlen, "%s has no plugin (add plugin: NAME)",
				   path);

	const struct jv_loaded_plugin *lp = jv_plugins_find(plugins, plugin_name);
	if (!lp) {
		const char *file;
		const char *why = jv_plugins_refusal(plugins, plugin_name, &file);
		if (why)
			return place_error(cfg, pnode, err, errlen,
					   "%s.plugin: unknown plugin '%s' (%s was refused: %s)",
					   path, plugin_name, file, why);
		struct jv_buf have = {0};
		list_plugins(&have, plugins, kind);
		int rc = place_error(cfg, pnode, err, errlen,
				     "%s.plugin: unknown plugin '%s' (not in %s; available: %s)",
				     path, plugin_name, jv_plugins_dir(plugins), have.data);
		jv_buf_free(&have);
		return rc;
	}
	if (lp->desc.kind != kind) {
		const char *is = lp->desc.kind == JV_PLUGIN_ALERT ? "an alert sink" : "an executor";
		const char *want = kind == JV_PLUGIN_ALERT ? "an alert sink" : "an executor";
		return place_error(cfg, pnode, err, errlen, "%s.plugin: plugin '%s' is %s, not %s",
				   path, plugin_name, is, want);
	}

	/* The host's own keys: config.c's table of the section (config.h). */
	const char **host_keys = jv_config_host_keys(
	    kind == JV_PLUGIN_EXECUTOR ? JV_SECTION_EXECUTOR : JV_SECTION_ALERT);
	for (size_t i = 0; section && section->type == JV_NODE_MAP && i < section->n_items; i++) {
		const struct jv_node *item = section->items[i];
		if (!item->key || key_allowed(&lp->desc, host_keys, item->key))
			continue;
		/* Point at the key, not its value. */
		struct jv_node at = *item;
		at.line = item->key_line;
		at.col = item->key_col;
		struct jv_buf known = {0};
		list_keys(&known, host_keys);
		list_keys(&known, lp->desc.config_keys);
		const char *guess = closest(item->key, host_keys, lp->desc.config_keys);
		char hint[96] = "";
		if (guess)
			snprintf(hint, sizeof hint, " (did you mean '%s'?)", guess);
		int rc = place_error(cfg, &at, err, errlen,
				     "unknown key '%s' in %s%s (known keys: %s)", item->key,
				     path, hint, known.data);
		jv_buf_free(&known);
		free(host_keys);
		return rc;
	}
	free(host_keys);
	*out = lp;
	return 0;
}

static void runtime_destroy_instances(struct jv_runtime *rt)
{
	for (size_t i = rt->n_alerts; i-- > 0;)
		jv_instance_free(rt->alerts[i]);
	for (size_t i = rt->n_executors; i-- > 0;)
		jv_instance_free(rt->executors[i]);
	rt->n_alerts = rt->n_executors = 0;
}

int jv_runtime_create(const struct jv_config *cfg, struct jv_plugins *plugins,
		      struct jv_runtime **out, char *err, size_t errlen)
{
	*out = NULL;
	const struct jv_loaded_plugin **ex = jv_calloc(cfg->n_executors + 1, sizeof *ex);
	const struct jv_loaded_plugin **al = jv_calloc(cfg->n_alerts + 1, sizeof *al);
	int rc = 0;

	/* First check every section, so no plugin code runs for a bad config. */
	for (size_t i = 0; rc == 0 && i < cfg->n_executors; i++) {
		const struct jv_executor_cfg *e = &cfg->executors[i];
		char *path = jv_asprintf("executors.%s", e->name);
		rc = check_section(cfg, plugins, e->node, e->plugin, JV_PLUGIN_EXECUTOR, path,
				   &ex[i], err, errlen);
		free(path);
	}
	for (size_t i = 0; rc == 0 && i < cfg->n_alerts; i++) {
		const struct jv_alert_cfg *a = &cfg->alerts[i];
		char path[64];
		snprintf(path, sizeof path, "alerts[%zu]", i);
		rc = check_section(cfg, plugins, a->node, a->plugin, JV_PLUGIN_ALERT, path, &al[i],
				   err, errlen);
	}
	if (rc != 0) {
		free(ex);
		free(al);
		return JV_ECONFIG;
	}

	struct jv_runtime *rt = jv_calloc(1, sizeof *rt);
	rt->cfg = cfg;
	rt->plugins = plugins;
	rt->executors = jv_calloc(cfg->n_executors + 1, sizeof *rt->executors);
	rt->alerts = jv_calloc(cfg->n_alerts + 1, sizeof *rt->alerts);
	for (size_t i = 0; rc == 0 && i < cfg->n_executors; i++) {
		const struct jv_executor_cfg *e = &cfg->executors[i];
		char *path = jv_asprintf("executors.%s", e->name);
		struct jv_instance *inst =
			jv_instance_new(e->name, path, ex[i], cfg, e->node, e, NULL);
		free(path);
		rc = jv_instance_create(inst, err, errlen);
		if (rc != 0)
			jv_instance_free(inst);
		else
			rt->executors[rt->n_executors++] = inst;
	}
	for (size_t i = 0; rc == 0 && i < cfg->n_alerts; i++) {
		const struct jv_alert_cfg *a = &cfg->alerts[i];
		char name[64];
		snprintf(name, sizeof name, "alerts[%zu]", i);
		struct jv_instance *inst = jv_instance_new(name, name, al[i], cfg, a->node, NULL, a);
		rc = jv_instance_create(inst, err, errlen);
		if (rc != 0)
			jv_instance_free(inst);
		else
			rt->alerts[rt->n_alerts++] = inst;
	}
	free(ex);
	free(al);
	if (rc != 0) {
		jv_runtime_free(rt);
		return JV_ECONFIG;
	}
	*out = rt;
	return 0;
}

struct jv_instance *jv_runtime_executor(const struct jv_runtime *rt, const char *type)
{
	if (!rt || !type)
		return NULL;
	for (size_t i = 0; i < rt->n_executors; i++)
		if (!strcmp(rt->executors[i]->name, type))
			return rt->executors[i];
	return NULL;
}

void jv_runtime_free(struct jv_runtime *rt)
{
	if (!rt)
		return;
	runtime_destroy_instances(rt);
	free(rt->executors);
	free(rt->alerts);
	free(rt);
}

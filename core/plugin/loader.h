/*
 * loader.h -- the plugin loader, and the registry of configured instances.
 *
 * jv_plugins_load_dir() opens every PLUGINDIR/NAME.so (NAME matching
 * [a-z0-9_]+) with RTLD_NOW | RTLD_LOCAL, checks its descriptor against the
 * ABI this host implements and keeps the good ones in a registry, looked up
 * by the name the plugin declares. A refused file costs one log line naming
 * it and the reason; the others load on.
 *
 * jv_runtime_create() then makes one instance (struct jv_instance, see
 * host.h) per entry under executors: and alerts:, checking each section's
 * plugin, kind and keys, and calling the plugin's create().
 */
#ifndef JV_LOADER_H
#define JV_LOADER_H

#include <jobvisor/plugin.h>

#include <stddef.h>

struct jv_config;
struct jv_instance;

/* One loaded, accepted plugin. Owned by its registry. */
struct jv_loaded_plugin {
	char *path;            /* the file it was loaded from */
	void *handle;          /* from dlopen() */
	/* The plugin's descriptor, copied: fields the plugin's struct_size
	 * does not cover (a plugin built for an older minor) are zero, so
	 * the host may read every field. name and version point into the
	 * plugin and stay valid until the registry is freed; version is
	 * never NULL. */
	struct jv_plugin desc;
};

/* The registry of loaded plugins. Opaque. */
struct jv_plugins;

/*
 * An empty registry for plugins of dir (a copy of dir is kept, for
 * messages). Never fails. Free with jv_plugins_free().
 */
struct jv_plugins *jv_plugins_new(const char *dir);

/*
 * Load every plugin of dir into a new registry.
 *
 * Only regular files named NAME.so with NAME matching [a-z0-9_]+ are
 * considered (anything else is skipped with a debug line), in name order.
 * Each refused file is logged with one warning line,
 * "plugin PATH refused: REASON", and skipped.
 *
 * Returns 0 and *out (free with jv_plugins_free) even when some files were
 * refused. Returns JV_EPLUGIN when dir itself is unusable (missing, not a
 * directory, writable by group or others, owned by another user than root
 * or the running one) or unsafe by a folder above it, up to / (as written
 * and with its links resolved): one owned by another user, or one writable
 * by group or others without the sticky bit (a sticky one like /tmp is
 * fine), as either could replace dir. Then nothing is loaded, *out is
 * NULL and err holds one line naming the folder and why.
 */
int jv_plugins_load_dir(const char *dir, struct jv_plugins **out, char *err, size_t errlen);

/*
 * Load one file into reg, with every check of jv_plugins_load_dir() but the
 * name pattern (that is the directory scan's job). Returns 0, or JV_EPLUGIN
 * with the reason (without the path) in why, after dlclose(). Logs nothing.
 * The refusal is remembered: see jv_plugins_refusal().
 */
int jv_plugins_load_file(struct jv_plugins *reg, const char *path, char *why, size_t whylen);

/* The plugin that declares name, or NULL. Owned by reg. */
const struct jv_loaded_plugin *jv_plugins_find(const struct jv_plugins *reg, const char *name);

/* The number of loaded plugins, and the i-th in load order (name order of
 * the files). Owned by reg. */
size_t jv_plugins_count(const struct jv_plugins *reg);
const struct jv_loaded_plugin *jv_plugins_at(const struct jv_plugins *reg, size_t i);

/* Why the file STEM.so was refused (e.g. "built for ABI 2.0, this host has
 * 1.0"), or NULL when it was not; *path (if path is not NULL) gets the
 * file's path. Both owned by reg. Lets a config error say more than
 * "unknown plugin". */
const char *jv_plugins_refusal(const struct jv_plugins *reg, const char *stem, const char **path);

/* The directory given to jv_plugins_new() / jv_plugins_load_dir(). */
const char *jv_plugins_dir(const struct jv_plugins *reg);

/* dlclose() every plugin and free reg. NULL is fine. Every runtime made
 * from reg must have been freed before. */
void jv_plugins_free(struct jv_plugins *reg);

/* The configured instances. Read-only for users; made and freed below. */
struct jv_runtime {
	const struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_instance **executors; /* one per cfg->executors[i], same order */
	size_t n_executors;
	struct jv_instance **alerts;    /* one per cfg->alerts[i], same order */
	size_t n_alerts;
};

/*
 * Make every instance of cfg: for each entry under executors: and alerts:,
 * look up its plugin in plugins, check the kind and that every key of the
 * section is the host's (jv_config_host_keys() in config/config.h) or one
 * the plugin declares (or KEY_file for those), and call the plugin's
 * create().
 *
 * Checks every section before calling any create(). Returns 0 and *out
 * (free with jv_runtime_free), or JV_ECONFIG with one line
 * "FILE:LINE:COL: message" in err and nothing made. cfg and plugins must
 * outlive the runtime.
 */
int jv_runtime_create(const struct jv_config *cfg, struct jv_plugins *plugins,
		      struct jv_runtime **out, char *err, size_t errlen);

/* The executor instance for job type type, or NULL. Owned by rt. */
struct jv_instance *jv_runtime_executor(const struct jv_runtime *rt, const char *type);

/* Destroy every instance, in the reverse order of creation, and free rt.
 * NULL is fine. Does not free cfg or the plugins. */
void jv_runtime_free(struct jv_runtime *rt);

#endif

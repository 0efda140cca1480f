/*
 * host.h -- what the host gives plugins: the host table (struct jv_host),
 * the instances it hands to create(), and the runs it hands to execute()
 * and send().
 *
 * An instance is one entry under executors: or alerts:. Its config
 * accessors read the section's nodes; what they return is owned by the
 * instance and freed when it is. Errors they record carry the place and
 * the key's path, "FILE:LINE:COL: executors.shell.timeout: message".
 *
 * A run is one call of execute() or send(). It holds the deadline, the
 * cancellation flag, the bounded output, the error, the JSON result and
 * the requested retry delay. jv_instance_execute() runs one job through an
 * instance, in the calling process: the engine calls it inside its worker
 * processes (or threads, for `isolation: thread`).
 */
#ifndef JV_HOST_H
#define JV_HOST_H

#include <jobvisor/plugin.h>

#include "lib/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct jv_config;
struct jv_node;
struct jv_loaded_plugin;
struct jv_executor_cfg;
struct jv_alert_cfg;

/* The ABI minor this host speaks: the header's, unless a test builds the
 * host as a later minor (-DJV_HOST_ABI_MINOR=N, tests/test_abi) to show that
 * plugins built for an older minor still load. */
#ifndef JV_HOST_ABI_MINOR
#define JV_HOST_ABI_MINOR JV_PLUGIN_ABI_MINOR
#endif

/* The one host table, static and const, for the life of the process. */
const struct jv_host *jv_host_table(void);

struct jv_instance {
	char *name;                        /* the job type, or "alerts[I]" */
	char *path;                        /* its place in config: "executors.TYPE", "alerts[I]" */
	char *log_source;                  /* "plugin NAME[instance]" */
	const struct jv_loaded_plugin *plugin;
	const struct jv_config *cfg;       /* for places in error messages */
	const struct jv_node *node;        /* the section (a map) */
	const struct jv_executor_cfg *executor; /* executors: its config, else NULL */
	const struct jv_alert_cfg *alert;  /* alerts: its config, else NULL */
	void *state;                       /* from the plugin's create() */
	int created;                       /* create() succeeded: destroy() is due */

	/* Private to host.c. */
	pthread_mutex_t lock;              /* accessors may run on several threads */
	char *error;                       /* the first error recorded, or NULL */
	void **owned;                      /* memory handed out to the plugin */
	size_t n_owned, cap_owned;
};

/*
 * A new instance named name of plugin, reading its config from node (a map
 * of cfg) found at path ("executors.shell"; used in error messages); both
 * strings are copied. Does not call create(): see jv_instance_create().
 * executor or alert (at most one) link it to its parsed config. Free with
 * jv_instance_free(). cfg, node and plugin must outlive it.
 */
struct jv_instance *jv_instance_new(const char *name, const char *path,
				    const struct jv_loaded_plugin *plugin,
				    const struct jv_config *cfg, const struct jv_node *node,
				    const struct jv_executor_cfg *executor,
				    const struct jv_alert_cfg *alert);

/*
 * Call the plugin's create(). Returns 0, or JV_ECONFIG with one line in
 * err: the first error the instance recorded (an accessor's type error, the
 * plugin's config_error()), or, when the plugin said nothing, one naming
 * the section.
 */
int jv_instance_create(struct jv_instance *inst, char *err, size_t errlen);

/* The first error recorded by the config accessors or config_error(), or
 * NULL. Owned by inst. */
const char *jv_instance_error(const struct jv_instance *inst);

/* Call the plugin's destroy() when create() succeeded, and free inst with
 * all it handed out. NULL is fine. */
void jv_instance_free(struct jv_instance *inst);

/*
 * How a run reaches the engine for what ABI 1.2 added (progress, the
 * dependencies' results): set by whoever runs the job (a worker process,
 * a thread of the pool) with jv_run_link(). Both are called on the thread
 * that runs execute(); arg is the caller's.
 *
 * progress: pass the latest progress on (the host throttles the calls:
 *   see jv_run_flush_progress). note is valid during the call only.
 * dependency_results: fetch the job's dependencies' results (waiting at
 *   most until the run's deadline, giving up when it is cancelled): 0 with
 *   *json freshly allocated (the run takes it), or a JV_HOST_* error.
 */
struct jv_run_link {
	void (*progress)(void *arg, struct jv_run *run, int percent, const char *note);
	int (*dependency_results)(void *arg, struct jv_run *run, char **json);
};

/* One call of execute() or send(). Plain struct: the engine may embed it.
 * Fields are read after the call; set through the host table only. */
struct jv_run {
	struct timespec deadline;     /* CLOCK_MONOTONIC; {0,0} means none */
	atomic_int cancelled;         /* set by jv_run_cancel(), lock-free */
	struct jv_buf output;         /* the captured output, at most max_output bytes ... */
	size_t max_output;
	size_t dropped;               /* ... plus this many dropped (then marked at the end) */
	int output_marked;            /* the truncation mark was appended */
	char *error;                  /* the error message, or NULL; owned by the run */
	char *result;                 /* the result as compact JSON text, or NULL; owned */
	size_t result_refused;        /* the size of a result refused as too large, or 0 */
	int64_t retry_in_ms;          /* requested delay before the next attempt, -1: none */
	/* ABI 1.2 */
	const struct jv_run_link *link; /* NULL: progress is kept here only; no results */
	void *link_arg;
	int progress;                 /* the latest percent, -1: none */
	char *progress_note;          /* its note (cut, clean), or NULL; owned */
	int progress_unsent;          /* the latest was held back by the throttle */
	uint64_t progress_sent_ms;    /* when one was last passed to link->progress */
	char *dependency_results;     /* fetched once, then kept; owned */
};

/*
 * Prepare run: deadline timeout_ms from now (<= 0: no deadline), output
 * bounded to max_output_bytes. Free with jv_run_free().
 */
void jv_run_init(struct jv_run *run, int64_t timeout_ms, size_t max_output_bytes);

/* Ask the plugin to stop (it polls host->cancelled). Async-signal-safe and
 * thread-safe. */
void jv_run_cancel(struct jv_run *run);

/* Milliseconds left before the deadline (0 when past it, INT64_MAX when
 * there is none). */
int64_t jv_run_remaining_ms(const struct jv_run *run);

/* The captured output (NUL-terminated, never NULL), ending with
 * "\n[output truncated: N bytes dropped]" when it was cut. Owned by run. */
const char *jv_run_output(struct jv_run *run);

/* Free what the run holds (output, error, result). The struct itself is
 * the caller's. */
void jv_run_free(struct jv_run *run);

/* Route run's progress and dependency requests through link (arg passed
 * back); link must outlive the run. */
void jv_run_link(struct jv_run *run, const struct jv_run_link *link, void *arg);

/* progress() passes at most one update per JV_PROGRESS_THROTTLE_MS of a
 * run to its link; one held back is passed by the next call after that, or
 * by this (called when execute() has returned, before the result goes). */
#define JV_PROGRESS_THROTTLE_MS 100
void jv_run_flush_progress(struct jv_run *run);

/*
 * Run job through the executor instance inst, in this process, and return
 * its enum jv_status: JV_SUCCESS, JV_RETRY or JV_FAIL. A status out of that
 * range becomes JV_FAIL with the error "plugin returned invalid status N";
 * a failure without an error message gets one; on JV_SUCCESS the error is
 * cleared; retry_in_ms is kept only with JV_RETRY. run must have been
 * jv_run_init()ed; the caller reads and frees it.
 */
int jv_instance_execute(struct jv_instance *inst, const struct jv_job *job, struct jv_run *run);

/* The same for an alert instance and its send(). */
int jv_instance_send(struct jv_instance *inst, const struct jv_alert *alert, struct jv_run *run);

#endif

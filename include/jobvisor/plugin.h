/*
 * jobvisor/plugin.h -- the jobvisor plugin ABI.
 *
 * This header is all a plugin author needs. A plugin is one shared object,
 * PLUGINDIR/NAME.so, where NAME matches [a-z0-9_]+. It links against nothing
 * of jobvisor; everything the host offers reaches it through the host table
 * (struct jv_host) handed to create().
 *
 * ABI changelog (fields are only ever appended; a minor bump never breaks an
 * older plugin, a major bump is refused by older and newer hosts alike):
 *
 *   2026-11-28  1.0  first version: struct jv_plugin, struct jv_host,
 *                    struct jv_job, struct jv_alert; kinds executor and
 *                    alert; results success, retry (with optional delay)
 *                    and fail.
 *   2026-11-29  1.1  jv_host.database_url, for plugins that work on
 *                    jobvisor's own database (the sql executor).
 *   2026-11-30  1.1  (no ABI change) the documented limits JV_*_MAX below;
 *                    result_json() refuses a result over JV_RESULT_MAX
 *                    with JV_HOST_ERANGE; error() truncates a message at
 *                    JV_ERROR_MAX.
 *   2026-12-06  1.2  jv_host.dependency_results (the results of the jobs
 *                    this job depends on, as one JSON object) and
 *                    jv_host.progress (percent done and a note, shown in
 *                    jobvisor.jobs.progress and the API); the limits
 *                    JV_PROGRESS_NOTE_MAX and JV_DEPENDENCY_RESULTS_MAX;
 *                    the error code JV_HOST_EUNAVAIL.
 *
 * Writing a plugin
 * ----------------
 *
 *     #include <jobvisor/plugin.h>
 *
 *     static int hello_execute(void *state, const struct jv_job *job,
 *                              struct jv_run *run)
 *     {
 *         const struct jv_host *host = state;
 *         host->output(run, "hello\n", 6);
 *         return JV_SUCCESS;
 *     }
 *
 *     static int hello_create(const struct jv_host *host,
 *                             struct jv_instance *inst, void **state)
 *     {
 *         *state = (void *)host;
 *         return 0;
 *     }
 *
 *     static const struct jv_plugin hello = {
 *         JV_PLUGIN_HEADER,
 *         .kind = JV_PLUGIN_EXECUTOR,
 *         .name = "hello",
 *         .version = "1.0",
 *         .create = hello_create,
 *         .execute = hello_execute,
 *     };
 *     JV_PLUGIN_ENTRY(hello)
 *
 * Build it with
 *
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags jobvisor-plugin) \
 *        -o hello.so hello.c
 *
 * and copy hello.so into the plugin folder (owned by root or the user that
 * runs jobvisor, not writable by group or others).
 *
 * Life cycle
 * ----------
 * The supervisor dlopen()s the plugin once (RTLD_NOW | RTLD_LOCAL), calls
 * jv_plugin_entry() and checks the descriptor. For every configured
 * instance (an entry under `executors:` or `alerts:` naming this plugin)
 * it calls create() once; one plugin may serve several instances. Worker
 * processes are then forked from the supervisor, so state made in create()
 * is inherited by each worker. execute() runs inside a worker process, one
 * job at a time per worker (unless the instance is configured with
 * `isolation: thread`, in which case execute() may run concurrently on
 * several threads of the supervisor and must be thread-safe). destroy() is
 * called when the instance goes away (shutdown or config reload).
 *
 * Threads and signals: a plugin must not install signal handlers or call
 * exit(). A plugin that crashes or hangs costs one attempt of one job
 * (outcome `crashed` or `timed_out`); the worker is killed and replaced.
 */
#ifndef JOBVISOR_PLUGIN_H
#define JOBVISOR_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. The host accepts a plugin whose
 * major equals its own and whose minor is not newer than its own. */
#define JV_PLUGIN_ABI_MAJOR 1
#define JV_PLUGIN_ABI_MINOR 2

/* The single symbol a plugin exports, as a string for dlsym(). */
#define JV_PLUGIN_ENTRY_SYMBOL "jv_plugin_entry"

#if defined(__GNUC__)
#define JV_PLUGIN_EXPORT __attribute__((visibility("default")))
#define JV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JV_PLUGIN_EXPORT
#define JV_PRINTF(f, a)
#endif

/* Plugin kinds. */
enum jv_plugin_kind {
	JV_PLUGIN_EXECUTOR = 1, /* runs jobs: execute() is required */
	JV_PLUGIN_ALERT = 2,    /* delivers alerts: send() is required */
};

/* What execute() and send() return. */
enum jv_status {
	JV_SUCCESS = 0, /* done */
	JV_RETRY = 1,   /* failed, worth another attempt (see jv_host.retry_in) */
	JV_FAIL = 2,    /* failed for good: never retried */
};

/* Log levels for jv_host.log. */
enum jv_log_level {
	JV_LOG_ERROR = 0,
	JV_LOG_WARNING = 1,
	JV_LOG_INFO = 2,
	JV_LOG_DEBUG = 3,
};

/*
 * Limits: sizes in bytes that the host guarantees of what a plugin is given
 * and enforces on what it returns. Every path that enqueues (the REST API,
 * `jobvisor enqueue`, jobvisor.enqueue() and a plain INSERT) refuses a job
 * over them, and the worker protocol carries any job and result within them.
 *
 * JV_PAYLOAD_MAX  jv_job.payload_len: the payload as PostgreSQL writes it
 *                 (payload::text), at most 1 MiB.
 * JV_TYPE_MAX     strlen(jv_job.type), at most 128.
 * JV_USER_MAX     strlen(jv_job.user_id), at most 256.
 * JV_RESULT_MAX   the result as compact JSON text, at most 16 MiB: a
 *                 larger one is refused by result_json() (JV_HOST_ERANGE);
 *                 a run that still returns JV_SUCCESS then fails for good
 *                 with an error naming the limit. Plugin config that bounds
 *                 a result (max_response_bytes, max_result_bytes) stays
 *                 below it.
 * JV_ERROR_MAX    an error message: error() keeps the first JV_ERROR_MAX
 *                 bytes (cut at a UTF-8 character boundary and marked).
 * JV_OUTPUT_MAX   the highest output bound a configuration may set
 *                 (history.max_output_bytes); output() cuts there at most.
 * JV_PROGRESS_NOTE_MAX  a progress note, in characters (UTF-8): progress()
 *                 keeps the first JV_PROGRESS_NOTE_MAX of them (ABI 1.2).
 * JV_DEPENDENCY_RESULTS_MAX  the dependencies' results as one JSON text:
 *                 dependency_results() refuses a larger one with
 *                 JV_HOST_ERANGE (ABI 1.2).
 */
#define JV_PAYLOAD_MAX (1024 * 1024)
#define JV_TYPE_MAX 128
#define JV_USER_MAX 256
#define JV_RESULT_MAX (16 * 1024 * 1024)
#define JV_ERROR_MAX 4096
#define JV_OUTPUT_MAX (16 * 1024 * 1024)
#define JV_PROGRESS_NOTE_MAX 200
#define JV_DEPENDENCY_RESULTS_MAX (16 * 1024 * 1024)

/* Return codes of host functions: 0 on success, or one of these. */
enum jv_host_error {
	JV_HOST_ENOENT = -1, /* no such key */
	JV_HOST_ETYPE = -2,  /* the key exists but holds another type */
	JV_HOST_ERANGE = -3, /* the number (or the result) does not fit */
	JV_HOST_EINVAL = -4, /* bad argument */
	JV_HOST_ENOMEM = -5, /* out of memory */
	JV_HOST_EUNAVAIL = -6, /* (1.2) not available now: the database did not
				* answer in time, or the run was cancelled */
};

/*
 * Opaque host objects. Plugins only ever hold pointers to them and pass
 * them back to host functions.
 *
 * struct jv_instance  one configured instance: names the instance in logs
 *                     and gives access to its config section. Valid from
 *                     create() until destroy() returns.
 * struct jv_run       one call of execute() or send(): collects output,
 *                     the error, the result and the retry delay. Valid only
 *                     during that call.
 */
struct jv_instance;
struct jv_run;

/*
 * A job, as execute() sees it. Owned by the host; every pointer stays valid
 * until execute() returns and must not be freed or written through. Fields
 * are appended only; read a field past 1.0 only when struct_size says it is
 * there (offsetof(struct jv_job, field) < struct_size).
 *
 * The payload is the job's jsonb as PostgreSQL prints it, made readable by
 * any JSON parser with 64-bit integers and doubles (RFC 8259, section 6):
 * an integer beyond int64 arrives as a real of the same value (jsonb's
 * 100000000000000000000 as 100000000000000000000.0), and arrays and objects
 * are nested at most 512 levels deep. A payload nested deeper, or holding a
 * number beyond a double's range (about 1.8e308), fails for good at claim
 * with a reason naming it; execute() is never called for it.
 */
struct jv_job {
	uint32_t struct_size;  /* sizeof(struct jv_job) of the host */
	int64_t id;            /* jobvisor.jobs.id */
	const char *type;      /* job type; names the executor instance */
	const char *user_id;   /* NULL when the job has no user */
	const char *payload;   /* JSON text, NUL-terminated, never NULL */
	size_t payload_len;    /* strlen(payload) */
	int32_t attempt;       /* 1 for the first attempt */
	int32_t max_attempts;  /* the last attempt has attempt == max_attempts */
	int32_t timeout_ms;    /* the hard limit for this attempt, in ms */
};

/*
 * An alert, as send() sees it. Owned by the host, valid until send()
 * returns. Strings are NUL-terminated; those that may be NULL say so.
 */
struct jv_alert {
	uint32_t struct_size; /* sizeof(struct jv_alert) of the host */
	const char *event;    /* "job_failed", "processor_down", ... */
	const char *title;    /* one line, e.g. "job #12 (http) failed" */
	const char *text;     /* plain-text body, several lines, never NULL */
	const char *json;     /* the whole alert as a JSON object, never NULL */
	int64_t job_id;       /* 0 when the alert is not about one job */
	const char *job_type; /* may be NULL */
	const char *user_id;  /* may be NULL */
	int32_t attempt;      /* 0 when not about one job */
	const char *error;    /* may be NULL; already trimmed */
	const char *processor;/* name of the processor that raised it */
	uint32_t count;       /* >1 when identical alerts were folded into one */
	int64_t first_at_ms;  /* unix time in ms of the first folded alert */
	int64_t last_at_ms;   /* unix time in ms of the last folded alert */
	const char *link;     /* dashboard link, or NULL */
};

/*
 * The host table, handed to create(). Const, owned by the host, valid for
 * the life of the process; a plugin may keep the pointer. Like the
 * descriptor it starts with its version and size: a plugin built for a
 * later minor must check abi_minor (or struct_size) before calling a
 * function added after 1.0, as each group below says, e.g.
 *
 *     if (host->abi_minor >= 2)
 *         host->progress(run, 50, "halfway");
 */
struct jv_host {
	uint32_t abi_major;   /* JV_PLUGIN_ABI_MAJOR of the host */
	uint32_t abi_minor;   /* JV_PLUGIN_ABI_MINOR of the host */
	uint32_t struct_size; /* sizeof(struct jv_host) of the host */

	/* Logging. The line is prefixed "plugin NAME[INSTANCE]: ". inst may
	 * be NULL (then the prefix is just "plugin: "). level is enum
	 * jv_log_level. Secrets must never be logged. */
	void (*log)(const struct jv_instance *inst, int level, const char *fmt, ...) JV_PRINTF(3, 4);
	void (*vlog)(const struct jv_instance *inst, int level, const char *fmt, va_list ap);

	/* The instance's name: the key under `executors:` (the job type), or
	 * "alerts[I]" for the I-th entry (from 0) under `alerts:`. Owned by
	 * the host, valid until destroy(). */
	const char *(*instance_name)(const struct jv_instance *inst);

	/*
	 * The instance's own config section, through accessors. key is a key
	 * of the section (no dots). Each returns 0 and sets *out, or
	 * JV_HOST_ENOENT when the key is absent or null (`key: ~`; then *out
	 * is untouched, so set your default first), or JV_HOST_ETYPE /
	 * JV_HOST_ERANGE when the value is unusable; on those the host has
	 * already recorded an error naming FILE:LINE:COL, and create() should
	 * return non-zero (the host refuses the config anyway once an error
	 * was recorded during create()). JV_HOST_EINVAL: inst, key or out is
	 * NULL. ${VAR} expansion and KEY_file secrets are already applied.
	 * Meant for create(); they are thread-safe, and an error recorded
	 * after create() is logged.
	 *
	 * config_string: *out is owned by the host, valid until destroy().
	 * config_strings: *out is a NULL-terminated array owned by the host,
	 *   valid until destroy(); *n (if not NULL) gets its length. A single
	 *   scalar is accepted as a list of one.
	 * config_json: the value (any type) as JSON text, for maps and nested
	 *   structures; *out is owned by the host, valid until destroy().
	 *   Scalars are typed as YAML 1.1 core types (true/false, integers,
	 *   floats, null; quoted text is always a string).
	 */
	int (*config_string)(struct jv_instance *inst, const char *key, const char **out);
	int (*config_int)(struct jv_instance *inst, const char *key, int64_t *out);
	int (*config_double)(struct jv_instance *inst, const char *key, double *out);
	int (*config_bool)(struct jv_instance *inst, const char *key, int *out);
	int (*config_strings)(struct jv_instance *inst, const char *key, const char *const **out, size_t *n);
	int (*config_json)(struct jv_instance *inst, const char *key, const char **out);

	/* Record a config error of the plugin's own (a value of the right
	 * type that is still wrong, a required key missing), naming the place
	 * of key (of the section when key is absent or NULL): the host prints
	 * "FILE:LINE:COL: <section>.<key>: <message>", e.g.
	 * "jobvisor.yaml:12:14: executors.http.url: must start with http".
	 * The first error recorded is the one reported. Returns
	 * JV_HOST_EINVAL so create() can `return host->config_error(...)`. */
	int (*config_error)(struct jv_instance *inst, const char *key, const char *fmt, ...) JV_PRINTF(3, 4);

	/* Milliseconds left before this run's deadline (0 when past it;
	 * INT64_MAX when the run has none, which only tests do). Use it to
	 * bound your own waits (a curl timeout, a poll()). At the deadline
	 * cancelled() turns true; an executor that has not returned 2 s
	 * later has its worker process (and the worker's process group)
	 * killed with SIGKILL. With `isolation: thread` nothing can be
	 * killed: honouring the deadline is up to the executor. A failure
	 * returned after the deadline is recorded as `timed_out`. */
	int64_t (*remaining_ms)(const struct jv_run *run);

	/* Non-zero once the host wants this run to stop: the job was
	 * cancelled, the processor is shutting down, or the deadline has
	 * passed. Check it in long loops; then stop what you started (a
	 * child process group, say) and return JV_RETRY soon. */
	int (*cancelled)(const struct jv_run *run);

	/* Append to the run's captured output (stored, bounded, with the
	 * execution). data need not be NUL-terminated; the host copies it.
	 * Past the bound the output is truncated (at a UTF-8 character
	 * boundary) and marked so; still returns 0. */
	int (*output)(struct jv_run *run, const char *data, size_t len);

	/* Set the run's error message (printf-style; the host copies it, at
	 * most JV_ERROR_MAX bytes of it). Call it before returning JV_RETRY or
	 * JV_FAIL. The last call wins; JV_SUCCESS clears it. */
	int (*error)(struct jv_run *run, const char *fmt, ...) JV_PRINTF(2, 3);

	/* Set the run's result: a JSON text (object, array or scalar) stored
	 * in jobvisor.jobs.result. The host parses and copies it (integers
	 * beyond int64 as reals, as in the payload); invalid JSON, or JSON
	 * nested deeper than 2047 levels, returns JV_HOST_EINVAL and changes
	 * nothing. A result longer than JV_RESULT_MAX as compact JSON returns
	 * JV_HOST_ERANGE and changes nothing; set a smaller one (or fail the
	 * run), else a JV_SUCCESS becomes a permanent failure naming the
	 * limit. */
	int (*result_json)(struct jv_run *run, const char *json);

	/* With JV_RETRY: ask for the next attempt no sooner than ms from
	 * now (e.g. an HTTP Retry-After, or a snooze). Without it the host's
	 * exponential backoff applies. Ignored with any other status;
	 * ms < 0 returns JV_HOST_EINVAL. */
	int (*retry_in)(struct jv_run *run, int64_t ms);

	/* ---- added in 1.1: check host->abi_minor >= 1 (or struct_size)
	 * before calling what follows. */

	/* The connection string jobvisor itself uses (database.url), for a
	 * plugin that works on the same database. A secret: never log it.
	 * Owned by the host, valid until destroy(). Never NULL. */
	const char *(*database_url)(const struct jv_instance *inst);

	/* ---- added in 1.2: check host->abi_minor >= 2 before calling what
	 * follows (a plugin that must also run on a 1.1 host does without
	 * them there: a 1.1 host's table ends above, at database_url). */

	/*
	 * The results of the jobs this job depends on (enqueued with
	 * depends_on, or dependsOn in a workflow), as one JSON object text:
	 * {"KEY": RESULT, ...}, KEY being each dependency's workflow key, or
	 * its job id as a string when it has none, RESULT its jobs.result
	 * (null when it has none). "{}" when the job has no dependencies. The
	 * text is what jobvisor.dependency_results(job) returns.
	 *
	 * Fetched when asked, not before: a job whose executor never calls
	 * this costs nothing for it. The first call waits for one database
	 * round trip (the supervisor answers the requests of many runs
	 * together, never stalling other jobs); later calls of the same run
	 * return the same text at once. The wait is bounded by the run's
	 * deadline and by cancelled().
	 *
	 * Returns 0 and sets *json (owned by the host, NUL-terminated, valid
	 * until execute() returns); JV_HOST_ERANGE when the text is longer
	 * than JV_DEPENDENCY_RESULTS_MAX; JV_HOST_EUNAVAIL when it could not
	 * be had (the database failed or did not answer before the deadline,
	 * or the run was cancelled: return JV_RETRY); JV_HOST_ENOENT when the
	 * run is not a job's (send(), or a run made by a test); JV_HOST_EINVAL
	 * when run or json is NULL. On error *json is untouched.
	 */
	int (*dependency_results)(struct jv_run *run, const char **json);

	/*
	 * Say how far the job is: percent 0..100, note a short text (may be
	 * NULL; kept to its first JV_PROGRESS_NOTE_MAX characters, made valid
	 * UTF-8, control characters replaced). Stored in jobvisor.jobs
	 * (progress, progress_note, progress_at) while this attempt is the
	 * running one, and shown by the API and the dashboard. Cheap to call
	 * often: the host sends at most ten updates a second of a run to the
	 * supervisor, which writes the latest at most once a second per job,
	 * without the run waiting for it. An update held back by that
	 * throttle is never lost: it goes with the run's next call of
	 * progress(), cancelled() or remaining_ms() once the throttle allows,
	 * and at the latest when execute() returns. Must be called on the
	 * thread that runs execute(). Returns 0, or JV_HOST_EINVAL when run
	 * is NULL or percent is out of 0..100 (nothing changes).
	 */
	int (*progress)(struct jv_run *run, int percent, const char *note);
};

/*
 * The descriptor, returned by jv_plugin_entry(). Const, static storage,
 * owned by the plugin. Begin it with JV_PLUGIN_HEADER so the first three
 * fields are always right. Required operations: create and execute for an
 * executor, create and send for an alert sink; the host refuses a plugin
 * missing one.
 */
struct jv_plugin {
	uint32_t abi_major;   /* JV_PLUGIN_ABI_MAJOR the plugin was built for */
	uint32_t abi_minor;   /* JV_PLUGIN_ABI_MINOR the plugin was built for */
	uint32_t struct_size; /* sizeof(struct jv_plugin) the plugin was built with */
	uint32_t kind;        /* enum jv_plugin_kind */
	const char *name;     /* [a-z0-9_]+, unique in the plugin folder; config
	                       * names the plugin by it (`plugin: NAME`). By
	                       * convention the file is NAME.so. */
	const char *version;  /* the plugin's own version, free text */
	const char *description; /* one line, may be NULL */

	/* NULL-terminated list of the config keys this plugin reads from its
	 * section; the host rejects any other key (besides the host's own:
	 * plugin, timeout_seconds, isolation, max_attempts for executors;
	 * plugin, on, type, user, fold_seconds, min_interval_ms,
	 * max_attempts, timeout_seconds for alerts) with FILE:LINE:COL. KEY_file is
	 * accepted wherever KEY is (the host reads the file and the plugin
	 * sees KEY). NULL means the plugin takes no keys of its own. (The
	 * host's own keys are those of its config tables; tests/test_loader.c
	 * keeps this list equal to them.) */
	const char *const *config_keys;

	/* Make one instance. host and inst stay valid until destroy(). Store
	 * what you need in *state (owned by the plugin, freed in destroy()).
	 * Return 0, or non-zero after host->config_error() or host->log()
	 * said why: the config is then refused, and destroy() is not called,
	 * so free what you made first. (Returning 0 after an accessor recorded
	 * an error still refuses the config; then destroy() is called.) Runs
	 * in the supervisor. */
	int (*create)(const struct jv_host *host, struct jv_instance *inst, void **state);

	/* Free what create() made. May be NULL. */
	void (*destroy)(void *state);

	/* Executors: run one job; return enum jv_status (any other value
	 * counts as JV_FAIL, "plugin returned invalid status N"). job and
	 * run are owned by the host and valid only during the call. */
	int (*execute)(void *state, const struct jv_job *job, struct jv_run *run);

	/* Alert sinks: deliver one alert; return enum jv_status (JV_RETRY
	 * with host->retry_in for rate limits). Runs on the alert thread. */
	int (*send)(void *state, const struct jv_alert *alert, struct jv_run *run);
};

/* The first three descriptor fields, filled in right. */
#define JV_PLUGIN_HEADER                                                                           \
	.abi_major = JV_PLUGIN_ABI_MAJOR, .abi_minor = JV_PLUGIN_ABI_MINOR,                        \
	.struct_size = sizeof(struct jv_plugin)

/* The entry point. Defines the one exported symbol, returning the
 * address of the descriptor variable d. */
typedef const struct jv_plugin *(*jv_plugin_entry_fn)(void);
#define JV_PLUGIN_ENTRY(d)                                                                         \
	JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void);                            \
	JV_PLUGIN_EXPORT const struct jv_plugin *jv_plugin_entry(void) { return &(d); }

#ifdef __cplusplus
}
#endif

#endif /* JOBVISOR_PLUGIN_H */

/*
 * config.h -- the YAML configuration, parsed with libyaml into typed structs.
 *
 * jv_config_load() reads the file into a tree of nodes that remember their
 * FILE:LINE:COL, expands ${VAR} and ${VAR:-default} in scalars, resolves
 * KEY_file secrets, then maps the tree onto struct jv_config, applying
 * defaults and checking types and ranges. Every error is one line
 * "FILE:LINE:COL: message" in the caller's error buffer.
 *
 * Plugin sections (each entry under executors: and alerts:) keep their node
 * tree; the plugin reads its own keys through the host table accessors,
 * which are built on jv_node_* below.
 *
 * Rules the loader applies everywhere (conf/jobvisor.yaml documents them):
 *  - a plain empty, ~ or null value, and an empty string, mean "not set":
 *    the default applies (so `token: "${TOKEN:-}"` is no token);
 *  - $$ is a literal $; keys are never expanded;
 *  - KEY_file: PATH is replaced by KEY: <contents>, trailing newlines
 *    stripped, the node marked quoted and from_secret; a relative PATH
 *    starts at the config file's folder. After loading no *_file key is
 *    left in a plugin section, and api/database accept only their secret
 *    keys' _file forms (url_file, token_file, webhook_secret_file);
 *  - anchors, aliases, tags other than !!str, and several documents are
 *    refused;
 *  - `pass_env` in an executor or alert entry (the variables of serve's
 *    environment a plugin passes to the programs it starts) may not name
 *    a variable the file reads with ${NAME}: those are the config's own.
 */
#ifndef JV_CONFIG_H
#define JV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum jv_node_type { JV_NODE_SCALAR = 1, JV_NODE_MAP = 2, JV_NODE_SEQ = 3 };

/* A node of the parsed YAML, after expansion. Owned by its jv_config. */
struct jv_node {
	enum jv_node_type type;
	int line, col;         /* 1-based, of the value */
	int key_line, key_col; /* 1-based, of its key when in a map, else = line/col */
	char *key;             /* when in a map: its key, else NULL */
	char *value;           /* scalars: the text after expansion */
	int quoted;            /* scalars: was quoted in YAML (always a string) */
	int from_secret;       /* scalars: came from KEY_file or ${VAR} (safe to hold secrets) */
	struct jv_node **items;/* maps and sequences: children in file order */
	size_t n_items;
};

enum jv_isolation { JV_ISOLATION_PROCESS = 0, JV_ISOLATION_THREAD = 1 };

/* What stands between jobvisor and PostgreSQL on database.url. */
enum jv_pooler {
	JV_POOLER_NONE = 0,        /* a direct or session-pooled connection */
	JV_POOLER_TRANSACTION = 1, /* a transaction pooler: no session state on url */
};

/* A variable the file reads with ${NAME}: its name and where it is first
 * read. */
struct jv_env_ref {
	char *name;
	int line, col;
};

/* One entry under executors:, i.e. one job type. */
struct jv_executor_cfg {
	char *name;              /* the job type (the key) */
	char *plugin;            /* plugin name (required) */
	int timeout_seconds;     /* 0: use processor.timeout_seconds */
	enum jv_isolation isolation;
	int max_attempts;        /* 0: use the job's own (default 3) */
	const struct jv_node *node; /* the whole section, for the plugin */
};

/* The events an alert is sent for (alerts[].on). */
enum jv_event_kind {
	JV_EV_JOB_FAILED = 0,
	JV_EV_JOB_TIMED_OUT,
	JV_EV_JOB_RETRYING,
	JV_EV_STUCK_JOBS_RESET,
	JV_EV_PROCESSOR_DOWN,
	JV_EV_PROCESSOR_STARTED,
	JV_EV_PROCESSOR_STOPPED,
	JV_EV_FAILURE_RATE,
	JV_EV_QUEUE_BACKLOG,
	JV_EV_COUNT
};

/* "job_failed", ...: the names of enum jv_event_kind, indexed by it and
 * NULL-terminated. The one list: alerts[].on accepts these, alerts and the
 * CLI name events by them (jv_event_name() in alert/alert.h). */
extern const char *const jv_event_names[];

/* The sections whose entries name a plugin. */
enum jv_plugin_section { JV_SECTION_EXECUTOR = 0, JV_SECTION_ALERT = 1 };

/*
 * The keys of an entry under executors: (plugin, timeout_seconds, ...) or
 * alerts: (plugin, on, type, ...) that the host reads itself, besides the
 * plugin's own keys: the keys of the table config.c parses the entry with,
 * so that table is the one list of them (the loader accepts them, the
 * header plugin.h names them for plugin authors, test_abi checks it does).
 * NULL-terminated, in table order. Returns a freshly allocated array of
 * static strings: the caller frees the array, not the strings.
 */
const char **jv_config_host_keys(enum jv_plugin_section section);

/* One entry under alerts:. */
struct jv_alert_cfg {
	char *plugin;            /* plugin name (required) */
	char **on;               /* event names, NULL-terminated (required, non-empty) */
	char **types;            /* filter by job type, NULL-terminated, or NULL for all */
	char **users;            /* filter by user, NULL-terminated, or NULL for all */
	int fold_seconds;        /* 60, 0..86400: identical alerts within fold into one */
	int min_interval_ms;     /* 1000, 0..3600000: at most one message per interval */
	int max_attempts;        /* 5, 1..100: sends of one message before giving up */
	int timeout_seconds;     /* 10, 1..300: one send's time limit */
	const struct jv_node *node;
};

/* "none", "latest", "all", NULL-terminated: what a schedule's catch_up
 * may be, in the config and the API alike. */
extern const char *const jv_catch_up_names[];

/* One entry under queues: (DESIGN.md "Flow control"). The limits other
 * than concurrency hold across all processors and live in the database
 * (jobvisor.queues), which every processor's start and reload updates from
 * its config (jobvisor.sync_queues()). */
enum jv_rate_partition { JV_RATE_NONE = 0, JV_RATE_USER = 1, JV_RATE_TYPE = 2 };

/* "none", "user_id", "type": indexed by enum jv_rate_partition. */
extern const char *const jv_rate_partition_names[];

struct jv_queue_cfg {
	char *name;              /* the key: 1..JV_QUEUE_NAME_MAX of [a-z0-9_.-] */
	int concurrency;         /* 0: none; running at once on this processor */
	int global_concurrency;  /* 0: none; running at once on all processors */
	int paused;              /* 1: pause it (cluster-wide) when serve starts */
	int rate_allowed;        /* 0: no rate limit; else starts per period, 1..1000000 */
	int rate_period_seconds; /* 1..86400 */
	int rate_partition;      /* enum jv_rate_partition */
	const struct jv_node *node;
};

/* One entry under schedules:. */
struct jv_schedule_cfg {
	char *name;
	char *cron;
	char *timezone;          /* default "UTC" */
	char *type;
	char *user_id;           /* may be NULL */
	char *payload_json;      /* JSON text of payload (default "{}") */
	int priority;
	int max_attempts;
	int enabled;             /* default 1 */
	char *catch_up;          /* one of jv_catch_up_names (default latest) */
	int jitter_seconds;
	char *queue;             /* NULL: 'default' */
	const struct jv_node *node;
};

/* The roles of the API's tokens, each allowed what the one before it is
 * and more (docs/design.md "Access"). */
enum jv_role { JV_ROLE_VIEWER = 0, JV_ROLE_OPERATOR = 1, JV_ROLE_ADMIN = 2 };
/* "viewer", "operator", "admin", NULL: indexed by enum jv_role. */
extern const char *const jv_role_names[];

/* An entry of api.tokens: { name, token, role }. */
struct jv_api_token {
	char *name;              /* JV_TOKEN_NAME_RULE; never "api.token" */
	char *token;             /* JV_TOKEN_MIN..JV_TOKEN_MAX visible ASCII characters */
	enum jv_role role;
	const struct jv_node *node;
};
#define JV_TOKEN_NAME_MAX 64
#define JV_TOKEN_NAME_RULE "1 to 64 of A-Z, a-z, 0-9, '_', '.', '-'"
#define JV_TOKEN_MIN 16
#define JV_TOKEN_MAX 1024
/* The name api.token signs in with (role admin), in the audit trail too. */
#define JV_API_TOKEN_NAME "api.token"

struct jv_config {
	char *path;
	struct jv_node *root;

	/* Top level: who serve runs as (see privs.h). */
	char *user;                             /* NULL; an existing account, not uid 0 */
	int allow_root;                         /* 0: serve refuses root without user: */

	struct {
		char *url;                      /* required */
		enum jv_pooler pooler;          /* none */
		char *listen_url;               /* NULL: LISTEN on url (pooler none) or poll */
	} database;

	struct {
		char *name;                     /* default: host name */
		int batch_size;                 /* 20, 1..10000 */
		int max_concurrent_jobs;        /* 10, 1..10000 */
		int per_user_limit;             /* 0 = unlimited; 0..100000 */
		int timeout_seconds;            /* 120, 1..604800 */
		int heartbeat_interval_ms;      /* 30000, 100..3600000 */
		int stuck_job_timeout_ms;       /* stuck_job_timeout_minutes: 5, 0.1..10080 (decimals) */
		int shutdown_grace_seconds;     /* 30, 0..3600 */
		int poll_interval_ms;           /* 1000, 10..600000: fallback polling */
		int worker_max_jobs;            /* 0 = never recycle workers */
		int prefetch;                   /* jobs claimed ahead of free slots, 0 = none */
		int threads;                    /* isolation: thread pool size; 0 = auto */
		int retry_base_ms;              /* 1000 */
		int retry_max_ms;               /* 3600000 */
		char **queues;                  /* NULL: every queue; else the queues served */
	} processor;

	struct {
		char *dir;                      /* default: the configured plugindir */
	} plugins;

	struct jv_executor_cfg *executors;
	size_t n_executors;

	struct jv_alert_cfg *alerts;
	size_t n_alerts;

	struct {
		int enabled;                    /* 1 when an api: section is present */
		char *listen;                   /* "127.0.0.1:8080" */
		char *token;                    /* may be NULL: then only health and metrics */
		struct jv_api_token *tokens;    /* api.tokens, in file order (api.token not among them) */
		size_t n_tokens;
		char *webhook_secret;           /* may be NULL: webhook route refused */
		char *dashboard_url;            /* may be NULL */
		int max_body_bytes;             /* 2097152, 1024..67108864 */
		char *cors_origin;              /* NULL: no CORS headers */
		int health_requires_token;      /* 0 */
		int metrics_requires_token;     /* 0 */
		int threads;                    /* 4, 1..64: HTTP worker threads */
		int db_connections;             /* 4, 1..64: the API's own pool */
		int max_connections;            /* 0 = derived from RLIMIT_NOFILE (fdlimit.h) */
		int max_connections_per_address;/* 64, 1..1000000 */
		int header_timeout_seconds;     /* 10, 1..3600: a request's headers within */
		int statement_timeout_ms;       /* 10000, 100..3600000: per API transaction */
		int lock_timeout_ms;            /* 2000, 10..3600000: per API transaction */
		char *tls_cert_file;            /* NULL: plain HTTP; else HTTPS (both or neither; */
		char *tls_key_file;             /* relative to the config's folder, stored absolute) */
	} api;

	struct jv_schedule_cfg *schedules;
	size_t n_schedules;

	struct jv_queue_cfg *queues;            /* in file order */
	size_t n_queues;

	struct {
		int retention_days;             /* 30, 0 = keep forever */
		int failed_retention_days;      /* -1 (not set) = retention_days; 0 = keep forever */
		int check_interval_seconds;     /* 60, 1..86400: how often a purge round starts */
		int max_output_bytes;           /* 65536, 0..JV_OUTPUT_MAX */
	} history;

	struct {
		int queue_size;                 /* 1000, 10..1000000: alerts waiting, per sink */
		int check_interval_seconds;     /* 30, 1..3600: processor_down, failure_rate, backlog */
		int processor_down_seconds;     /* 0 = max(60, 3 heartbeats); 0..86400 */
		int failure_rate_percent;       /* 50, 1..100 */
		int failure_rate_window_seconds;/* 300, 10..86400 */
		int failure_rate_min_attempts;  /* 20, 1..1000000 */
		int queue_backlog_seconds;      /* 600, 1..604800 */
	} alerting;

	struct {
		char *level;                    /* error|warning|info|debug, default info */
		char *format;                   /* text|json, default text */
	} log;

	/* Every variable the file reads with ${NAME} (set or not), once each,
	 * in file order: secrets of the configuration, see
	 * jv_config_env_seal(). */
	struct jv_env_ref *env_refs;
	size_t n_env_refs;
};

/*
 * Self-fencing (engine/fence.c): a processor whose heartbeat has not been confirmed
 * for the rescue horizon minus a margin stops its running jobs, so they are
 * dead before any other processor may rescue them. The margin is the kill
 * grace (JV_KILL_GRACE_MS: told to stop, killed this much later) plus JV_RESCUE_SLACK_MS, or a thousandth of the horizon when that
 * is more: a heartbeat's commit latency, a late turn of the serve loop, the
 * clocks' rates (the processor counts on its own clock, others on the
 * database's).
 */
#define JV_RESCUE_SLACK_MS 5000
/* How long an executor has, after its deadline, to stop cleanly (kill its
 * own children, return) before its worker is SIGKILLed, or its thread's job
 * is given up. */
#define JV_KILL_GRACE_MS 2000
/* The margin for cfg's horizon, in ms. */
int64_t jv_config_fence_margin_ms(const struct jv_config *cfg);
/* The shortest safe rescue horizon for cfg, in ms: two heartbeat intervals
 * (one may be lost or late without the processor being dead) plus the
 * margin. Config load refuses a shorter stuck_job_timeout_minutes, and
 * POST /api/cron/reset-stuck-jobs a shorter timeoutMinutes. */
int64_t jv_config_min_stuck_ms(const struct jv_config *cfg);

/* Schedule names, alike in the config and the API (they are logged and
 * shown: nothing in them can break a line). */
#define JV_SCHEDULE_NAME_MAX 100
#define JV_SCHEDULE_NAME_RULE "1 to 100 of A-Z, a-z, 0-9, '_', '.', '-'"
/* 1 when name follows JV_SCHEDULE_NAME_RULE, else 0 (NULL too). */
int jv_schedule_name_ok(const char *name);

/* Queue names, alike in the config, the API, the CLI and the table
 * (jobvisor.queues' CHECK). */
#define JV_QUEUE_NAME_RULE "1 to 64 of a-z, 0-9, '_', '.', '-'"
/* 1 when name follows JV_QUEUE_NAME_RULE (JV_QUEUE_NAME_MAX), else 0 (NULL too). */
int jv_queue_name_ok(const char *name);

/*
 * Load and check path. On success returns 0 and *out (free with
 * jv_config_free). On failure returns JV_ECONFIG and writes one line
 * "FILE:LINE:COL: message" (or "FILE: message" when there is no place)
 * into err. Does not load plugins: see jv_plugins_load_dir() and
 * jv_runtime_create() in loader.h.
 * Warns (through jv_log) when the file holds a literal secret and is
 * readable by others.
 */
int jv_config_load(const char *path, struct jv_config **out, char *err, size_t errlen);

/* The same from a string (for tests); name is used in messages. */
int jv_config_load_string(const char *name, const char *text, struct jv_config **out, char *err,
			  size_t errlen);

/*
 * For `jobvisor serve`, after loading cfg: take every variable cfg reads
 * with ${NAME} out of the process environment, so that no program serve
 * or a plugin starts, and no worker, can see it (its bytes in the
 * environment block serve was started with, which /proc/PID/environ
 * shows, are overwritten too). The values are kept privately: every later
 * jv_config_load() in this process (a SIGHUP reload) reads them from there.
 * The first call does the work and must come before any thread exists
 * (unsetenv is not thread-safe); later calls change nothing and only warn
 * about a variable the new cfg reads that is still in the environment.
 * Returns how many variables the call took out.
 */
size_t jv_config_env_seal(const struct jv_config *cfg);


/* Free cfg and everything it owns (strings, arrays, the node tree; every
 * node pointer taken from it dies with it). NULL is fine. */
/* The queues of cfg as jobvisor.sync_queues() takes them: a JSON object
 * {name: {global_concurrency, paused, rate_limit: {allowed, period_seconds,
 * partition_by}}} with only what is set; NULL when cfg has no queues:.
 * The caller frees it. */
char *jv_config_queues_json(const struct jv_config *cfg);

void jv_config_free(struct jv_config *cfg);

/* Node access for plugin sections. Return the child with key, or NULL. */
const struct jv_node *jv_node_get(const struct jv_node *map, const char *key);

/* Write "FILE:LINE:COL: " + message for node into err. Returns JV_ECONFIG. */
int jv_config_errorf(const struct jv_config *cfg, const struct jv_node *node, char *err,
		     size_t errlen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The JSON text of a node (scalars typed as YAML 1.1 core: true/false,
 * integers, floats, null; quoted scalars stay strings). Caller frees. */
char *jv_node_to_json(const struct jv_node *node);

/* Typed scalar readers: 0 ok, JV_EINVAL on a type mismatch or out of
 * range (with a message into err, without the place). */
int jv_node_int(const struct jv_node *n, int64_t *out, char *err, size_t errlen);
int jv_node_double(const struct jv_node *n, double *out, char *err, size_t errlen);
int jv_node_bool(const struct jv_node *n, int *out, char *err, size_t errlen);

/* Levenshtein distance of two short strings (each looked at up to 64
 * characters), for "did you mean" hints. */
size_t jv_edit_distance(const char *a, const char *b);

#endif

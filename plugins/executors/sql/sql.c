/*
 * sql.c -- the executor that runs named, parameterised statements against
 * PostgreSQL: the statements are written in the instance's config; a job
 * only names one and gives its parameters. SQL text never comes from a
 * payload.
 *
 * Payload (a JSON object):
 *   query   required string: the name of a query of the instance's `queries`
 *   params  optional array (default []): the values of $1..$n, in order;
 *           null is SQL NULL, a string is passed as it is, a number or a
 *           boolean as its JSON text, an object or array as its JSON text.
 *           Their number must equal the statement's parameter count.
 * Anything else (other keys, wrong types, non-JSON) fails the job for good.
 *
 * Config keys of an instance:
 *   queries               required map: name ([a-z0-9_]{1,56}) -> SQL text
 *                         with $1..$n placeholders (one statement each)
 *   database_url          libpq connection string or URI (database_url_file
 *                         works too); default: jobvisor's own database
 *   max_rows              rows kept in the result, 0..1000000 (default 1000)
 *   max_result_bytes      bound of the kept rows as JSON, 1024..15728640
 *                         (default 1048576): at most JV_RESULT_MAX less
 *                         1 MiB for the rest of the result (columns etc.)
 *   statement_timeout_ms  0..604800000 (default 0: none); the effective
 *                         limit is the lower of it and the job's time left
 *
 * Result (jobvisor.jobs.result):
 *   {"command": "INSERT 0 1", "rows_affected": 1, "columns": ["a", "b"],
 *    "rows": [{"a": 1, "b": "x"}], "row_count": 1, "truncated": false}
 * rows holds the first rows returned, bounded by max_rows and
 * max_result_bytes; row_count counts them all; truncated says some were
 * left out. Values are typed by column type: int2/int4/int8/oid are
 * integers; float4/float8/numeric are numbers when finite and exact enough
 * (else strings); bool is true/false; json/jsonb are parsed; NULL is null;
 * everything else is its text.
 *
 * Outcomes: SQL errors of classes 08, 40, 53, 57, 58 and 55P03, a lost
 * connection and cancellation (the deadline, shutdown) are retried; all
 * other SQL errors (syntax, constraints, data) fail the job for good.
 *
 * Connections are opened on first use, by the process that runs the job
 * (never inherited over fork()), and kept in a small pool per instance
 * (several with `isolation: thread`). Queries run asynchronously, so a job
 * cancelled or at its deadline has its query cancelled on the server.
 *
 * No session state is ever left on a connection, so database_url may go
 * through a transaction pooler (PgBouncer pool_mode=transaction), where
 * each transaction of a client may run on another server connection: a
 * job is one pipeline of two unnamed statements and one Sync, i.e. one
 * round trip and one implicit transaction:
 *   SELECT set_config('statement_timeout', LIMIT, true)   (SET LOCAL)
 *   the query, with its parameters
 * The limit ends with that transaction; nothing is prepared by name. The
 * parameter count of each query is learnt once per process (a pipeline of
 * Parse and Describe of the unnamed statement) and kept with the instance.
 * Hence a query runs inside a transaction block: statements that refuse
 * one (VACUUM, CREATE INDEX CONCURRENTLY, CREATE DATABASE) fail with
 * SQLSTATE 25001, for good.
 *
 * Uses nothing but <jobvisor/plugin.h>, jansson, libpq, pthreads and libc.
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#define SQL_VERSION PACKAGE_VERSION
#else
#define SQL_VERSION "0.1.0"
#endif

#include <jobvisor/plugin.h>

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SQL_SLICE_MS          100   /* longest wait between checks of cancelled() */
#define SQL_CANCEL_WAIT_MS    1500  /* how long a cancelled query may take to stop */
#define SQL_CONNECT_MAX_MS    30000 /* bound of a connection attempt */
#define SQL_DEADLINE_SLACK_MS 250   /* statement_timeout past the deadline */
#define SQL_MAX_IDLE          16    /* idle connections kept per instance */
#define SQL_MAX_NAME          56    /* documented; once "jv_sql_" + name < NAMEDATALEN */
#define SQL_MAX_PARAMS        65535 /* the protocol's limit */
#define SQL_MAX_TIMEOUT_MS    604800000LL
#define SQL_DEFAULT_ROWS      1000
#define SQL_MAX_ROWS          1000000
#define SQL_DEFAULT_BYTES     (1024 * 1024)
#define SQL_MIN_BYTES         1024
#define SQL_MAX_BYTES         (JV_RESULT_MAX - 1024 * 1024)

/* Type OIDs (pg_type.dat; stable across versions). */
#define SQL_BOOLOID    16
#define SQL_INT8OID    20
#define SQL_INT2OID    21
#define SQL_INT4OID    23
#define SQL_OIDOID     26
#define SQL_JSONOID    114
#define SQL_FLOAT4OID  700
#define SQL_FLOAT8OID  701
#define SQL_NUMERICOID 1700
#define SQL_JSONBOID   3802

struct sql_query {
	char *name;  /* [a-z0-9_]+ */
	char *text;  /* the SQL */
	int nparams; /* its parameter count once described, else -1 (under lock) */
};

/* One connection: nothing of it outlives a job but the connection itself. */
struct sql_conn {
	PGconn *pg;
	pid_t pid; /* the process that opened it: the only one that may use it */
	struct sql_conn *next;
};

struct sql {
	const struct jv_host *host;
	struct jv_instance *inst;
	struct sql_query *q; /* sorted by name */
	size_t nq;
	char *known;     /* "a, b, c", for messages */
	const char *url; /* owned by the host; a secret: never logged */
	int64_t max_rows;
	int64_t max_result_bytes;
	int64_t statement_timeout_ms; /* 0: none of its own */

	/* Idle connections and the queries' nparams. Only ever locked while
	 * execute() runs, which is
	 * either in worker processes (isolation: process) or on supervisor
	 * threads (isolation: thread), never both for one instance, so a
	 * fork() never copies it locked into a process that uses it. */
	pthread_mutex_t lock;
	pid_t pid; /* the process the idle list belongs to */
	struct sql_conn *idle;
	size_t n_idle;
};

static const char *const sql_keys[] = {"queries",          "database_url",         "max_rows",
                                       "max_result_bytes", "statement_timeout_ms", NULL};

/* ------------------------------------------------------------- create */

static char *sql_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static int sql_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > SQL_MAX_NAME)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

static int sql_query_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sql_query *)a)->name, ((const struct sql_query *)b)->name);
}

static void sql_free(struct sql *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nq; i++) {
		free(s->q[i].name);
		free(s->q[i].text);
	}
	free(s->q);
	free(s->known);
	free(s);
}

/* An integer key in [min, max], into *out; absent leaves *out. */
static int sql_config_int(const struct jv_host *host, struct jv_instance *inst, const char *key,
                          int64_t min, int64_t max, int64_t *out)
{
	int64_t v = *out;
	int rc = host->config_int(inst, key, &v);
	if (rc == JV_HOST_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	if (v < min || v > max)
		return host->config_error(inst, key, "must be between %lld and %lld",
		                          (long long)min, (long long)max);
	*out = v;
	return 0;
}

/* Read `queries` into s->q. Returns 0, or non-zero after config_error. */
static int sql_read_queries(struct sql *s)
{
	const struct jv_host *host = s->host;
	const char *text = NULL;
	int rc = host->config_json(s->inst, "queries", &text);
	if (rc == JV_HOST_ENOENT)
		return host->config_error(s->inst, NULL,
		                          "queries: required: a map of query name -> SQL text");
	if (rc != 0)
		return rc;
	json_error_t e;
	json_t *map = json_loads(text, JSON_DECODE_ANY, &e);
	if (!json_is_object(map)) {
		json_decref(map);
		return host->config_error(s->inst, "queries",
		                          "must be a map of query name -> SQL text");
	}
	if (json_object_size(map) == 0) {
		json_decref(map);
		return host->config_error(s->inst, "queries", "must name at least one query");
	}
	s->q = calloc(json_object_size(map), sizeof *s->q);
	if (!s->q) {
		json_decref(map);
		return host->config_error(s->inst, "queries", "out of memory");
	}
	const char *name;
	json_t *sql;
	rc = 0;
	json_object_foreach(map, name, sql)
	{
		if (!sql_name_ok(name)) {
			rc = host->config_error(
			    s->inst, "queries",
			    "query name '%.64s' must be 1 to %d of a-z, 0-9, '_'", name,
			    SQL_MAX_NAME);
			break;
		}
		const char *t = json_is_string(sql) ? json_string_value(sql) : NULL;
		if (!t || strspn(t, " \t\r\n") == strlen(t)) {
			rc = host->config_error(s->inst, "queries",
			                        "query '%s' must be a non-empty string of SQL",
			                        name);
			break;
		}
		if (strlen(t) != json_string_length(sql)) {
			rc = host->config_error(s->inst, "queries",
			                        "query '%s' contains a NUL character", name);
			break;
		}
		struct sql_query *q = &s->q[s->nq++];
		q->name = sql_strdup(name);
		q->text = sql_strdup(t);
		q->nparams = -1;
		if (!q->name || !q->text) {
			rc = host->config_error(s->inst, "queries", "out of memory");
			break;
		}
	}
	json_decref(map);
	if (rc)
		return rc;
	qsort(s->q, s->nq, sizeof *s->q, sql_query_cmp);
	size_t len = 1;
	for (size_t i = 0; i < s->nq; i++)
		len += strlen(s->q[i].name) + 2;
	s->known = malloc(len);
	if (!s->known)
		return host->config_error(s->inst, "queries", "out of memory");
	s->known[0] = '\0';
	size_t at = 0;
	for (size_t i = 0; i < s->nq; i++)
		at +=
		    (size_t)snprintf(s->known + at, len - at, "%s%s", i ? ", " : "", s->q[i].name);
	return 0;
}

static int sql_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	struct sql *s = calloc(1, sizeof *s);
	if (!s) {
		host->log(inst, JV_LOG_ERROR, "out of memory");
		return JV_HOST_ENOMEM;
	}
	s->host = host;
	s->inst = inst;
	s->max_rows = SQL_DEFAULT_ROWS;
	s->max_result_bytes = SQL_DEFAULT_BYTES;
	int rc = sql_read_queries(s);
	if (!rc)
		rc = sql_config_int(host, inst, "max_rows", 0, SQL_MAX_ROWS, &s->max_rows);
	if (!rc)
		rc = sql_config_int(host, inst, "max_result_bytes", SQL_MIN_BYTES, SQL_MAX_BYTES,
		                    &s->max_result_bytes);
	if (!rc)
		rc = sql_config_int(host, inst, "statement_timeout_ms", 0, SQL_MAX_TIMEOUT_MS,
		                    &s->statement_timeout_ms);
	if (!rc) {
		rc = host->config_string(inst, "database_url", &s->url);
		if (rc == 0 && !s->url[0])
			rc = host->config_error(inst, "database_url", "must not be empty");
		else if (rc == JV_HOST_ENOENT) {
			rc = 0;
			s->url = NULL;
			if (host->abi_minor >= 1 &&
			    host->struct_size >= offsetof(struct jv_host, database_url) +
			                             sizeof host->database_url &&
			    host->database_url)
				s->url = host->database_url(inst);
			if (!s->url)
				rc = host->config_error(inst, NULL,
				                        "database_url: required (this jobvisor is "
				                        "older than plugin ABI 1.1 and cannot lend "
				                        "its own database)");
		}
	}
	if (!rc && pthread_mutex_init(&s->lock, NULL) != 0)
		rc = host->config_error(inst, NULL, "cannot create a mutex");
	if (rc) {
		sql_free(s);
		return rc;
	}
	s->pid = getpid();
	*state = s;
	return 0;
}

/* Close c when this process opened it; a connection inherited over fork()
 * belongs to the parent (closing it would end the parent's session), so
 * only our bookkeeping goes. */
static void sql_conn_free(struct sql_conn *c)
{
	if (!c)
		return;
	if (c->pid == getpid())
		PQfinish(c->pg);
	free(c);
}

static void sql_destroy(void *state)
{
	struct sql *s = state;
	if (!s)
		return;
	while (s->idle) {
		struct sql_conn *c = s->idle;
		s->idle = c->next;
		sql_conn_free(c);
	}
	pthread_mutex_destroy(&s->lock);
	sql_free(s);
}

/* ------------------------------------------------------------- helpers */

static int64_t sql_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message without its trailing newline, into buf. */
static const char *sql_pq_message(const char *msg, char *buf, size_t len)
{
	snprintf(buf, len, "%s", msg && *msg ? msg : "unknown error");
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* SQLSTATEs worth another attempt: the connection, serialization failures
 * and deadlocks, resources, operator intervention (incl. query_canceled),
 * lock_not_available, system errors. No SQLSTATE: a client-side failure,
 * most often a lost connection. */
static int sql_retryable(const char *state)
{
	if (!state || strlen(state) != 5)
		return 1;
	static const char *const classes[] = {"08", "40", "53", "57", "58", NULL};
	for (const char *const *c = classes; *c; c++)
		if (!strncmp(state, *c, 2))
			return 1;
	return !strcmp(state, "55P03");
}

/* ------------------------------------------------------------- one run */

/* One execute(): the instance, the run and the connection it uses. */
struct sql_exec {
	struct sql *s;
	struct jv_run *run;
	const struct sql_query *q;
	struct sql_conn *c;
	int64_t started_ms;
	int cancel_sent; /* a cancel request went to the server */
	int at_deadline; /* ... because the deadline passed */
	int64_t cancel_ms;
	int timeout_is_deadline; /* statement_timeout was the time left */
	int broken;              /* the connection must not be reused */
};

/* Wait until the connection has a whole result (PQisBusy false), polling
 * its socket in slices and sending a cancel request once the run is
 * cancelled. Returns 0, or -1 when the connection broke or a cancelled
 * query did not stop in time (x->broken is then set). */
static int sql_wait(struct sql_exec *x)
{
	const struct jv_host *h = x->s->host;
	PGconn *pg = x->c->pg;
	for (;;) {
		if (!PQconsumeInput(pg)) {
			x->broken = 1;
			return -1;
		}
		if (!PQisBusy(pg))
			return 0;
		if (!x->cancel_sent && h->cancelled(x->run)) {
			x->cancel_sent = 1;
			x->at_deadline = h->remaining_ms(x->run) <= 0;
			x->cancel_ms = sql_now_ms();
			PGcancel *cancel = PQgetCancel(pg);
			char err[256];
			if (!cancel || !PQcancel(cancel, err, (int)sizeof err)) {
				PQfreeCancel(cancel);
				x->broken = 1;
				return -1;
			}
			PQfreeCancel(cancel);
		}
		int64_t slice = SQL_SLICE_MS;
		if (x->cancel_sent) {
			int64_t left = SQL_CANCEL_WAIT_MS - (sql_now_ms() - x->cancel_ms);
			if (left <= 0) {
				x->broken = 1;
				return -1;
			}
			if (left < slice)
				slice = left;
		} else {
			int64_t left = h->remaining_ms(x->run);
			if (left < slice)
				slice = left > 0 ? left : 1;
		}
		struct pollfd pfd = {PQsocket(pg), POLLIN, 0};
		if (pfd.fd < 0) {
			x->broken = 1;
			return -1;
		}
		if (poll(&pfd, 1, (int)slice) < 0 && errno != EINTR) {
			x->broken = 1;
			return -1;
		}
	}
}

/* Connect to s->url, asynchronously so cancellation is honoured. Returns
 * the connection, or NULL with the run's error set. */
static PGconn *sql_connect(struct sql_exec *x)
{
	const struct jv_host *h = x->s->host;
	/* TCP keepalives and tcp_user_timeout as every jobvisor connection
	 * has them (core/db.c), unless the url sets its own. */
	static const char *const keys[] = {"fallback_application_name", "keepalives",
	                                   "keepalives_idle", "keepalives_interval",
	                                   "keepalives_count", "tcp_user_timeout", "dbname",
	                                   "client_encoding", NULL};
	const char *values[] = {"jobvisor-sql", "1", "10", "5", "3", "30000", x->s->url, "UTF8",
	                        NULL};
	PGconn *pg = PQconnectStartParams(keys, values, 1);
	if (!pg) {
		h->error(x->run, "sql: cannot connect to the database: out of memory");
		return NULL;
	}
	int64_t start = sql_now_ms();
	PostgresPollingStatusType st =
	    PQstatus(pg) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
	char buf[512];
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			h->error(x->run, "sql: cannot connect to the database: %s",
			         sql_pq_message(PQerrorMessage(pg), buf, sizeof buf));
			PQfinish(pg);
			return NULL;
		}
		if (h->cancelled(x->run)) {
			h->error(x->run, "sql: cancelled while connecting to the database");
			PQfinish(pg);
			return NULL;
		}
		if (sql_now_ms() - start > SQL_CONNECT_MAX_MS) {
			h->error(x->run, "sql: cannot connect to the database: no answer in %d s",
			         SQL_CONNECT_MAX_MS / 1000);
			PQfinish(pg);
			return NULL;
		}
		int64_t slice = h->remaining_ms(x->run);
		if (slice > SQL_SLICE_MS)
			slice = SQL_SLICE_MS;
		struct pollfd pfd = {PQsocket(pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		                     0};
		int n = poll(&pfd, 1, (int)(slice > 0 ? slice : 1));
		if (n < 0 && errno != EINTR) {
			h->error(x->run, "sql: cannot connect to the database: poll: %s",
			         strerror(errno));
			PQfinish(pg);
			return NULL;
		}
		if (n > 0)
			st = PQconnectPoll(pg);
	}
	return pg;
}

/* Whether an idle connection is still usable: the server may have closed
 * it meanwhile (restart, pg_terminate_backend, idle timeouts), which shows
 * as something to read. */
static int sql_conn_alive(PGconn *pg)
{
	for (int i = 0; i < 4 && PQstatus(pg) == CONNECTION_OK; i++) {
		struct pollfd pfd = {PQsocket(pg), POLLIN, 0};
		if (pfd.fd < 0)
			return 0;
		if (poll(&pfd, 1, 0) <= 0)
			break;
		if (!PQconsumeInput(pg))
			return 0;
		PGnotify *n;
		while ((n = PQnotifies(pg)))
			PQfreemem(n);
	}
	return PQstatus(pg) == CONNECTION_OK;
}

/* Server notices (RAISE NOTICE, warnings) go to the debug log, not to
 * the process's stderr. */
static void sql_notice(void *arg, const PGresult *res)
{
	const struct sql *s = arg;
	char buf[512];
	s->host->log(s->inst, JV_LOG_DEBUG, "server says: %s",
	             sql_pq_message(PQresultErrorMessage(res), buf, sizeof buf));
}

/* Take an idle connection of this process, or open one. Returns 0, or
 * JV_RETRY with the run's error set. */
static int sql_take(struct sql_exec *x)
{
	struct sql *s = x->s;
	pid_t me = getpid();
	struct sql_conn *c = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->pid != me) {
		/* Forked: what is idle belongs to the parent. */
		while (s->idle) {
			struct sql_conn *p = s->idle;
			s->idle = p->next;
			sql_conn_free(p);
		}
		s->n_idle = 0;
		s->pid = me;
	}
	while (s->idle && !c) {
		c = s->idle;
		s->idle = c->next;
		s->n_idle--;
		if (!sql_conn_alive(c->pg)) {
			sql_conn_free(c);
			c = NULL;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c) {
			s->host->error(x->run, "sql: out of memory");
			return JV_RETRY;
		}
		c->pid = me;
		c->pg = sql_connect(x);
		if (!c->pg) {
			free(c);
			return JV_RETRY;
		}
		PQsetNoticeReceiver(c->pg, sql_notice, s);
	}
	x->c = c;
	return 0;
}

/* Give the connection back, or close it when it cannot be trusted. */
static void sql_give_back(struct sql_exec *x)
{
	struct sql *s = x->s;
	struct sql_conn *c = x->c;
	x->c = NULL;
	if (!c)
		return;
	/* A cancel request may still be on its way: it could hit the next
	 * job's query, so that connection goes too. */
	if (x->broken || x->cancel_sent || PQstatus(c->pg) != CONNECTION_OK ||
	    PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF ||
	    PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		sql_conn_free(c);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->pid == c->pid && s->n_idle < SQL_MAX_IDLE) {
		c->next = s->idle;
		s->idle = c;
		s->n_idle++;
		c = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	sql_conn_free(c);
}

/* Set the run's error from an error result (or the connection's message
 * when res is NULL) and return the status it calls for. */
static int sql_fail(struct sql_exec *x, const PGresult *res)
{
	const struct jv_host *h = x->s->host;
	int64_t ms = sql_now_ms() - x->started_ms;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (x->cancel_sent || (state && !strcmp(state, "57014") && x->timeout_is_deadline &&
	                       h->remaining_ms(x->run) <= SQL_SLICE_MS)) {
		if (x->at_deadline || !x->cancel_sent)
			h->error(x->run, "sql: query '%s' cancelled at the deadline after %lld ms",
			         x->q->name, (long long)ms);
		else
			h->error(x->run, "sql: query '%s' cancelled after %lld ms", x->q->name,
			         (long long)ms);
		return JV_RETRY;
	}
	char buf[1024];
	if (!state) {
		x->broken = 1;
		h->error(x->run, "sql: query '%s' failed: %s", x->q->name,
		         sql_pq_message(res ? PQresultErrorMessage(res) : PQerrorMessage(x->c->pg),
		                        buf, sizeof buf));
		return JV_RETRY;
	}
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	h->error(x->run, "sql: query '%s' failed: %s (SQLSTATE %s)", x->q->name,
	         sql_pq_message(primary, buf, sizeof buf), state);
	if (PQstatus(x->c->pg) != CONNECTION_OK)
		x->broken = 1;
	return sql_retryable(state) ? JV_RETRY : JV_FAIL;
}

/* After a command was sent: wait for each of its results, hand them to
 * fn (when not NULL), return JV_SUCCESS or the status of the first error
 * (with the run's error set). Reads until PQgetResult says the command is
 * done: in pipeline mode the end of this one command of the pipeline (one
 * skipped after an earlier error of the pipeline shows as
 * PGRES_PIPELINE_ABORTED and is passed over). */
typedef int (*sql_result_fn)(struct sql_exec *x, const PGresult *res, void *arg);

static int sql_collect(struct sql_exec *x, sql_result_fn fn, void *arg)
{
	int status = JV_SUCCESS;
	for (;;) {
		if (sql_wait(x) != 0)
			return status == JV_SUCCESS ? sql_fail(x, NULL) : status;
		PGresult *res = PQgetResult(x->c->pg);
		if (!res)
			return status;
		ExecStatusType st = PQresultStatus(res);
		if (status == JV_SUCCESS) {
			if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
			    st == PGRES_NONFATAL_ERROR) {
				status = sql_fail(x, res);
			} else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
			           st == PGRES_COPY_BOTH) {
				x->s->host->error(x->run,
				                  "sql: query '%s' uses COPY, which is not "
				                  "supported",
				                  x->q->name);
				x->broken = 1;
				PQclear(res);
				return JV_FAIL;
			} else if (fn && st != PGRES_PIPELINE_ABORTED) {
				status = fn(x, res, arg);
			}
		}
		PQclear(res);
	}
}

/* The parameter count of a described statement. */
static int sql_describe_cb(struct sql_exec *x, const PGresult *res, void *arg)
{
	(void)x;
	if (PQresultStatus(res) == PGRES_COMMAND_OK && PQnparams(res) >= 0)
		*(int *)arg = PQnparams(res);
	return JV_SUCCESS;
}

/* Read the rest of a pipeline up to its Sync and leave pipeline mode.
 * Returns 0, or -1 when the connection broke (x->broken is then set). */
static int sql_pipeline_end(struct sql_exec *x)
{
	PGconn *pg = x->c->pg;
	for (;;) {
		if (sql_wait(x) != 0)
			return -1;
		PGresult *res = PQgetResult(pg);
		if (!res)
			continue; /* the end of a command before the Sync */
		ExecStatusType st = PQresultStatus(res);
		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	if (!PQexitPipelineMode(pg)) {
		x->broken = 1;
		return -1;
	}
	return 0;
}

/* The parameter count of query i into *n: known to the instance once any
 * connection of this process described it; else described here, by Parse
 * and Describe of the unnamed statement in one pipeline (one round trip,
 * and nothing left behind). */
static int sql_nparams(struct sql_exec *x, size_t i, int *n)
{
	struct sql *s = x->s;
	const struct sql_query *q = &s->q[i];
	pthread_mutex_lock(&s->lock);
	*n = q->nparams;
	pthread_mutex_unlock(&s->lock);
	if (*n >= 0)
		return JV_SUCCESS;
	PGconn *pg = x->c->pg;
	if (!PQenterPipelineMode(pg) || !PQsendPrepare(pg, "", q->text, 0, NULL) ||
	    !PQsendDescribePrepared(pg, "") || !PQpipelineSync(pg)) {
		x->broken = 1;
		return sql_fail(x, NULL);
	}
	int rc = sql_collect(x, NULL, NULL);
	if (!x->broken) {
		int rc2 = sql_collect(x, sql_describe_cb, n);
		if (rc == JV_SUCCESS)
			rc = rc2;
	}
	if (!x->broken && sql_pipeline_end(x) != 0 && rc == JV_SUCCESS)
		rc = sql_fail(x, NULL);
	if (rc != JV_SUCCESS)
		return rc;
	if (*n < 0) {
		x->broken = 1;
		s->host->error(x->run, "sql: query '%s': the server did not describe it", q->name);
		return JV_RETRY;
	}
	pthread_mutex_lock(&s->lock);
	s->q[i].nparams = *n;
	pthread_mutex_unlock(&s->lock);
	return JV_SUCCESS;
}

/* The statement_timeout of this run, as text into buf: the lower of the
 * instance's and the time left. */
static void sql_timeout(struct sql_exec *x, char *buf, size_t len)
{
	const struct jv_host *h = x->s->host;
	int64_t left = h->remaining_ms(x->run);
	int64_t limit = x->s->statement_timeout_ms;
	if (left != INT64_MAX && (limit == 0 || left < limit)) {
		/* The cancel request sent at the deadline stops the query;
		 * the server's own limit, a little later, is the safety net
		 * for a worker killed before it could send one. */
		limit = (left > 0 ? left : 1) + SQL_DEADLINE_SLACK_MS;
		x->timeout_is_deadline = 1;
		if (x->s->statement_timeout_ms && x->s->statement_timeout_ms < limit) {
			limit = x->s->statement_timeout_ms;
			x->timeout_is_deadline = 0;
		}
	}
	if (limit > INT32_MAX)
		limit = INT32_MAX;
	snprintf(buf, len, "%lld", (long long)limit);
}

/* ------------------------------------------------------------- results */

struct sql_result {
	json_t *columns; /* array of names, set from the first result with a shape */
	json_t *rows;
	long long row_count;
	size_t bytes; /* JSON size of the rows kept so far */
	int truncated;
	char command[64];
	long long rows_affected;
};

/* A numeric text as a JSON number when that is exact enough, else NULL. */
static json_t *sql_number(const char *text, int integer_only)
{
	errno = 0;
	char *end;
	long long i = strtoll(text, &end, 10);
	if (end != text && *end == '\0' && errno == 0)
		return json_integer(i);
	if (integer_only)
		return NULL;
	size_t digits = 0;
	for (const char *p = text; *p && *p != 'e' && *p != 'E'; p++)
		if (*p >= '0' && *p <= '9')
			digits++;
	if (digits > 15)
		return NULL; /* a double would round it */
	errno = 0;
	double d = strtod(text, &end);
	if (end == text || *end != '\0' || errno != 0 || !isfinite(d))
		return NULL;
	return json_real(d);
}

/* One value as JSON, typed by its column's type. */
static json_t *sql_value(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	const char *v = PQgetvalue(res, row, col);
	size_t len = (size_t)PQgetlength(res, row, col);
	json_t *j = NULL;
	switch (PQftype(res, col)) {
	case SQL_INT2OID:
	case SQL_INT4OID:
	case SQL_INT8OID:
	case SQL_OIDOID:
		j = sql_number(v, 1);
		break;
	case SQL_FLOAT4OID:
	case SQL_FLOAT8OID:
	case SQL_NUMERICOID:
		j = sql_number(v, 0);
		break;
	case SQL_BOOLOID:
		j = json_boolean(v[0] == 't');
		break;
	case SQL_JSONOID:
	case SQL_JSONBOID:
		j = json_loadb(v, len, JSON_DECODE_ANY, NULL);
		break;
	default:
		break;
	}
	if (!j)
		j = json_stringn(v, len);
	if (!j) /* not UTF-8 after all: keep the row's shape */
		j = json_null();
	return j;
}

static int sql_rows_cb(struct sql_exec *x, const PGresult *res, void *arg)
{
	struct sql_result *r = arg;
	ExecStatusType st = PQresultStatus(res);
	int ncols = PQnfields(res);
	if (!r->columns && (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE)) {
		r->columns = json_array();
		for (int c = 0; c < ncols; c++)
			json_array_append_new(r->columns, json_string(PQfname(res, c)));
	}
	for (int row = 0; row < PQntuples(res); row++) {
		r->row_count++;
		if (r->truncated || (int64_t)json_array_size(r->rows) >= x->s->max_rows) {
			r->truncated = 1;
			continue;
		}
		json_t *obj = json_object();
		for (int c = 0; c < ncols; c++)
			json_object_set_new(obj, PQfname(res, c), sql_value(res, row, c));
		char *text = json_dumps(obj, JSON_COMPACT);
		size_t len = text ? strlen(text) + 1 : 0;
		free(text);
		if (!text || r->bytes + len > (size_t)x->s->max_result_bytes) {
			r->truncated = 1;
			json_decref(obj);
			continue;
		}
		r->bytes += len;
		json_array_append_new(r->rows, obj);
	}
	if (st != PGRES_SINGLE_TUPLE) {
		snprintf(r->command, sizeof r->command, "%s", PQcmdStatus((PGresult *)res));
		const char *n = PQcmdTuples((PGresult *)res);
		r->rows_affected = n && *n ? strtoll(n, NULL, 10) : 0;
	}
	return JV_SUCCESS;
}

/* Run query i with the given parameter texts. */
static int sql_execute_query(struct sql_exec *x, size_t i, const char *const *values, int n)
{
	const struct jv_host *h = x->s->host;
	const struct sql_query *q = &x->s->q[i];
	int np;
	int rc = sql_nparams(x, i, &np);
	if (rc != JV_SUCCESS)
		return rc;
	if (np != n) {
		h->error(x->run, "sql: query '%s' takes %d parameter%s, got %d", q->name, np,
		         np == 1 ? "" : "s", n);
		return JV_FAIL;
	}
	char limit[24];
	sql_timeout(x, limit, sizeof limit);
	const char *const limit_param[] = {limit};

	/* One pipeline, one Sync: one implicit transaction, in which the
	 * limit is set locally (SET LOCAL) and the query runs. */
	x->started_ms = sql_now_ms();
	PGconn *pg = x->c->pg;
	if (!PQenterPipelineMode(pg) ||
	    !PQsendQueryParams(pg, "SELECT pg_catalog.set_config('statement_timeout', $1, true)", 1,
	                       NULL, limit_param, NULL, NULL, 0) ||
	    !PQsendQueryParams(pg, q->text, n, NULL, values, NULL, NULL, 0) ||
	    !PQpipelineSync(pg)) {
		x->broken = 1;
		return sql_fail(x, NULL);
	}
	struct sql_result r = {.rows = json_array()};
	rc = sql_collect(x, NULL, NULL);
	if (!x->broken) {
		/* rows past the bounds are counted, not kept */
		if (rc == JV_SUCCESS)
			PQsetSingleRowMode(pg);
		int rc2 = sql_collect(x, sql_rows_cb, &r);
		if (rc == JV_SUCCESS)
			rc = rc2;
	}
	if (!x->broken && sql_pipeline_end(x) != 0 && rc == JV_SUCCESS)
		rc = sql_fail(x, NULL);
	int64_t ms = sql_now_ms() - x->started_ms;
	if (rc == JV_SUCCESS) {
		json_t *result = json_pack(
		    "{s:s, s:I, s:o, s:O, s:I, s:b}", "command", r.command, "rows_affected",
		    (json_int_t)r.rows_affected, "columns", r.columns ? r.columns : json_array(),
		    "rows", r.rows, "row_count", (json_int_t)r.row_count, "truncated", r.truncated);
		r.columns = NULL;
		char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;
		int stored = text ? h->result_json(x->run, text) : JV_HOST_ENOMEM;
		if (stored == JV_HOST_ERANGE) {
			h->error(x->run,
			         "sql: query '%s': its result is %zu bytes as JSON, over the "
			         "result limit of %d bytes",
			         q->name, strlen(text), JV_RESULT_MAX);
			rc = JV_FAIL;
		} else if (stored != 0) {
			h->error(x->run, "sql: query '%s': cannot store its result", q->name);
			rc = JV_RETRY;
		}
		free(text);
		json_decref(result);
		char line[160];
		int len = snprintf(line, sizeof line, "query '%s': %s (%lld ms)\n", q->name,
		                   r.command, (long long)ms);
		if (len > 0)
			h->output(x->run, line,
			          (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
	}
	json_decref(r.columns);
	json_decref(r.rows);
	return rc;
}

/* ------------------------------------------------------------- execute */

static const struct sql_query *sql_find(const struct sql *s, const char *name, size_t *i)
{
	struct sql_query key = {.name = (char *)name};
	const struct sql_query *q = bsearch(&key, s->q, s->nq, sizeof *s->q, sql_query_cmp);
	if (q)
		*i = (size_t)(q - s->q);
	return q;
}

/* The params array as texts: values[k] is NULL (SQL NULL) or a string that
 * owned[k] frees when not NULL. Returns 0, or -1 with the run's error set. */
static int sql_params(const struct sql *s, struct jv_run *run, json_t *params, const char **values,
                      char **owned)
{
	size_t k;
	json_t *v;
	json_array_foreach(params, k, v)
	{
		if (json_is_null(v))
			continue;
		if (json_is_string(v)) {
			if (strlen(json_string_value(v)) != json_string_length(v)) {
				s->host->error(run,
				               "sql: payload.params[%zu] contains a NUL "
				               "character",
				               k);
				return -1;
			}
			values[k] = json_string_value(v);
			continue;
		}
		owned[k] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!owned[k]) {
			s->host->error(run, "sql: out of memory");
			return -1;
		}
		values[k] = owned[k];
	}
	return 0;
}

static int sql_run(struct sql *s, struct jv_run *run, json_t *payload)
{
	const struct jv_host *h = s->host;
	if (!json_is_object(payload)) {
		h->error(run, "sql: payload must be a JSON object {\"query\": NAME, \"params\": "
		              "[...]}");
		return JV_FAIL;
	}
	const char *key;
	json_t *value;
	json_object_foreach(payload, key, value)
	{
		if (strcmp(key, "query") && strcmp(key, "params")) {
			h->error(run, "sql: unknown payload key '%.64s' (known: query, params)",
			         key);
			return JV_FAIL;
		}
	}
	json_t *jq = json_object_get(payload, "query");
	if (!jq || json_is_null(jq)) {
		h->error(run, "sql: payload.query is required (the name of a query: %s)", s->known);
		return JV_FAIL;
	}
	if (!json_is_string(jq)) {
		h->error(run, "sql: payload.query must be a string (the name of a query: %s)",
		         s->known);
		return JV_FAIL;
	}
	json_t *params = json_object_get(payload, "params");
	if (json_is_null(params))
		params = NULL;
	if (params && !json_is_array(params)) {
		h->error(run, "sql: payload.params must be an array");
		return JV_FAIL;
	}
	size_t n = params ? json_array_size(params) : 0;
	if (n > SQL_MAX_PARAMS) {
		h->error(run, "sql: payload.params has %zu values, at most %d are allowed", n,
		         SQL_MAX_PARAMS);
		return JV_FAIL;
	}
	size_t i;
	const struct sql_query *q = sql_find(s, json_string_value(jq), &i);
	if (!q) {
		h->error(run, "sql: unknown query '%.64s' (known: %s)", json_string_value(jq),
		         s->known);
		return JV_FAIL;
	}

	const char **values = calloc(n ? n : 1, sizeof *values);
	char **owned = calloc(n ? n : 1, sizeof *owned);
	int rc = JV_FAIL;
	if (!values || !owned)
		h->error(run, "sql: out of memory");
	else if (!params || sql_params(s, run, params, values, owned) == 0) {
		struct sql_exec x = {.s = s, .run = run, .q = q, .started_ms = sql_now_ms()};
		if (h->cancelled(run)) {
			h->error(run, "sql: query '%s' cancelled before it started", q->name);
			rc = JV_RETRY;
		} else if ((rc = sql_take(&x)) == 0) {
			rc = sql_execute_query(&x, i, values, (int)n);
			sql_give_back(&x);
		}
	}
	for (size_t k = 0; owned && k < n; k++)
		free(owned[k]);
	free(owned);
	free(values);
	return rc;
}

static int sql_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	struct sql *s = state;
	json_error_t e;
	json_t *payload = json_loadb(job->payload, job->payload_len, JSON_DECODE_ANY, &e);
	if (!payload) {
		s->host->error(run, "sql: payload is not JSON: %s (at byte %d)", e.text,
		               e.position);
		return JV_FAIL;
	}
	int rc = sql_run(s, run, payload);
	json_decref(payload);
	return rc;
}

static const struct jv_plugin sql_plugin = {
    JV_PLUGIN_HEADER,
    .kind = JV_PLUGIN_EXECUTOR,
    .name = "sql",
    .version = SQL_VERSION,
    .description = "runs named, parameterised SQL statements from its config on PostgreSQL",
    .config_keys = sql_keys,
    .create = sql_create,
    .destroy = sql_destroy,
    .execute = sql_execute,
};

JV_PLUGIN_ENTRY(sql_plugin)

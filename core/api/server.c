/*
 * server.c -- the HTTP server: listening, reading bodies within their cap,
 * routing, the token, CORS, the database workers, and the answers (api.h).
 *
 * Two kinds of threads. libmicrohttpd's api.threads read requests, route
 * them and answer everything that needs no database (health, /metrics'
 * own part, pause and resume, the dashboard's files): they never wait on
 * the database, so health answers while it struggles. A request that
 * needs the database is suspended and queued for one of api.db_connections
 * database workers, each with its own connection; the worker runs the
 * handler inside one transaction with the API's statement and lock
 * timeouts (SET LOCAL: nothing of it outlives the transaction, so a
 * transaction pooler may sit in between), ends it, and resumes the
 * request, which its server thread then answers. A request that waited
 * too long for a worker is answered 503 by its server thread.
 */
#include "api/api.h"

#include "api/audit.h"
#include "api/bridge.h"
#include "api/tls.h"
#include "config/config.h"
#include "config/fdlimit.h"
#include "lib/db.h"
#include "lib/jsontext.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define JV_API_MAX_PARAMS 4
#define JV_API_MAX_HEADERS 8
/* How long a request may wait for a database worker: then 503 (busy). A
 * route that can answer without the database (JV_API_DB_OPTIONAL, i.e.
 * /metrics) waits JV_API_OPTIONAL_WAIT_MS and then answers without it,
 * and its queries have at most the JV_API_OPTIONAL_*_MS timeouts. */
#define JV_API_DB_WAIT_MS 5000
#define JV_API_OPTIONAL_WAIT_MS 500
#define JV_API_OPTIONAL_STATEMENT_MS 2000
#define JV_API_OPTIONAL_LOCK_MS 500
/* At a reload, how long the old server may finish the requests in
 * progress (jv_api_stop_keep_listen); then they are cut, as at shutdown. */
#define JV_API_DRAIN_MS 2000
/* How often connections are looked at for a request's headers overdue. */
#define JV_API_WATCH_MS 250
/* The headers' deadline while more than 3/4 of the connections are taken:
 * slots then turn over fast enough for a health check to get one. */
#define JV_API_BUSY_HEADER_MS 1000

/*
 * One client connection, from libmicrohttpd's start notification to its
 * close notification (its socket context). waiting_ms is when it began to
 * wait for a request's headers -- at the connect, and again once each
 * answer went out -- and 0 while a request it sent is read and answered.
 */
struct jv_api_conn {
	struct jv_api_conn *prev, *next;
	int fd;
	uint64_t waiting_ms;
	unsigned requests;      /* answered on it so far */
	int cut;                /* shut down for being overdue */
};

/* The request's own limits, answered in JSON: the request target (path and
 * query, as sent) at most JV_API_MAX_TARGET bytes (414), the head (request
 * line and headers) at most JV_API_MAX_HEAD bytes (431). libmicrohttpd holds
 * a head in JV_API_CONN_MEMORY bytes per connection and refuses a larger one
 * itself, with its own HTML page (no option changes that page): keeping
 * our limits well below it leaves only heads past that size to it. */
#define JV_API_MAX_TARGET 8192
#define JV_API_MAX_HEAD 16384
#define JV_API_CONN_MEMORY ((size_t)32 * 1024)

/* Where a request is. Only a server thread answers (MHD_queue_response);
 * a worker gives its answer back by resuming the request. */
enum jv_api_stage {
	JV_API_READING = 0,     /* its head and body come in */
	JV_API_QUEUED,          /* suspended, waiting for a database worker */
	JV_API_RUNNING,         /* a worker runs its handler */
	JV_API_ANSWERED,        /* the worker answered: send it */
	JV_API_OVERDUE,         /* no worker in time: 503, or run without the database */
};

/* A database worker: one thread, one connection (NULL until first needed,
 * and again after it broke). */
struct jv_api_worker {
	struct jv_api *api;
	pthread_t thread;
	PGconn *db;
};

struct jv_api {
	const struct jv_config *cfg;
	struct jv_bridge *bridge;
	struct MHD_Daemon *mhd;
	int port;
	struct jv_api_tls *tls; /* NULL: plain HTTP; kept while mhd runs */
	/* the database workers and the requests waiting for them (FIFO) */
	pthread_mutex_t qlock;
	pthread_cond_t qwake;
	struct jv_api_req *qhead, *qtail;
	struct jv_api_worker *workers;
	int n_workers;
	int qstopping;
	double rtt_ms;          /* a worker's latest BEGIN round trip; -1: none yet */
	/* the clients' connections, and the thread that cuts those whose
	 * request headers are overdue (api.header_timeout_seconds) */
	pthread_mutex_t conns_lock;
	pthread_cond_t conns_wake;
	struct jv_api_conn *conns;
	long n_conns, max_conns;
	pthread_t watcher;
	int watching;
	int stopping;
	int draining;           /* a reload waits for the requests in progress */
	unsigned n_cut;         /* cut since the last summary */
	uint64_t cut_logged_ms; /* when the last summary went out */
	struct jv_audit *audit; /* the writer of the audit trail (audit.h) */
};

struct jv_api_req {
	struct jv_api *api;
	struct MHD_Connection *conn;
	const char *method, *path;
	size_t target_len;      /* the request target as sent (URI log callback) */
	int begun;              /* the access handler has seen the request */
	struct jv_buf body;
	json_t *json;
	const char *params[JV_API_MAX_PARAMS];
	char *param_buf[JV_API_MAX_PARAMS];
	int n_params;
	const struct jv_api_route *route;
	enum jv_api_stage stage;   /* (set under qlock while queued) */
	uint64_t queued_ms;
	struct jv_api_req *qnext;
	struct jv_api_worker *worker; /* while a worker runs it */
	PGconn *db;             /* the worker's connection, in this request's transaction */
	int statement_ms, lock_ms; /* that transaction's timeouts */
	/* the answer */
	int status;             /* 0: none yet */
	char *out;
	size_t out_len;
	const char *content_type;
	char *hdr_name[JV_API_MAX_HEADERS], *hdr_value[JV_API_MAX_HEADERS];
	int n_hdr;
	size_t body_max;        /* the body limit of its route (body_max()) */
	/* who made it (authorized()), and its audit row */
	const char *who;        /* the token's name (the config's), NULL: none */
	int role;               /* enum jv_role, -1: none */
	int audited;            /* a change by a known token: recorded when answered */
	char *target;           /* when the path has no {capture}: jv_audit_target() */
};

/* ------------------------------------------------------------ route tables */

const struct jv_api_route *const *jv_api_route_tables(void)
{
	static const struct jv_api_route *const tables[] = {
		jv_api_processor_routes, jv_api_jobs_routes,    jv_api_analytics_routes,
		jv_api_schedules_routes, jv_api_metrics_routes, jv_api_alerts_routes,
		jv_api_dashboard_routes, jv_api_queues_routes,    jv_api_workflows_routes,
		jv_api_audit_routes,     NULL,
	};
	return tables;
}

/* Does path match pattern? Captures go into req (when not NULL). */
static int match(const char *pattern, const char *path, struct jv_api_req *req)
{
	const char *p = pattern, *s = path;
	int n = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *se = strchr(s, '/');
			if (!pe)
				return 0;
			if (!se)
				se = s + strlen(s);
			if (se == s || n >= JV_API_MAX_PARAMS)
				return 0;
			if (req) {
				free(req->param_buf[n]);
				req->param_buf[n] = jv_strndup(s, (size_t)(se - s));
				req->params[n] = req->param_buf[n];
			}
			n++;
			p = pe + 1;
			s = se;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	if (*p || *s)
		return 0;
	if (req)
		req->n_params = n;
	return 1;
}

/* ------------------------------------------------------------ answers */

int jv_api_answered(const struct jv_api_req *req) { return req->status != 0; }

void jv_api_text(struct jv_api_req *req, int status, const char *content_type, const char *text,
		 size_t len)
{
	if (req->status)
		return;
	req->status = status;
	req->content_type = content_type;
	req->out = jv_malloc(len + 1);
	memcpy(req->out, text, len);
	req->out[len] = '\0';
	req->out_len = len;
}

void jv_api_json(struct jv_api_req *req, int status, json_t *value)
{
	if (req->status) {
		json_decref(value);
		return;
	}
	char *text = value ? jv_json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(value);
	if (!text) {
		static const char fail[] = "{\"error\":\"could not format the answer\"}";
		jv_api_text(req, 500, "application/json", fail, sizeof fail - 1);
		return;
	}
	jv_api_text(req, status, "application/json", text, strlen(text));
	free(text);
}

int jv_api_too_long(struct jv_api_req *req, const char *key, const char *s, size_t max)
{
	if (!s || strlen(s) <= max)
		return 0;
	jv_api_error(req, 400, "%s is too long: %zu bytes, the limit is %zu bytes", key, strlen(s),
		     max);
	return -1;
}

int jv_api_payload_fits(struct jv_api_req *req, const char *text)
{
	/* The database measures it as it writes it (payload::text, see
	 * sql/008_limits.sql) and refuses what grows past the limit there. */
	size_t len = strlen(text);
	if (len > JV_PAYLOAD_MAX) {
		jv_api_error(req, 400, "payload is too large: %zu bytes as JSON, the limit is %d bytes",
			     len, JV_PAYLOAD_MAX);
		return -1;
	}
	int depth = jv_json_depth(text, len);
	if (depth > JV_PAYLOAD_MAX_DEPTH) {
		jv_api_error(req, 400,
			     "payload is nested %d levels deep: at most %d levels of arrays and objects",
			     depth, JV_PAYLOAD_MAX_DEPTH);
		return -1;
	}
	return 0;
}

void jv_api_error(struct jv_api_req *req, int status, const char *fmt, ...)
{
	if (req->status)
		return;
	va_list ap;
	va_start(ap, fmt);
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *j = json_object();
	json_t *m = json_string(msg);
	if (!m) /* not UTF-8: it quoted the client's bytes */
		m = json_string("invalid request");
	json_object_set_new(j, "error", m);
	jv_api_json(req, status, j);
}

void jv_api_add_header(struct jv_api_req *req, const char *name, const char *value)
{
	if (req->n_hdr >= JV_API_MAX_HEADERS)
		return;
	req->hdr_name[req->n_hdr] = jv_strdup(name);
	req->hdr_value[req->n_hdr] = jv_strdup(value);
	req->n_hdr++;
}

/* ------------------------------------------------------------ reading */

const char *jv_api_method(const struct jv_api_req *req) { return req->method; }
const char *jv_api_path(const struct jv_api_req *req) { return req->path; }

const char *jv_api_body(const struct jv_api_req *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

json_t *jv_api_json_body(const struct jv_api_req *req) { return req->json; }

const char *jv_api_param(const struct jv_api_req *req, int i)
{
	return i >= 0 && i < req->n_params ? req->params[i] : NULL;
}

const char *jv_api_query(const struct jv_api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *jv_api_header(const struct jv_api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const struct jv_config *jv_api_config(const struct jv_api_req *req) { return req->api->cfg; }
struct jv_bridge *jv_api_bridge(const struct jv_api_req *req) { return req->api->bridge; }

struct only_ctx {
	const char *const *allowed;
	const char *bad;
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	(void)kind;
	(void)value;
	struct only_ctx *o = cls;
	for (const char *const *a = o->allowed; a && *a; a++)
		if (!strcmp(*a, key))
			return MHD_YES;
	o->bad = key;
	return MHD_NO;
}

int jv_api_only_query(struct jv_api_req *req, const char *const *allowed)
{
	struct only_ctx o = {allowed, NULL};
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_arg, &o);
	if (!o.bad)
		return 0;
	struct jv_buf known = {0};
	for (const char *const *a = allowed; a && *a; a++)
		jv_buf_printf(&known, "%s%s", a == allowed ? "" : ", ", *a);
	jv_api_error(req, 400, "unknown query parameter '%.64s' (known: %s)", o.bad,
		     known.len ? known.data : "none");
	jv_buf_free(&known);
	return -1;
}

int jv_api_only_keys(struct jv_api_req *req, const char *const *allowed)
{
	if (!req->json)
		return 0;
	if (!json_is_object(req->json)) {
		jv_api_error(req, 400, "the body must be a JSON object");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(req->json, key, v)
	{
		int ok = 0;
		for (const char *const *a = allowed; a && *a && !ok; a++)
			ok = !strcmp(*a, key);
		if (!ok) {
			struct jv_buf known = {0};
			for (const char *const *a = allowed; a && *a; a++)
				jv_buf_printf(&known, "%s%s", a == allowed ? "" : ", ", *a);
			jv_api_error(req, 400, "unknown key '%.64s' in the body (known: %s)", key,
				     known.len ? known.data : "none");
			jv_buf_free(&known);
			return -1;
		}
	}
	return 0;
}

int jv_api_parse_int(struct jv_api_req *req, const char *what, const char *text, int64_t max,
		     int64_t *out)
{
	int64_t v = 0;
	const char *p = text;
	if (!p || !*p || strlen(p) > 19)
		goto bad;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		/* 19 digits may pass INT64_MAX: stop before overflowing */
		if (v > (max - (*p - '0')) / 10)
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	jv_api_error(req, 400, "%s must be an integer between 0 and %lld, got '%.40s'", what,
		     (long long)max, text ? text : "");
	return -1;
}

int jv_api_secret_equal(const char *expected, const char *given)
{
	size_t n = strlen(expected), m = strlen(given);
	unsigned char diff = (unsigned char)(n != m);
	/* Always walk the expected secret's length, reading given cyclically
	 * (or a zero when it is empty), so timing tells nothing of either. */
	for (size_t i = 0; i < n; i++) {
		unsigned char g = m ? (unsigned char)given[i % m] : 0;
		diff |= (unsigned char)(expected[i] ^ g);
	}
	return diff == 0;
}

const char *jv_api_who(const struct jv_api_req *req) { return req->who; }
int jv_api_role(const struct jv_api_req *req) { return req->who ? req->role : -1; }

int jv_api_route_role(const struct jv_api_route *r)
{
	if (!strcmp(r->method, "GET"))
		return r->flags & JV_API_ADMIN ? JV_ROLE_ADMIN : JV_ROLE_VIEWER;
	return r->flags & JV_API_OPERATOR ? JV_ROLE_OPERATOR : JV_ROLE_ADMIN;
}

/* ------------------------------------------------------------ database */

static uint64_t mono_ms(void);

static const char unreachable[] = "the database is unreachable";

/* Open the request's transaction on db with its timeouts. 0, or -1 with
 * the reason in err when the connection failed (the caller drops it). */
static int begin(struct jv_api_req *req, PGconn *db, char *err, size_t errlen)
{
	const struct jv_config *cfg = req->api->cfg;
	int st = cfg->api.statement_timeout_ms, lk = cfg->api.lock_timeout_ms;
	if (req->route && (req->route->flags & JV_API_DB_OPTIONAL)) {
		if (st > JV_API_OPTIONAL_STATEMENT_MS)
			st = JV_API_OPTIONAL_STATEMENT_MS;
		if (lk > JV_API_OPTIONAL_LOCK_MS)
			lk = JV_API_OPTIONAL_LOCK_MS;
	}
	char sbuf[16], lbuf[16];
	snprintf(sbuf, sizeof sbuf, "%d", st);
	snprintf(lbuf, sizeof lbuf, "%d", lk);
	const char *params[] = {sbuf, lbuf};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (jv_db_exec(db, "BEGIN", 0, NULL, err, errlen) != 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Local to the transaction: nothing stays on the connection. */
	if (jv_db_exec(db,
		       "SELECT set_config('statement_timeout', $1, true),"
		       " set_config('lock_timeout', $2, true)",
		       2, params, err, errlen) != 0)
		return -1;
	req->statement_ms = st;
	req->lock_ms = lk;
	double rtt = (double)(t1.tv_sec - t0.tv_sec) * 1000.0 +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	pthread_mutex_lock(&req->api->qlock);
	req->api->rtt_ms = rtt;
	pthread_mutex_unlock(&req->api->qlock);
	return 0;
}

/* Close the worker's connection (it broke). */
static void drop_db(struct jv_api_worker *w)
{
	PQfinish(w->db);
	w->db = NULL;
}

PGconn *jv_api_db(struct jv_api_req *req)
{
	const char *why = NULL;
	PGconn *c = jv_api_db_try(req, &why);
	if (!c)
		jv_api_error(req, 503, "%s", why);
	return c;
}

PGconn *jv_api_db_try(struct jv_api_req *req, const char **why)
{
	struct jv_api_worker *w = req->worker;
	if (!w) {
		/* On a server thread: the request waited too long for a
		 * worker, or the route said it needs no database (a bug). */
		if (req->stage == JV_API_OVERDUE) {
			*why = "busy: every database connection of the API (api.db_connections) "
			       "stayed taken; try again";
		} else {
			jv_log(JV_ERROR, "api: %s %s asked for the database on a route marked as "
					 "needing none",
			       req->method, req->path);
			*why = "internal error: no database for this route";
		}
		return NULL;
	}
	char err[512];
	if (req->db) {
		/* The handler ended the transaction (COMMIT): the next one. */
		if (PQtransactionStatus(req->db) != PQTRANS_IDLE ||
		    begin(req, req->db, err, sizeof err) == 0)
			return req->db;
		jv_log(JV_WARNING, "api: a database connection failed: %s", err);
		req->db = NULL;
		drop_db(w);
		*why = unreachable;
		return NULL;
	}
	/* A connection the server ended (a restart, pg_terminate_backend)
	 * fails at BEGIN: dropped, and one new one tried at once. */
	for (int tries = 0; tries < 2; tries++) {
		int fresh = !w->db;
		if (fresh) {
			w->db = jv_db_connect(req->api->cfg->database.url, "jobvisor-api", err,
					      sizeof err);
			if (!w->db) {
				jv_log(JV_WARNING, "api: %s", err);
				break;
			}
		}
		if (begin(req, w->db, err, sizeof err) == 0) {
			req->db = w->db;
			return req->db;
		}
		jv_log(JV_WARNING, "api: a database connection failed (%s)%s", err,
		       fresh ? "" : ": opening another");
		drop_db(w);
		if (fresh)
			break;
	}
	*why = unreachable;
	return NULL;
}

int jv_api_commit(struct jv_api_req *req)
{
	if (!req->db || PQtransactionStatus(req->db) != PQTRANS_INTRANS)
		return 0;
	PGresult *res = jv_api_query_db(req, "COMMIT", 0, NULL);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

int jv_api_db_latency(const struct jv_api_req *req, double *ms)
{
	pthread_mutex_lock(&req->api->qlock);
	*ms = req->api->rtt_ms;
	pthread_mutex_unlock(&req->api->qlock);
	return *ms >= 0 ? 0 : -1;
}

/* Replace the answer given (the transaction it reported on failed). */
static void reanswer(struct jv_api_req *req)
{
	free(req->out);
	req->out = NULL;
	req->out_len = 0;
	req->status = 0;
	for (int i = 0; i < req->n_hdr; i++) {
		free(req->hdr_name[i]);
		free(req->hdr_value[i]);
	}
	req->n_hdr = 0;
}

/* After the handler, on the worker: commit the request's transaction (roll
 * it back when a statement failed), and keep the connection only when it
 * is idle and well. A failed commit replaces the answer. */
static void end_transaction(struct jv_api_req *req)
{
	PGconn *db = req->db;
	struct jv_api_worker *w = req->worker;
	if (!db)
		return;
	req->db = NULL;
	char err[1024], state[6] = "";
	PGTransactionStatusType ts = PQtransactionStatus(db);
	if (ts == PQTRANS_INTRANS) {
		PGresult *res = jv_db_query(db, "COMMIT", 0, NULL, state, err, sizeof err);
		if (res) {
			PQclear(res);
		} else {
			jv_log(JV_WARNING, "api: %s %s: commit failed: %s", req->method, req->path,
			       err);
			reanswer(req);
			if (PQstatus(db) != CONNECTION_OK || !state[0])
				jv_api_error(req, 503, "%s", unreachable);
			else if (!strncmp(state, "40", 2))
				jv_api_error(req, 503, "the change conflicted with another one; try again");
			else
				jv_api_error(req, 500, "internal error (logged)");
		}
	} else if (ts == PQTRANS_INERROR) {
		if (jv_db_exec(db, "ROLLBACK", 0, NULL, err, sizeof err) != 0)
			jv_debug("api: rollback failed: %s", err);
	}
	if (PQstatus(db) != CONNECTION_OK || PQtransactionStatus(db) != PQTRANS_IDLE)
		drop_db(w);
}

PGresult *jv_api_query_db(struct jv_api_req *req, const char *sql, int nparams,
			  const char *const *params)
{
	PGconn *db = jv_api_db(req);
	if (!db)
		return NULL;
	char err[1024], state[6] = "";
	PGresult *res = jv_db_query(db, sql, nparams, params, state, err, sizeof err);
	if (res)
		return res;
	if (!strncmp(state, "22", 2) || !strcmp(state, "23505")) {
		jv_api_error(req, 400, "%s", err);
	} else if (!strcmp(state, "55P03") || !strcmp(state, "57014")) {
		/* lock_not_available, query_canceled: the database is busy */
		jv_log(JV_WARNING, "api: %s %s: %s", req->method, req->path, err);
		jv_api_add_header(req, "Retry-After", "1");
		if (!strcmp(state, "55P03"))
			jv_api_error(req, 503,
				     "the database is busy: a lock was not granted within "
				     "api.lock_timeout_ms (%d ms); try again",
				     req->lock_ms);
		else if (strstr(err, "statement timeout"))
			jv_api_error(req, 503,
				     "the database is busy: the query did not finish within "
				     "api.statement_timeout_ms (%d ms); try again",
				     req->statement_ms);
		else
			jv_api_error(req, 503, "the query was cancelled on the database server; "
					       "try again");
	} else if (PQstatus(db) != CONNECTION_OK || !state[0] || !strncmp(state, "08", 2) ||
		   !strncmp(state, "57P", 3)) {
		jv_log(JV_WARNING, "api: %s %s: %s", req->method, req->path, err);
		jv_api_error(req, 503, "%s", unreachable);
	} else {
		jv_log(JV_ERROR, "api: %s %s: %s", req->method, req->path, err);
		jv_api_error(req, 500, "internal error (logged)");
	}
	return NULL;
}

json_t *jv_api_pg_json(struct jv_api_req *req, PGresult *res, int row, int col)
{
	json_t *j = jv_json_load_pg(PQgetvalue(res, row, col),
				    (size_t)PQgetlength(res, row, col), 0, NULL, 0);
	if (!j)
		jv_api_error(req, 500, "internal error: unreadable JSON from the database");
	return j;
}

int jv_api_page(struct jv_api_req *req, PGresult *res, int rows, long limit, json_t **list,
		int *more)
{
	*more = rows > limit;
	if (*more)
		rows = (int)limit;
	*list = json_array();
	for (int i = 0; i < rows; i++) {
		json_t *j = jv_api_pg_json(req, res, i, 0);
		if (!j) {
			json_decref(*list);
			*list = NULL;
			return -1;
		}
		json_array_append_new(*list, j);
	}
	return 0;
}

/* ------------------------------------------------------------ serving */

static void free_req(struct jv_api_req *req)
{
	jv_buf_free(&req->body);
	json_decref(req->json);
	for (int i = 0; i < JV_API_MAX_PARAMS; i++)
		free(req->param_buf[i]);
	for (int i = 0; i < req->n_hdr; i++) {
		free(req->hdr_name[i]);
		free(req->hdr_value[i]);
	}
	free(req->out);
	free(req->target);
	free(req);
}

static void conn_waiting(struct jv_api *api, struct MHD_Connection *c, int waiting);

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	conn_waiting(cls, c, 1); /* for the next request's headers, if it stays open */
	if (*con_cls)
		free_req(*con_cls);
	*con_cls = NULL;
}

/* 1 when the handler added a header of that name (any case). */
static int has_header(const struct jv_api_req *req, const char *name)
{
	for (int i = 0; i < req->n_hdr; i++)
		if (!strcasecmp(req->hdr_name[i], name))
			return 1;
	return 0;
}

static enum MHD_Result send_answer(struct jv_api_req *req)
{
	const struct jv_config *cfg = req->api->cfg;
	if (!req->status)
		jv_api_error(req, 500, "the handler gave no answer");
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(req->out_len, req->out, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				req->content_type ? req->content_type : "application/json");
	/* Defaults a handler may replace (the dashboard's files are cached
	 * and revalidated by their ETag): one header of each name, never two
	 * that contradict each other. */
	if (!has_header(req, "Cache-Control"))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	if (!has_header(req, "X-Content-Type-Options"))
		MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (cfg->api.cors_origin) {
		MHD_add_response_header(r, "Access-Control-Allow-Origin", cfg->api.cors_origin);
		MHD_add_response_header(r, "Vary", "Origin");
	}
	for (int i = 0; i < req->n_hdr; i++)
		MHD_add_response_header(r, req->hdr_name[i], req->hdr_value[i]);
	enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
	MHD_destroy_response(r);
	if (req->audited) {
		req->audited = 0;
		if (!req->target && !req->params[0])
			req->target = jv_audit_target(req->json, req->out, req->out_len);
		jv_audit_push(req->api->audit, req->who, req->method, req->path,
			      req->target ? req->target : req->params[0], req->status);
	}
	if (req->status == 500 || req->status == 503)
		jv_log(JV_WARNING, "api: %s %s -> %d", req->method, req->path, req->status);
	else
		jv_debug("api: %s %s -> %d", req->method, req->path, req->status);
	return ret;
}

/* The token of an Authorization header "Bearer TOKEN", or NULL for another
 * scheme or none. The scheme's name is matched whatever its case, as
 * HTTP's scheme names are (RFC 9110, 11.1), then one or more spaces. */
static const char *bearer_token(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/* Which configured token given is: every token is compared, whatever
 * matched before (the time taken tells nothing of which one, or whether
 * any); sets req->who and req->role, or leaves who NULL. */
static void identify(struct jv_api_req *req, const char *given)
{
	const struct jv_config *cfg = req->api->cfg;
	int eq = cfg->api.token && jv_api_secret_equal(cfg->api.token, given);
	const char *who = eq ? JV_API_TOKEN_NAME : NULL;
	int role = eq ? JV_ROLE_ADMIN : -1;
	for (size_t i = 0; i < cfg->api.n_tokens; i++) {
		eq = jv_api_secret_equal(cfg->api.tokens[i].token, given);
		/* (no branch on it either; load makes every token distinct) */
		who = eq ? cfg->api.tokens[i].name : who;
		role = eq ? (int)cfg->api.tokens[i].role : role;
	}
	req->who = who;
	req->role = role;
}

/* 1 when the request carries a token whose role may take the route (or
 * the route needs none); else answers 401 (no known token) or 403 (a role
 * too low, naming the one needed). */
static int authorized(struct jv_api_req *req, const struct jv_api_route *found)
{
	const struct jv_config *cfg = req->api->cfg;
	unsigned flags = found->flags;
	if (flags & JV_API_PUBLIC) {
		if ((flags & JV_API_HEALTH) && !cfg->api.health_requires_token)
			return 1;
		if ((flags & JV_API_METRICS) && !cfg->api.metrics_requires_token)
			return 1;
		if (!(flags & (JV_API_HEALTH | JV_API_METRICS)))
			return 1;
	}
	if ((!cfg->api.token || !cfg->api.token[0]) && !cfg->api.n_tokens) {
		/* a 401 always carries its challenge (RFC 9110, 11.6.1) */
		jv_api_add_header(req, "WWW-Authenticate", "Bearer realm=\"jobvisor\"");
		jv_api_error(req, 401, "no api.token or api.tokens is configured: this route is "
				       "disabled");
		return 0;
	}
	const char *given = bearer_token(jv_api_header(req, MHD_HTTP_HEADER_AUTHORIZATION));
	if (!given) {
		jv_api_add_header(req, "WWW-Authenticate", "Bearer realm=\"jobvisor\"");
		jv_api_error(req, 401, "missing bearer token (Authorization: Bearer TOKEN)");
		return 0;
	}
	identify(req, given);
	if (!req->who) {
		jv_api_add_header(req, "WWW-Authenticate", "Bearer realm=\"jobvisor\"");
		jv_api_error(req, 401, "wrong token");
		return 0;
	}
	/* A change by a known token is recorded, refused or not. */
	req->audited = strcmp(found->method, "GET") != 0;
	int need = jv_api_route_role(found);
	if (req->role < need) {
		jv_api_error(req, 403, "%s %s needs the %s role; token '%s' has the %s role",
			     found->method, found->pattern, jv_role_names[need], req->who,
			     jv_role_names[req->role]);
		return 0;
	}
	return 1;
}

/* Find the request's route, check its token and parse its body: the
 * route, or NULL after answering (404, 405, 401, 400, a CORS preflight). */
static const struct jv_api_route *route(struct jv_api_req *req)
{
	const struct jv_api_route *found = NULL;
	int path_known = 0;
	struct jv_buf allow = {0};
	/* HEAD is GET without the body, on every GET route (RFC 9110, 9.3.2):
	 * the same handler, token and status; libmicrohttpd sends the headers
	 * only. */
	const char *method = strcmp(req->method, "HEAD") ? req->method : "GET";
	for (const struct jv_api_route *const *t = jv_api_route_tables(); *t; t++)
		for (const struct jv_api_route *r = *t; r->method; r++) {
			if (!match(r->pattern, req->path, NULL))
				continue;
			path_known = 1;
			jv_buf_printf(&allow, "%s%s%s", allow.len ? ", " : "", r->method,
				      strcmp(r->method, "GET") ? "" : ", HEAD");
			if (!found && !strcmp(r->method, method))
				found = r;
		}
	if (!found && !strcmp(req->method, "OPTIONS") && path_known &&
	    req->api->cfg->api.cors_origin) {
		/* a CORS preflight */
		jv_api_add_header(req, "Access-Control-Allow-Methods", allow.data);
		jv_api_add_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type");
		jv_api_add_header(req, "Access-Control-Max-Age", "600");
		jv_api_text(req, 204, "text/plain", "", 0);
		jv_buf_free(&allow);
		return NULL;
	}
	if (!found) {
		if (path_known) {
			jv_api_add_header(req, "Allow", allow.data);
			jv_api_error(req, 405, "method %.16s not allowed on %.200s (allowed: %s)",
				     req->method, req->path, allow.data);
		} else {
			jv_api_error(req, 404, "no such route: %.16s %.200s", req->method,
				     req->path);
		}
		jv_buf_free(&allow);
		return NULL;
	}
	jv_buf_free(&allow);
	match(found->pattern, req->path, req);
	if (!authorized(req, found))
		return NULL;
	if (!(found->flags & JV_API_RAW_BODY) && req->body.len > 0) {
		json_error_t e;
		req->json = json_loadb(req->body.data, req->body.len,
				       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
		if (!req->json) {
			jv_api_error(req, 400, "the body is not valid JSON: %s (at byte %d)", e.text,
				     e.position);
			return NULL;
		}
	}
	return found;
}

/* ------------------------------------------------------------ workers */

/* Queue req for a database worker, suspended. 0, or -1 when the workers
 * stop (the caller answers). Called by the access handler: suspending is
 * only allowed there, and it happens before any worker can see req. */
static int enqueue(struct jv_api_req *req)
{
	struct jv_api *api = req->api;
	pthread_mutex_lock(&api->qlock);
	if (api->qstopping) {
		pthread_mutex_unlock(&api->qlock);
		return -1;
	}
	MHD_suspend_connection(req->conn);
	req->stage = JV_API_QUEUED;
	req->queued_ms = mono_ms();
	req->qnext = NULL;
	if (api->qtail)
		api->qtail->qnext = req;
	else
		api->qhead = req;
	api->qtail = req;
	pthread_cond_signal(&api->qwake);
	pthread_mutex_unlock(&api->qlock);
	return 0;
}

/* Take the first queued request (under qlock); NULL when none. */
static struct jv_api_req *dequeue(struct jv_api *api)
{
	struct jv_api_req *req = api->qhead;
	if (!req)
		return NULL;
	api->qhead = req->qnext;
	if (!api->qhead)
		api->qtail = NULL;
	req->qnext = NULL;
	return req;
}

/* A database worker: runs queued requests' handlers, each in its own
 * transaction, and hands each answer back to its server thread. */
static void *db_worker(void *arg)
{
	struct jv_api_worker *w = arg;
	struct jv_api *api = w->api;
	pthread_mutex_lock(&api->qlock);
	for (;;) {
		while (!api->qhead && !api->qstopping)
			pthread_cond_wait(&api->qwake, &api->qlock);
		if (api->qstopping)
			break; /* (jv_api_stop answers what still waits) */
		struct jv_api_req *req = dequeue(api);
		req->stage = JV_API_RUNNING;
		pthread_mutex_unlock(&api->qlock);
		req->worker = w;
		req->route->handler(req);
		end_transaction(req);
		req->worker = NULL;
		req->stage = JV_API_ANSWERED;
		MHD_resume_connection(req->conn); /* req is the server thread's again */
		pthread_mutex_lock(&api->qlock);
	}
	pthread_mutex_unlock(&api->qlock);
	if (w->db)
		drop_db(w);
	return NULL;
}

/* Requests that waited for a worker longer than they may: handed back to
 * their server threads, which answer them (the watcher calls this). */
static void expire_queued(struct jv_api *api, uint64_t now)
{
	struct jv_api_req *late = NULL, *prev = NULL;
	pthread_mutex_lock(&api->qlock);
	for (struct jv_api_req *r = api->qhead, *next; r; r = next) {
		next = r->qnext;
		uint64_t limit = (r->route->flags & JV_API_DB_OPTIONAL) ? JV_API_OPTIONAL_WAIT_MS
									 : JV_API_DB_WAIT_MS;
		/* (queued after the caller read the clock: not late, and not an
		 * unsigned wrap to "waited for ever") */
		if (r->queued_ms >= now || now - r->queued_ms < limit) {
			prev = r;
			continue;
		}
		if (prev)
			prev->qnext = next;
		else
			api->qhead = next;
		if (api->qtail == r)
			api->qtail = prev;
		r->stage = JV_API_OVERDUE;
		r->qnext = late;
		late = r;
	}
	pthread_mutex_unlock(&api->qlock);
	while (late) {
		struct jv_api_req *r = late;
		late = r->qnext;
		r->qnext = NULL;
		MHD_resume_connection(r->conn);
	}
}

/* Run req's handler: on this server thread when its route needs no
 * database, else queued for a worker (1: suspended, answered later). */
static int run(struct jv_api_req *req)
{
	if (req->route->flags & JV_API_NO_DB) {
		req->route->handler(req);
		return 0;
	}
	if (enqueue(req) == 0)
		return 1;
	jv_api_error(req, 503, "the server is shutting down");
	return 0;
}

/* The bytes of the request's head as sent, near enough: the request line
 * and every header line with its ": " and CRLF. */
static enum MHD_Result add_header_len(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	(void)kind;
	*(size_t *)cls += strlen(key) + 2 + (value ? strlen(value) : 0) + 2;
	return MHD_YES;
}

/* The body limit of the request's route: api.max_body_bytes, or at least
 * JV_API_BULK_BODY_MAX on a route marked JV_API_BULK. */
static size_t body_max(const struct jv_api_req *req)
{
	size_t max = (size_t)req->api->cfg->api.max_body_bytes;
	for (const struct jv_api_route *const *t = jv_api_route_tables(); *t; t++)
		for (const struct jv_api_route *r = *t; r->method; r++)
			if ((r->flags & JV_API_BULK) && !strcmp(r->method, req->method) &&
			    match(r->pattern, req->path, NULL))
				return max > JV_API_BULK_BODY_MAX ? max : JV_API_BULK_BODY_MAX;
	return max;
}

/* Refuse, in JSON, a request past our own limits: 414, 431, or 413 for a
 * Content-Length past the body limit (body_max; said up front: answered
 * before any of the body is read). 1 when it was refused. */
static int refuse_early(struct jv_api_req *req, const char *version)
{
	size_t max = req->body_max;
	if (req->target_len > JV_API_MAX_TARGET) {
		jv_api_error(req, 414, "the request target (path and query) is longer than %d bytes",
			     JV_API_MAX_TARGET);
		return 1;
	}
	size_t head = strlen(req->method) + 1 + req->target_len + 1 + strlen(version) + 2 + 2;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_header_len, &head);
	if (head > JV_API_MAX_HEAD) {
		jv_api_error(req, 431, "the request line and headers are larger than %d bytes",
			     JV_API_MAX_HEAD);
		return 1;
	}
	const char *cl =
	    MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > max) {
		/* (no 100 Continue; MHD discards what comes anyway) */
		jv_api_error(req, 413, "the body is larger than %s (%zu bytes)",
			     max > (size_t)req->api->cfg->api.max_body_bytes
				 ? "the limit of a bulk request"
				 : "api.max_body_bytes",
			     max);
		return 1;
	}
	return 0;
}

static struct jv_api_req *new_req(struct jv_api *api, struct MHD_Connection *c)
{
	struct jv_api_req *req = jv_calloc(1, sizeof *req);
	req->api = api;
	req->conn = c;
	return req;
}

/* Called by libmicrohttpd with the request target as sent, once the
 * request line is read: the request's state starts here, to know the
 * target's length (the access handler sees it decoded and split). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct jv_api_req *req = new_req(cls, c);
	req->target_len = strlen(uri);
	return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct jv_api *api = cls;
	struct jv_api_req *req = *con_cls;
	if (!req) { /* not through on_uri (it is always set: never, really) */
		req = new_req(api, c);
		req->target_len = strlen(url);
		*con_cls = req;
	}
	if (!req->begun) {
		req->begun = 1;
		conn_waiting(api, c, 0); /* its headers are in */
		req->method = method;
		req->path = url;
		req->body_max = body_max(req);
		return refuse_early(req, version) ? send_answer(req) : MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t max = req->body_max;
		/* Past the cap (a chunked body says no length up front): stop
		 * reading and close the connection. A client could otherwise
		 * send without end, token or not. libmicrohttpd cannot answer
		 * while the body is coming, so there is no 413 to send. */
		if (req->body.len + *upload_data_size > max) {
			jv_debug("api: %s %s: the chunked body passed its limit (%zu "
				 "bytes): connection closed",
				 req->method, req->path, max);
			return MHD_NO;
		}
		jv_buf_append(&req->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (req->stage) {
	case JV_API_ANSWERED: /* by a worker: resumed, to be sent from here */
		return send_answer(req);
	case JV_API_OVERDUE:
		if (req->route->flags & JV_API_DB_OPTIONAL)
			req->route->handler(req); /* without the database */
		else
			jv_api_error(req, 503,
				     "busy: every database connection of the API "
				     "(api.db_connections, %d) stayed taken for %d s; try again",
				     api->cfg->api.db_connections, JV_API_DB_WAIT_MS / 1000);
		return send_answer(req);
	case JV_API_READING:
		break;
	case JV_API_QUEUED:
	case JV_API_RUNNING:
		return MHD_YES; /* (suspended: not called) */
	}
	if (req->status)
		return MHD_YES; /* answered already */
	req->route = route(req);
	if (req->route && run(req))
		return MHD_YES;
	return send_answer(req);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	jv_debug("api: libmicrohttpd: %s", msg);
}

/* ------------------------------------------------------------ connections */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The record of connection c (its socket context), or NULL. */
static struct jv_api_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

/* c waits for a request's headers again (an answer went out), or not (a
 * request's headers are in). */
static void conn_waiting(struct jv_api *api, struct MHD_Connection *c, int waiting)
{
	struct jv_api_conn *k = conn_of(c);
	if (!k)
		return;
	pthread_mutex_lock(&api->conns_lock);
	if (waiting) {
		k->waiting_ms = mono_ms();
		k->requests++;
		if (api->draining)
			pthread_cond_broadcast(&api->conns_wake);
	} else {
		k->waiting_ms = 0;
	}
	pthread_mutex_unlock(&api->conns_lock);
}

/* libmicrohttpd's start and close notifications: keep the record. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct jv_api *api = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *i =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct jv_api_conn *k = jv_calloc(1, sizeof *k);
		k->fd = i ? i->connect_fd : -1;
		k->waiting_ms = mono_ms();
		pthread_mutex_lock(&api->conns_lock);
		k->next = api->conns;
		if (api->conns)
			api->conns->prev = k;
		api->conns = k;
		api->n_conns++;
		pthread_mutex_unlock(&api->conns_lock);
		*socket_context = k;
		return;
	}
	struct jv_api_conn *k = *socket_context;
	if (!k)
		return;
	pthread_mutex_lock(&api->conns_lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		api->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	api->n_conns--;
	if (api->draining)
		pthread_cond_broadcast(&api->conns_wake);
	pthread_mutex_unlock(&api->conns_lock);
	free(k);
	*socket_context = NULL;
}

/*
 * The watcher: a connection whose request headers are not all in
 * api.header_timeout_seconds after it began to wait for them is shut down;
 * libmicrohttpd then sees it end and closes it. libmicrohttpd's own
 * timeout only counts idle time, so a client sending a byte now and then
 * would hold its connection (and a descriptor) for as long as it likes.
 * While more than 3/4 of api.max_connections are open the deadline is
 * JV_API_BUSY_HEADER_MS: with many clients holding connections (more
 * addresses than the per-address cap stops), new ones, such as a health
 * check, still get a slot within seconds.
 * The socket is closed only after the close notification, which takes the
 * lock held here: the descriptor shut down is always that connection's.
 * Each turn it also hands back requests that waited too long for a
 * database worker (expire_queued).
 */
static void *watch_conns(void *arg)
{
	struct jv_api *api = arg;
	uint64_t limit = (uint64_t)api->cfg->api.header_timeout_seconds * 1000u;
	pthread_mutex_lock(&api->conns_lock);
	while (!api->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += JV_API_WATCH_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&api->conns_wake, &api->conns_lock, &until);
		if (api->stopping)
			break;
		pthread_mutex_unlock(&api->conns_lock);
		expire_queued(api, mono_ms());
		pthread_mutex_lock(&api->conns_lock);
		if (api->stopping)
			break;
		if (!limit)
			continue; /* no header deadline */
		uint64_t now = mono_ms();
		uint64_t deadline = limit;
		if (api->n_conns * 4 > api->max_conns * 3 && deadline > JV_API_BUSY_HEADER_MS)
			deadline = JV_API_BUSY_HEADER_MS;
		unsigned idle = 0;
		for (struct jv_api_conn *k = api->conns; k; k = k->next) {
			if (k->cut || k->fd < 0 || !k->waiting_ms || now - k->waiting_ms < deadline)
				continue;
			shutdown(k->fd, SHUT_RDWR);
			k->cut = 1;
			if (k->requests == 0)
				api->n_cut++;
			else
				idle++; /* kept alive after an answer, then nothing */
		}
		unsigned cut = 0;
		if (api->n_cut > 0 && (api->cut_logged_ms == 0 || now >= api->cut_logged_ms + 60000)) {
			cut = api->n_cut;
			api->n_cut = 0;
			api->cut_logged_ms = now;
		}
		if (!cut && !idle)
			continue;
		pthread_mutex_unlock(&api->conns_lock); /* never log holding it */
		if (cut)
			jv_log(JV_WARNING,
			       "api: closed %u connections whose request headers were not in within "
			       "%d s (api.header_timeout_seconds; 1 s while over 3/4 of "
			       "api.max_connections are open): slow or stalled clients",
			       cut, api->cfg->api.header_timeout_seconds);
		if (idle)
			jv_debug("api: closed %u idle kept-alive connections", idle);
		pthread_mutex_lock(&api->conns_lock);
	}
	pthread_mutex_unlock(&api->conns_lock);
	return NULL;
}

/* "HOST:PORT" (HOST may be [v6] or a name) into ss. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
			char *err, size_t errlen)
{
	const char *colon = strrchr(listen, ':');
	char host[256];
	size_t hn = colon ? (size_t)(colon - listen) : 0;
	if (!colon || hn >= sizeof host) {
		snprintf(err, errlen, "api.listen: bad address '%s'", listen);
		return -1;
	}
	memcpy(host, listen, hn);
	host[hn] = '\0';
	if (host[0] == '[' && hn >= 2 && host[hn - 1] == ']') {
		memmove(host, host + 1, hn - 2);
		host[hn - 2] = '\0';
	}
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(err, errlen, "api.listen: cannot resolve '%s': %s", listen,
			 gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Stop the database workers: each ends the request it runs; the requests
 * still queued are answered 503. */
static void stop_workers(struct jv_api *api)
{
	pthread_mutex_lock(&api->qlock);
	api->qstopping = 1;
	pthread_cond_broadcast(&api->qwake);
	pthread_mutex_unlock(&api->qlock);
	for (int i = 0; i < api->n_workers; i++)
		pthread_join(api->workers[i].thread, NULL);
	api->n_workers = 0;
	pthread_mutex_lock(&api->qlock);
	struct jv_api_req *left = NULL, *r;
	while ((r = dequeue(api))) {
		r->qnext = left;
		left = r;
	}
	pthread_mutex_unlock(&api->qlock);
	while ((r = left)) {
		left = r->qnext;
		r->qnext = NULL;
		jv_api_error(r, 503, "the server is shutting down");
		r->stage = JV_API_ANSWERED;
		MHD_resume_connection(r->conn);
	}
}

static void free_api(struct jv_api *api)
{
	jv_audit_stop(api->audit); /* (after the daemon: nothing pushes any more) */
	jv_api_tls_free(api->tls);
	free(api->workers);
	pthread_cond_destroy(&api->qwake);
	pthread_cond_destroy(&api->conns_wake);
	pthread_mutex_destroy(&api->qlock);
	pthread_mutex_destroy(&api->conns_lock);
	free(api);
}

/* The server's state, its locks, and its database workers started (as many
 * as could be: n_workers says). */
static struct jv_api *api_new(const struct jv_config *cfg, struct jv_bridge *bridge, long cap)
{
	struct jv_api *api = jv_calloc(1, sizeof *api);
	api->cfg = cfg;
	api->bridge = bridge;
	api->max_conns = cap;
	api->rtt_ms = -1;
	pthread_mutex_init(&api->qlock, NULL);
	pthread_mutex_init(&api->conns_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&api->qwake, &ca);
	pthread_cond_init(&api->conns_wake, &ca);
	pthread_condattr_destroy(&ca);
	api->audit = jv_audit_start(cfg);
	api->workers = jv_calloc((size_t)cfg->api.db_connections, sizeof *api->workers);
	for (int i = 0; i < cfg->api.db_connections; i++) {
		api->workers[i].api = api;
		if (pthread_create(&api->workers[i].thread, NULL, db_worker, &api->workers[i]) != 0)
			break;
		api->n_workers++;
	}
	return api;
}

/* Say where the server listens and within which limits. */
static void log_started(const struct jv_api *api, long nofile, long per_addr)
{
	const struct jv_config *cfg = api->cfg;
	char host[128];
	snprintf(host, sizeof host, "%s", cfg->api.listen);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	jv_log(JV_INFO, "api: listening on %s:%d (%s)", host, api->port,
	       cfg->api.token || cfg->api.n_tokens ? "token required"
						   : "no token: only health and metrics");
	jv_log(JV_INFO,
	       "api: at most %ld connections, %ld per client address, request headers within "
	       "%d s (descriptor limit %ld, %ld kept for workers, database connections and "
	       "plugins)",
	       api->max_conns, per_addr, cfg->api.header_timeout_seconds, nofile,
	       jv_fd_reserve(cfg));
	jv_log(JV_INFO,
	       "api: %d threads for HTTP, %d database connections (each query within "
	       "api.statement_timeout_ms %d, each lock within api.lock_timeout_ms %d)",
	       cfg->api.threads, cfg->api.db_connections, cfg->api.statement_timeout_ms,
	       cfg->api.lock_timeout_ms);
}

struct jv_api *jv_api_start(const struct jv_config *cfg, struct jv_bridge *bridge, char *err,
			    size_t errlen)
{
	return jv_api_start_on(cfg, bridge, -1, NULL, err, errlen);
}

struct jv_api *jv_api_start_on(const struct jv_config *cfg, struct jv_bridge *bridge,
			       int listen_fd, struct jv_api_tls *tls, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (parse_listen(cfg->api.listen, &ss, &sslen, err, errlen) != 0 ||
	    (!tls && jv_api_tls_load(cfg, &tls, err, errlen) != 0)) {
		jv_api_tls_free(tls);
		if (listen_fd >= 0)
			close(listen_fd);
		return NULL;
	}
	/* Connections: what the descriptor limit leaves after the rest of
	 * serve's needs (fdlimit.h), so clients can never starve the engine. */
	long nofile = jv_fd_limit();
	char why[512];
	long cap = jv_fd_api_cap(cfg, nofile, why, sizeof why);
	if (cap < 0) {
		snprintf(err, errlen, "api: %s", why);
		jv_api_tls_free(tls);
		if (listen_fd >= 0)
			close(listen_fd);
		return NULL;
	}
	long per_addr = cfg->api.max_connections_per_address;
	if (per_addr <= 0 || per_addr > cap)
		per_addr = cap;
	struct jv_api *api = api_new(cfg, bridge, cap);
	/* Suspend and resume: a request that needs the database waits for a
	 * worker without holding a server thread. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	api->tls = tls;
	/* HTTPS when configured; on the socket handed over by a reload (the
	 * port never closes), else on a new one bound to api.listen. */
	struct MHD_OptionItem opts[4], *o = opts;
	if (tls) {
		flags |= MHD_USE_TLS;
		*o++ = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert_pem};
		*o++ = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key_pem};
	}
	/* (libmicrohttpd gets a copy, which is its own from here, also when it
	 * fails to start -- it closes it then on most paths; a double close
	 * would be worse than a rare leak -- and the handed-over one is closed
	 * here in every case) */
	int mhd_fd = listen_fd >= 0 ? fcntl(listen_fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (listen_fd >= 0 && mhd_fd < 0) { /* (then a new socket, as at start) */
		close(listen_fd);
		listen_fd = -1;
	}
	if (listen_fd >= 0)
		*o++ = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, mhd_fd, NULL};
	else
		*o++ = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
	*o = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	api->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, api, MHD_OPTION_ARRAY, opts,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->api.threads, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)cap, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)per_addr,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_LISTEN_BACKLOG_SIZE,
	    (unsigned)1024, MHD_OPTION_NOTIFY_CONNECTION, on_connection, api,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
	    api, MHD_OPTION_CONNECTION_MEMORY_LIMIT, JV_API_CONN_MEMORY,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, api, MHD_OPTION_END);
	int mhd_errno = errno;
	if (listen_fd >= 0)
		close(listen_fd);
	errno = mhd_errno;
	const char *fail = NULL;
	if (!api->mhd)
		fail = errno ? strerror(errno) : "libmicrohttpd refused to start";
	else if (api->n_workers < cfg->api.db_connections || !api->audit ||
		 pthread_create(&api->watcher, NULL, watch_conns, api) != 0)
		fail = "cannot start a thread";
	else
		api->watching = 1;
	if (fail) {
		snprintf(err, errlen, "api: cannot listen on %s: %s", cfg->api.listen, fail);
		stop_workers(api);
		if (api->mhd)
			MHD_stop_daemon(api->mhd);
		free_api(api);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
	api->port = info ? info->port : 0;
	log_started(api, nofile, per_addr);
	if (tls)
		jv_log(JV_INFO, "api: HTTPS only, with the certificate in %s and its key in %s",
		       cfg->api.tls_cert_file, cfg->api.tls_key_file);
	return api;
}

int jv_api_port(const struct jv_api *api) { return api ? api->port : 0; }

/* The connections with a request in progress (its headers in, its answer
 * not all sent). Under conns_lock. */
static long busy_conns(const struct jv_api *api)
{
	long n = 0;
	for (const struct jv_api_conn *k = api->conns; k; k = k->next)
		n += !k->cut && !k->waiting_ms;
	return n;
}

/* Let the requests in progress finish (the database workers still run),
 * within JV_API_DRAIN_MS. Connections idle between requests are not waited
 * for: stopping closes them, and a client opens a new one. */
static void drain(struct jv_api *api)
{
	pthread_mutex_lock(&api->conns_lock);
	long busy = busy_conns(api);
	pthread_mutex_unlock(&api->conns_lock);
	if (!busy)
		return;
	jv_log(JV_INFO, "api: finishing %ld requests in progress before the reload (at most %d ms)",
	       busy, JV_API_DRAIN_MS);
	uint64_t until = mono_ms() + JV_API_DRAIN_MS;
	pthread_mutex_lock(&api->conns_lock);
	api->draining = 1;
	while ((busy = busy_conns(api)) > 0) {
		uint64_t now = mono_ms();
		if (now >= until)
			break;
		uint64_t left = until - now;
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += (time_t)(left / 1000u);
		t.tv_nsec += (long)(left % 1000u) * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&api->conns_wake, &api->conns_lock, &t);
	}
	api->draining = 0;
	pthread_mutex_unlock(&api->conns_lock);
	if (busy > 0)
		jv_log(JV_WARNING,
		       "api: %ld requests still in progress after %d ms are cut by the reload", busy,
		       JV_API_DRAIN_MS);
}

int jv_api_stop_keep_listen(struct jv_api *api)
{
	if (!api)
		return -1;
	/* No new connection from here: those that come wait in the socket's
	 * backlog for the next server (its quiesce needs MHD_USE_ITC, which
	 * MHD_ALLOW_SUSPEND_RESUME includes). Stopping the daemon then leaves
	 * the socket open. */
	MHD_socket fd = MHD_quiesce_daemon(api->mhd);
	drain(api);
	jv_api_stop(api);
	return fd == MHD_INVALID_SOCKET ? -1 : fd;
}

void jv_api_stop(struct jv_api *api)
{
	if (!api)
		return;
	/* Workers first: no request stays suspended when the daemon stops
	 * (libmicrohttpd refuses that). */
	stop_workers(api);
	if (api->watching) {
		pthread_mutex_lock(&api->conns_lock);
		api->stopping = 1;
		pthread_cond_signal(&api->conns_wake);
		pthread_mutex_unlock(&api->conns_lock);
		pthread_join(api->watcher, NULL);
	}
	MHD_stop_daemon(api->mhd); /* (its close notifications free the records) */
	free_api(api);
}

/*
 * api.h -- the REST API served by `jobvisor serve` (libmicrohttpd, jansson).
 *
 * The server runs on its own threads (api.threads) with its own database
 * workers (api.db_connections: a thread and a connection each), so a slow
 * query never holds up claiming, nor a route that needs no database (health,
 * /metrics' own part): those run on the server's threads, and every other
 * route on a worker, inside one transaction with the API's statement and
 * lock timeouts (api.statement_timeout_ms, api.lock_timeout_ms; hit: 503).
 * It talks to the engine only through the bridge (bridge.h): requests
 * (pause, retune, trigger, cancel) go in, a snapshot comes out.
 *
 * Routes are tables (struct jv_api_route) kept by topic in api_*.c files and
 * listed in jv_api_route_tables(). Every route needs `Authorization: Bearer
 * TOKEN` unless it is marked public (health and /metrics, unless configured
 * otherwise). A handler reads the request through the jv_api_* helpers and
 * answers with jv_api_json() or jv_api_error(); the server adds CORS
 * headers when configured, and answers 404/405/413/414/431/401 itself.
 * HEAD is served on every GET route by the GET handler (no body is sent).
 */
#ifndef JV_API_H
#define JV_API_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct jv_config;
struct jv_bridge;
struct jv_api;
struct jv_api_tls;
struct jv_api_req;

enum {
	JV_API_PUBLIC = 1,       /* no token needed ... */
	JV_API_HEALTH = 2,       /* ... unless api.health_requires_token */
	JV_API_METRICS = 4,      /* ... unless api.metrics_requires_token */
	JV_API_RAW_BODY = 8,     /* the body is not JSON: do not parse it */
	JV_API_NO_DB = 16,       /* never uses the database: runs on the server's
				  * thread, never waits behind database work */
	JV_API_DB_OPTIONAL = 32, /* can answer without the database: when no worker
				  * takes it within 0.5 s it runs without (its
				  * jv_api_db_try() gives NULL), and its queries
				  * have at most 2 s, and 0.5 s for a lock */
	JV_API_BULK = 64,        /* takes many jobs at once: its body may be up to
				  * JV_API_BULK_BODY_MAX (or api.max_body_bytes
				  * when larger) */
	JV_API_OPERATOR = 128,   /* a change the operator role may make */
	JV_API_ADMIN = 256,      /* a GET only the admin role may make */
};

/* The role a route needs (jv_api_route_role()): a GET (and HEAD) the
 * viewer's unless marked JV_API_ADMIN; any other method the admin's unless
 * marked JV_API_OPERATOR -- so a new route that changes something is
 * admin-only until someone decides otherwise. Public routes need none. */

struct jv_api_route {
	const char *method;      /* "GET", "POST", "PATCH", "DELETE" */
	const char *pattern;     /* "/api/jobs/{id}": {x} matches one path segment */
	unsigned flags;
	void (*handler)(struct jv_api_req *req);
	const char *summary;     /* one line, for logs and the route list */
};

/* The role (enum jv_role of config.h) a route needs. */
int jv_api_route_role(const struct jv_api_route *r);

/* NULL-terminated list of route tables, each ending with a NULL method. */
const struct jv_api_route *const *jv_api_route_tables(void);

/* The tables, by topic. */
extern const struct jv_api_route jv_api_processor_routes[];
extern const struct jv_api_route jv_api_jobs_routes[];
extern const struct jv_api_route jv_api_analytics_routes[];
extern const struct jv_api_route jv_api_schedules_routes[];
extern const struct jv_api_route jv_api_metrics_routes[];
extern const struct jv_api_route jv_api_dashboard_routes[];
extern const struct jv_api_route jv_api_alerts_routes[];
extern const struct jv_api_route jv_api_queues_routes[];
extern const struct jv_api_route jv_api_workflows_routes[];
extern const struct jv_api_route jv_api_audit_routes[];

/*
 * Start the server on cfg->api.listen. bridge links it to the engine (may
 * be NULL in tests: then engine routes answer 503). Returns NULL with a
 * one-line reason in err when it cannot listen. The config must outlive
 * the server.
 */
struct jv_api *jv_api_start(const struct jv_config *cfg, struct jv_bridge *bridge, char *err,
			    size_t errlen);

/*
 * The same on listen_fd, a listening socket from jv_api_stop_keep_listen()
 * (a reload: the port stays open), which it takes in every case (closed
 * when it fails); -1: bind cfg->api.listen, as jv_api_start(). With
 * api.tls_cert_file set it serves HTTPS with tls, the pair the caller
 * loaded with cfg (api/tls.h), which it takes in every case too; NULL:
 * it reads the files itself, as jv_api_start() does.
 */
struct jv_api *jv_api_start_on(const struct jv_config *cfg, struct jv_bridge *bridge,
			       int listen_fd, struct jv_api_tls *tls, char *err, size_t errlen);

/* The port it listens on (useful when api.listen asked for port 0). */
int jv_api_port(const struct jv_api *api);

/* Stop accepting, finish the requests in progress, free. NULL is fine. */
void jv_api_stop(struct jv_api *api);

/* The same, but the listening socket stays open (connections arriving
 * meanwhile wait in its backlog) and is returned for jv_api_start_on();
 * -1 when api is NULL or libmicrohttpd could not hand it over. */
int jv_api_stop_keep_listen(struct jv_api *api);

/* ------------------------------------------------------------ handlers */

/* The request's method, path, body (NUL-terminated, may be empty) and, for
 * JSON bodies, the parsed value (NULL when the body is empty). */
const char *jv_api_method(const struct jv_api_req *req);
const char *jv_api_path(const struct jv_api_req *req);
const char *jv_api_body(const struct jv_api_req *req, size_t *len);
json_t *jv_api_json_body(const struct jv_api_req *req);

/* The i-th {capture} of the route's pattern (from 0), or NULL. */
const char *jv_api_param(const struct jv_api_req *req, int i);

/* A query argument (decoded), or NULL when absent. */
const char *jv_api_query(const struct jv_api_req *req, const char *name);

/* A request header, or NULL. */
const char *jv_api_header(const struct jv_api_req *req, const char *name);

/* Answer 400 naming the first query argument not in allowed (NULL-
 * terminated) and return -1; 0 when all are known. */
int jv_api_only_query(struct jv_api_req *req, const char *const *allowed);

/* Answer 400 naming the first body key not in allowed and return -1; 0 when
 * the body is absent or every key is known. Also 400 for a body that is not
 * a JSON object. */
int jv_api_only_keys(struct jv_api_req *req, const char *const *allowed);

/* The config, the bridge (may be NULL), the server. */
const struct jv_config *jv_api_config(const struct jv_api_req *req);
struct jv_bridge *jv_api_bridge(const struct jv_api_req *req);

/* The request's database connection (its worker's), inside the request's
 * transaction, which has the API's timeouts and is committed when the
 * handler returns (rolled back after a failed statement; a failed commit
 * replaces the answer with 503 or 500). A handler may COMMIT itself; its
 * next call here opens the next transaction. NULL after answering 503 when
 * the database is down (a connection that broke is dropped and a new one
 * tried first). Never keep the connection past the handler. */
PGconn *jv_api_db(struct jv_api_req *req);

/* The same without answering: NULL with the reason in *why (static), for
 * a handler that can answer without the database (/metrics). */
PGconn *jv_api_db_try(struct jv_api_req *req, const char **why);

/* Commit the request's transaction now: before telling the engine (the
 * bridge) of what it changed, so the engine sees it. 0 (also when there is
 * none), or -1 after answering 503 or 500. */
int jv_api_commit(struct jv_api_req *req);

/* The latest round trip of the API's database connections (the BEGIN of a
 * request's transaction), in ms: 0, or -1 when none was made yet. */
int jv_api_db_latency(const struct jv_api_req *req, double *ms);

/* Run sql on the request's connection with text params; the result when it
 * succeeded (the caller PQclear()s it), else NULL after answering: 400 for
 * a data error the client caused (SQLSTATE class 22), 503 when the database
 * is unreachable or busy (the statement or lock timeout was hit: the error
 * names the setting, with Retry-After), 500 otherwise (the message logged,
 * not shown). */
PGresult *jv_api_query_db(struct jv_api_req *req, const char *sql, int nparams,
			  const char *const *params);

/* Column col of row row, a JSON text PostgreSQL built (of columns jansson
 * reads), parsed; NULL after answering 500 when it is not JSON (a bug). */
json_t *jv_api_pg_json(struct jv_api_req *req, PGresult *res, int row, int col);

/*
 * One page of a list: the first rows of res (a query asked for one more
 * than limit, to tell whether more follow), column 0 of each a JSON text
 * PostgreSQL built. *list gets at most limit of them, *more whether there
 * were more; the caller takes the next page's key from row limit - 1.
 * 0, or -1 after answering 500 (the caller still PQclear()s res).
 */
int jv_api_page(struct jv_api_req *req, PGresult *res, int rows, long limit, json_t **list,
		int *more);

/* Answer: status with a JSON value (stolen), or {"error": message}. The
 * first answer wins; later calls are ignored. */
void jv_api_json(struct jv_api_req *req, int status, json_t *value);
void jv_api_error(struct jv_api_req *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A string past its documented limit (README "Limits"): answers 400 naming
 * key and the limit and returns -1; 0 when s is NULL or fits. */
int jv_api_too_long(struct jv_api_req *req, const char *key, const char *s, size_t max);

/* A payload's JSON text (compact, as the API will store it) within the job
 * limits: at most JV_PAYLOAD_MAX bytes and JV_PAYLOAD_MAX_DEPTH levels deep.
 * Answers 400 naming the limit and returns -1; 0 when it fits. */
int jv_api_payload_fits(struct jv_api_req *req, const char *text);

/* Answer with text (copied) of the given content type. */
void jv_api_text(struct jv_api_req *req, int status, const char *content_type, const char *text,
		 size_t len);

/* Add a response header (copied), before answering. */
void jv_api_add_header(struct jv_api_req *req, const char *name, const char *value);

/* 1 once an answer was given. */
int jv_api_answered(const struct jv_api_req *req);

/* Parse a non-negative integer argument strictly (decimal, no sign, no
 * junk, at most max); -1 after answering 400 naming what, else 0. */
int jv_api_parse_int(struct jv_api_req *req, const char *what, const char *text, int64_t max,
		     int64_t *out);

/* A queue's name (key names it in the message): 1 to JV_QUEUE_NAME_MAX
 * bytes of [a-z0-9_.-]. 0, or -1 after answering 400 (queues.c). */
int jv_api_check_queue_name(struct jv_api_req *req, const char *key, const char *name);

/* Who made the request: the name of its token (api.tokens' name, or
 * JV_API_TOKEN_NAME for api.token) and its role (enum jv_role); NULL and
 * -1 on a public route taken without a token. */
const char *jv_api_who(const struct jv_api_req *req);
int jv_api_role(const struct jv_api_req *req);

/* Constant-time comparison of two secrets: 1 when equal. The time taken
 * depends only on the length of a (the expected one). */
int jv_api_secret_equal(const char *expected, const char *given);

#endif

/*
 * db.h -- small libpq helpers: connect with a clear error, run parameterised
 * SQL, and turn PostgreSQL errors into one readable line.
 *
 * Only parameterised SQL: values always travel as parameters ($1, $2, ...),
 * never spliced into the query text. Parameters are passed in text format;
 * a NULL pointer is SQL NULL.
 *
 * Error messages are written into a caller's buffer (err, errlen), in
 * PostgreSQL's style: the primary message, then "DETAIL: ..." and "HINT: ..."
 * when the server sent them, all on one line.
 */
#ifndef JV_DB_H
#define JV_DB_H

#include <libpq-fe.h>
#include <stddef.h>

/* The channel processors LISTEN on; the jobs triggers NOTIFY it. */
#define JV_DB_NOTIFY_CHANNEL "jobvisor_jobs"

/* The channel a cancelled running job's id is sent on (the API sends it);
 * the processor that runs it stops its worker. */
#define JV_DB_CANCEL_CHANNEL "jobvisor_cancel"
/* "pause ID" / "resume ID" for processor ID (api/processor.c). */
#define JV_DB_CONTROL_CHANNEL "jobvisor_control"

/*
 * Connect to url, a libpq URI or "key=value" conninfo string. app_name
 * becomes the fallback application_name (the url may override it) and may
 * be NULL ("jobvisor"). A connect_timeout of 10 s applies unless the url
 * sets one, and TCP keepalives and a tcp_user_timeout (db.c) unless the url
 * sets them. Server notices are routed to jv_log at debug level instead of
 * stderr.
 *
 * Returns the connection (caller closes it with PQfinish), or NULL with
 * "could not connect to database: <reason>" in err. The reason is libpq's,
 * with the secrets of url masked (jv_secrets_add_url in redact.h): never
 * the password, not even of a malformed url that libpq quotes back.
 */
PGconn *jv_db_connect(const char *url, const char *app_name, char *err, size_t errlen);

/*
 * Start connecting to url without waiting (PQconnectStartParams), with the
 * defaults of jv_db_connect but no connect_timeout (the asynchronous API
 * does not apply it: the caller keeps its own deadline,
 * jv_db_connect_timeout_ms). With first_host > 0, a multi-host url's hosts
 * are tried from that one on (modulo their number), wrapping around: after
 * a host that never answered, the caller starts at the next one, which
 * libpq itself would only reach after the first one's timeout.
 *
 * Returns the connection in progress (caller drives it with PQconnectPoll
 * on PQsocket, which may change between calls, and closes it with
 * PQfinish), or NULL with the reason in err (secrets masked). Host names
 * are looked up by libpq before the first poll, without waiting on its own:
 * a `hostaddr` spares the lookup.
 */
PGconn *jv_db_connect_start(const char *url, const char *app_name, int first_host, char *err,
                            size_t errlen);

/*
 * A second connection to the server conn is connected to (its host and port,
 * not the url's first host: a multi-host url may list standbys), with the
 * same user, database, password and options, app_name as its fallback
 * application_name and notices logged as jv_db_connect's. Blocking, within
 * the url's connect_timeout (10 s unless set). Returns it (caller closes it
 * with PQfinish), or NULL with "could not connect to database: <reason>" in
 * err.
 */
PGconn *jv_db_connect_again(PGconn *conn, const char *app_name, char *err, size_t errlen);

/* "could not connect to database: <libpq's reason for conn>" into err, the
 * secrets of url masked. */
void jv_db_connect_error(const char *url, PGconn *conn, char *err, size_t errlen);

/* The url's connect_timeout in ms (at least 2 s, as libpq), else 10 000. */
int jv_db_connect_timeout_ms(const char *url);

/* The number of hosts in url (1 for a single host or none), and the index
 * in url's list of the host conn is connected or connecting to (-1: not
 * found). first_host: as given to jv_db_connect_start. */
int jv_db_host_count(const char *url);
int jv_db_host_index(const char *url, int first_host, const PGconn *conn);

/*
 * Check, without connecting, that url reads as a libpq connection string
 * or URI. Returns 0, or JV_ECONFIG with "not a valid connection string or
 * URI: <libpq's reason, its secrets masked>" in err.
 */
int jv_db_check_url(const char *url, char *err, size_t errlen);

/*
 * Run sql with nparams text parameters (params may be NULL when nparams is
 * 0) and return its result when it succeeded (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK): the caller owns it and frees it with PQclear. On
 * failure returns NULL, writes the error into err, and, when sqlstate is
 * not NULL, copies the five-character SQLSTATE into it (char[6]; "" when
 * there is none, e.g. the connection was lost).
 */
PGresult *jv_db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      char *sqlstate, char *err, size_t errlen);

/* As jv_db_query for a command whose rows do not matter: 0 or JV_EDB. */
int jv_db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen);

/*
 * Run a query that returns one row with one column and read it as a
 * 64-bit integer. A NULL value gives *is_null = 1 (is_null may be NULL
 * when the value cannot be NULL; then NULL is an error) and *out = 0.
 * Returns 0, or JV_EDB with the message in err.
 */
int jv_db_query_int64(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      long long *out, int *is_null, char *err, size_t errlen);

/*
 * Write the error of res (or, when res is NULL or carries no message, of
 * conn) into err as one line: "primary (DETAIL: ...) (HINT: ...)". Line
 * breaks and tabs in the server's text become spaces.
 */
void jv_db_format_error(const PGconn *conn, const PGresult *res, char *err, size_t errlen);

/* 1 when the connection is gone (the caller must reconnect), else 0. */
int jv_db_is_broken(const PGconn *conn);

#endif

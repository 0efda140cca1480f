/* db.c -- libpq helpers: connecting, parameterised queries, error lines. */
#include "lib/db.h"

#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/redact.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Server notices (e.g. "schema already exists, skipping") are noise for a
 * CLI user; keep them for debugging only. */
static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	size_t n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == ' '))
		n--;
	jv_debug("postgres: %.*s", (int)n, message);
}

/* Append s to err at *pos as it is, always NUL-terminated. */
static void append_text(char *err, size_t errlen, size_t *pos, const char *s)
{
	for (; s && *s && *pos + 1 < errlen; s++)
		err[(*pos)++] = *s;
	err[*pos] = '\0';
}

/* Append the server's text s, folding each run of line breaks, tabs and
 * spaces into one space and dropping leading and trailing ones. */
static void append_folded(char *err, size_t errlen, size_t *pos, const char *s)
{
	int space = 0, any = 0;
	for (; s && *s && *pos + 1 < errlen; s++) {
		if (*s == '\n' || *s == '\r' || *s == '\t' || *s == ' ') {
			space = 1;
			continue;
		}
		if (space && any && *pos + 2 < errlen)
			err[(*pos)++] = ' ';
		space = 0;
		any = 1;
		err[(*pos)++] = *s;
	}
	err[*pos] = '\0';
}

void jv_db_format_error(const PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
	if (!err || errlen == 0)
		return;
	size_t pos = 0;
	err[0] = '\0';
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (primary) {
		append_folded(err, errlen, &pos, primary);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		if (detail) {
			append_text(err, errlen, &pos, " (DETAIL: ");
			append_folded(err, errlen, &pos, detail);
			append_text(err, errlen, &pos, ")");
		}
		if (hint) {
			append_text(err, errlen, &pos, " (HINT: ");
			append_folded(err, errlen, &pos, hint);
			append_text(err, errlen, &pos, ")");
		}
		return;
	}
	/* No structured error: a client-side one (lost connection, ...). */
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	if (!msg || !*msg)
		msg = conn ? PQerrorMessage(conn) : NULL;
	if (!msg || !*msg)
		msg = res ? PQresStatus(PQresultStatus(res)) : "unknown database error";
	/* libpq prefixes some of its own messages with "ERROR:  ". */
	if (!strncmp(msg, "ERROR:", 6))
		msg += 6;
	while (*msg == ' ')
		msg++;
	append_folded(err, errlen, &pos, msg);
}

/*
 * lead and libpq's msg about url into err, on one line, with the secrets of
 * url masked (and the password conn parsed, when conn is not NULL): libpq
 * quotes the url, or the pieces it cut a malformed one into, in its
 * messages. Masked before it is cut to errlen, so no cut hides a secret.
 */
static void safe_message(const char *url, PGconn *conn, const char *lead, const char *msg,
                         char *err, size_t errlen)
{
	if (!msg || !*msg)
		msg = "unknown error";
	size_t tlen = strlen(lead) + strlen(msg) + 1, pos = 0;
	char *text = jv_malloc(tlen);
	append_text(text, tlen, &pos, lead);
	append_folded(text, tlen, &pos, msg);
	struct jv_secrets sec = {0};
	jv_secrets_add_url(&sec, url);
	PQconninfoOption *opts = conn ? PQconninfo(conn) : NULL;
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (o->val && strstr(o->keyword, "password"))
			jv_secrets_add(&sec, o->val);
	PQconninfoFree(opts);
	char *safe = jv_redact(text, &sec);
	snprintf(err, errlen, "%s", safe);
	free(safe);
	free(text);
	jv_secrets_free(&sec);
}

int jv_db_check_url(const char *url, char *err, size_t errlen)
{
	if (!url || !*url) {
		snprintf(err, errlen, "no database url configured");
		return JV_ECONFIG;
	}
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &why);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	safe_message(url, NULL, "not a valid connection string or URI: ",
	             why ? why : "out of memory", err, errlen);
	PQfreemem(why);
	return JV_ECONFIG;
}

/*
 * The defaults every connection gets unless the url sets them otherwise:
 * TCP keepalives (a peer that vanished without a word is noticed after
 * about 25 s of silence instead of never) and tcp_user_timeout (data sent
 * and not acknowledged for 30 s breaks the connection). A server busy with
 * a long query still acknowledges, so neither ends a slow query; neither
 * helps against a middlebox that acknowledges and forwards nothing, which
 * is what serve's own deadlines are for.
 */
#define TCP_DEFAULTS 5
static const char *const tcp_keys[TCP_DEFAULTS] = {"keepalives", "keepalives_idle",
                                                   "keepalives_interval", "keepalives_count",
                                                   "tcp_user_timeout"};
static const char *const tcp_vals[TCP_DEFAULTS] = {"1", "10", "5", "3", "30000"};

/* The comma-separated list s split into a NULL-terminated array (caller
 * frees with free_list); *n gets the count. NULL or "" is one empty item. */
static char **split_list(const char *s, size_t *n)
{
	size_t count = 1;
	for (const char *p = s; p && *p; p++)
		count += *p == ',';
	char **v = jv_calloc(count + 1, sizeof *v);
	const char *p = s ? s : "";
	for (size_t i = 0; i < count; i++) {
		size_t len = strcspn(p, ",");
		v[i] = jv_strndup(p, len);
		p += len + (p[len] == ',');
	}
	*n = count;
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The list v of n items joined from item first on, wrapping around. */
static char *rotated(char **v, size_t n, size_t first)
{
	struct jv_buf b = {0};
	jv_buf_append(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			jv_buf_puts(&b, ",");
		jv_buf_puts(&b, v[(first + i) % n]);
	}
	return jv_buf_steal(&b);
}

/* url's host, hostaddr and port lists (any may be NULL: not set). */
struct hostlists {
	char **host, **hostaddr, **port;
	size_t n_host, n_hostaddr, n_port;
	size_t n; /* hosts: the longer of host and hostaddr, at least 1 */
};

static void hostlists_read(const char *url, struct hostlists *h)
{
	memset(h, 0, sizeof *h);
	h->n = 1;
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (!strcmp(o->keyword, "host"))
			h->host = split_list(o->val, &h->n_host);
		else if (!strcmp(o->keyword, "hostaddr"))
			h->hostaddr = split_list(o->val, &h->n_hostaddr);
		else if (!strcmp(o->keyword, "port"))
			h->port = split_list(o->val, &h->n_port);
	}
	PQconninfoFree(opts);
	if (h->n_host > h->n)
		h->n = h->n_host;
	if (h->n_hostaddr > h->n)
		h->n = h->n_hostaddr;
}

static void hostlists_free(struct hostlists *h)
{
	free_list(h->host);
	free_list(h->hostaddr);
	free_list(h->port);
}

/* Connect, or start connecting (async), with the defaults above before
 * the url (which overrides them) and, when first_host > 0, the url's host
 * lists rotated to begin at that host (after it, so they override it). */
static PGconn *open_conn(const char *url, const char *app_name, int async, int first_host)
{
	const char *keys[16], *vals[16];
	int k = 0;
	keys[k] = "fallback_application_name";
	vals[k++] = app_name ? app_name : "jobvisor";
	if (!async) {
		keys[k] = "connect_timeout";
		vals[k++] = "10";
	}
	for (int i = 0; i < TCP_DEFAULTS; i++) {
		keys[k] = tcp_keys[i];
		vals[k++] = tcp_vals[i];
	}
	keys[k] = "dbname";
	vals[k++] = url;
	char *rot[3] = {NULL, NULL, NULL};
	struct hostlists h;
	hostlists_read(url, &h);
	size_t first = first_host > 0 ? (size_t)first_host % h.n : 0;
	if (first > 0) {
		if (h.n_host == h.n) {
			keys[k] = "host";
			vals[k++] = rot[0] = rotated(h.host, h.n, first);
		}
		if (h.n_hostaddr == h.n) {
			keys[k] = "hostaddr";
			vals[k++] = rot[1] = rotated(h.hostaddr, h.n, first);
		}
		if (h.n_port == h.n) {
			keys[k] = "port";
			vals[k++] = rot[2] = rotated(h.port, h.n, first);
		}
	}
	keys[k] = NULL;
	vals[k] = NULL;
	PGconn *conn = async ? PQconnectStartParams(keys, vals, 1) : PQconnectdbParams(keys, vals, 1);
	for (int i = 0; i < 3; i++)
		free(rot[i]);
	hostlists_free(&h);
	if (conn)
		PQsetNoticeProcessor(conn, notice_to_log, NULL);
	return conn;
}

PGconn *jv_db_connect(const char *url, const char *app_name, char *err, size_t errlen)
{
	if (!url || !*url) {
		snprintf(err, errlen, "could not connect to database: no database url configured");
		return NULL;
	}
	PGconn *conn = open_conn(url, app_name, 0, 0);
	if (!conn) {
		snprintf(err, errlen, "could not connect to database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		jv_db_connect_error(url, conn, err, errlen);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

PGconn *jv_db_connect_again(PGconn *conn, const char *app_name, char *err, size_t errlen)
{
	PQconninfoOption *opts = PQconninfo(conn);
	if (!opts) {
		snprintf(err, errlen, "could not connect to database: out of memory");
		return NULL;
	}
	size_t n = 0;
	while (opts[n].keyword)
		n++;
	const char **keys = jv_calloc(n + 5, sizeof *keys);
	const char **vals = jv_calloc(n + 5, sizeof *vals);
	size_t k = 0;
	keys[k] = "fallback_application_name";
	vals[k++] = app_name ? app_name : "jobvisor";
	keys[k] = "connect_timeout";
	vals[k++] = "10";
	for (size_t i = 0; i < n; i++) {
		const char *key = opts[i].keyword;
		if (!opts[i].val || !*opts[i].val || !strcmp(key, "host") ||
		    !strcmp(key, "hostaddr") || !strcmp(key, "port") ||
		    !strcmp(key, "fallback_application_name"))
			continue;
		keys[k] = key;
		vals[k++] = opts[i].val;
	}
	keys[k] = "host";
	vals[k++] = PQhost(conn);
	keys[k] = "port";
	vals[k++] = PQport(conn);
	keys[k] = NULL;
	vals[k] = NULL;
	PGconn *again = PQconnectdbParams(keys, vals, 0);
	free(keys);
	free(vals);
	PQconninfoFree(opts);
	if (!again) {
		snprintf(err, errlen, "could not connect to database: out of memory");
		return NULL;
	}
	PQsetNoticeProcessor(again, notice_to_log, NULL);
	if (PQstatus(again) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(again));
		msg[strcspn(msg, "\n")] = '\0';
		snprintf(err, errlen, "could not connect to database: %s", msg);
		PQfinish(again);
		return NULL;
	}
	return again;
}

PGconn *jv_db_connect_start(const char *url, const char *app_name, int first_host, char *err,
                            size_t errlen)
{
	if (!url || !*url) {
		snprintf(err, errlen, "could not connect to database: no database url configured");
		return NULL;
	}
	PGconn *conn = open_conn(url, app_name, 1, first_host);
	if (!conn) {
		snprintf(err, errlen, "could not connect to database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_BAD) {
		jv_db_connect_error(url, conn, err, errlen);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

void jv_db_connect_error(const char *url, PGconn *conn, char *err, size_t errlen)
{
	safe_message(url, conn, "could not connect to database: ", conn ? PQerrorMessage(conn) : NULL,
	             err, errlen);
}

int jv_db_connect_timeout_ms(const char *url)
{
	int ms = 10000;
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "connect_timeout") && o->val && *o->val) {
			char *end;
			long v = strtol(o->val, &end, 10);
			if (!*end && v > 0)
				ms = v < 2 ? 2000 : v > 86400 ? 86400000 : (int)v * 1000; /* as libpq */
		}
	PQconninfoFree(opts);
	return ms;
}

int jv_db_host_index(const char *url, int first_host, const PGconn *conn)
{
	const char *host = PQhost(conn), *port = PQport(conn);
	if (!host)
		return -1;
	struct hostlists h;
	hostlists_read(url, &h);
	int found = -1;
	for (size_t k = 0; k < h.n && found < 0; k++) {
		size_t i = (first_host > 0 ? (size_t)first_host % h.n + k : k) % h.n;
		const char *hi = h.n_host == h.n && h.host[i][0] ? h.host[i]
		                 : h.n_hostaddr == h.n        ? h.hostaddr[i]
		                                              : NULL;
		const char *pi = h.n_port == h.n ? h.port[i] : NULL;
		if (hi && !strcmp(hi, host) && (!pi || !pi[0] || !port || !strcmp(pi, port)))
			found = (int)i;
	}
	hostlists_free(&h);
	return found;
}

int jv_db_host_count(const char *url)
{
	struct hostlists h;
	hostlists_read(url, &h);
	int n = (int)h.n;
	hostlists_free(&h);
	return n;
}

PGresult *jv_db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      char *sqlstate, char *err, size_t errlen)
{
	if (sqlstate)
		sqlstate[0] = '\0';
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	jv_db_format_error(conn, res, err, errlen);
	if (sqlstate && res) {
		const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (s) {
			size_t n = strnlen(s, 5);
			memcpy(sqlstate, s, n);
			sqlstate[n] = '\0';
		}
	}
	PQclear(res);
	return NULL;
}

int jv_db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen)
{
	PGresult *res = jv_db_query(conn, sql, nparams, params, NULL, err, errlen);
	if (!res)
		return JV_EDB;
	PQclear(res);
	return 0;
}

int jv_db_query_int64(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      long long *out, int *is_null, char *err, size_t errlen)
{
	*out = 0;
	if (is_null)
		*is_null = 0;
	PGresult *res = jv_db_query(conn, sql, nparams, params, NULL, err, errlen);
	if (!res)
		return JV_EDB;
	int rc = 0;
	if (PQntuples(res) != 1 || PQnfields(res) != 1) {
		snprintf(err, errlen, "expected one value, got %d rows of %d columns",
		         PQntuples(res), PQnfields(res));
		rc = JV_EDB;
	} else if (PQgetisnull(res, 0, 0)) {
		if (is_null)
			*is_null = 1;
		else {
			snprintf(err, errlen, "expected a value, got NULL");
			rc = JV_EDB;
		}
	} else {
		const char *v = PQgetvalue(res, 0, 0);
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (errno || end == v || *end) {
			snprintf(err, errlen, "expected an integer, got '%s'", v);
			rc = JV_EDB;
		} else {
			*out = n;
		}
	}
	PQclear(res);
	return rc;
}

int jv_db_is_broken(const PGconn *conn)
{
	return !conn || PQstatus(conn) == CONNECTION_BAD;
}

/* db.c -- libpq helpers: connecting, parameterised queries, error lines. */
#include "db.h"

#include "error.h"
#include "log.h"
#include "mem.h"
#include "redact.h"

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

PGconn *jv_db_connect(const char *url, const char *app_name, char *err, size_t errlen)
{
	if (!url || !*url) {
		snprintf(err, errlen, "could not connect to database: no database url configured");
		return NULL;
	}
	/* Defaults come before dbname, so that the url, expanded in its place,
	 * overrides them. */
	const char *keys[] = {"fallback_application_name", "connect_timeout", "dbname", NULL};
	const char *vals[] = {app_name ? app_name : "jobvisor", "10", url, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (!conn) {
		snprintf(err, errlen, "could not connect to database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		safe_message(url, conn, "could not connect to database: ", PQerrorMessage(conn), err,
		             errlen);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	return conn;
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

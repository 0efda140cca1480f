/* migrate.c -- apply the embedded sql/ migrations, each under a transaction-scoped
 * advisory lock. */
#include "engine/migrate.h"

#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The version table comes before any migration: 001 itself is recorded in
 * it. Created under the migration lock, so concurrent runs cannot race. */
static const char sql_create_schema[] = "CREATE SCHEMA IF NOT EXISTS jobvisor";
static const char sql_create_versions[] = "CREATE TABLE IF NOT EXISTS jobvisor.schema_migrations ("
                                          " version integer PRIMARY KEY,"
                                          " name text NOT NULL,"
                                          " applied_at timestamptz NOT NULL DEFAULT now())";
static const char sql_versions_exist[] =
    "SELECT to_regclass('jobvisor.schema_migrations') IS NOT NULL";

int jv_schema_latest(void)
{
	int latest = 0;
	for (const struct jv_migration *m = jv_migrations; m->version; m++)
		latest = m->version;
	return latest;
}

/* 1 when jobvisor.schema_migrations exists, 0 when not, JV_EDB on error. */
static int versions_table_exists(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = jv_db_query(conn, sql_versions_exist, 0, NULL, NULL, err, errlen);
	if (!res)
		return JV_EDB;
	int exists = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return exists;
}

int jv_schema_version(PGconn *conn, int *version, char *err, size_t errlen)
{
	*version = 0;
	int exists = versions_table_exists(conn, err, errlen);
	if (exists <= 0)
		return exists;
	long long v;
	if (jv_db_query_int64(conn,
	                      "SELECT coalesce(max(version), 0) FROM jobvisor.schema_migrations", 0,
	                      NULL, &v, NULL, err, errlen) < 0)
		return JV_EDB;
	*version = (int)v;
	return 0;
}

int jv_schema_check(PGconn *conn, char *err, size_t errlen)
{
	int version;
	char dberr[512];
	if (jv_schema_version(conn, &version, dberr, sizeof dberr) < 0) {
		snprintf(err, errlen, "could not read the schema version: %s", dberr);
		return JV_EDB;
	}
	int latest = jv_schema_latest();
	if (version < latest) {
		if (version == 0)
			snprintf(
			    err, errlen,
			    "the database has no jobvisor schema (HINT: run 'jobvisor migrate')");
		else
			snprintf(err, errlen,
			         "the database schema is at version %d, this jobvisor needs %d "
			         "(HINT: run 'jobvisor migrate')",
			         version, latest);
		return JV_ESTATE;
	}
	if (version > latest) {
		snprintf(
		    err, errlen,
		    "the database schema is at version %d, newer than this jobvisor knows (%d) "
		    "(HINT: upgrade jobvisor)",
		    version, latest);
		return JV_ESTATE;
	}
	return 0;
}

/* The 1-based line of the character at 1-based position pos in sql
 * (PostgreSQL counts characters, not bytes), or 0 when out of range. */
static int line_of_position(const char *sql, long pos)
{
	int line = 1;
	long chars = 0;
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
		if ((*p & 0xC0) == 0x80)
			continue; /* UTF-8 continuation byte */
		if (++chars == pos)
			return line;
		if (*p == '\n')
			line++;
	}
	return 0;
}

/* Roll back the transaction of a failed step, when the connection still
 * works. */
static void rollback(PGconn *conn)
{
	if (!jv_db_is_broken(conn))
		PQclear(PQexec(conn, "ROLLBACK"));
}

/* How long a migration's transaction waits for a lock before it gives up
 * and tries again (JV_MIGRATE_TRIES times), so that processors, whose claims
 * queue behind a waiting ALTER or DROP on jobs, are never held up for
 * longer than this by a long transaction elsewhere. */
#define JV_MIGRATE_LOCK_TIMEOUT "500ms"
#define JV_MIGRATE_TRIES 120
#define JV_MIGRATE_RETRY_MS 500

/* A migration may begin with statements that cannot run in a transaction
 * (CREATE INDEX CONCURRENTLY): everything before a line "-- @transaction".
 * The rest is the migration's transaction. */
static const char tx_marker[] = "\n-- @transaction\n";

/* The transactional part of m, and in *line0 the number of lines before it. */
static const char *tx_part(const struct jv_migration *m, int *line0)
{
	const char *mark = strstr(m->sql, tx_marker);
	*line0 = 0;
	if (!mark)
		return m->sql;
	for (const char *p = m->sql; p <= mark; p++)
		*line0 += *p == '\n';
	return mark + sizeof tx_marker - 1;
}

/* Before CREATE INDEX CONCURRENTLY IF NOT EXISTS NAME: a build of NAME that
 * failed (or whose migrate was killed) left an invalid index behind, which
 * IF NOT EXISTS would take for done. Drop it, unless a build of it is in
 * progress right now (a migrate older than the lock around this part). */
static const char sql_drop_invalid[] =
    "SELECT format('DROP INDEX CONCURRENTLY IF EXISTS jobvisor.%I', $1::text)"
    "  FROM pg_index i"
    " WHERE i.indexrelid = to_regclass('jobvisor.' || quote_ident($1)) AND NOT i.indisvalid"
    "   AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p"
    "                   WHERE p.index_relid = i.indexrelid)";

/* Run one statement of the part outside a transaction; *retry is set when
 * it failed in a way that running the part again can mend (a deadlock
 * between the index builds of concurrent migrate runs, a lock timeout). */
static int run_outside(PGconn *conn, const struct jv_migration *m, const char *stmt, int *retry,
                       char *err, size_t errlen)
{
	char dberr[1024], state[6] = "";
	static const char cic[] = "CREATE INDEX CONCURRENTLY IF NOT EXISTS ";
	if (!strncmp(stmt, cic, sizeof cic - 1)) {
		char name[64];
		const char *p = stmt + sizeof cic - 1;
		size_t n = strcspn(p, " \t\n");
		if (n == 0 || n >= sizeof name) {
			snprintf(err, errlen, "migration %s: bad index name in: %.60s", m->name, stmt);
			return JV_EDB;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		const char *params[] = {name};
		PGresult *res =
		    jv_db_query(conn, sql_drop_invalid, 1, params, NULL, dberr, sizeof dberr);
		if (!res) {
			snprintf(err, errlen, "migration %s: %s", m->name, dberr);
			return JV_EDB;
		}
		if (PQntuples(res) == 1) {
			jv_info("migration %s: dropping the invalid index %s a failed build left",
			        m->name, name);
			PGresult *d = jv_db_query(conn, PQgetvalue(res, 0, 0), 0, NULL, state, dberr,
			                          sizeof dberr);
			if (!d) {
				snprintf(err, errlen, "migration %s: %s", m->name, dberr);
				*retry = !strcmp(state, "40P01") || !strcmp(state, "55P03");
				PQclear(res);
				return JV_EDB;
			}
			PQclear(d);
		}
		PQclear(res);
	}
	PGresult *res = jv_db_query(conn, stmt, 0, NULL, state, dberr, sizeof dberr);
	if (!res) {
		snprintf(err, errlen, "migration %s failed before its transaction: %s", m->name,
		         dberr);
		*retry = !strcmp(state, "40P01") || !strcmp(state, "55P03");
		return JV_EDB;
	}
	PQclear(res);
	return 0;
}

/* Run the part of m before its transaction, statement by statement (each
 * ends with ';' at the end of a line; lines starting with "--" are
 * comments), in autocommit mode. Every statement there is idempotent, so
 * after a deadlock (concurrent migrate runs building the same indexes) the
 * part runs again, after a pause that differs between runs. */
static int apply_outside_once(PGconn *conn, const struct jv_migration *m, int *retry, char *err,
                              size_t errlen)
{
	const char *end = strstr(m->sql, tx_marker);
	if (!end)
		return 0;
	char *stmt = jv_malloc((size_t)(end - m->sql) + 2);
	size_t len = 0;
	int rc = 0;
	for (const char *line = m->sql; rc == 0 && line <= end;) {
		const char *nl = strchr(line, '\n');
		size_t n = (size_t)(nl - line);
		if (n >= 2 && line[0] == '-' && line[1] == '-') {
			line = nl + 1;
			continue;
		}
		memcpy(stmt + len, line, n);
		len += n;
		stmt[len++] = '\n';
		stmt[len] = '\0';
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (n > 0 && line[n - 1] == ';') {
			stmt[len - 1] = '\0';
			const char *s = stmt + strspn(stmt, " \t\n");
			rc = run_outside(conn, m, s, retry, err, errlen);
			len = 0;
		}
		line = nl + 1;
	}
	free(stmt);
	return rc;
}

static int apply_outside(PGconn *conn, const struct jv_migration *m, char *err, size_t errlen)
{
	for (int tries = 1;; tries++) {
		int retry = 0;
		if (apply_outside_once(conn, m, &retry, err, errlen) == 0)
			return 0;
		if (!retry || tries >= JV_MIGRATE_TRIES)
			return JV_EDB;
		jv_info("%s; trying again", err);
		struct timespec ts = {0, (100 + (long)(getpid() % 10) * 50) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Apply m inside the caller's transaction and record it. On failure err
 * names it and *sqlstate (6 bytes) says why; the caller rolls back. */
static int apply_one(PGconn *conn, const struct jv_migration *m, char *sqlstate, char *err,
                     size_t errlen)
{
	char dberr[1024];
	int line0;
	const char *sql = tx_part(m, &line0);
	sqlstate[0] = '\0';
	/* Our own embedded, multi-statement SQL, not user input: PQexec runs
	 * all of it, stopping at the first error. */
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		jv_db_format_error(conn, res, dberr, sizeof dberr);
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (state)
			snprintf(sqlstate, 6, "%s", state);
		const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
		int line = pos ? line_of_position(sql, strtol(pos, NULL, 10)) : 0;
		if (line > 0)
			snprintf(err, errlen, "migration %s failed at line %d: %s", m->name,
			         line0 + line, dberr);
		else
			snprintf(err, errlen, "migration %s failed: %s", m->name, dberr);
		PQclear(res);
		return JV_EDB;
	}
	PQclear(res);

	char version[16];
	snprintf(version, sizeof version, "%d", m->version);
	const char *params[] = {version, m->name};
	if (jv_db_exec(
	        conn,
	        "INSERT INTO jobvisor.schema_migrations (version, name) VALUES ($1::integer, $2)",
	        2, params, dberr, sizeof dberr) < 0) {
		snprintf(err, errlen, "migration %s: could not record it: %s", m->name, dberr);
		return JV_EDB;
	}
	return 0;
}

/* Create the schema and the version table when missing, inside the
 * caller's transaction (which holds the migration lock). Returns 1 when it
 * created them, 0 when they were there, or JV_EDB. */
static int bootstrap(PGconn *conn, char *err, size_t errlen)
{
	char dberr[512];
	int exists = versions_table_exists(conn, dberr, sizeof dberr);
	if (exists < 0) {
		snprintf(err, errlen, "could not look for jobvisor.schema_migrations: %s", dberr);
		return JV_EDB;
	}
	if (exists)
		return 0;
	if (jv_db_exec(conn, sql_create_schema, 0, NULL, dberr, sizeof dberr) < 0 ||
	    jv_db_exec(conn, sql_create_versions, 0, NULL, dberr, sizeof dberr) < 0) {
		snprintf(err, errlen, "could not create jobvisor.schema_migrations: %s", dberr);
		return JV_EDB;
	}
	return 1;
}

/* Read the recorded versions (ascending) into a fresh array (caller frees).
 * Refuse versions the list does not know; changed says whether this run
 * applied some already (then "nothing was changed" would be untrue). */
static int read_applied(PGconn *conn, const struct jv_migration *list, int changed, int **out,
                        int *n_out, char *err, size_t errlen)
{
	char dberr[512];
	const char *nothing = changed ? "" : "; nothing was changed";
	*out = NULL;
	*n_out = 0;
	PGresult *res = jv_db_query(
	    conn, "SELECT version, name FROM jobvisor.schema_migrations ORDER BY version", 0, NULL,
	    NULL, dberr, sizeof dberr);
	if (!res) {
		snprintf(err, errlen, "could not read jobvisor.schema_migrations: %s", dberr);
		return JV_EDB;
	}
	int latest = 0;
	for (const struct jv_migration *m = list; m->version; m++)
		latest = m->version;
	int n = PQntuples(res);
	int *versions = jv_calloc((size_t)n + 1, sizeof *versions);
	for (int i = 0; i < n; i++) {
		int v = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
		const char *name = PQgetvalue(res, i, 1);
		int known = 0;
		for (const struct jv_migration *m = list; m->version; m++)
			if (m->version == v)
				known = 1;
		if (!known) {
			if (v > latest)
				snprintf(
				    err, errlen,
				    "the database schema is at version %d (%s), newer than this "
				    "jobvisor knows (%d) (HINT: upgrade jobvisor%s)",
				    v, name, latest, nothing);
			else
				snprintf(
				    err, errlen,
				    "the database records migration %d (%s), which this jobvisor "
				    "does not know (%s)",
				    v, name, changed ? "stopped" : "nothing was changed");
			free(versions);
			PQclear(res);
			return JV_EDB;
		}
		versions[i] = v;
	}
	PQclear(res);
	*out = versions;
	*n_out = n;
	return 0;
}

static int is_applied(const int *versions, int n, int v)
{
	for (int i = 0; i < n; i++)
		if (versions[i] == v)
			return 1;
	return 0;
}

/* Who holds the migration lock, for the message while we wait for it. */
static const char sql_lock_holder[] =
    "SELECT l.pid || coalesce(' (' || nullif(a.application_name, '') || ', ' || a.state ||"
    "       ' since ' || to_char(a.state_change, 'YYYY-MM-DD HH24:MI:SS TZ') || ')', '')"
    "  FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
    "   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    "   AND l.classid::bigint = ($1::bigint >> 32)"
    "   AND l.objid::bigint = ($1::bigint & 4294967295)"
    " LIMIT 1";

/* How long a run that waits for the migration lock pauses between tries. */
#define JV_MIGRATE_POLL_MS 100

/*
 * Take the migration lock for the current transaction: at once when free,
 * else after saying (once per run, *said) who holds it. A run waits by
 * trying again, each try in a transaction of its own, never blocked inside
 * one: the holder may be building an index concurrently, which waits for
 * every transaction with a snapshot older than its own to end, and a waiter
 * blocked on the lock would be one of them for as long as the build goes on.
 */
static int take_lock(PGconn *conn, int *said, char *err, size_t errlen)
{
	char dberr[512];
	const char *key[] = {JV_MIGRATE_LOCK_KEY};
	for (;;) {
		long long got;
		if (jv_db_query_int64(conn, "SELECT pg_try_advisory_xact_lock($1::bigint)::integer",
		                      1, key, &got, NULL, dberr, sizeof dberr) < 0) {
			snprintf(err, errlen, "could not take the migration lock: %s", dberr);
			return JV_EDB;
		}
		if (got)
			return 0;
		if (!*said) {
			*said = 1;
			PGresult *res =
			    jv_db_query(conn, sql_lock_holder, 1, key, NULL, dberr, sizeof dberr);
			const char *who = res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?";
			jv_info("another jobvisor migrate is running on this database (server "
			        "process %s); waiting for it (HINT: a migrate building an index "
			        "holds it for as long as the build takes; a lock held by an idle "
			        "session for long was left behind by an older jobvisor behind a "
			        "transaction pooler: end that session with pg_terminate_backend)",
			        who);
			PQclear(res);
		}
		if (jv_db_exec(conn, "ROLLBACK", 0, NULL, dberr, sizeof dberr) < 0) {
			snprintf(err, errlen, "could not take the migration lock: %s", dberr);
			return JV_EDB;
		}
		struct timespec ts = {0, JV_MIGRATE_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
		if (jv_db_exec(conn, "BEGIN", 0, NULL, dberr, sizeof dberr) < 0) {
			snprintf(err, errlen, "could not begin a transaction: %s", dberr);
			return JV_EDB;
		}
	}
}

/*
 * Run m's part before its transaction on a connection of its own, while
 * conn's transaction holds the migration lock: so no other migrate runs
 * that part at the same time (concurrent builds of one index deadlock, and
 * a build that failed leaves an invalid index another run would drop under
 * a third run's feet). conn's transaction stays idle meanwhile, with no
 * snapshot, which the index builds do not wait for; the server's
 * idle_in_transaction_session_timeout is lifted for it, as a build on a
 * large table can take longer.
 */
static int run_outside_part(PGconn *conn, const struct jv_migration *m, char *err, size_t errlen)
{
	char dberr[512];
	if (jv_db_exec(conn, "SET LOCAL idle_in_transaction_session_timeout = 0", 0, NULL, dberr,
	               sizeof dberr) < 0) {
		snprintf(err, errlen, "migration %s: %s", m->name, dberr);
		return JV_EDB;
	}
	PGconn *outside = jv_db_connect_again(conn, "jobvisor migrate", dberr, sizeof dberr);
	if (!outside) {
		snprintf(err, errlen, "migration %s: its part before its transaction needs a "
		         "second connection: %s", m->name, dberr);
		return JV_EDB;
	}
	jv_debug("applying migration %s: its part outside a transaction", m->name);
	int rc = apply_outside(outside, m, err, errlen);
	PQfinish(outside);
	return rc;
}

enum step_result {
	STEP_NONE = 0,     /* nothing pending */
	STEP_APPLIED = 1,  /* *m applied */
	STEP_CREATED = 2,  /* the version table was created */
	STEP_LOCKED = 3,   /* *m's transaction could not have a lock in time; again later */
};

/*
 * One step, in one transaction that holds the migration lock: create the
 * version table when missing (a step of its own, so that it stays when the
 * first migration fails), else read what is applied and apply the first
 * migration of list (up to version to, when to > 0) that is not. The lock
 * is transaction-scoped, so it never outlives the step, whatever happens to
 * this process or to a pooler between us and the server. A migration with a
 * part that cannot run in a transaction gets that part run first, on a
 * second connection while this transaction holds the lock (*outside
 * remembers which one it was, for when its transaction is tried again).
 * Returns an enum step_result or JV_EDB.
 */
static int step(PGconn *conn, const struct jv_migration *list, int to, int changed, int *said,
                int *outside, const struct jv_migration **m, char *err, size_t errlen)
{
	char dberr[512];
	*m = NULL;
	if (jv_db_exec(conn, "BEGIN", 0, NULL, dberr, sizeof dberr) < 0) {
		snprintf(err, errlen, "could not begin a transaction: %s", dberr);
		return JV_EDB;
	}
	int *versions = NULL, n_versions = 0;
	int rc = take_lock(conn, said, err, errlen);
	int created = 0;
	if (rc == 0 && (created = bootstrap(conn, err, errlen)) < 0)
		rc = created;
	if (rc == 0 && !created)
		rc = read_applied(conn, list, changed, &versions, &n_versions, err, errlen);
	const struct jv_migration *next = NULL;
	for (const struct jv_migration *p = list;
	     rc == 0 && !created && p->version && (to <= 0 || p->version <= to) && !next; p++)
		if (!is_applied(versions, n_versions, p->version))
			next = p;
	free(versions);
	if (rc == 0 && next && *outside != next->version && strstr(next->sql, tx_marker)) {
		rc = run_outside_part(conn, next, err, errlen);
		if (rc == 0)
			*outside = next->version;
	}
	char sqlstate[6] = "";
	if (rc == 0 && next) {
		jv_debug("applying migration %s", next->name);
		rc = jv_db_exec(conn, "SET LOCAL lock_timeout = '" JV_MIGRATE_LOCK_TIMEOUT "'", 0,
		                NULL, dberr, sizeof dberr);
		if (rc < 0)
			snprintf(err, errlen, "could not set lock_timeout: %s", dberr);
		else
			rc = apply_one(conn, next, sqlstate, err, errlen);
	}
	if (rc == 0 && jv_db_exec(conn, "COMMIT", 0, NULL, dberr, sizeof dberr) < 0) {
		if (next)
			snprintf(err, errlen, "migration %s: commit failed: %s", next->name, dberr);
		else
			snprintf(err, errlen, "commit failed: %s", dberr);
		rc = JV_EDB;
	}
	if (rc != 0) {
		rollback(conn);
		*m = next;
		return !strcmp(sqlstate, "55P03") ? STEP_LOCKED : JV_EDB;
	}
	*m = next;
	return created ? STEP_CREATED : next ? STEP_APPLIED : STEP_NONE;
}

int jv_migrate(PGconn *conn, int to, jv_migrate_cb on_applied, void *arg, int *applied,
               char *err, size_t errlen)
{
	int n = 0, said = 0, outside = 0, busy = 0, rc;
	const struct jv_migration *m;
	while ((rc = step(conn, jv_migrations, to, n > 0, &said, &outside, &m, err, errlen)) > 0) {
		if (rc == STEP_CREATED)
			continue;
		if (rc == STEP_LOCKED) {
			if (++busy >= JV_MIGRATE_TRIES) {
				size_t len = strlen(err);
				snprintf(err + len, errlen - len,
				         " (HINT: tried %d times; a long transaction holds a lock "
				         "the migration needs: see pg_stat_activity and pg_locks)",
				         busy);
				rc = JV_EDB;
				break;
			}
			if (busy == 1)
				jv_info("migration %s waits for a lock held by another transaction; "
				        "trying again every %d ms (%s)",
				        m ? m->name : "?", JV_MIGRATE_RETRY_MS, err);
			struct timespec ts = {0, JV_MIGRATE_RETRY_MS * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		busy = 0;
		n++;
		if (on_applied)
			on_applied(m, arg);
	}
	if (applied)
		*applied = n;
	return rc < 0 ? rc : 0;
}

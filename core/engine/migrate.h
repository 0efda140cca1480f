/*
 * migrate.h -- schema migrations, embedded from sql/NNN_*.sql at build time.
 *
 * The versions applied to a database are recorded in
 * jobvisor.schema_migrations (version, name, applied_at), which jv_migrate
 * creates itself, with the schema, before the first migration runs.
 */
#ifndef JV_MIGRATE_H
#define JV_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct jv_migration {
	int version;      /* NNN of sql/NNN_title.sql */
	const char *name; /* "NNN_title" */
	const char *sql;  /* the whole file */
};

/* Terminated by an entry with version 0. In ascending version order. */
extern const struct jv_migration jv_migrations[];

/* The advisory lock key taken while migrating ("jobvisor" in ASCII). Taken
 * with pg_advisory_xact_lock, never as a session lock: a session lock taken
 * through a transaction pooler (PgBouncer pool_mode=transaction) stays
 * behind on whichever server connection ran that statement, and every later
 * migrate waits for it forever. Older jobvisors took it as a session lock;
 * the two conflict, so they still exclude each other. */
#define JV_MIGRATE_LOCK_KEY "7669456951150079858"

/*
 * Apply every migration not yet recorded in jobvisor.schema_migrations (up
 * to version to; to <= 0: all), in order, each in its own transaction;
 * each transaction first takes the migration lock (transaction-scoped,
 * JV_MIGRATE_LOCK_KEY) and reads what is applied, so concurrent runs wait
 * for each other instead of racing, and nothing is left behind on the
 * connection (safe through a transaction pooler). A run that has to wait
 * says once, at info level, which server process holds the lock, and
 * waits by trying again every 100 ms, never blocked inside a transaction. A
 * migration's statements before a line "-- @transaction" (CREATE INDEX
 * CONCURRENTLY) run first, outside any transaction, on a second connection
 * (to the same server) while the first holds the lock; its transaction
 * waits at most 500 ms for a lock and is then rolled back and tried again.
 * on_applied (may be NULL) is called after each migration is committed,
 * with m pointing into jv_migrations. Returns 0 and sets *applied (may be
 * NULL) to the number applied, or JV_EDB with a message in err. A failed
 * migration is rolled back entirely and named in err ("migration 001_init
 * failed: ..."); the ones before it stay applied. A database that records
 * a version this binary does not know is refused before anything is
 * applied.
 */
typedef void (*jv_migrate_cb)(const struct jv_migration *m, void *arg);
int jv_migrate(PGconn *conn, int to, jv_migrate_cb on_applied, void *arg, int *applied,
               char *err, size_t errlen);

/* The highest version recorded, 0 for an empty database, or JV_EDB. */
int jv_schema_version(PGconn *conn, int *version, char *err, size_t errlen);

/* The highest version this binary knows (the last jv_migrations entry). */
int jv_schema_latest(void);

/*
 * For commands that need the schema (serve, enqueue, status): 0 when the
 * database is at jv_schema_latest(); JV_ESTATE with a message telling what
 * to do when it is older ("run jobvisor migrate") or newer (upgrade
 * jobvisor); JV_EDB when the version cannot be read.
 */
int jv_schema_check(PGconn *conn, char *err, size_t errlen);

#endif

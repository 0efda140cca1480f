/*
 * migrate.h -- schema migrations, embedded from sql/NNN_*.sql at build time.
 */
#ifndef JV_MIGRATE_H
#define JV_MIGRATE_H

#include <libpq-fe.h>

struct jv_migration {
	int version;       /* NNN of sql/NNN_title.sql */
	const char *name;  /* "NNN_title" */
	const char *sql;   /* the whole file */
};

/* Terminated by an entry with version 0. In ascending version order. */
extern const struct jv_migration jv_migrations[];

/*
 * Apply every migration not yet recorded in jobvisor.schema_migrations, in
 * order, each in its own transaction, under a session advisory lock so
 * concurrent runs wait for each other instead of racing. Returns 0 and sets
 * *applied (may be NULL) to the number applied, or JV_EDB with a message
 * in err.
 */
int jv_migrate(PGconn *conn, int *applied, char *err, size_t errlen);

/* The highest version recorded, 0 for an empty database, or JV_EDB. */
int jv_schema_version(PGconn *conn, int *version, char *err, size_t errlen);

#endif

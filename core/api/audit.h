/*
 * audit.h -- the writer of the API's audit trail (jobvisor.audit_log,
 * sql/019_audit.sql).
 *
 * The server hands each audited request's row to jv_audit_push() as it
 * answers it: a copy into a queue under a mutex, nothing else, so no
 * request waits on the database for its audit row. One thread of the
 * writer, with a database connection of its own, inserts what is queued
 * in batches (one statement, one short transaction each, within
 * api.statement_timeout_ms). While the database cannot take them, rows
 * wait, up to JV_AUDIT_QUEUE_MAX; past that new ones are dropped, counted
 * and logged (never the request refused). What still waits when the
 * server stops (a reload, the shutdown) is written then, one attempt on
 * the connection there is (none is opened then), else logged as lost.
 */
#ifndef JV_AUDIT_H
#define JV_AUDIT_H

#include <jansson.h>
#include <stddef.h>

struct jv_config;
struct jv_audit;

/* A path's or target's limit in the table (its CHECK): longer ones are cut
 * and end in "...". */
#define JV_AUDIT_TEXT_MAX 1024
/* Rows waiting for the database at most. */
#define JV_AUDIT_QUEUE_MAX 10000
/* Rows per insert at most. */
#define JV_AUDIT_BATCH 500

/* Start the writer for cfg (which must outlive it). NULL when its thread
 * cannot start. */
struct jv_audit *jv_audit_start(const struct jv_config *cfg);

/* Queue a row: now, the token's name, method, path, target (may be NULL)
 * and the status answered. Copies everything; never blocks on the
 * database. NULL a is fine (nothing happens). */
void jv_audit_push(struct jv_audit *a, const char *token_name, const char *method,
		   const char *path, const char *target, int status);

/* Write what is queued (one attempt), stop the thread, free. NULL is fine. */
void jv_audit_stop(struct jv_audit *a);

/* The target of a request whose path names none, or NULL (the caller
 * frees it): the body's "ids" (a bulk cancel or retry) or "name" (a new
 * schedule), else the answer's "id" or "ids" (a new job, workflow). A list
 * of ids as "1,2,3", cut at JV_AUDIT_TEXT_MAX. */
char *jv_audit_target(const json_t *body, const char *answer, size_t answer_len);

/* s as the table keeps it: bytes outside printable ASCII as '?', cut at
 * JV_AUDIT_TEXT_MAX bytes (ending in "..."). Freshly allocated. */
char *jv_audit_text(const char *s);

#endif

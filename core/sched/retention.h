/*
 * retention.h -- history retention: finished jobs older than
 * history.retention_days (failed ones: history.failed_retention_days), their
 * executions, and schedule_runs are removed in bounded batches, by one
 * processor at a time (jobvisor.purge_history() of sql/012_retention.sql,
 * which holds the argument).
 *
 * Every processor has one; it runs on the scheduler's thread and its
 * database connection (scheduler.c), never on the serve loop's. A round
 * starts at most once per history.check_interval_seconds across all
 * processors; the processor that starts it does it batch after batch, with
 * a rest after each batch twice as long as the batch took (a third of one
 * database backend's time at most), between the scheduler's own ticks.
 */
#ifndef JV_RETENTION_H
#define JV_RETENTION_H

#include "lib/mem.h"

#include <stdint.h>

struct jv_config;
struct jv_retention;
struct pg_conn; /* PGconn */

/* Rows looked at per batch (one transaction). See docs/retention.md for
 * how it was chosen. */
#define JV_RETENTION_BATCH 1000
/* How long a round stays its holder's without a batch: after that, another
 * processor takes it over. */
#define JV_RETENTION_LEASE_S 60
/* A new retention for processor_id. cfg must outlive it. Free with
 * jv_retention_free (NULL is fine). */
struct jv_retention *jv_retention_new(const struct jv_config *cfg, int64_t processor_id);
void jv_retention_free(struct jv_retention *r);

/* Do what is due at now_ms (monotonic) on db: nothing before the time the
 * last call asked for, else one call of jobvisor.purge_history() (one
 * batch, one short transaction). Returns the milliseconds until it wants
 * to be called again. Errors are logged (then it tries again after the
 * check interval). */
uint64_t jv_retention_run(struct jv_retention *r, struct pg_conn *db, uint64_t now_ms);

/* Hand the round this processor holds, if any, over to the next processor
 * that asks (when it stops): jobvisor.release_purge(). Errors are logged. */
void jv_retention_release(struct jv_retention *r, struct pg_conn *db);

/* Append this process's counters in Prometheus text format to out:
 * jobvisor_history_removed_total{table="jobs"|"job_executions"|"schedule_runs"}
 * and jobvisor_history_purge_rounds_total. */
void jv_retention_render(struct jv_buf *out);

#endif

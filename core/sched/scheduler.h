/*
 * scheduler.h -- the thread that turns due schedule runs into jobs, and
 * the helpers the CLI and the API share with it.
 *
 * Exactly once, with any number of processors (see scheduler.c for the
 * argument): every processor runs the thread; each due schedule row is
 * taken with FOR UPDATE SKIP LOCKED, and a run becomes a job only in the
 * transaction that inserts its jobvisor.schedule_runs (schedule, run_at)
 * row, whose primary key refuses a second one.
 *
 * Missed runs: a run is "missed" when it is more than JV_SCHED_GRACE_S
 * seconds overdue when a scheduler looks at it (all processors were down,
 * or the database was). On-time runs always become jobs; missed ones follow
 * the schedule's catch_up: none (skipped), latest (only the latest missed
 * one), all (each, at most JV_SCHED_CATCH_UP_MAX, the latest ones).
 */
#ifndef JV_SCHEDULER_H
#define JV_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

struct jv_config;
struct jv_scheduler;
struct pg_conn; /* PGconn */

#define JV_SCHED_GRACE_S 2
#define JV_SCHED_CATCH_UP_MAX 100

/* Start the thread (its own database connection): it first syncs cfg's
 * schedules into jobvisor.schedules (retried until it succeeds), then
 * materialises due runs every second. NULL when it cannot start (logged).
 * cfg must outlive it. */
struct jv_scheduler *jv_scheduler_start(const struct jv_config *cfg, int64_t processor_id);

/* Stop the thread and free. NULL is fine. */
void jv_scheduler_stop(struct jv_scheduler *s);

/* Check a schedule's cron and zone: 0, or -1 with one line in err ("cron:
 * hour (field 2) at position 5: ..." or "unknown timezone 'X'"). */
int jv_sched_check(const char *cron, const char *tz, char *err, size_t errlen);

/* The next n run times (unix seconds) strictly after `after`: the count
 * found (fewer when the expression stops firing), or -1 with err. */
int jv_sched_next_runs(const char *cron, const char *tz, int64_t after, int64_t *out, int n,
		       char *err, size_t errlen);

/* Sync cfg's schedules into the database on conn (one transaction):
 * upsert each valid one (source 'config'), delete config schedules no
 * longer in the config. Invalid ones are logged and left as they are.
 * 0; 1 when some schedule names a queue jobvisor.queues does not have yet
 * (err names the first: after a reload, the processor stores its config's
 * queues with its next heartbeat) -- the others are synced, call it again
 * later; or -1 with err. */
int jv_sched_sync(struct pg_conn *conn, const struct jv_config *cfg, char *err, size_t errlen);

#endif

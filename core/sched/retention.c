/*
 * retention.c -- history retention, one batch per call (see retention.h).
 *
 * The database decides everything that concerns more than one processor
 * (jobvisor.purge_history(), sql/012_retention.sql): whether a round is
 * due, who runs it, where the round's cursor stands. This side only calls
 * it at the time it asks for, rests between batches, logs each round and
 * counts what this process removed.
 *
 * Why a rest twice as long as the batch: a batch deletes rows that no claim
 * waits for, so what it takes from claiming is the database's CPU and
 * I/O. Resting twice as long as each batch took keeps the purge to a third
 * of one backend at most, whatever the machine, and still removes some
 * 14 000 rows a second on a small, busy one (measured with contrib/bench.sh
 * --purge-rows; a rest as long as the batch took a few per cent more
 * throughput for no faster purge there; see docs/retention.md).
 */
#include "sched/retention.h"

#include "config/config.h"
#include "lib/db.h"
#include "lib/log.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The rest after a batch, as a multiple of the batch's own time. */
#define JV_RETENTION_REST_FACTOR 2

struct jv_retention {
	const struct jv_config *cfg;
	int64_t processor_id;
	uint64_t next_ms; /* monotonic: the next call is due */
	/* The round this processor runs (round_at 0: none). */
	char round_at[40]; /* its start, by the database clock (epoch text) */
	long long jobs, executions, runs;
	uint64_t batches;
	uint64_t audit_next_ms; /* monotonic: the next audit batch is due */
};

static _Atomic uint64_t removed_jobs, removed_executions, removed_runs, removed_audit, rounds;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct jv_retention *jv_retention_new(const struct jv_config *cfg, int64_t processor_id)
{
	struct jv_retention *r = jv_calloc(1, sizeof *r);
	r->cfg = cfg;
	r->processor_id = processor_id;
	return r;
}

void jv_retention_free(struct jv_retention *r)
{
	free(r);
}

/* Days as the function's interval: 0 (keep forever) is NULL. */
static const char sql_step[] =
    "SELECT state, jobs, executions, schedule_runs, wait_ms,"
    " extract(epoch FROM round_started_at)::numeric(20, 3)::text,"
    " extract(epoch FROM clock_timestamp())::numeric(20, 3)::text"
    " FROM jobvisor.purge_history($1::bigint, make_interval(days => nullif($2::int, 0)),"
    "  make_interval(days => nullif($3::int, 0)), make_interval(days => $4::int),"
    "  make_interval(secs => $5::int), $6::int, make_interval(secs => $7::int))";

static void round_end(struct jv_retention *r, const char *state, const char *ended_at)
{
	if (!strcmp(state, "done")) {
		atomic_fetch_add(&rounds, 1);
		enum jv_level lv = r->jobs || r->executions || r->runs ? JV_INFO : JV_DEBUG;
		if (jv_log_level() >= lv)
			jv_log(lv,
			       "retention: removed %lld job%s, %lld execution%s and %lld schedule "
			       "run%s in %" PRIu64
			       " batch%s (round %s to %s by the database clock)",
			       r->jobs, r->jobs == 1 ? "" : "s", r->executions,
			       r->executions == 1 ? "" : "s", r->runs, r->runs == 1 ? "" : "s",
			       r->batches, r->batches == 1 ? "" : "es", r->round_at, ended_at);
	} else {
		jv_log(JV_DEBUG, "retention: the round started at %s went on elsewhere (%s)",
		       r->round_at, state);
	}
	r->round_at[0] = '\0';
	r->jobs = r->executions = r->runs = 0;
	r->batches = 0;
}

/*
 * The audit trail (sql/019_audit.sql) is kept as long as the history
 * (history.retention_days; 0: forever): one batch of at most
 * JV_RETENTION_BATCH rows older than that, oldest first. Each processor
 * does it on its own (rows another one is deleting are skipped), once a
 * check interval, or again after the same rest as the history's when a
 * batch was full. Returns the ms until it is due again.
 */
static uint64_t purge_audit(struct jv_retention *r, PGconn *db, uint64_t now_ms)
{
	const struct jv_config *cfg = r->cfg;
	uint64_t interval_ms = (uint64_t)cfg->history.check_interval_seconds * 1000;
	if (now_ms < r->audit_next_ms)
		return r->audit_next_ms - now_ms;
	char d[16], batch[16], err[512];
	snprintf(d, sizeof d, "%d", cfg->history.retention_days);
	snprintf(batch, sizeof batch, "%d", JV_RETENTION_BATCH);
	const char *p[] = {d, batch};
	long long n = 0;
	uint64_t t0 = mono_ms();
	uint64_t next = interval_ms;
	if (jv_db_query_int64(db,
			      "SELECT jobvisor.purge_audit(make_interval(days => nullif($1::int, 0)),"
			      " $2::int)",
			      2, p, &n, NULL, err, sizeof err) != 0) {
		jv_log(JV_WARNING, "retention: the audit trail: %s; trying again in %d s", err,
		       cfg->history.check_interval_seconds);
	} else {
		atomic_fetch_add(&removed_audit, (uint64_t)n);
		if (n > 0)
			jv_log(JV_DEBUG, "retention: removed %lld audit rows", n);
		if (n >= JV_RETENTION_BATCH)
			next = (mono_ms() - t0) * JV_RETENTION_REST_FACTOR;
	}
	r->audit_next_ms = mono_ms() + next;
	return next;
}

uint64_t jv_retention_run(struct jv_retention *r, PGconn *db, uint64_t now_ms)
{
	uint64_t audit_wait = purge_audit(r, db, now_ms);
	if (now_ms < r->next_ms)
		return r->next_ms - now_ms < audit_wait ? r->next_ms - now_ms : audit_wait;
	const struct jv_config *cfg = r->cfg;
	int days = cfg->history.retention_days;
	int failed =
	    cfg->history.failed_retention_days >= 0 ? cfg->history.failed_retention_days : days;
	/* schedule_runs: as long as jobs, 7 days when jobs are kept forever */
	int runs_days = days > 0 ? days : 7;
	uint64_t interval_ms = (uint64_t)cfg->history.check_interval_seconds * 1000;
	char proc[24], d[16], f[16], rd[16], iv[16], batch[16], lease[16], err[512];
	snprintf(proc, sizeof proc, "%" PRId64, r->processor_id);
	snprintf(d, sizeof d, "%d", days);
	snprintf(f, sizeof f, "%d", failed);
	snprintf(rd, sizeof rd, "%d", runs_days);
	snprintf(iv, sizeof iv, "%d", cfg->history.check_interval_seconds);
	snprintf(batch, sizeof batch, "%d", JV_RETENTION_BATCH);
	snprintf(lease, sizeof lease, "%d", JV_RETENTION_LEASE_S);
	const char *p[] = {proc, d, f, rd, iv, batch, lease};

	uint64_t t0 = mono_ms();
	PGresult *res = jv_db_query(db, sql_step, 7, p, NULL, err, sizeof err);
	uint64_t took = mono_ms() - t0;
	if (!res || PQntuples(res) != 1) {
		jv_log(JV_WARNING, "retention: %s; trying again in %d s",
		       res ? "no answer from jobvisor.purge_history()" : err,
		       cfg->history.check_interval_seconds);
		PQclear(res);
		/* The round stays this processor's (its lease outlives the
		 * interval), and what its batches removed stays counted: the
		 * next step goes on with it, or ends it as gone elsewhere.
		 * (Ended here, its rows were left out of the round's line.) */
		r->next_ms = mono_ms() + interval_ms;
		return interval_ms;
	}
	const char *state = PQgetvalue(res, 0, 0);
	long long jobs = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	long long execs = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	long long runs = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	long long wait = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	const char *started = PQgetisnull(res, 0, 5) ? NULL : PQgetvalue(res, 0, 5);
	atomic_fetch_add(&removed_jobs, (uint64_t)jobs);
	atomic_fetch_add(&removed_executions, (uint64_t)execs);
	atomic_fetch_add(&removed_runs, (uint64_t)runs);

	int working = !strcmp(state, "more") || !strcmp(state, "done");
	if (r->round_at[0] && (!started || strcmp(started, r->round_at) != 0))
		round_end(r, state, "");
	if (working) {
		if (!r->round_at[0]) {
			snprintf(r->round_at, sizeof r->round_at, "%s", started ? started : "?");
			jv_log(JV_DEBUG, "retention: round started at %s", r->round_at);
		}
		r->jobs += jobs;
		r->executions += execs;
		r->runs += runs;
		r->batches++;
		if (!strcmp(state, "done"))
			round_end(r, state, PQgetvalue(res, 0, 6));
	}
	uint64_t next;
	if (!strcmp(state, "more"))
		next = took * JV_RETENTION_REST_FACTOR;
	else
		next = wait < 0 ? 0 : (uint64_t)wait;
	/* (never later than the interval: another processor's lease may lapse) */
	if (next > interval_ms)
		next = interval_ms;
	PQclear(res);
	r->next_ms = mono_ms() + next;
	return next < audit_wait ? next : audit_wait;
}

void jv_retention_release(struct jv_retention *r, PGconn *db)
{
	char proc[24], err[512];
	snprintf(proc, sizeof proc, "%" PRId64, r->processor_id);
	const char *p[] = {proc};
	if (jv_db_exec(db, "SELECT jobvisor.release_purge($1::bigint)", 1, p, err, sizeof err) < 0)
		jv_log(JV_WARNING, "retention: could not hand the round over: %s", err);
}

void jv_retention_render(struct jv_buf *out)
{
	jv_buf_puts(out, "# HELP jobvisor_history_removed_total Rows this process removed by "
	                 "history retention, by table.\n"
	                 "# TYPE jobvisor_history_removed_total counter\n");
	jv_buf_printf(out, "jobvisor_history_removed_total{table=\"jobs\"} %" PRIu64 "\n",
	              atomic_load(&removed_jobs));
	jv_buf_printf(out, "jobvisor_history_removed_total{table=\"job_executions\"} %" PRIu64 "\n",
	              atomic_load(&removed_executions));
	jv_buf_printf(out, "jobvisor_history_removed_total{table=\"schedule_runs\"} %" PRIu64 "\n",
	              atomic_load(&removed_runs));
	jv_buf_printf(out, "jobvisor_history_removed_total{table=\"audit_log\"} %" PRIu64 "\n",
	              atomic_load(&removed_audit));
	jv_buf_puts(out, "# HELP jobvisor_history_purge_rounds_total History retention rounds this "
	                 "process finished.\n"
	                 "# TYPE jobvisor_history_purge_rounds_total counter\n");
	jv_buf_printf(out, "jobvisor_history_purge_rounds_total %" PRIu64 "\n",
	              atomic_load(&rounds));
}

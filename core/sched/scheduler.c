/*
 * scheduler.c -- schedules (cron) become jobs: one job per due run, across
 * any number of processors.
 *
 * Every processor runs this thread, with its own database connection. Why
 * exactly once holds, and why this design rather than a leader:
 *
 *  - A tick takes the due schedules one at a time, each in its own
 *    transaction: SELECT ... WHERE enabled AND next_run_at <= now() LIMIT 1
 *    FOR UPDATE SKIP LOCKED. A schedule row is held by one processor at a
 *    time, and the others skip it instead of waiting, so many schedules
 *    spread over the processors and nobody blocks on a slow peer.
 *  - In that transaction the runs due up to now() are computed in C (cron.h)
 *    from next_run_at, each run's jobvisor.schedule_runs (schedule, run_at)
 *    row is inserted with ON CONFLICT DO NOTHING, the job is inserted only
 *    when that row was, and next_run_at moves past now(). All commit
 *    together or not at all: a processor that dies mid-way leaves no job
 *    and no moved next_run_at, and the next one redoes the run.
 *  - The primary key of schedule_runs is the guarantee, not the row lock:
 *    even a processor that looks at a stale next_run_at (a config sync
 *    racing a tick, a clock step, an API change) cannot enqueue a run twice.
 *  - A leader holding an advisory lock would also work, but it needs a
 *    failover delay (a missed second when the leader dies) and a session
 *    lock that a connection pooler may break; the row lock plus the key
 *    needs neither, and costs one small indexed query per second per
 *    processor.
 *
 * The run's identity is its cron time; jitter only delays the job's
 * scheduled_at. schedule_runs rows are pruned after history.retention_days
 * (7 days when history is kept forever), with the rest of the history, by
 * the retention that runs on this thread between ticks (retention.h): its
 * own connection already, and work that must never wait on the serve loop
 * nor make it wait.
 */
#include "config/config.h"
#include "lib/cron.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "sched/retention.h"
#include "sched/scheduler.h"

#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHED_TICK_MS 1000
#define SCHED_BATCH 100           /* schedules per tick, at most */
#define SCHED_MAX_STEPS 100000    /* cron steps when catching up, then a jump */

struct jv_scheduler {
	const struct jv_config *cfg;
	int64_t processor_id;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
	unsigned seed;
	struct jv_retention *retention; /* runs on this thread and connection */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ helpers */

int jv_sched_check(const char *cron, const char *tz, char *err, size_t errlen)
{
	struct jv_cron *c = NULL;
	char e[256];
	if (!cron || jv_cron_parse(cron, &c, e, sizeof e) < 0) {
		snprintf(err, errlen, "cron: %s", cron ? e : "missing");
		return -1;
	}
	jv_cron_free(c);
	if (!tz || !jv_tz_valid(tz)) {
		snprintf(err, errlen, "unknown timezone '%s'", tz ? tz : "");
		return -1;
	}
	return 0;
}

int jv_sched_next_runs(const char *cron, const char *tz, int64_t after, int64_t *out, int n,
		       char *err, size_t errlen)
{
	struct jv_cron *c = NULL;
	char e[256];
	if (jv_cron_parse(cron, &c, e, sizeof e) < 0) {
		snprintf(err, errlen, "cron: %s", e);
		return -1;
	}
	int k = 0;
	while (k < n) {
		int64_t next;
		if (jv_cron_next(c, tz, after, &next, e, sizeof e) < 0) {
			if (k == 0) {
				snprintf(err, errlen, "%s", e);
				k = -1;
			}
			break;
		}
		out[k++] = next;
		after = next;
	}
	jv_cron_free(c);
	return k;
}

/* ------------------------------------------------------------ sync */

static const char sql_upsert[] =
    "INSERT INTO jobvisor.schedules AS s (name, cron, timezone, type, payload, user_id, "
    "  priority, max_attempts, catch_up, jitter_seconds, enabled, source, next_run_at, queue) "
    "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::int, $8::int, $9, $10::int, $11::boolean, "
    "  'config', to_timestamp($12::bigint), $13) "
    "ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, "
    "  type = EXCLUDED.type, payload = EXCLUDED.payload, user_id = EXCLUDED.user_id, "
    "  priority = EXCLUDED.priority, max_attempts = EXCLUDED.max_attempts, "
    "  catch_up = EXCLUDED.catch_up, jitter_seconds = EXCLUDED.jitter_seconds, "
    "  enabled = EXCLUDED.enabled, source = 'config', queue = EXCLUDED.queue, "
    "  updated_at = now(), "
    /* A new cron or zone, or a resume: runs count from now, not from the
     * old next_run_at (no catch-up of runs that the old cron, or a paused
     * schedule, would have had). */
    "  next_run_at = CASE WHEN s.cron <> EXCLUDED.cron OR s.timezone <> EXCLUDED.timezone "
    "    OR s.next_run_at IS NULL OR (EXCLUDED.enabled AND NOT s.enabled) "
    "    THEN EXCLUDED.next_run_at ELSE s.next_run_at END "
    "WHERE (s.cron, s.timezone, s.type, s.payload, s.user_id, s.priority, s.max_attempts, "
    "  s.catch_up, s.jitter_seconds, s.enabled, s.source, s.queue) IS DISTINCT FROM "
    "  (EXCLUDED.cron, EXCLUDED.timezone, EXCLUDED.type, EXCLUDED.payload, EXCLUDED.user_id, "
    "  EXCLUDED.priority, EXCLUDED.max_attempts, EXCLUDED.catch_up, EXCLUDED.jitter_seconds, "
    "  EXCLUDED.enabled, 'config', EXCLUDED.queue) OR s.next_run_at IS NULL";

int jv_sched_sync(struct pg_conn *conn, const struct jv_config *cfg, char *err, size_t errlen)
{
	char e[512];
	long long now = 0;
	int isnull = 0;
	json_t *names = json_array();
	int rc = -1, unknown_queue = 0;
	/* Processors starting together sync one after the other. */
	if (jv_db_exec(conn, "BEGIN", 0, NULL, err, errlen) < 0) {
		json_decref(names);
		return -1;
	}
	if (jv_db_exec(conn, "SELECT pg_advisory_xact_lock(hashtext('jobvisor.schedules sync'))", 0,
		       NULL, err, errlen) < 0 ||
	    jv_db_query_int64(conn, "SELECT floor(extract(epoch FROM now()))::bigint", 0, NULL, &now,
			      &isnull, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < cfg->n_schedules; i++) {
		const struct jv_schedule_cfg *sc = &cfg->schedules[i];
		const char *tz = sc->timezone ? sc->timezone : "UTC";
		json_array_append_new(names, json_string(sc->name));
		if (jv_sched_check(sc->cron, tz, e, sizeof e) < 0) {
			jv_log(JV_ERROR, "schedules[%zu] (%s): %s; the schedule is left as it was", i,
			       sc->name, e);
			continue;
		}
		int64_t next;
		if (jv_sched_next_runs(sc->cron, tz, (int64_t)now, &next, 1, e, sizeof e) != 1) {
			jv_log(JV_ERROR, "schedules[%zu] (%s): %s; the schedule is left as it was", i,
			       sc->name, e);
			continue;
		}
		char prio[16], maxa[16], jit[16], nx[24];
		snprintf(prio, sizeof prio, "%d", sc->priority);
		/* (0: not given in the config, the jobs' default) */
		snprintf(maxa, sizeof maxa, "%d", sc->max_attempts > 0 ? sc->max_attempts : 3);
		snprintf(jit, sizeof jit, "%d", sc->jitter_seconds);
		snprintf(nx, sizeof nx, "%" PRId64, next);
		const char *p[] = {sc->name,
				   sc->cron,
				   tz,
				   sc->type,
				   sc->payload_json ? sc->payload_json : "{}",
				   sc->user_id,
				   prio,
				   maxa,
				   sc->catch_up ? sc->catch_up : "latest",
				   jit,
				   sc->enabled ? "true" : "false",
				   nx,
				   sc->queue ? sc->queue : "default"};
		/* One bad schedule (a type the database refuses) does not keep
		 * the others from syncing. */
		if (jv_db_exec(conn, "SAVEPOINT sched", 0, NULL, err, errlen) < 0)
			goto out;
		char state[6] = "";
		PGresult *r = jv_db_query(conn, sql_upsert, 13, p, state, e, sizeof e);
		if (!r) {
			/* A queue of the config not stored yet (22023 from the
			 * table's trigger; the config's queues all exist once
			 * stored): the caller syncs again later. */
			if (!strcmp(state, "22023") && sc->queue && !unknown_queue++)
				snprintf(err, errlen, "schedules[%zu] (%s): %s", i, sc->name, e);
			else
				jv_log(JV_ERROR, "schedules[%zu] (%s): %s; the schedule is left as it was",
				       i, sc->name, e);
			if (jv_db_exec(conn, "ROLLBACK TO SAVEPOINT sched", 0, NULL, e, sizeof e) < 0) {
				snprintf(err, errlen, "%s", e);
				goto out;
			}
		} else if (PQclear(r), jv_db_exec(conn, "RELEASE SAVEPOINT sched", 0, NULL, err,
		                                  errlen) < 0) {
			goto out;
		}
	}
	char *js = json_dumps(names, JSON_COMPACT);
	const char *dp[] = {js};
	int d = jv_db_exec(conn,
			   "DELETE FROM jobvisor.schedules WHERE source = 'config' AND name NOT IN "
			   "(SELECT jsonb_array_elements_text($1::jsonb))",
			   1, dp, err, errlen);
	free(js);
	if (d < 0)
		goto out;
	if (jv_db_exec(conn, "COMMIT", 0, NULL, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s", e);
		goto out;
	}
	rc = unknown_queue ? 1 : 0;
out:
	if (rc < 0 && !jv_db_is_broken(conn))
		jv_db_exec(conn, "ROLLBACK", 0, NULL, e, sizeof e);
	json_decref(names);
	return rc;
}

/* ------------------------------------------------------------ ticks */

static const char sql_due[] =
    "SELECT name, cron, timezone, catch_up, jitter_seconds, "
    "  extract(epoch FROM next_run_at)::bigint, extract(epoch FROM now()) "
    "FROM jobvisor.schedules "
    "WHERE enabled AND next_run_at <= now() "
    "ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED";

/* The run's row first: the job is inserted only when the row was. */
static const char sql_run[] =
    "WITH r AS (INSERT INTO jobvisor.schedule_runs (schedule, run_at, processor) "
    "  VALUES ($1, to_timestamp($2::bigint), $3::bigint) ON CONFLICT DO NOTHING "
    "  RETURNING run_at) "
    "INSERT INTO jobvisor.jobs (type, payload, user_id, priority, max_attempts, "
    "  timeout_seconds, scheduled_at, queue) "
    "SELECT s.type, s.payload, s.user_id, s.priority, s.max_attempts, s.timeout_seconds, "
    "  r.run_at + make_interval(secs => $4::int), s.queue "
    "FROM r, jobvisor.schedules s WHERE s.name = $1 RETURNING id";

static const char sql_run_job[] =
    "UPDATE jobvisor.schedule_runs SET job_id = $3::bigint "
    "WHERE schedule = $1 AND run_at = to_timestamp($2::bigint)";

static const char sql_advance[] =
    "UPDATE jobvisor.schedules SET next_run_at = to_timestamp($2::bigint), "
    "  last_run_at = coalesce(to_timestamp($3::bigint), last_run_at), "
    "  last_job_id = coalesce($4::bigint, last_job_id) "
    "WHERE name = $1";

/* Enqueue run t of schedule name: 1 enqueued (*job), 0 already done, -1. */
static int fire(struct jv_scheduler *s, PGconn *db, const char *name, int64_t t, int jitter,
		long long *job, char *err, size_t errlen)
{
	char ts[24], proc[24], jit[16];
	snprintf(ts, sizeof ts, "%" PRId64, t);
	snprintf(proc, sizeof proc, "%" PRId64, s->processor_id);
	int j = jitter > 0 ? (int)(rand_r(&s->seed) % ((unsigned)jitter + 1)) : 0;
	snprintf(jit, sizeof jit, "%d", j);
	const char *p[] = {name, ts, proc, jit};
	PGresult *r = jv_db_query(db, sql_run, 4, p, NULL, err, errlen);
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	*job = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	const char *u[] = {name, ts, PQgetvalue(r, 0, 0)};
	int rc = jv_db_exec(db, sql_run_job, 3, u, err, errlen);
	PQclear(r);
	return rc < 0 ? -1 : 1;
}

/* The runs of one schedule that are due: from t, each next one up to now.
 * Only the latest cap are kept, in a ring; total counts them all. */
struct due_runs {
	int64_t *runs; /* the ring; caller frees */
	size_t cap, head, n;
	uint64_t total;
	int64_t next; /* the first run after now */
	int ended;    /* the expression has no run after the last one (err says why) */
};

static int64_t due_at(const struct due_runs *d, size_t i)
{
	return d->runs[(d->head + i) % d->cap];
}

static void due_runs(const struct jv_cron *c, const char *tz, int64_t t, int64_t now,
		     struct due_runs *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	d->cap = JV_SCHED_CATCH_UP_MAX + 64;
	d->runs = jv_calloc(d->cap, sizeof *d->runs);
	int64_t next = t;
	int jumped = 0;
	while (next <= now) {
		if (d->n < d->cap) {
			d->runs[(d->head + d->n) % d->cap] = next;
			d->n++;
		} else {
			d->runs[d->head] = next;
			d->head = (d->head + 1) % d->cap;
		}
		d->total++;
		if (d->total == SCHED_MAX_STEPS && !jumped) {
			/* A long downtime of a frequent schedule: rather than step
			 * through every run, jump to where the last 2 * cap runs
			 * start (at the average period so far); the runs jumped
			 * over are skipped, counted by that estimate. */
			int64_t period = (next - t) / (int64_t)d->total;
			int64_t from = now - (period > 0 ? period : 1) * 2 * (int64_t)d->cap;
			if (from > next) {
				d->total += (uint64_t)((from - next) / (period > 0 ? period : 1));
				next = from;
			}
			jumped = 1;
		}
		if (jv_cron_next(c, tz, next, &next, err, errlen) < 0) {
			d->ended = 1;
			break;
		}
	}
	d->next = next;
}

/* Which of d's runs to fire: the index of the first one (the rest follow);
 * on time (within the grace) always, missed ones by catch_up ("all": at
 * most JV_SCHED_CATCH_UP_MAX, "latest": one, "none"). *missed gets the
 * number of runs missed, *skipped those of them not fired. */
static size_t first_to_fire(const struct due_runs *d, int64_t now, const char *catch_up,
			    uint64_t *missed, uint64_t *skipped)
{
	size_t first_on_time = d->n;
	for (size_t i = 0; i < d->n; i++)
		if (due_at(d, i) >= now - JV_SCHED_GRACE_S) {
			first_on_time = i;
			break;
		}
	*missed = d->total - (d->n - first_on_time);
	size_t from;
	if (!strcmp(catch_up, "all"))
		from = first_on_time > JV_SCHED_CATCH_UP_MAX ? first_on_time - JV_SCHED_CATCH_UP_MAX : 0;
	else if (!strcmp(catch_up, "none"))
		from = first_on_time;
	else /* latest */
		from = first_on_time > 0 ? first_on_time - 1 : 0;
	*skipped = *missed - (first_on_time - from);
	return from;
}

/* A schedule whose stored expression no longer parses (checked when
 * stored; a newer parser may disagree) is disabled. 0 or -1. */
static int pause_schedule(PGconn *db, const char *name, const char *why, char *err, size_t errlen)
{
	jv_log(JV_ERROR, "scheduler: schedule %s: cron: %s; paused", name, why);
	const char *p[] = {name};
	return jv_db_exec(db, "UPDATE jobvisor.schedules SET enabled = false WHERE name = $1", 1, p,
			  err, errlen) < 0
		       ? -1
		       : 0;
}

/* Fire schedule name's due runs d[from..n) and move it on to d->next
 * (or disable it when d->ended). 0 or -1 (err says why). */
static int fire_due(struct jv_scheduler *s, PGconn *db, const char *name, const char *catch_up,
		    int jitter, const struct due_runs *d, size_t from, uint64_t missed,
		    uint64_t skipped, char *err, size_t errlen)
{
	uint64_t fired = 0, dup = 0;
	int64_t last_run = 0;
	long long last_job = 0;
	char ended_why[512];
	snprintf(ended_why, sizeof ended_why, "%s", err); /* (due_runs' reason, when ended) */
	for (size_t i = from; i < d->n; i++) {
		int64_t rt = due_at(d, i);
		long long job = 0;
		int f = fire(s, db, name, rt, jitter, &job, err, errlen);
		if (f < 0)
			return -1;
		if (f == 0) {
			dup++;
			continue;
		}
		fired++;
		last_run = rt;
		last_job = job;
	}
	if (skipped > 0)
		jv_log(JV_WARNING,
		       "scheduler: schedule %s: %" PRIu64 " missed run%s skipped (catch_up %s)", name,
		       skipped, skipped == 1 ? "" : "s", catch_up);
	if (missed > 0 && fired > 0)
		jv_log(JV_INFO, "scheduler: schedule %s: caught up %" PRIu64 " of %" PRIu64
			       " missed run%s", name, missed - skipped, missed, missed == 1 ? "" : "s");
	if (dup > 0)
		jv_log(JV_DEBUG, "scheduler: schedule %s: %" PRIu64 " run%s already enqueued", name,
		       dup, dup == 1 ? "" : "s");
	char nx[24], lr[24], lj[24];
	snprintf(nx, sizeof nx, "%" PRId64, d->next);
	snprintf(lr, sizeof lr, "%" PRId64, last_run);
	snprintf(lj, sizeof lj, "%lld", last_job);
	if (d->ended)
		jv_log(JV_WARNING, "scheduler: schedule %s: %s; it will not run again until changed",
		       name, ended_why);
	const char *p[] = {name, d->ended ? NULL : nx, fired ? lr : NULL, fired ? lj : NULL};
	if (jv_db_exec(db, sql_advance, 4, p, err, errlen) < 0)
		return -1;
	if (fired)
		jv_log(JV_DEBUG, "scheduler: schedule %s: %" PRIu64 " job%s enqueued, last %lld", name,
		       fired, fired == 1 ? "" : "s", last_job);
	return 0;
}

/* One due schedule, in its own transaction: 1 handled one, 0 none due,
 * -1 error (rolled back). */
static int tick_one(struct jv_scheduler *s, PGconn *db)
{
	char err[512];
	if (jv_db_exec(db, "BEGIN", 0, NULL, err, sizeof err) < 0) {
		jv_log(JV_WARNING, "scheduler: %s", err);
		return -1;
	}
	int rc = 0;
	PGresult *r = jv_db_query(db, sql_due, 0, NULL, NULL, err, sizeof err);
	if (!r) {
		rc = -1;
	} else if (PQntuples(r) == 1) {
		const char *name = PQgetvalue(r, 0, 0), *cron = PQgetvalue(r, 0, 1);
		const char *tz = PQgetvalue(r, 0, 2), *catch_up = PQgetvalue(r, 0, 3);
		int jitter = (int)strtol(PQgetvalue(r, 0, 4), NULL, 10);
		int64_t t = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
		int64_t now = (int64_t)strtod(PQgetvalue(r, 0, 6), NULL); /* due: at or before */
		struct jv_cron *c = NULL;
		char why[512];
		if (jv_cron_parse(cron, &c, why, sizeof why) < 0) {
			rc = pause_schedule(db, name, why, err, sizeof err) < 0 ? -1 : 1;
		} else {
			struct due_runs d;
			uint64_t missed, skipped;
			err[0] = '\0';
			due_runs(c, tz, t, now, &d, err, sizeof err);
			size_t from = first_to_fire(&d, now, catch_up, &missed, &skipped);
			rc = fire_due(s, db, name, catch_up, jitter, &d, from, missed, skipped, err,
				      sizeof err) < 0
				 ? -1
				 : 1;
			free(d.runs);
		}
		jv_cron_free(c);
	}
	PQclear(r);
	if (rc < 0) {
		jv_log(JV_WARNING, "scheduler: %s", err);
		if (!jv_db_is_broken(db))
			jv_db_exec(db, "ROLLBACK", 0, NULL, err, sizeof err);
		return -1;
	}
	if (jv_db_exec(db, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		jv_log(JV_WARNING, "scheduler: %s", err);
		return -1;
	}
	return rc;
}

/* Milliseconds until the next due run (at most SCHED_TICK_MS). */
static uint64_t until_next(PGconn *db)
{
	char err[256];
	long long ms = SCHED_TICK_MS;
	int isnull = 1;
	if (jv_db_query_int64(db,
			      "SELECT ceil(extract(epoch FROM min(next_run_at) - clock_timestamp()) "
			      "* 1000)::bigint FROM jobvisor.schedules WHERE enabled",
			      0, NULL, &ms, &isnull, err, sizeof err) < 0 ||
	    isnull || ms > SCHED_TICK_MS)
		return SCHED_TICK_MS;
	return ms < 0 ? 0 : (uint64_t)ms + 5;
}

static void *sched_main(void *arg)
{
	struct jv_scheduler *s = arg;
	PGconn *db = NULL;
	int synced = 0; /* 1 just now, 2 said so */
	uint64_t sync_at = 0, queue_wait = 0;
	/* Two timers on one thread: the schedules' next tick, and the next
	 * retention batch (retention.h). */
	uint64_t backoff = 1000, wake = mono_ms(), tick_at = mono_ms(), purge_at = mono_ms();
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->stopping && mono_ms() < wake) {
			uint64_t ms = wake - mono_ms();
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(ms / 1000);
			ts.tv_nsec += (long)(ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		int stopping = s->stopping;
		pthread_mutex_unlock(&s->lock);
		if (stopping)
			break;
		if (!db || PQstatus(db) != CONNECTION_OK || jv_db_is_broken(db)) {
			if (db)
				PQfinish(db);
			char err[512];
			db = jv_db_connect(s->cfg->database.url, "jobvisor-scheduler", err, sizeof err);
			if (!db) {
				jv_log(JV_WARNING, "scheduler: cannot connect (retrying in %" PRIu64
						   " s): %s", backoff / 1000, err);
				wake = mono_ms() + backoff;
				backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
				continue;
			}
			backoff = 1000;
		}
		if (!synced && mono_ms() >= sync_at) {
			char err[512];
			int r = jv_sched_sync(db, s->cfg, err, sizeof err);
			if (r < 0) {
				jv_log(JV_ERROR, "scheduler: cannot sync the config's schedules: %s", err);
				wake = mono_ms() + backoff;
				backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
				continue;
			}
			if (r > 0) {
				/* The others are synced and ticks go on; this one again
				 * soon (a reload stores the queues with the next
				 * heartbeat). */
				if (!queue_wait)
					jv_log(JV_INFO, "scheduler: %s; synced again once the config's "
							"queues are stored", err);
				else if (queue_wait >= 30000)
					jv_log(JV_WARNING, "scheduler: %s; still waiting for it", err);
				queue_wait = queue_wait ? (queue_wait * 2 > 30000 ? 30000 : queue_wait * 2)
							: 500;
				sync_at = mono_ms() + queue_wait;
			}
			synced = r == 0;
		}
		if (synced == 1) {
			synced = 2; /* (said once) */
			if (s->cfg->n_schedules)
				jv_log(JV_INFO, "scheduler: %zu schedule%s from the config synced",
				       s->cfg->n_schedules, s->cfg->n_schedules == 1 ? "" : "s");
		}
		if (mono_ms() >= tick_at) {
			int handled = 0, r = 0;
			while (handled < SCHED_BATCH && (r = tick_one(s, db)) > 0)
				handled++;
			if (r < 0)
				tick_at = mono_ms() + SCHED_TICK_MS;
			else
				tick_at = mono_ms() + (handled >= SCHED_BATCH ? 0 : until_next(db));
		}
		if (mono_ms() >= purge_at && !jv_db_is_broken(db))
			purge_at = mono_ms() + jv_retention_run(s->retention, db, mono_ms());
		wake = tick_at < purge_at ? tick_at : purge_at;
		if (!synced && sync_at < wake)
			wake = sync_at;
	}
	if (db) {
		if (PQstatus(db) == CONNECTION_OK && !jv_db_is_broken(db))
			jv_retention_release(s->retention, db);
		PQfinish(db);
	}
	return NULL;
}

/* ------------------------------------------------------------ life cycle */

struct jv_scheduler *jv_scheduler_start(const struct jv_config *cfg, int64_t processor_id)
{
	if (!cfg)
		return NULL;
	struct jv_scheduler *s = jv_calloc(1, sizeof *s);
	s->cfg = cfg;
	s->processor_id = processor_id;
	s->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)processor_id;
	s->retention = jv_retention_new(cfg, processor_id);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The thread takes no signals: serve's loop handles them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&s->thread, NULL, sched_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		jv_log(JV_ERROR, "scheduler: cannot start its thread: %s", strerror(e));
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		jv_retention_free(s->retention);
		free(s);
		return NULL;
	}
	s->started = 1;
	return s;
}

void jv_scheduler_stop(struct jv_scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	jv_retention_free(s->retention);
	free(s);
}

/*
 * serve.c -- `jobvisor serve`: the supervisor's main loop.
 *
 * One thread owns everything here: two database connections, the worker
 * pool and the signals. It sleeps in poll() on the signalfd, both database
 * sockets, every worker's socket and the thread pool's eventfd.
 *
 * The database work is asynchronous, on two connections, so it never stalls
 * the loop and runs on two PostgreSQL backends at once:
 *   - the claim connection LISTENs on jobvisor_jobs and has at most one
 *     claim in flight; a claim is sent when there are free slots and reason
 *     to think work is due (a notification, a full last batch, the next due
 *     time the last claim reported, a completion that freed a user's slot,
 *     or the poll interval as a fallback). A burst of notifications costs
 *     one claim, not one per insert.
 *   - the completion connection has at most one completion in flight,
 *     carrying every attempt that finished since the last one was sent; the
 *     longer a round trip takes, the bigger the next batch. Heartbeat and
 *     rescue run on it between completions.
 *
 * max_concurrent_jobs + prefetch bounds what the database shows running for
 * this processor: jobs executing, jobs claimed ahead and waiting for a slot
 * (prefetch, 0 by default), and finished ones not yet recorded. With
 * batch_size below that, one batch is recorded while the next is claimed and
 * run, on the two connections at once.
 *
 * The database going away stops claiming, never running: jobs in flight go
 * on, their results wait in memory, and the loop reconnects with backoff and
 * catches up; a completion that was in flight is sent again (fencing makes
 * a repeat harmless).
 */
#include "autoconf.h"

#include "alert.h"
#include "api.h"
#include "bridge.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "fdlimit.h"
#include "host.h"
#include "sizelimits.h"
#include "jsontext.h"
#include "loader.h"
#include "log.h"
#include "scheduler.h"
#include "mem.h"
#include "notify.h"
#include "privs.h"
#include "stats.h"
#include "store.h"
#include "worker.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* At most this many finished attempts per completion round trip. */
#define JV_COMPLETE_MAX 2000
/* How long a finished attempt may wait for others to share its round trip. */
#define JV_COALESCE_MS 2

/* One database connection with at most one query in flight. */
struct chan {
	PGconn *conn;
	int busy;               /* a query is in flight */
	int heartbeat;          /* completion channel: the query is a heartbeat */
	struct jv_done *batch;  /* completion channel: the attempts in flight */
	size_t n_batch;
	int slots;              /* claim channel: slots asked for */
};

struct serve {
	const char *config_path;
	struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_runtime *rt;
	char *types; /* text[] literal of the configured job types */

	struct chan lc; /* LISTEN and claims */
	struct chan cc; /* completions, heartbeat, rescue */
	int64_t id;     /* our processors.id */
	char hostname[256];

	struct jv_pool pool;
	struct jv_tpool *tp; /* NULL when no executor runs in threads */
	struct old_gen *old; /* replaced by reloads, thread jobs still running */
	int sfd;

	int inflight;     /* claimed and not yet finished executing */
	int want_claim;   /* reason to think work is due */
	int draining;     /* SIGTERM/SIGINT: stop claiming, finish, exit */
	int released;     /* the grace period ran out and the rest was released */
	int releasing;    /* ... and running executors were told to stop */
	int paused;
	struct jv_alerter *alerter; /* NULL: no alert sinks */
	struct jv_bridge *bridge;   /* the API's way in */
	struct jv_api *api;         /* NULL: no api: section */
	struct jv_scheduler *sched; /* NULL: no schedules to run */
	int batch_size;             /* processor.batch_size, or as retuned by the API */
	int max_concurrent;         /* processor.max_concurrent_jobs, likewise */
	int prefetch;               /* processor.prefetch */
	/* Claimed ahead (prefetch), waiting for a free slot, oldest first. */
	struct jv_claimed *queue;
	size_t n_queued, cap_queued;
	/* No worker process could be had for the job at the head of the queue
	 * (see wait_for_worker): not tried again before worker_wait_until. */
	uint64_t worker_wait_until; /* 0: none waits so */
	uint64_t worker_backoff;
	uint64_t worker_wait_since;
	uint64_t worker_warned_at;  /* the last warning about it: one a minute at most */
	int worker_warned;          /* this shortage was logged */
	struct rlimit nofile_before; /* RLIMIT_NOFILE as found, for the workers */
	uint64_t n_reconnects;
	uint64_t next_publish;      /* when the API's snapshot is next refreshed */
	int64_t started_unix_ms;
	int64_t last_heartbeat_unix_ms;
	uint64_t started_mono_ms, last_heartbeat_mono_ms; /* for ages: see bridge.h */
	int64_t *drop;              /* jobs cancelled by the API: their results are not */
	size_t n_drop, cap_drop;    /* recorded (the API recorded the cancellation) */
	char *label;      /* "NAME (id N, host H, pid P)", in alerts */
	uint64_t drain_deadline;
	uint64_t next_heartbeat;
	uint64_t next_poll;
	uint64_t next_due;      /* 0: none known */
	uint64_t next_reconnect;
	uint64_t reconnect_delay;
	uint64_t lost_at;
	char reconnect_why[512];    /* why the last reconnect failed, logged once */
	uint64_t complete_retry_at; /* after a failed completion: not before */
	uint64_t first_done_at;     /* when the oldest unsent result arrived */
	uint64_t next_status;       /* systemd: when STATUS= is next looked at */

	struct jv_done *done; /* finished, not yet sent */
	size_t n_done, cap_done;

	/* counters, for the log line at exit */
	uint64_t n_claimed, n_completed, n_stale;
	uint64_t n_claim_queries, n_complete_queries;
};

/*
 * A configuration that a reload replaced while jobs still ran on its
 * threads. They use its executor instances, so it lives on until the last
 * of them ends (collect_thread_results); the loop, its heartbeats and the
 * watchdog go on meanwhile. Waiting for them in reload() stalled the
 * heartbeat for as long as the longest thread job, long enough for other
 * processors to take this one for dead and rescue its running jobs.
 */
struct old_gen {
	struct jv_tpool *tp;
	struct jv_runtime *rt;
	struct jv_plugins *plugins;
	struct jv_config *cfg;
	struct old_gen *next;
};

static void old_gen_free(struct old_gen *g, struct serve *s);

static void usage(FILE *f)
{
	fprintf(f, "usage: jobvisor serve [-c FILE]\n\n"
		   "Run the supervisor in the foreground: claim due jobs, run them through\n"
		   "their executors, record every attempt. SIGTERM/SIGINT stop it gracefully,\n"
		   "SIGHUP reloads the config file.\n\n"
		   "  -c, --config FILE   the config (default: $JOBVISOR_CONFIG, then the\n"
		   "                      installed jobvisor.yaml)\n"
		   "  -h, --help          this text\n");
}

static enum jv_level level_of(const char *s)
{
	if (!s)
		return JV_INFO;
	if (!strcmp(s, "error"))
		return JV_ERROR;
	if (!strcmp(s, "warning"))
		return JV_WARNING;
	if (!strcmp(s, "debug"))
		return JV_DEBUG;
	return JV_INFO;
}

static void apply_log_config(const struct jv_config *cfg)
{
	jv_log_setup(level_of(cfg->log.level),
		     cfg->log.format && !strcmp(cfg->log.format, "json") ? JV_LOG_JSON : JV_LOG_TEXT);
}

/* The text[] literal of the configured job types, for the claim. */
static char *types_literal(const struct jv_config *cfg)
{
	struct jv_buf b = {0};
	jv_buf_puts(&b, "{");
	for (size_t i = 0; i < cfg->n_executors; i++) {
		if (i)
			jv_buf_puts(&b, ",");
		jv_buf_puts(&b, "\"");
		for (const char *p = cfg->executors[i].name; *p; p++) {
			if (*p == '"' || *p == '\\')
				jv_buf_puts(&b, "\\");
			jv_buf_append(&b, p, 1);
		}
		jv_buf_puts(&b, "\"");
	}
	jv_buf_puts(&b, "}");
	return jv_buf_steal(&b);
}

/* Load config, plugins and instances from path. On error logs it and
 * returns non-zero, leaving the outputs untouched. */
static int load_all(const char *path, struct jv_config **cfgp, struct jv_plugins **plugp,
		    struct jv_runtime **rtp)
{
	char err[1024];
	struct jv_config *cfg;
	if (jv_config_load(path, &cfg, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		return JV_ECONFIG;
	}
	/* Before any plugin, worker or thread: what the config reads from the
	 * environment leaves it (at a reload this only warns). */
	jv_config_env_seal(cfg);
	struct jv_plugins *plugins;
	if (jv_plugins_load_dir(cfg->plugins.dir, &plugins, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		jv_config_free(cfg);
		return JV_EPLUGIN;
	}
	struct jv_runtime *rt;
	if (jv_runtime_create(cfg, plugins, &rt, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		jv_plugins_free(plugins);
		jv_config_free(cfg);
		return JV_ECONFIG;
	}
	*cfgp = cfg;
	*plugp = plugins;
	*rtp = rt;
	return 0;
}

static int executor_index(const struct serve *s, const char *type)
{
	for (size_t i = 0; i < s->cfg->n_executors; i++)
		if (!strcmp(s->cfg->executors[i].name, type))
			return (int)i;
	return -1;
}

static int any_thread_executor(const struct jv_config *cfg)
{
	for (size_t i = 0; i < cfg->n_executors; i++)
		if (cfg->executors[i].isolation == JV_ISOLATION_THREAD)
			return 1;
	return 0;
}

/* The thread pool's size for `isolation: thread` executors. */
static int thread_count(const struct jv_config *cfg)
{
	int n = cfg->processor.threads;
	if (n <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		n = (int)(cores > 0 ? cores : 1) * 4;
	}
	return n < cfg->processor.max_concurrent_jobs ? n : cfg->processor.max_concurrent_jobs;
}

/* Worker processes are needed only for executors that run in them. */
static int process_workers(const struct jv_config *cfg)
{
	for (size_t i = 0; i < cfg->n_executors; i++)
		if (cfg->executors[i].isolation == JV_ISOLATION_PROCESS)
			return cfg->processor.max_concurrent_jobs;
	return 0;
}

/* In each new worker process: let go of what belongs to the supervisor. */
static void child_setup(void *arg)
{
	struct serve *s = arg;
	if (s->lc.conn && PQsocket(s->lc.conn) >= 0)
		close(PQsocket(s->lc.conn));
	if (s->cc.conn && PQsocket(s->cc.conn) >= 0)
		close(PQsocket(s->cc.conn));
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tp)
		close(jv_tpool_fd(s->tp));
	for (const struct old_gen *g = s->old; g; g = g->next)
		close(jv_tpool_fd(g->tp));
	/* The descriptor limit serve found: what serve raised it to is for its
	 * own connections, and the programs jobs start expect the usual one. */
	setrlimit(RLIMIT_NOFILE, &s->nofile_before);
}

/* ------------------------------------------------------------ database */

static int connected(const struct serve *s) { return s->lc.conn && s->cc.conn; }

/* Put a completion batch that may not have been recorded back in line. */
static void requeue_batch(struct serve *s)
{
	for (size_t i = 0; i < s->cc.n_batch; i++)
		jv_done_push(&s->done, &s->n_done, &s->cap_done, &s->cc.batch[i]);
	free(s->cc.batch);
	s->cc.batch = NULL;
	s->cc.n_batch = 0;
}

static void close_chan(struct chan *c)
{
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	c->busy = 0;
	c->heartbeat = 0;
}

/* Jobs claimed ahead are not started once we are cut off from their
 * database: other processors may rescue them meanwhile. They stay locked by
 * us there until release_unheld() (not holding them) gives them back. */
static void give_back_queue(struct serve *s)
{
	if (s->n_queued == 0)
		return;
	jv_log(JV_WARNING, "%zu jobs claimed ahead are given back, not started", s->n_queued);
	for (size_t i = 0; i < s->n_queued; i++)
		jv_claimed_free(&s->queue[i]);
	s->n_queued = 0;
}

static void db_lost(struct serve *s, const char *what, const char *err)
{
	if (!s->lc.conn && !s->cc.conn)
		return;
	jv_log(JV_ERROR, "database connection lost (%s: %s); jobs keep running, reconnecting",
	       what, err);
	requeue_batch(s);
	give_back_queue(s); /* release_unheld() at the reconnect */
	close_chan(&s->lc);
	close_chan(&s->cc);
	s->lost_at = jv_now_ms();
	s->reconnect_delay = 100;
	s->next_reconnect = s->lost_at + s->reconnect_delay;
}

/* After a failed query: a broken connection is handled here (1), any other
 * error is the caller's to log (0). */
static int check_lost(struct serve *s, PGconn *conn, const char *what, const char *err)
{
	if (conn && jv_db_is_broken(conn)) {
		db_lost(s, what, err);
		return 1;
	}
	return 0;
}

static int db_connect(struct serve *s, char *err, size_t errlen)
{
	PGconn *l = jv_db_connect(s->cfg->database.url, "jobvisor serve", err, errlen);
	if (!l)
		return JV_EDB;
	if (jv_db_exec(l, "LISTEN " JV_DB_NOTIFY_CHANNEL, 0, NULL, err, errlen) != 0 ||
	    jv_db_exec(l, "LISTEN " JV_DB_CANCEL_CHANNEL, 0, NULL, err, errlen) != 0 ||
	    jv_db_exec(l, "LISTEN " JV_DB_CONTROL_CHANNEL, 0, NULL, err, errlen) != 0) {
		PQfinish(l);
		return JV_EDB;
	}
	PGconn *c = jv_db_connect(s->cfg->database.url, "jobvisor serve", err, errlen);
	if (!c) {
		PQfinish(l);
		return JV_EDB;
	}
	s->lc.conn = l;
	s->cc.conn = c;
	s->lc.busy = s->cc.busy = 0;
	return 0;
}

/*
 * A claim in flight when the connection broke may have committed: its jobs
 * are running under our id, and we never heard of them. Tell the database
 * which jobs we do hold (running, or finished and not yet recorded); the
 * rest go back to pending.
 */
static void release_unheld(struct serve *s)
{
	struct jv_buf held = {0};
	jv_buf_puts(&held, "{");
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].busy)
			jv_buf_printf(&held, "%lld,", (long long)s->pool.w[i].job_id);
	if (s->tp)
		jv_tpool_ids(s->tp, &held);
	for (const struct old_gen *g = s->old; g; g = g->next)
		jv_tpool_ids(g->tp, &held);
	/* (Nothing claimed ahead: db_lost() gave those back.) */
	for (size_t i = 0; i < s->n_done; i++)
		jv_buf_printf(&held, "%lld,", (long long)s->done[i].id);
	if (held.data[held.len - 1] == ',')
		held.len--;
	jv_buf_puts(&held, "}");
	char err[512];
	int released = 0;
	if (jv_store_release_unheld(s->cc.conn, s->id, held.data, &released, err, sizeof err) != 0)
		jv_log(JV_ERROR, "after reconnecting, could not release unknown claims: %s", err);
	else if (released > 0)
		jv_log(JV_WARNING,
		       "released %d jobs claimed by a claim whose answer was lost with the "
		       "connection (back to pending, attempt not counted)",
		       released);
	jv_buf_free(&held);
}

static void try_reconnect(struct serve *s, uint64_t now)
{
	char err[512];
	if (db_connect(s, err, sizeof err) != 0) {
		s->reconnect_delay = s->reconnect_delay * 2 > 5000 ? 5000 : s->reconnect_delay * 2;
		s->next_reconnect = now + s->reconnect_delay;
		/* A reason that needs an operator (a role's connection limit,
		 * max_connections, a password) must reach the log, but once, not
		 * at every retry. */
		if (strcmp(err, s->reconnect_why) != 0)
			jv_log(JV_WARNING, "cannot reconnect to the database yet, retrying: %s", err);
		else
			jv_debug("reconnect failed: %s", err);
		snprintf(s->reconnect_why, sizeof s->reconnect_why, "%s", err);
		return;
	}
	s->reconnect_why[0] = '\0';
	jv_log(JV_INFO, "database connection back after %llu ms",
	       (unsigned long long)(now - s->lost_at));
	s->n_reconnects++;
	release_unheld(s);
	s->want_claim = 1;
	s->next_heartbeat = now; /* say we are alive at once */
	s->complete_retry_at = 0;
}

/* ------------------------------------------------------------ jobs */

static void finished(struct serve *s, size_t from)
{
	/* Called after new entries were appended to s->done at [from, n). */
	if (from == 0 && s->n_done > 0)
		s->first_done_at = jv_now_ms();
	for (size_t i = from; i < s->n_done; i++) {
		s->inflight--;
		jv_stats_finished(s->done[i].type, jv_end_outcome(s->done[i].end),
				  s->done[i].duration_ms);
	}
	if (s->inflight < 0)
		s->inflight = 0;
	/* Cancelled through the API meanwhile: the API recorded the outcome;
	 * what the run says now is not wanted. */
	for (size_t i = from; i < s->n_done && s->n_drop > 0;) {
		size_t k = 0;
		while (k < s->n_drop && s->drop[k] != s->done[i].id)
			k++;
		if (k == s->n_drop) {
			i++;
			continue;
		}
		jv_log(JV_INFO, "job %" PRId64 " attempt %d stopped: cancelled", s->done[i].id,
		       s->done[i].attempt);
		s->drop[k] = s->drop[--s->n_drop];
		jv_done_free(&s->done[i]);
		s->done[i] = s->done[--s->n_done];
	}
	if (s->n_done == 0)
		s->first_done_at = 0;
}

static void collect_thread_results(struct serve *s)
{
	size_t from = s->n_done;
	if (s->tp)
		jv_tpool_collect(s->tp, &s->done, &s->n_done, &s->cap_done);
	for (struct old_gen **pp = &s->old; *pp;) {
		struct old_gen *g = *pp;
		jv_tpool_collect(g->tp, &s->done, &s->n_done, &s->cap_done);
		if (jv_tpool_inflight(g->tp) > 0) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		old_gen_free(g, s);
		jv_log(JV_INFO, "the thread jobs of the previous configuration have ended");
	}
	finished(s, from);
}

/* Wait for its threads (their results into s->done, for the caller's
 * finished()), then free the generation. */
static void old_gen_free(struct old_gen *g, struct serve *s)
{
	jv_tpool_free(g->tp, &s->done, &s->n_done, &s->cap_done);
	jv_runtime_free(g->rt);
	jv_plugins_free(g->plugins);
	jv_config_free(g->cfg);
	free(g);
}

/* At shutdown: every old generation, after its running jobs (told to stop
 * first when cancel). */
static void old_gens_free(struct serve *s, int cancel)
{
	while (s->old) {
		struct old_gen *g = s->old;
		s->old = g->next;
		if (cancel)
			jv_tpool_cancel_all(g->tp);
		old_gen_free(g, s);
	}
}

/* Log what a completion round trip did. Returns the number applied. */
/* Alerts about attempts just recorded: done[0..n_done) as sent, applied[0..n)
 * as answered (usually in the same order). */
static void raise_job_alerts(struct serve *s, const struct jv_done *done, size_t n_done,
			     const struct jv_applied *applied, size_t n)
{
	int want_failed = jv_alerter_wants(s->alerter, JV_EV_JOB_FAILED);
	int want_timed_out = jv_alerter_wants(s->alerter, JV_EV_JOB_TIMED_OUT);
	int want_retrying = jv_alerter_wants(s->alerter, JV_EV_JOB_RETRYING);
	if (!want_failed && !want_timed_out && !want_retrying)
		return;
	size_t hint = 0;
	for (size_t i = 0; i < n && n_done > 0; i++) {
		const struct jv_applied *a = &applied[i];
		if (!a->applied)
			continue;
		const struct jv_done *d = NULL;
		for (size_t k = 0; k < n_done && !d; k++) {
			size_t j = (hint + k) % n_done;
			if (done[j].id == a->id && done[j].attempt == a->attempt) {
				d = &done[j];
				hint = j + 1;
			}
		}
		if (!d || d->end == JV_END_SUCCEEDED || d->end == JV_END_RELEASED)
			continue;
		struct jv_event ev = {
			.at_ms = jv_unix_ms(),
			.job_id = a->id,
			.job_type = d->type,
			.user_id = d->user_id,
			.attempt = a->attempt,
			.max_attempts = d->max_attempts,
			.error = d->error,
		};
		if (d->end == JV_END_TIMED_OUT && want_timed_out) {
			ev.kind = JV_EV_JOB_TIMED_OUT;
			jv_alerter_raise(s->alerter, &ev);
		}
		if (!strcmp(a->status, "failed") && want_failed) {
			ev.kind = JV_EV_JOB_FAILED;
			if (ev.max_attempts < ev.attempt)
				ev.max_attempts = ev.attempt;
			jv_alerter_raise(s->alerter, &ev);
		} else if (!strcmp(a->status, "pending") && want_retrying) {
			ev.kind = JV_EV_JOB_RETRYING;
			jv_alerter_raise(s->alerter, &ev);
		}
	}
}

static size_t note_applied(struct serve *s, const struct jv_applied *applied, size_t n)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		const struct jv_applied *a = &applied[i];
		if (!a->applied) {
			s->n_stale++;
			jv_log(JV_WARNING,
			       "late result for job %" PRId64 " attempt %d not applied: the job was "
			       "rescued or cancelled meanwhile (recorded as stale in its history)",
			       a->id, a->attempt);
			continue;
		}
		ok++;
		if (!strcmp(a->status, "failed"))
			jv_log(JV_WARNING, "job %" PRId64 " failed after attempt %d", a->id, a->attempt);
		else if (!strcmp(a->status, "pending"))
			jv_debug("job %" PRId64 " attempt %d ends; back to pending", a->id, a->attempt);
	}
	return ok;
}

/*
 * When to send what finished: at once when nothing else is executing (so a
 * lone job is recorded without delay), when a batch's worth is waiting, or
 * when the oldest result has waited JV_COALESCE_MS. Each completion is one
 * commit, so letting results that arrive together travel together is what
 * keeps the cost per job low under load.
 */
static int completion_due(const struct serve *s, uint64_t now)
{
	if (s->n_done == 0)
		return 0;
	if (s->inflight == 0 || s->draining || s->n_done >= (size_t)s->batch_size)
		return 1;
	return now >= s->first_done_at + JV_COALESCE_MS;
}

static void send_completions(struct serve *s, uint64_t now)
{
	if (s->n_done == 0 || s->cc.busy || !s->cc.conn || now < s->complete_retry_at)
		return;
	if (!completion_due(s, now))
		return;
	char err[1024];
	size_t total = s->n_done;
	size_t n = total > JV_COMPLETE_MAX ? JV_COMPLETE_MAX : total;
	if (jv_store_complete_send(s->cc.conn, s->id, s->done, n,
				   s->cfg->processor.retry_base_ms, s->cfg->processor.retry_max_ms,
				   (size_t)s->cfg->history.max_output_bytes, err, sizeof err) != 0) {
		if (!check_lost(s, s->cc.conn, "completing jobs", err)) {
			jv_log(JV_ERROR, "could not send %zu finished jobs: %s (retrying in 1 s)",
			       s->n_done, err);
			s->complete_retry_at = now + 1000;
		}
		return;
	}
	s->n_complete_queries++;
	s->cc.busy = 1;
	s->cc.batch = s->done;
	s->cc.n_batch = n;
	s->done = NULL;
	s->n_done = s->cap_done = 0;
	/* What did not fit in this round trip waits for the next. */
	for (size_t i = n; i < total; i++)
		jv_done_push(&s->done, &s->n_done, &s->cap_done, &s->cc.batch[i]);
}

static void on_completion_result(struct serve *s, PGresult *res, uint64_t now)
{
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK) {
		char err[1024];
		jv_db_format_error(s->cc.conn, res, err, sizeof err);
		if (check_lost(s, s->cc.conn, "completing jobs", err))
			return;
		jv_log(JV_ERROR, "recording %zu finished jobs failed: %s (retrying in 1 s)",
		       s->cc.n_batch, err);
		requeue_batch(s);
		s->complete_retry_at = now + 1000;
		return;
	}
	struct jv_applied *applied;
	size_t n;
	jv_store_complete_parse(res, &applied, &n);
	if (note_applied(s, applied, n) > 0)
		s->want_claim = 1; /* a user's slot may have opened */
	raise_job_alerts(s, s->cc.batch, s->cc.n_batch, applied, n);
	free(applied);
	s->n_completed += s->cc.n_batch;
	for (size_t i = 0; i < s->cc.n_batch; i++)
		jv_done_free(&s->cc.batch[i]);
	free(s->cc.batch);
	s->cc.batch = NULL;
	s->cc.n_batch = 0;
}

static int32_t timeout_ms_for(const struct serve *s, const struct jv_claimed *c, int ex)
{
	int secs = c->timeout_seconds;
	if (secs <= 0 && ex >= 0)
		secs = s->cfg->executors[ex].timeout_seconds;
	if (secs <= 0)
		secs = s->cfg->processor.timeout_seconds;
	return secs > 2000000 ? 2000000000 : secs * 1000;
}

/* A claimed job that will not run now: it ends at once as `end`. */
static void end_now(struct serve *s, const struct jv_claimed *c, enum jv_end end, const char *why)
{
	struct jv_done d = {0};
	d.id = c->id;
	d.attempt = c->attempt;
	d.end = end;
	d.retry_in_ms = -1;
	d.error = jv_strdup(why);
	d.type = jv_strdup(c->type);
	d.user_id = jv_strdup(c->user_id);
	jv_done_push(&s->done, &s->n_done, &s->cap_done, &d);
}

/*
 * No worker process could be had for c: none could be started (socketpair or
 * fork failed: descriptors, memory or processes short), or none is free
 * (they died before taking it, or are being replaced). That is no fault of
 * the job's. It waits here, at the head of
 * the queue, still claimed and its attempt not yet begun (so not counted and
 * nothing recorded), claiming stops (free_slots), and starting it is tried
 * again after a back-off of up to JV_POOL_RETRY_MAX_MS. Said once per
 * shortage (at most once a minute), not at every try. Returns 1.
 */
static int wait_for_worker(struct serve *s, const struct jv_claimed *c, uint64_t now)
{
	s->worker_backoff = s->worker_backoff ? 2 * s->worker_backoff : 100;
	if (s->worker_backoff > JV_POOL_RETRY_MAX_MS)
		s->worker_backoff = JV_POOL_RETRY_MAX_MS;
	s->worker_wait_until = now + s->worker_backoff;
	if (s->worker_wait_since)
		return 1;
	s->worker_wait_since = now;
	const char *why = jv_pool_short(&s->pool);
	if (s->worker_warned_at == 0 || now >= s->worker_warned_at + 60000) {
		jv_log(JV_WARNING,
		       "job %" PRId64 " waits for a worker process (%s%s): not counted as an "
		       "attempt; claiming stops until it starts",
		       c->id, why ? "none could be started: " : "", why ? why : "none is free");
		s->worker_warned_at = now;
		s->worker_warned = 1;
	} else {
		jv_debug("job %" PRId64 " waits for a worker process", c->id);
	}
	return 1;
}

/* A job went to a worker process: whatever waited for one waits no more. */
static void worker_found(struct serve *s, uint64_t now)
{
	if (s->worker_wait_since && s->worker_warned)
		jv_log(JV_INFO, "a worker process took the waiting job after %" PRIu64 " ms; "
		       "claiming again", now - s->worker_wait_since);
	s->worker_wait_until = s->worker_wait_since = s->worker_backoff = 0;
	s->worker_warned = 0;
}

/* Hand one claimed job to a worker. Returns 0 when it started, or ended at
 * once (no executor for its type, released while draining, a payload no
 * executor can take); 1 when it must wait for a worker process
 * (wait_for_worker), the caller keeping it. Nothing claimed is ever lost.
 * c->payload may be rewritten (jv_json_fit_payload). */
static int start_job(struct serve *s, struct jv_claimed *c)
{
	if (s->draining) {
		/* claimed while the stop signal arrived: back it goes */
		end_now(s, c, JV_END_RELEASED, "released at shutdown before it started");
		return 0;
	}
	size_t plen = strlen(c->payload);
	if (plen > JV_PAYLOAD_MAX) {
		/* A row from before the table enforced the limit (sql/008): it
		 * cannot travel to a worker, now or on any retry. */
		char why[160];
		snprintf(why, sizeof why,
			 "payload is too large: %zu bytes as JSON text, the limit is %d bytes", plen,
			 JV_PAYLOAD_MAX);
		jv_log(JV_WARNING, "job %" PRId64 ": %s", c->id, why);
		end_now(s, c, JV_END_PERMANENT, why);
		return 0;
	}
	char unfit[160];
	if (jv_json_fit_payload(&c->payload, unfit, sizeof unfit) != 0) {
		jv_log(JV_WARNING, "job %" PRId64 ": %s", c->id, unfit);
		end_now(s, c, JV_END_PERMANENT, unfit);
		return 0;
	}
	int ex = executor_index(s, c->type);
	/* An executor's max_attempts caps the job's own. */
	int32_t max_attempts = c->max_attempts;
	if (ex >= 0 && s->cfg->executors[ex].max_attempts > 0 &&
	    s->cfg->executors[ex].max_attempts < max_attempts)
		max_attempts = s->cfg->executors[ex].max_attempts;
	struct jv_msg_job m = {
		.id = c->id,
		.attempt = c->attempt,
		.max_attempts = max_attempts,
		.timeout_ms = timeout_ms_for(s, c, ex),
		.max_output = s->cfg->history.max_output_bytes,
		.executor = ex,
		.type = c->type,
		.user_id = c->user_id,
		.payload = c->payload,
	};
	const char *why = NULL;
	if (ex < 0) {
		why = "no executor for this type on this processor";
	} else if (s->cfg->executors[ex].isolation == JV_ISOLATION_THREAD && s->tp) {
		jv_tpool_submit(s->tp, &m);
		s->inflight++;
		return 0;
	} else {
		uint64_t now = jv_now_ms();
		if (s->worker_wait_until && now < s->worker_wait_until)
			return 1; /* not yet: wait_for_worker() */
		for (int tries = 0; tries < 3; tries++) {
			int w = jv_pool_idle(&s->pool);
			if (w < 0) {
				jv_pool_fill(&s->pool);
				w = jv_pool_idle(&s->pool);
			}
			if (w < 0)
				break;
			if (jv_pool_send(&s->pool, w, &m) == 0) {
				worker_found(s, now);
				s->inflight++;
				return 0;
			}
			/* The worker is gone: reap it (nothing of ours was running). */
			size_t from = s->n_done;
			jv_pool_on_readable(&s->pool, w, &s->done, &s->n_done, &s->cap_done);
			finished(s, from);
		}
		return wait_for_worker(s, c, now);
	}
	jv_log(JV_ERROR, "job %" PRId64 ": %s", c->id, why);
	end_now(s, c, JV_END_CRASHED, why);
	return 0;
}

/* start_job(), counting the job as claimed once it no longer waits here. */
static int dispatch(struct serve *s, struct jv_claimed *c)
{
	if (start_job(s, c) != 0)
		return 1;
	s->n_claimed++;
	jv_stats_claimed(c->type);
	return 0;
}

/*
 * Start what was claimed ahead (processor.prefetch) as slots free up,
 * oldest first; while draining, each goes back at once (dispatch() releases
 * it, attempt not counted). A job waits here already claimed -- running, as
 * the database and the per-user limit see it -- which is what lets one
 * round trip claim more jobs than there are free slots. A job that waits for
 * a worker process (wait_for_worker) stays at the head, those behind it with
 * it.
 */
static void run_queued(struct serve *s)
{
	size_t k = 0;
	while (k < s->n_queued && (s->draining || s->inflight < s->max_concurrent)) {
		if (dispatch(s, &s->queue[k]) != 0)
			break;
		jv_claimed_free(&s->queue[k]);
		k++;
	}
	if (k > 0) {
		memmove(s->queue, s->queue + k, (s->n_queued - k) * sizeof *s->queue);
		s->n_queued -= k;
	}
}

/* A job cancelled through the API while it waited here: it never starts. */
static int unqueue(struct serve *s, int64_t id)
{
	for (size_t k = 0; k < s->n_queued; k++)
		if (s->queue[k].id == id) {
			jv_claimed_free(&s->queue[k]);
			memmove(s->queue + k, s->queue + k + 1,
				(s->n_queued - k - 1) * sizeof *s->queue);
			s->n_queued--;
			return 1;
		}
	return 0;
}

static int free_slots(const struct serve *s)
{
	if (s->worker_wait_until && s->n_queued > 0)
		return 0; /* a job waits for a worker process: claim no more */
	int unrecorded = (int)(s->n_done + s->cc.n_batch);
	int slots = s->max_concurrent + s->prefetch - s->inflight - (int)s->n_queued - unrecorded;
	if (slots > s->batch_size)
		slots = s->batch_size;
	return slots;
}

static void send_claim(struct serve *s)
{
	int slots = free_slots(s);
	if (slots <= 0 || s->lc.busy || !s->lc.conn)
		return;
	char err[1024];
	if (jv_store_claim_send(s->lc.conn, s->id, slots, s->cfg->processor.per_user_limit,
				s->types, err, sizeof err) != 0) {
		if (!check_lost(s, s->lc.conn, "claiming", err))
			jv_log(JV_ERROR, "claim failed: %s", err);
		s->want_claim = 0;
		return;
	}
	s->n_claim_queries++;
	s->lc.busy = 1;
	s->lc.slots = slots;
	s->want_claim = 0;
}

static void on_claim_result(struct serve *s, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[1024];
		jv_db_format_error(s->lc.conn, res, err, sizeof err);
		if (!check_lost(s, s->lc.conn, "claiming", err))
			jv_log(JV_ERROR, "claim failed: %s (next try at the poll interval)", err);
		return;
	}
	struct jv_claimed *rows;
	size_t n;
	int64_t next_due_ms;
	jv_store_claim_parse(res, &rows, &n, &next_due_ms);
	for (size_t i = 0; i < n; i++) {
		if (s->n_queued == 0 && (s->inflight < s->max_concurrent || s->draining) &&
		    dispatch(s, &rows[i]) == 0) {
			jv_claimed_free(&rows[i]);
			continue;
		}
		/* Claimed ahead, or waiting for a worker process: it waits here
		 * (run_queued). */
		if (s->n_queued == s->cap_queued) {
			s->cap_queued = s->cap_queued ? 2 * s->cap_queued : 16;
			s->queue = jv_realloc(s->queue, s->cap_queued * sizeof *s->queue);
		}
		s->queue[s->n_queued++] = rows[i];
	}
	free(rows);
	if (next_due_ms == -2) {
		s->want_claim = 1; /* a full batch: more may be due */
	} else if (next_due_ms > 0) {
		/* nothing more due now: look again when the next job is */
		s->next_due = now + (uint64_t)next_due_ms;
	}
	/* next_due_ms 0: due but held back by per_user_limit -- a completion
	 * (ours sets want_claim) or the poll interval will tell. */
}

static void on_heartbeat_result(struct serve *s, PGresult *res);

/* The job was cancelled (through the API, which recorded the outcome): if
 * we run it, stop the run and forget its result. Twice is harmless. */
static void cancel_running(struct serve *s, int64_t id, uint64_t now)
{
	if (id <= 0)
		return;
	for (size_t k = 0; k < s->n_drop; k++)
		if (s->drop[k] == id)
			return; /* stopping already */
	if (unqueue(s, id)) {
		jv_log(JV_INFO, "job %" PRId64 " cancelled before it started", id);
		return;
	}
	int found = jv_pool_cancel_job(&s->pool, id, now);
	if (!found && s->tp)
		found = jv_tpool_cancel_job(s->tp, id);
	for (const struct old_gen *g = s->old; g && !found; g = g->next)
		found = jv_tpool_cancel_job(g->tp, id);
	if (!found)
		return;
	jv_log(JV_INFO, "job %" PRId64 " cancelled: stopping its run", id);
	if (s->n_drop == s->cap_drop) {
		s->cap_drop = s->cap_drop ? 2 * s->cap_drop : 8;
		s->drop = jv_realloc(s->drop, s->cap_drop * sizeof *s->drop);
	}
	s->drop[s->n_drop++] = id;
}

/* Pause or resume claiming (running jobs go on either way). */
static void set_paused(struct serve *s, int paused, uint64_t now)
{
	if (paused == s->paused)
		return;
	s->paused = paused;
	jv_log(JV_INFO, "api: claiming %s", s->paused ? "paused" : "resumed");
	s->next_heartbeat = now; /* the processor's state, at once */
	if (!s->paused)
		s->want_claim = 1;
}

/* A request for one processor, from any processor's API (POST
 * /api/processors/{id}/pause|resume): "pause ID" or "resume ID". Requests
 * for other processors, and anything else, are ignored. */
static void control_request(struct serve *s, const char *text, uint64_t now)
{
	int pause = !strncmp(text, "pause ", 6) ? 1 : !strncmp(text, "resume ", 7) ? 0 : -1;
	if (pause < 0)
		return;
	/* strtoll, not sscanf: an id out of range is refused, not undefined */
	char *end;
	errno = 0;
	long long id = strtoll(strchr(text, ' ') + 1, &end, 10);
	if (errno == 0 && *end == '\0' && id == s->id)
		set_paused(s, pause, now);
}

/* Read what a channel has: notifications (claim channel) and the result of
 * its query in flight. */
static void on_chan_readable(struct serve *s, struct chan *c, uint64_t now)
{
	if (!c->conn)
		return;
	if (!PQconsumeInput(c->conn)) {
		db_lost(s, c == &s->lc ? "reading notifications" : "reading a completion",
			PQerrorMessage(c->conn));
		return;
	}
	PGnotify *nt;
	while (c->conn && (nt = PQnotifies(c->conn))) {
		if (!strcmp(nt->relname, JV_DB_CANCEL_CHANNEL))
			cancel_running(s, strtoll(nt->extra, NULL, 10), now);
		else if (!strcmp(nt->relname, JV_DB_CONTROL_CHANNEL))
			control_request(s, nt->extra, now);
		else
			s->want_claim = 1;
		PQfreemem(nt);
	}
	while (c->conn && c->busy && !PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		if (!res) {
			c->busy = 0;
			break;
		}
		if (c == &s->lc)
			on_claim_result(s, res, now);
		else if (c->heartbeat)
			on_heartbeat_result(s, res);
		else
			on_completion_result(s, res, now);
		PQclear(res);
	}
	if (c->conn && !c->busy)
		c->heartbeat = 0;
}

/* Wait for a channel's query in flight and handle its result (at exit). */
static void chan_wait(struct serve *s, struct chan *c)
{
	while (c->conn && c->busy) {
		PGresult *res = PQgetResult(c->conn);
		if (!res) {
			c->busy = 0;
			break;
		}
		if (c == &s->lc)
			on_claim_result(s, res, jv_now_ms());
		else if (c->heartbeat)
			on_heartbeat_result(s, res);
		else
			on_completion_result(s, res, jv_now_ms());
		PQclear(res);
	}
	c->heartbeat = 0;
}

/* Heartbeat and rescue, one round trip on the completion channel when it
 * is idle (once per heartbeat interval); never waited for. */
static void heartbeat(struct serve *s, uint64_t now)
{
	if (s->cc.busy)
		return; /* right after the completion in flight (see the wake-up) */
	s->next_heartbeat = now + (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	if (!s->cc.conn)
		return;
	char err[512];
	const char *state = s->draining ? "stopping" : s->paused ? "paused" : "running";
	if (jv_store_heartbeat_send(s->cc.conn, s->id, state,
				    s->cfg->processor.stuck_job_timeout_minutes, err, sizeof err) != 0) {
		if (!check_lost(s, s->cc.conn, "heartbeat", err))
			jv_log(JV_ERROR, "heartbeat failed: %s", err);
		return;
	}
	s->cc.busy = 1;
	s->cc.heartbeat = 1;
}

static void on_heartbeat_result(struct serve *s, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(s->cc.conn, res, err, sizeof err);
		if (!check_lost(s, s->cc.conn, "heartbeat", err))
			jv_log(JV_ERROR, "heartbeat or stuck-job rescue failed: %s", err);
		return;
	}
	s->last_heartbeat_unix_ms = jv_unix_ms();
	s->last_heartbeat_mono_ms = jv_now_ms();
	int rescued = PQntuples(res) == 1 ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (rescued > 0) {
		/* Any live processor rescues the jobs of dead ones. */
		jv_log(JV_WARNING, "rescued %d stuck jobs of processors silent for over %d min",
		       rescued, s->cfg->processor.stuck_job_timeout_minutes);
		s->want_claim = 1;
		struct jv_event ev = {.kind = JV_EV_STUCK_JOBS_RESET, .number = rescued};
		jv_alerter_raise(s->alerter, &ev);
	}
}

/* ------------------------------------------------------------ descriptors */

/*
 * Raise the soft descriptor limit to what the configuration wants (its
 * reserve for workers, database connections and plugins, plus the API's
 * connections; fdlimit.h), within the hard limit, and say how it stands.
 * The API takes what the reserve leaves (jv_api_start). At start, the limit
 * found is kept for the worker processes (child_setup).
 */
static void check_descriptors(struct serve *s, int at_start)
{
	struct rlimit found;
	long now = jv_fd_raise(s->cfg, &found);
	if (at_start)
		s->nofile_before = found;
	long reserve = jv_fd_reserve(s->cfg);
	if (now < reserve)
		jv_log(JV_WARNING,
		       "the descriptor limit (RLIMIT_NOFILE) is %ld, below the %ld this "
		       "configuration keeps for workers, database connections and plugins: "
		       "workers may fail to start (jobs then wait); raise it (LimitNOFILE= in "
		       "the unit, ulimit -n) or lower processor.max_concurrent_jobs",
		       now, reserve);
	else if (found.rlim_cur != RLIM_INFINITY && now > (long)found.rlim_cur)
		jv_log(JV_INFO, "descriptor limit raised from %ld to %ld (%ld kept for workers, "
		       "database connections and plugins)", (long)found.rlim_cur, now, reserve);
	else
		jv_debug("descriptor limit %ld (%ld kept for workers, database connections and "
			 "plugins)", now, reserve);
}

/* ------------------------------------------------------------ reload */

static void reload(struct serve *s)
{
	struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_runtime *rt;
	jv_log(JV_INFO, "SIGHUP: reloading %s", s->config_path);
	if (load_all(s->config_path, &cfg, &plugins, &rt) != 0) {
		jv_log(JV_ERROR, "reload refused; the running configuration stays");
		return;
	}
	/* Thread-run jobs use the old instances: those running finish on
	 * them, in the background (struct old_gen); what was queued goes back
	 * to pending via the completion. */
	struct old_gen *g = NULL;
	if (s->tp) {
		size_t from = s->n_done;
		jv_tpool_stop(s->tp, &s->done, &s->n_done, &s->cap_done);
		finished(s, from);
		if (jv_tpool_inflight(s->tp) > 0) {
			g = jv_calloc(1, sizeof *g);
			g->tp = s->tp;
			jv_log(JV_INFO, "%d thread jobs finish under the previous configuration",
			       jv_tpool_inflight(s->tp));
		} else {
			from = s->n_done;
			jv_tpool_free(s->tp, &s->done, &s->n_done, &s->cap_done);
			finished(s, from);
		}
		s->tp = NULL;
	}
	int db_changed = strcmp(cfg->database.url, s->cfg->database.url) != 0;
	/* Old-generation workers finish their job, then make room for new ones. */
	for (int i = 0; i < s->pool.n; i++)
		s->pool.w[i].retire = 1;
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0 && !s->pool.w[i].busy) {
			size_t from = s->n_done;
			jv_pool_kill(&s->pool, i, JV_END_RELEASED, &s->done, &s->n_done,
				     &s->cap_done);
			finished(s, from);
		}
	/* The alerter uses the old sinks: deliver what it can, then swap. The
	 * API reads the old config: it stops too, and starts again below. */
	jv_alerter_stop(s->alerter, 1000);
	s->alerter = NULL;
	jv_api_stop(s->api);
	s->api = NULL;
	jv_scheduler_stop(s->sched);
	s->sched = NULL;
	if (g) {
		g->rt = s->rt;
		g->plugins = s->plugins;
		g->cfg = s->cfg;
		g->next = s->old;
		s->old = g;
	} else {
		jv_runtime_free(s->rt);
		jv_plugins_free(s->plugins);
		jv_config_free(s->cfg);
	}
	free(s->types);
	s->cfg = cfg;
	s->plugins = plugins;
	s->rt = rt;
	s->types = types_literal(cfg);
	apply_log_config(cfg);
	check_descriptors(s, 0);
	jv_pool_resize(&s->pool, process_workers(cfg));
	s->pool.rt = rt;
	s->pool.max_jobs = cfg->processor.worker_max_jobs;
	/* Fork first, threads after (see the note at start-up). */
	jv_pool_fill(&s->pool);
	if (any_thread_executor(cfg))
		s->tp = jv_tpool_new(rt, thread_count(cfg));
	s->alerter = jv_alerter_start(cfg, rt, s->id, s->label);
	s->batch_size = cfg->processor.batch_size;
	s->max_concurrent = cfg->processor.max_concurrent_jobs;
	s->prefetch = cfg->processor.prefetch;
	s->sched = jv_scheduler_start(cfg, s->id);
	if (cfg->api.enabled) {
		char aerr[512];
		s->api = jv_api_start(cfg, s->bridge, aerr, sizeof aerr);
		if (!s->api)
			jv_log(JV_ERROR, "%s; the API stays off until the next reload", aerr);
	}
	if (db_changed && connected(s)) {
		jv_log(JV_INFO, "database.url changed: reconnecting");
		chan_wait(s, &s->lc);
		chan_wait(s, &s->cc);
		if (s->n_queued > 0) {
			/* Back to pending in the old database, while we still can. */
			give_back_queue(s);
			release_unheld(s);
		}
		close_chan(&s->lc);
		close_chan(&s->cc);
		s->lost_at = jv_now_ms();
		s->reconnect_delay = 100;
		s->next_reconnect = s->lost_at;
	}
	s->want_claim = 1;
	jv_log(JV_INFO, "reloaded: %zu executors, max_concurrent_jobs %d, batch_size %d",
	       cfg->n_executors, cfg->processor.max_concurrent_jobs, cfg->processor.batch_size);
}

/* ------------------------------------------------------------ systemd */

/* Root or not (privs.h), once the config and plugins are loaded and
 * before anything connects or forks. */
static int settle_privileges(struct serve *s)
{
	char err[512];
	if (jv_privs_settle(s->cfg, err, sizeof err) == 0)
		return 0;
	jv_log(JV_ERROR, "%s", err);
	jv_runtime_free(s->rt);
	jv_plugins_free(s->plugins);
	jv_config_free(s->cfg);
	return JV_ESTATE;
}

/* STATUS= for `systemctl status`; with ready, as part of READY=1. */
static void notify_state(struct serve *s, int ready)
{
	if (!jv_notify_enabled())
		return;
	char st[200];
	const char *state = s->draining    ? "stopping"
			    : !connected(s) ? "database unreachable, reconnecting"
			    : s->paused     ? "paused"
					    : "running";
	snprintf(st, sizeof st, "%s; jobs running: %d, done: %" PRIu64 "; processor %" PRId64,
		 state, s->inflight, s->n_completed, s->id);
	if (ready)
		jv_notify_ready(st);
	else
		jv_notify_status(st);
}

static void notify_stopping(struct serve *s)
{
	char st[200];
	snprintf(st, sizeof st, "stopping; jobs running: %d, given up to %d s to finish",
		 s->inflight, s->cfg->processor.shutdown_grace_seconds);
	jv_notify_stopping(st);
}

/* Each turn of the loop: the watchdog's ping when due, STATUS= at most once
 * a second. Returns when the next ping is due (0: no watchdog). */
static uint64_t notify_tick(struct serve *s, uint64_t now)
{
	if (!jv_notify_enabled())
		return 0;
	if (now >= s->next_status) {
		notify_state(s, 0);
		s->next_status = now + 1000;
	}
	return jv_notify_watchdog(now);
}

/* ------------------------------------------------------------ main loop */

static void on_signal(struct serve *s)
{
	struct signalfd_siginfo si;
	while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!s->draining) {
				s->draining = 1;
				s->drain_deadline =
					jv_now_ms() +
					(uint64_t)s->cfg->processor.shutdown_grace_seconds * 1000u;
				jv_log(JV_INFO,
				       "%s: stopping; %d running jobs get up to %d s to finish",
				       si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", s->inflight,
				       s->cfg->processor.shutdown_grace_seconds);
				notify_stopping(s);
				s->next_heartbeat = jv_now_ms();
			} else {
				jv_log(JV_INFO, "second signal: stopping now");
				s->drain_deadline = jv_now_ms();
			}
			break;
		case SIGHUP:
			if (!s->draining) {
				jv_notify_reloading();
				reload(s);
				notify_state(s, 1); /* READY=1 again, reloaded or refused */
			}
			break;
		default: break;
		}
	}
}

/* At the end of the grace period, tell what still runs in worker processes
 * to stop (as at a deadline: their executors may kill what they started),
 * and cancel in-process runs; release_all() follows JV_KILL_GRACE_MS later. */
static void release_begin(struct serve *s)
{
	jv_pool_release_begin(&s->pool);
	if (s->tp)
		jv_tpool_cancel_all(s->tp);
	for (const struct old_gen *g = s->old; g; g = g->next)
		jv_tpool_cancel_all(g->tp);
	s->releasing = 1;
}

/* Kill what still runs after that; it goes back to pending without counting
 * the attempt. */
static void release_all(struct serve *s)
{
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].busy) {
			size_t from = s->n_done;
			jv_pool_kill(&s->pool, i, JV_END_RELEASED, &s->done, &s->n_done,
				     &s->cap_done);
			finished(s, from);
		}
	if (s->tp) {
		jv_tpool_cancel_all(s->tp);
		jv_tpool_free(s->tp, &s->done, &s->n_done, &s->cap_done);
		s->tp = NULL;
	}
	old_gens_free(s, 1);
	s->inflight = 0;
	s->released = 1;
}

/* What the API asked for since the last turn. */
static void take_requests(struct serve *s, uint64_t now)
{
	struct jv_bridge_requests r;
	jv_bridge_take(s->bridge, &r);
	if (r.pause >= 0)
		set_paused(s, r.pause, now);
	if (r.batch_size > 0 || r.max_concurrent > 0) {
		if (r.batch_size > 0)
			s->batch_size = r.batch_size;
		if (r.max_concurrent > 0)
			s->max_concurrent = r.max_concurrent;
		jv_log(JV_INFO, "api: retuned: batch_size %d, max_concurrent_jobs %d", s->batch_size,
		       s->max_concurrent);
		s->want_claim = 1;
	}
	if (r.trigger)
		s->want_claim = 1;
	for (size_t i = 0; i < r.n_cancel; i++)
		cancel_running(s, r.cancel[i], now);
	free(r.cancel);
}

/* Tell the API how things stand. */
static void publish(struct serve *s)
{
	struct jv_engine_view v;
	memset(&v, 0, sizeof v);
	v.processor_id = s->id;
	snprintf(v.name, sizeof v.name, "%s", s->cfg->processor.name);
	snprintf(v.hostname, sizeof v.hostname, "%s", s->hostname);
	v.pid = (int)getpid();
	v.started_unix_ms = s->started_unix_ms;
	v.last_heartbeat_unix_ms = s->last_heartbeat_unix_ms;
	v.started_mono_ms = s->started_mono_ms;
	v.last_heartbeat_mono_ms = s->last_heartbeat_mono_ms;
	v.paused = s->paused;
	v.draining = s->draining;
	v.db_connected = connected(s);
	v.batch_size = s->batch_size;
	v.max_concurrent = s->max_concurrent;
	v.batch_size_limit = s->cfg->processor.batch_size;
	v.max_concurrent_limit = s->cfg->processor.max_concurrent_jobs;
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0) {
			v.workers_total++;
			v.workers_busy += s->pool.w[i].busy != 0;
		}
	v.threads_total = s->tp ? thread_count(s->cfg) : 0;
	v.inflight = s->inflight;
	v.prefetched = (int)s->n_queued;
	v.claimed = s->n_claimed;
	v.completed = s->n_completed;
	v.claim_queries = s->n_claim_queries;
	v.complete_queries = s->n_complete_queries;
	v.stale = s->n_stale;
	v.db_reconnects = s->n_reconnects;
	jv_alerter_stats(s->alerter, &v.alerts);
	jv_bridge_publish(s->bridge, &v);
}

static int run_loop(struct serve *s)
{
	struct pollfd *pfds = NULL;
	int cap = 0;
	for (;;) {
		uint64_t now = jv_now_ms();
		uint64_t ping = notify_tick(s, now); /* systemd's watchdog, from here only */
		/* Workers that could not be started are tried again once their
		 * back-off is over, whether a job waits for one or not. */
		if (!s->draining && s->pool.retry_at_ms && now >= s->pool.retry_at_ms)
			jv_pool_fill(&s->pool);
		run_queued(s);

		if (s->draining) {
			if (s->inflight > 0 && now >= s->drain_deadline && !s->releasing) {
				jv_log(JV_WARNING, "grace period over: stopping %d running jobs",
				       s->inflight);
				release_begin(s);
			}
			if (s->inflight > 0 && s->releasing && !s->released &&
			    now >= s->drain_deadline + JV_KILL_GRACE_MS) {
				jv_log(JV_WARNING, "releasing %d running jobs", s->inflight);
				release_all(s);
			}
			/* Done when nothing runs and nothing is in flight; what
			 * finished is recorded by finish(). */
			if (s->inflight == 0 && !s->lc.busy && (!s->cc.busy || !s->cc.conn))
				break;
			if (!connected(s) && now >= s->drain_deadline + 10000)
				break; /* the database is gone: finish() reports it */
		}
		if (!connected(s) && now >= s->next_reconnect)
			try_reconnect(s, now);
		if (now >= s->next_heartbeat)
			heartbeat(s, now);

		/* Finished work goes out, then new work comes in; neither waits. */
		send_completions(s, now);
		if (!s->draining && !s->paused && connected(s)) {
			if (now >= s->next_poll) {
				s->want_claim = 1;
				s->next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;
			}
			if (s->next_due && now >= s->next_due) {
				s->want_claim = 1;
				s->next_due = 0;
			}
			if (s->want_claim)
				send_claim(s);
		}

		/* What to wait for. */
		int n_old = 0;
		for (const struct old_gen *g = s->old; g; g = g->next)
			n_old++;
		int nfds = 5 + s->pool.n + n_old;
		if (nfds > cap) {
			cap = nfds;
			pfds = jv_realloc(pfds, (size_t)cap * sizeof *pfds);
		}
		int k = 0;
		/* nfds >= 5, so pfds was allocated above. */
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		pfds[k++] = (struct pollfd){s->sfd, POLLIN, 0};
		pfds[k++] = (struct pollfd){s->lc.conn ? PQsocket(s->lc.conn) : -1, POLLIN, 0};
		pfds[k++] = (struct pollfd){s->cc.conn ? PQsocket(s->cc.conn) : -1, POLLIN, 0};
		pfds[k++] = (struct pollfd){s->tp ? jv_tpool_fd(s->tp) : -1, POLLIN, 0};
		pfds[k++] = (struct pollfd){jv_bridge_fd(s->bridge), POLLIN, 0};
		for (int i = 0; i < s->pool.n; i++)
			pfds[k++] = (struct pollfd){s->pool.w[i].fd, POLLIN, 0};
		int old_at = k;
		for (const struct old_gen *g = s->old; g; g = g->next)
			pfds[k++] = (struct pollfd){jv_tpool_fd(g->tp), POLLIN, 0};

		uint64_t wake = now + 60000;
		if (!s->cc.busy && s->next_heartbeat < wake)
			wake = s->next_heartbeat;
		if (!s->draining && !s->paused && connected(s)) {
			if (s->next_poll < wake)
				wake = s->next_poll;
			if (s->next_due && s->next_due < wake)
				wake = s->next_due;
		}
		if (!connected(s) && s->next_reconnect < wake)
			wake = s->next_reconnect;
		if (s->draining && !s->released) {
			uint64_t at = s->drain_deadline + (s->releasing ? JV_KILL_GRACE_MS : 0);
			if (at < wake)
				wake = at;
		}
		if (ping && ping < wake)
			wake = ping;
		if (s->n_queued > 0 && s->worker_wait_until > now && s->worker_wait_until < wake)
			wake = s->worker_wait_until; /* a job waits for a worker process */
		if (!s->draining && s->pool.retry_at_ms > now && s->pool.retry_at_ms < wake)
			wake = s->pool.retry_at_ms;
		if (s->n_done > 0 && s->complete_retry_at > now && s->complete_retry_at < wake)
			wake = s->complete_retry_at;
		if (s->n_done > 0 && s->cc.conn && !s->cc.busy &&
		    s->first_done_at + JV_COALESCE_MS < wake)
			wake = s->first_done_at + JV_COALESCE_MS; /* (busy: its answer wakes us) */
		size_t from = s->n_done;
		uint64_t dl = jv_pool_check_deadlines(&s->pool, now, &s->done, &s->n_done,
						      &s->cap_done);
		finished(s, from);
		if (dl && dl < wake)
			wake = dl;
		int timeout;
		if (s->n_done > 0 && connected(s) && !s->cc.busy && now >= s->complete_retry_at &&
		    completion_due(s, now))
			timeout = 0; /* results to send */
		else if (s->want_claim && free_slots(s) > 0 && connected(s) && !s->lc.busy &&
			 !s->draining && !s->paused)
			timeout = 0; /* a claim to send */
		else
			timeout = wake > now ? (int)(wake - now) : 0;

		/* The API's view: always before waiting, and at most at 20 Hz
		 * while busy (off the per-job path). */
		if (timeout > 0 || now >= s->next_publish) {
			publish(s);
			s->next_publish = now + 50;
		}
		int r = poll(pfds, (nfds_t)k, timeout);
		if (r < 0 && errno != EINTR) {
			jv_log(JV_ERROR, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		now = jv_now_ms();
		if (pfds[0].revents)
			on_signal(s);
		int thread_results = pfds[3].revents != 0;
		for (int i = old_at; i < k; i++)
			thread_results |= pfds[i].revents != 0;
		if (thread_results)
			collect_thread_results(s);
		if (pfds[4].revents) {
			take_requests(s, now);
			s->next_publish = 0; /* show the change at once */
		}
		for (int i = 0; i < s->pool.n && 5 + i < k; i++)
			if (pfds[5 + i].revents && pfds[5 + i].fd == s->pool.w[i].fd) {
				size_t f = s->n_done;
				jv_pool_on_readable(&s->pool, i, &s->done, &s->n_done,
						    &s->cap_done);
				finished(s, f);
			}
		if (pfds[1].revents && s->lc.conn && pfds[1].fd == PQsocket(s->lc.conn))
			on_chan_readable(s, &s->lc, now);
		if (pfds[2].revents && s->cc.conn && pfds[2].fd == PQsocket(s->cc.conn))
			on_chan_readable(s, &s->cc, now);
		/* Replace workers that died or retired. */
		if (!s->draining)
			jv_pool_fill(&s->pool);
	}
	free(pfds);
	return 0;
}

/* At exit: wait for the queries in flight, record what finished (retrying
 * a lost connection briefly), mark the processor stopped. */
static int finish(struct serve *s)
{
	chan_wait(s, &s->lc);
	chan_wait(s, &s->cc);
	uint64_t until = jv_now_ms() + 10000;
	char err[1024];
	while (s->n_done > 0 || !connected(s)) {
		if (!connected(s)) {
			if (db_connect(s, err, sizeof err) != 0) {
				if (jv_now_ms() >= until) {
					jv_log(JV_ERROR,
					       "could not record %zu finished jobs before exit (%s); "
					       "they will be rescued",
					       s->n_done, err);
					return JV_EDB;
				}
				struct timespec ts = {0, 200 * 1000 * 1000};
				nanosleep(&ts, NULL);
				continue;
			}
		}
		struct jv_applied *applied;
		size_t n;
		s->n_complete_queries++;
		if (jv_store_complete(s->cc.conn, s->id, s->done, s->n_done,
				      s->cfg->processor.retry_base_ms, s->cfg->processor.retry_max_ms,
				      (size_t)s->cfg->history.max_output_bytes, &applied, &n, err,
				      sizeof err) != 0) {
			if (!check_lost(s, s->cc.conn, "completing jobs at exit", err) ||
			    jv_now_ms() >= until) {
				jv_log(JV_ERROR, "could not record %zu finished jobs: %s", s->n_done,
				       err);
				return JV_EDB;
			}
			continue;
		}
		note_applied(s, applied, n);
		raise_job_alerts(s, s->done, s->n_done, applied, n);
		free(applied);
		s->n_completed += s->n_done;
		for (size_t i = 0; i < s->n_done; i++)
			jv_done_free(&s->done[i]);
		s->n_done = 0;
	}
	if (jv_store_stopped(s->cc.conn, s->id, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "could not mark processor stopped: %s", err);
		return JV_EDB;
	}
	return 0;
}

int jv_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cpath = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cpath = optarg; break;
		case 'h': usage(stdout); return JV_EXIT_OK;
		default: usage(stderr); return JV_EXIT_USER;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jobvisor serve: unexpected argument '%s'\n", argv[optind]);
		return JV_EXIT_USER;
	}

	struct serve sv;
	struct serve *s = &sv;
	memset(s, 0, sizeof *s);
	s->sfd = -1;
	s->config_path = jv_cli_config_path(cpath);
	jv_notify_init(); /* first: no child may inherit $NOTIFY_SOCKET */
	if (load_all(s->config_path, &s->cfg, &s->plugins, &s->rt) != 0)
		return JV_EXIT_USER;
	apply_log_config(s->cfg);
	if (settle_privileges(s) != 0)
		return JV_EXIT_USER;
	/* Not dumpable: jobs run as our account, and one could otherwise
	 * attach to us or a worker (ptrace, /proc/PID/mem, environ, maps) and
	 * read the parsed config with its secrets. Workers inherit it across
	 * fork(); a job's own program is dumpable again after its exec. (The
	 * kernel already does this when we switched to `user:`; under
	 * systemd's User= we are exec'ed as that account and must ask.) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		jv_log(JV_WARNING, "cannot make the process non-dumpable: %s; a job of the same "
		       "account could read this process's memory", strerror(errno));
	s->types = types_literal(s->cfg);
	check_descriptors(s, 1);
	if (gethostname(s->hostname, sizeof s->hostname - 1) != 0)
		snprintf(s->hostname, sizeof s->hostname, "unknown");

	/* Signals arrive through a signalfd; block them before any thread. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Under a file size limit (RLIMIT_FSIZE, systemd's LimitFSIZE=) a log
	 * line past the limit would kill the supervisor with SIGXFSZ; ignored,
	 * the write fails with EFBIG and the line is lost, like on a full disk. */
	signal(SIGXFSZ, SIG_IGN);
	s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	int status = JV_EXIT_OK;
	char err[1024];
	if (db_connect(s, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		status = JV_EXIT_USER;
		goto out;
	}
	if (jv_store_register(s->cc.conn, s->cfg->processor.name, s->hostname, (int)getpid(),
			      PACKAGE_VERSION, &s->id, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "could not register the processor: %s (hint: run `jobvisor migrate`)",
		       err);
		status = JV_EXIT_USER;
		goto out;
	}
	s->label = jv_asprintf("%s (id %" PRId64 ", host %s, pid %d)", s->cfg->processor.name,
			       s->id, s->hostname, (int)getpid());
	s->started_unix_ms = jv_unix_ms();
	s->last_heartbeat_unix_ms = s->started_unix_ms; /* registering was the first */
	s->started_mono_ms = s->last_heartbeat_mono_ms = jv_now_ms();
	s->batch_size = s->cfg->processor.batch_size;
	s->max_concurrent = s->cfg->processor.max_concurrent_jobs;
	s->prefetch = s->cfg->processor.prefetch;
	s->bridge = jv_bridge_new();
	if (!s->bridge) {
		jv_log(JV_ERROR, "cannot make an eventfd: %s", strerror(errno));
		status = JV_EXIT_INTERNAL;
		goto out;
	}
	publish(s);
	/* The workers are forked before any thread exists (API, thread pool,
	 * alerts, scheduler): a fork copies a lock another thread holds, and a
	 * worker could then hang on it for good. glibc's malloc guards itself
	 * across fork; not every allocator does (ASan's does not). */
	jv_pool_init(&s->pool, s->rt, process_workers(s->cfg), s->cfg->processor.worker_max_jobs,
		     child_setup, s);
	int started = jv_pool_fill(&s->pool);
	if (s->cfg->api.enabled) {
		s->api = jv_api_start(s->cfg, s->bridge, err, sizeof err);
		if (!s->api) {
			jv_log(JV_ERROR, "%s", err);
			jv_pool_shutdown(&s->pool, 1000);
			if (jv_store_stopped(s->cc.conn, s->id, err, sizeof err) != 0)
				jv_log(JV_ERROR, "could not mark processor stopped: %s", err);
			status = JV_EXIT_USER;
			goto out;
		}
	}
	if (any_thread_executor(s->cfg))
		s->tp = jv_tpool_new(s->rt, thread_count(s->cfg));
	jv_log(JV_INFO,
	       "processor %" PRId64 " (%s on %s, pid %d) started: %zu executors, %d workers, "
	       "batch %d, max %d concurrent, %d per user",
	       s->id, s->cfg->processor.name, s->hostname, (int)getpid(), s->cfg->n_executors,
	       started, s->cfg->processor.batch_size, s->cfg->processor.max_concurrent_jobs,
	       s->cfg->processor.per_user_limit);
	s->alerter = jv_alerter_start(s->cfg, s->rt, s->id, s->label);
	s->sched = jv_scheduler_start(s->cfg, s->id);
	struct jv_event ev = {.kind = JV_EV_PROCESSOR_STARTED, .subject = s->label};
	jv_alerter_raise(s->alerter, &ev);
	s->want_claim = 1;
	uint64_t now = jv_now_ms();
	s->next_heartbeat = now + (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	s->next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;
	notify_state(s, 1); /* READY=1: registered, workers forked, API up */

	run_loop(s);
	jv_api_stop(s->api); /* (it answered 503 to health while draining) */
	s->api = NULL;
	jv_scheduler_stop(s->sched);
	s->sched = NULL;

	jv_pool_shutdown(&s->pool, 1000);
	if (s->tp) {
		jv_tpool_free(s->tp, &s->done, &s->n_done, &s->cap_done);
		s->tp = NULL;
	}
	old_gens_free(s, 0);
	if (finish(s) != 0)
		status = JV_EXIT_INTERNAL;
	ev.kind = JV_EV_PROCESSOR_STOPPED;
	jv_alerter_raise(s->alerter, &ev);
	jv_alerter_stop(s->alerter, 5000);
	s->alerter = NULL;
	jv_log(JV_INFO,
	       "processor %" PRId64 " stopped: %" PRIu64 " jobs claimed in %" PRIu64
	       " claim queries, %" PRIu64 " recorded in %" PRIu64 " round trips, %" PRIu64
	       " late results ignored",
	       s->id, s->n_claimed, s->n_claim_queries, s->n_completed, s->n_complete_queries,
	       s->n_stale);
out:
	jv_api_stop(s->api);
	jv_bridge_free(s->bridge);
	free(s->drop);
	free(s->label);
	for (size_t i = 0; i < s->n_queued; i++) /* (only when the loop broke off) */
		jv_claimed_free(&s->queue[i]);
	free(s->queue);
	for (size_t i = 0; i < s->n_done; i++)
		jv_done_free(&s->done[i]);
	free(s->done);
	close_chan(&s->lc);
	free(s->cc.batch);
	close_chan(&s->cc);
	if (s->sfd >= 0)
		close(s->sfd);
	jv_runtime_free(s->rt);
	jv_plugins_free(s->plugins);
	jv_config_free(s->cfg);
	free(s->types);
	return status;
}

/*
 * serve.c -- `jobvisor serve`: the supervisor's main loop.
 *
 * One thread owns everything here: the database connection, the worker
 * pool and the signals. It sleeps in poll() on the signalfd, the database
 * socket (LISTEN jobvisor_jobs), every worker's socket and the thread pool's
 * eventfd, and on each wake-up does, in order: signals, notifications,
 * finished attempts, deadlines, then one completion round trip for all the
 * attempts that finished together, and one claim round trip when there are
 * free slots and reason to think work is due (a notification, a full last
 * batch, the next due time, or the poll interval as a fallback). A burst of
 * notifications therefore costs one claim per loop, not one per insert.
 *
 * The database going away stops claiming, never running: jobs in flight go
 * on, their results wait in memory, and the loop reconnects with backoff and
 * catches up.
 */
#include "autoconf.h"

#include "cli.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "mem.h"
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
#include <sys/signalfd.h>
#include <unistd.h>

struct serve {
	const char *config_path;
	struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_runtime *rt;
	char *types; /* text[] literal of the configured job types */

	PGconn *conn;
	int64_t id; /* our processors.id */
	char hostname[256];

	struct jv_pool pool;
	struct jv_tpool *tp; /* NULL when no executor runs in threads */
	int sfd;

	int inflight;     /* claimed and not yet finished */
	int want_claim;   /* reason to think work is due */
	int draining;     /* SIGTERM/SIGINT: stop claiming, finish, exit */
	int paused;
	uint64_t drain_deadline;
	uint64_t next_heartbeat;
	uint64_t next_poll;
	uint64_t next_due;      /* 0: none known */
	uint64_t next_reconnect;
	uint64_t reconnect_delay;
	uint64_t lost_at;

	struct jv_done *done; /* finished, not yet recorded */
	size_t n_done, cap_done;

	/* counters, for the log line at exit */
	uint64_t n_claimed, n_completed, n_stale;
	uint64_t n_claim_queries, n_complete_queries;
};

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
	if (s->conn && PQsocket(s->conn) >= 0)
		close(PQsocket(s->conn));
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tp)
		close(jv_tpool_fd(s->tp));
}

/* ------------------------------------------------------------ database */

static void db_lost(struct serve *s, const char *what, const char *err)
{
	if (!s->conn)
		return;
	jv_log(JV_ERROR, "database connection lost (%s: %s); jobs keep running, reconnecting",
	       what, err);
	PQfinish(s->conn);
	s->conn = NULL;
	s->lost_at = jv_now_ms();
	s->reconnect_delay = 100;
	s->next_reconnect = s->lost_at + s->reconnect_delay;
}

/* After a failed query: a broken connection is handled here (1), any other
 * error is the caller's to log (0). */
static int check_lost(struct serve *s, const char *what, const char *err)
{
	if (s->conn && jv_db_is_broken(s->conn)) {
		db_lost(s, what, err);
		return 1;
	}
	return 0;
}

static int db_connect(struct serve *s, char *err, size_t errlen)
{
	PGconn *c = jv_db_connect(s->cfg->database.url, "jobvisor serve", err, errlen);
	if (!c)
		return JV_EDB;
	if (jv_db_exec(c, "LISTEN " JV_DB_NOTIFY_CHANNEL, 0, NULL, err, errlen) != 0) {
		PQfinish(c);
		return JV_EDB;
	}
	s->conn = c;
	return 0;
}

static void try_reconnect(struct serve *s, uint64_t now)
{
	char err[512];
	if (db_connect(s, err, sizeof err) != 0) {
		s->reconnect_delay = s->reconnect_delay * 2 > 5000 ? 5000 : s->reconnect_delay * 2;
		s->next_reconnect = now + s->reconnect_delay;
		jv_debug("reconnect failed: %s", err);
		return;
	}
	jv_log(JV_INFO, "database connection back after %llu ms",
	       (unsigned long long)(now - s->lost_at));
	s->want_claim = 1;
	s->next_heartbeat = now; /* say we are alive at once */
}

/* ------------------------------------------------------------ jobs */

static void finished(struct serve *s, size_t from)
{
	/* Called after new entries were appended to s->done at [from, n). */
	for (size_t i = from; i < s->n_done; i++)
		s->inflight--;
	if (s->inflight < 0)
		s->inflight = 0;
}

static void collect_thread_results(struct serve *s)
{
	if (!s->tp)
		return;
	size_t from = s->n_done;
	jv_tpool_collect(s->tp, &s->done, &s->n_done, &s->cap_done);
	finished(s, from);
}

static void flush_completions(struct serve *s)
{
	if (s->n_done == 0 || !s->conn)
		return;
	char err[1024];
	struct jv_applied *applied = NULL;
	s->n_complete_queries++;
	int rc = jv_store_complete(s->conn, s->id, s->done, s->n_done,
				   s->cfg->processor.retry_base_ms, s->cfg->processor.retry_max_ms,
				   (size_t)s->cfg->history.max_output_bytes, &applied, err, sizeof err);
	if (rc != 0) {
		if (!check_lost(s, "completing jobs", err))
			jv_log(JV_ERROR, "recording %zu finished jobs failed: %s (will retry)",
			       s->n_done, err);
		return;
	}
	for (size_t i = 0; i < s->n_done; i++) {
		const struct jv_applied *a = &applied[i];
		if (!a->applied) {
			s->n_stale++;
			jv_log(JV_WARNING,
			       "late result for job %" PRId64 " attempt %d not applied: the job was "
			       "rescued or cancelled meanwhile (recorded as stale in its history)",
			       a->id, a->attempt);
		} else if (!strcmp(a->status, "failed")) {
			jv_log(JV_WARNING, "job %" PRId64 " failed after attempt %d", a->id, a->attempt);
		} else if (!strcmp(a->status, "pending")) {
			jv_debug("job %" PRId64 " attempt %d failed; will retry", a->id, a->attempt);
		}
	}
	free(applied);
	s->n_completed += s->n_done;
	for (size_t i = 0; i < s->n_done; i++)
		jv_done_free(&s->done[i]);
	s->n_done = 0;
	if (s->cap_done > 4096) { /* do not keep a burst's worth of memory */
		free(s->done);
		s->done = NULL;
		s->cap_done = 0;
	}
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

/* Hand one claimed job to a worker; if that cannot be done, it ends at once
 * (crashed, so it is retried) rather than being lost. */
static void dispatch(struct serve *s, const struct jv_claimed *c)
{
	int ex = executor_index(s, c->type);
	struct jv_msg_job m = {
		.id = c->id,
		.attempt = c->attempt,
		.max_attempts = c->max_attempts,
		.timeout_ms = timeout_ms_for(s, c, ex),
		.max_output = s->cfg->history.max_output_bytes,
		.executor = ex,
		.type = c->type,
		.user_id = c->user_id,
		.payload = c->payload,
	};
	s->inflight++;
	s->n_claimed++;
	const char *why = NULL;
	if (ex < 0) {
		why = "no executor for this type on this processor";
	} else if (s->cfg->executors[ex].isolation == JV_ISOLATION_THREAD && s->tp) {
		jv_tpool_submit(s->tp, &m);
		return;
	} else {
		for (int tries = 0; tries < 3; tries++) {
			int w = jv_pool_idle(&s->pool);
			if (w < 0) {
				jv_pool_fill(&s->pool);
				w = jv_pool_idle(&s->pool);
			}
			if (w < 0)
				break;
			if (jv_pool_send(&s->pool, w, &m) == 0)
				return;
			/* The worker is gone: reap it (nothing of ours was running). */
			size_t from = s->n_done;
			jv_pool_on_readable(&s->pool, w, &s->done, &s->n_done, &s->cap_done);
			finished(s, from);
		}
		why = "no worker process available";
	}
	struct jv_done d = {0};
	d.id = c->id;
	d.attempt = c->attempt;
	d.end = JV_END_CRASHED;
	d.retry_in_ms = -1;
	d.error = jv_strdup(why);
	jv_log(JV_ERROR, "job %" PRId64 ": %s", c->id, why);
	jv_done_push(&s->done, &s->n_done, &s->cap_done, &d);
	s->inflight--;
}

static void claim(struct serve *s, uint64_t now)
{
	int slots = s->cfg->processor.max_concurrent_jobs - s->inflight;
	if (slots > s->cfg->processor.batch_size)
		slots = s->cfg->processor.batch_size;
	if (slots <= 0 || !s->conn)
		return;
	char err[1024];
	struct jv_claimed *rows;
	size_t n;
	s->n_claim_queries++;
	if (jv_store_claim(s->conn, s->id, slots, s->cfg->processor.per_user_limit, s->types, &rows,
			   &n, err, sizeof err) != 0) {
		if (!check_lost(s, "claiming", err))
			jv_log(JV_ERROR, "claim failed: %s", err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		dispatch(s, &rows[i]);
		jv_claimed_free(&rows[i]);
	}
	free(rows);
	if (n < (size_t)slots) {
		/* All that is due now was taken: sleep until the next due job, a
		 * notification, or the poll interval. */
		s->want_claim = 0;
		int64_t ms;
		if (jv_store_next_due_ms(s->conn, &ms, err, sizeof err) == 0)
			s->next_due = ms < 0 ? 0 : now + (uint64_t)(ms > 0 ? ms : 1);
		else
			check_lost(s, "next due", err);
	}
}

static void heartbeat(struct serve *s, uint64_t now)
{
	s->next_heartbeat = now + (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	if (!s->conn)
		return;
	char err[512];
	const char *state = s->draining ? "stopping" : s->paused ? "paused" : "running";
	if (jv_store_heartbeat(s->conn, s->id, state, err, sizeof err) != 0) {
		if (!check_lost(s, "heartbeat", err))
			jv_log(JV_ERROR, "heartbeat failed: %s", err);
		return;
	}
	/* Any live processor rescues the jobs of dead ones. */
	int rescued = 0;
	if (jv_store_rescue(s->conn, s->cfg->processor.stuck_job_timeout_minutes, NULL, &rescued,
			    err, sizeof err) != 0) {
		if (!check_lost(s, "rescue", err))
			jv_log(JV_ERROR, "stuck-job rescue failed: %s", err);
	} else if (rescued > 0) {
		jv_log(JV_WARNING, "rescued %d stuck jobs of processors silent for over %d min",
		       rescued, s->cfg->processor.stuck_job_timeout_minutes);
		s->want_claim = 1;
	}
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
	/* Thread-run jobs use the old instances: let them finish first. */
	if (s->tp) {
		jv_tpool_free(s->tp, &s->done, &s->n_done, &s->cap_done);
		s->tp = NULL;
		/* What was queued is back to pending via the completion. */
		s->inflight = jv_pool_busy(&s->pool);
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
	jv_runtime_free(s->rt);
	jv_plugins_free(s->plugins);
	jv_config_free(s->cfg);
	free(s->types);
	s->cfg = cfg;
	s->plugins = plugins;
	s->rt = rt;
	s->types = types_literal(cfg);
	apply_log_config(cfg);
	jv_pool_resize(&s->pool, process_workers(cfg));
	s->pool.rt = rt;
	s->pool.max_jobs = cfg->processor.worker_max_jobs;
	if (any_thread_executor(cfg))
		s->tp = jv_tpool_new(rt, cfg->processor.max_concurrent_jobs);
	jv_pool_fill(&s->pool);
	if (db_changed && s->conn) {
		jv_log(JV_INFO, "database.url changed: reconnecting");
		PQfinish(s->conn);
		s->conn = NULL;
		s->lost_at = jv_now_ms();
		s->reconnect_delay = 100;
		s->next_reconnect = s->lost_at;
	}
	s->want_claim = 1;
	jv_log(JV_INFO, "reloaded: %zu executors, max_concurrent_jobs %d, batch_size %d",
	       cfg->n_executors, cfg->processor.max_concurrent_jobs, cfg->processor.batch_size);
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
				s->next_heartbeat = jv_now_ms();
			} else {
				jv_log(JV_INFO, "second signal: stopping now");
				s->drain_deadline = jv_now_ms();
			}
			break;
		case SIGHUP:
			if (!s->draining)
				reload(s);
			break;
		default: break;
		}
	}
}

static void on_db_readable(struct serve *s)
{
	if (!s->conn)
		return;
	if (!PQconsumeInput(s->conn)) {
		db_lost(s, "reading notifications", PQerrorMessage(s->conn));
		return;
	}
	PGnotify *n;
	while ((n = PQnotifies(s->conn))) {
		s->want_claim = 1;
		PQfreemem(n);
	}
}

/* Kill what still runs at the end of the grace period; it goes back to
 * pending without counting the attempt. */
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
		s->inflight = 0;
	}
}

static int run_loop(struct serve *s)
{
	struct pollfd *pfds = NULL;
	int cap = 0;
	for (;;) {
		uint64_t now = jv_now_ms();

		if (s->draining && (s->inflight == 0 || now >= s->drain_deadline)) {
			if (s->inflight > 0) {
				jv_log(JV_WARNING, "grace period over: releasing %d running jobs",
				       s->inflight);
				release_all(s);
			}
			break;
		}
		if (!s->conn && now >= s->next_reconnect)
			try_reconnect(s, now);
		if (now >= s->next_heartbeat)
			heartbeat(s, now);

		/* Finished work first, then new work: completions free slots. */
		flush_completions(s);
		if (!s->draining && !s->paused && s->conn) {
			if (now >= s->next_poll) {
				s->want_claim = 1;
				s->next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;
			}
			if (s->next_due && now >= s->next_due) {
				s->want_claim = 1;
				s->next_due = 0;
			}
			if (s->want_claim)
				claim(s, now);
		}

		/* What to wait for. */
		int nfds = 3 + s->pool.n;
		if (nfds > cap) {
			cap = nfds;
			pfds = jv_realloc(pfds, (size_t)cap * sizeof *pfds);
		}
		int k = 0;
		pfds[k++] = (struct pollfd){s->sfd, POLLIN, 0};
		pfds[k++] = (struct pollfd){s->conn ? PQsocket(s->conn) : -1, POLLIN, 0};
		pfds[k++] = (struct pollfd){s->tp ? jv_tpool_fd(s->tp) : -1, POLLIN, 0};
		for (int i = 0; i < s->pool.n; i++)
			pfds[k++] = (struct pollfd){s->pool.w[i].fd, POLLIN, 0};

		uint64_t wake = s->next_heartbeat;
		if (!s->draining && !s->paused && s->conn) {
			if (s->next_poll < wake)
				wake = s->next_poll;
			if (s->next_due && s->next_due < wake)
				wake = s->next_due;
		}
		if (!s->conn && s->next_reconnect < wake)
			wake = s->next_reconnect;
		if (s->draining && s->drain_deadline < wake)
			wake = s->drain_deadline;
		size_t from = s->n_done;
		uint64_t dl = jv_pool_check_deadlines(&s->pool, now, &s->done, &s->n_done,
						      &s->cap_done);
		finished(s, from);
		if (dl && dl < wake)
			wake = dl;
		int timeout = 0;
		int slots_free = s->inflight < s->cfg->processor.max_concurrent_jobs;
		if (s->n_done > 0 && s->conn)
			timeout = 0;
		else if (s->want_claim && slots_free && s->conn && !s->draining && !s->paused)
			timeout = 0;
		else
			timeout = wake > now ? (int)(wake - now) : 0;

		int r = poll(pfds, (nfds_t)k, timeout);
		if (r < 0 && errno != EINTR) {
			jv_log(JV_ERROR, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		if (pfds[0].revents)
			on_signal(s);
		if (pfds[1].revents && s->conn)
			on_db_readable(s);
		if (pfds[2].revents)
			collect_thread_results(s);
		for (int i = 0; i < s->pool.n && 3 + i < k; i++)
			if (pfds[3 + i].revents && pfds[3 + i].fd == s->pool.w[i].fd) {
				size_t f = s->n_done;
				jv_pool_on_readable(&s->pool, i, &s->done, &s->n_done,
						    &s->cap_done);
				finished(s, f);
			}
		/* Replace workers that died or retired. */
		if (!s->draining)
			jv_pool_fill(&s->pool);
	}
	free(pfds);
	return 0;
}

/* At exit: record what finished (retrying a lost connection briefly), mark
 * the processor stopped. */
static int finish(struct serve *s)
{
	uint64_t until = jv_now_ms() + 10000;
	while (s->n_done > 0 || !s->conn) {
		if (!s->conn) {
			char err[512];
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
		flush_completions(s);
		if (s->n_done > 0 && s->conn) {
			if (jv_now_ms() >= until)
				return JV_EDB;
		}
	}
	char err[512];
	if (jv_store_stopped(s->conn, s->id, err, sizeof err) != 0) {
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
	if (load_all(s->config_path, &s->cfg, &s->plugins, &s->rt) != 0)
		return JV_EXIT_USER;
	apply_log_config(s->cfg);
	s->types = types_literal(s->cfg);
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
	s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	int status = JV_EXIT_OK;
	char err[1024];
	if (db_connect(s, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		status = JV_EXIT_USER;
		goto out;
	}
	if (jv_store_register(s->conn, s->cfg->processor.name, s->hostname, (int)getpid(),
			      PACKAGE_VERSION, &s->id, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "could not register the processor: %s (hint: run `jobvisor migrate`)",
		       err);
		status = JV_EXIT_USER;
		goto out;
	}
	if (any_thread_executor(s->cfg))
		s->tp = jv_tpool_new(s->rt, s->cfg->processor.max_concurrent_jobs);
	jv_pool_init(&s->pool, s->rt, process_workers(s->cfg), s->cfg->processor.worker_max_jobs,
		     child_setup, s);
	int started = jv_pool_fill(&s->pool);
	jv_log(JV_INFO,
	       "processor %" PRId64 " (%s on %s, pid %d) started: %zu executors, %d workers, "
	       "batch %d, max %d concurrent, %d per user",
	       s->id, s->cfg->processor.name, s->hostname, (int)getpid(), s->cfg->n_executors,
	       started, s->cfg->processor.batch_size, s->cfg->processor.max_concurrent_jobs,
	       s->cfg->processor.per_user_limit);
	s->want_claim = 1;
	uint64_t now = jv_now_ms();
	s->next_heartbeat = now + (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	s->next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;

	run_loop(s);

	jv_pool_shutdown(&s->pool, 1000);
	if (s->tp) {
		jv_tpool_free(s->tp, &s->done, &s->n_done, &s->cap_done);
		s->tp = NULL;
	}
	if (finish(s) != 0)
		status = JV_EXIT_INTERNAL;
	jv_log(JV_INFO,
	       "processor %" PRId64 " stopped: %" PRIu64 " jobs claimed in %" PRIu64
	       " claim queries, %" PRIu64 " recorded in %" PRIu64 " round trips, %" PRIu64
	       " late results ignored",
	       s->id, s->n_claimed, s->n_claim_queries, s->n_completed, s->n_complete_queries,
	       s->n_stale);
out:
	for (size_t i = 0; i < s->n_done; i++)
		jv_done_free(&s->done[i]);
	free(s->done);
	if (s->conn)
		PQfinish(s->conn);
	if (s->sfd >= 0)
		close(s->sfd);
	jv_runtime_free(s->rt);
	jv_plugins_free(s->plugins);
	jv_config_free(s->cfg);
	free(s->types);
	return status;
}

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
 * With database.pooler: transaction the two connections go through the
 * pooler and use no session state; LISTEN then runs on a third connection
 * to database.listen_url, or, without one, new jobs are found by polling and
 * cancel and pause requests by control_poll() every poll interval.
 *
 * Nothing here waits on the network: connecting (PQconnectStartParams,
 * PQconnectPoll) and every query are asynchronous, on connections in
 * non-blocking mode, and every query has a deadline (answer_deadline_ms): an
 * answer overdue counts as a lost connection, as does a connect that does
 * not finish in time. The database going away stops claiming, never
 * running: jobs in flight go on, their results wait in memory, and the loop
 * reconnects (backoff with jitter, from a few hundred ms up to
 * JV_RECONNECT_MAX_MS) and catches up; a completion that was in flight is
 * sent again (fencing makes a repeat harmless).
 *
 * Self-fencing (fence_check): a processor whose heartbeat has not been
 * confirmed for the rescue horizon minus a margin stops its running jobs
 * before any other processor may rescue them, and claims nothing until a
 * heartbeat is confirmed again. See README, "How serve works".
 */
#include "autoconf.h"

#include "alert/alert.h"
#include "api/api.h"
#include "api/bridge.h"
#include "api/stats.h"
#include "config/config.h"
#include "config/fdlimit.h"
#include "engine/migrate.h"
#include "engine/privs.h"
#include "engine/serve.h"
#include "engine/store.h"
#include "engine/worker.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/jsontext.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/notify.h"
#include "lib/sizelimits.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "sched/scheduler.h"

#include <errno.h>
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

/* Reconnecting: the first try at once, then back-off with jitter from
 * JV_RECONNECT_FIRST_MS, doubling up to JV_RECONNECT_MAX_MS. */
#define JV_RECONNECT_FIRST_MS 100
#define JV_RECONNECT_MAX_MS 1000
/* How long a NOTIFY sent at start may take to reach our LISTEN. */
#define JV_SELFCHECK_MS 5000

/* What a channel's query in flight is. */
enum query {
	Q_NONE = 0,  /* idle */
	Q_LISTEN,    /* LISTEN after (re)connecting */
	Q_CLAIM,
	Q_COMPLETE,
	Q_HEARTBEAT, /* heartbeat and rescue */
	Q_RELEASE,   /* release_unheld() after a reconnect */
	Q_CONTROL,   /* control_poll(), when NOTIFY cannot reach us */
	Q_NOTIFY,    /* the start-up check that a NOTIFY reaches our LISTEN */
	Q_STOPPED,   /* the processor row marked stopped, at exit */
};

static const char *const query_name[] = {
	"", "LISTEN", "claim", "completion", "heartbeat", "release of unheld claims",
	"control poll", "NOTIFY self-check", "processor stop",
};

enum chan_state { CH_DOWN = 0, CH_CONNECTING, CH_READY };

/* One database connection with at most one query in flight. */
struct chan {
	const char *name;       /* "claim", "completion", "listen": for the log */
	PGconn *conn;
	enum chan_state state;
	int listen;             /* it LISTENs (set when the link opens) */
	int want_write;         /* CH_CONNECTING: PQconnectPoll waits to write */
	uint64_t connect_deadline;
	int first_host;         /* of a multi-host url: where connecting starts */
	enum query q;           /* the query in flight (Q_NONE: idle) */
	uint64_t deadline;      /* its answer is overdue after this (moved on by input) */
	int flush;              /* output not all sent yet: wait to write */
	int failed;             /* q: a result reported an error */
	PGresult *res;          /* q: its result, kept until the query has ended */
	struct jv_done *batch;  /* Q_COMPLETE: the attempts in flight */
	size_t n_batch;
	int slots;              /* Q_CLAIM: slots asked for */
};

/* The start-up check that a NOTIFY reaches our LISTEN. */
enum selfcheck { SC_NONE = 0, SC_TODO, SC_SENT, SC_DONE };

struct serve {
	const char *config_path;
	struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_runtime *rt;
	char *types; /* text[] literal of the configured job types */

	struct chan lc; /* claims (and LISTEN with pooler: none) */
	struct chan cc; /* completions, heartbeat, rescue */
	struct chan nc; /* LISTEN on database.listen_url (pooler: transaction) */
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
	int reconnecting;           /* the channels are connecting after a loss */
	int recovering;             /* connected; release_unheld() not answered yet */
	int epoch;                  /* connection epoch: claims carry it (sql/010) */
	uint32_t rng;               /* for the reconnect jitter */
	char reconnect_why[512];    /* why the last reconnect failed, logged once */
	/* Heartbeats and self-fencing (fence_check). */
	struct chan *hb_chan;       /* the heartbeat in flight, on this channel */
	uint64_t hb_sent_at;        /* when it was sent */
	uint64_t hb_confirmed_sent; /* when the last confirmed one was sent */
	int hb_sent_stuck_ms;       /* the horizon the one in flight declares */
	int declared_stuck_ms;      /* the horizon the database has for us (sql/013) */
	int fenced;                 /* jobs stopped, claiming stopped: no heartbeat confirmed */
	uint64_t fence_kill_at;     /* jobs told to stop are killed then (0: none) */
	int64_t *fenced_ids;        /* jobs stopped by fencing, until their end is known */
	size_t n_fenced, cap_fenced;
	uint64_t n_fenced_total;    /* attempts stopped by fencing since the last report */
	/* LISTEN, or polling for cancel and pause (control_poll). */
	int control_by_poll;
	uint64_t next_control;
	int64_t control_seq;        /* processors.control_seq last applied */
	enum selfcheck selfcheck;
	uint64_t selfcheck_until;
	uint64_t release_at;        /* recovering: send release_unheld() then */
	int pooled;                 /* database.url's server process is not the one libpq was told */
	int stopped_recorded;       /* at exit: the processor row says stopped */
	int stop_sent;              /* ... is being said: no heartbeat may follow it */
	uint64_t stop_retry_at;     /* after a failed stop: not before */
	uint64_t exit_deadline;     /* at exit: give up recording after this (0: not yet) */
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
	if (s->nc.conn && PQsocket(s->nc.conn) >= 0)
		close(PQsocket(s->nc.conn));
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

/* The channel that LISTENs: the claim channel without a pooler, the third
 * one with pooler: transaction and a listen_url, else none (NULL). */
static struct chan *listen_chan(struct serve *s)
{
	if (s->cfg->database.pooler != JV_POOLER_TRANSACTION)
		return &s->lc;
	return s->cfg->database.listen_url ? &s->nc : NULL;
}

static int uses_nc(const struct serve *s)
{
	return s->cfg->database.pooler == JV_POOLER_TRANSACTION && s->cfg->database.listen_url;
}

static const char *chan_url(const struct serve *s, const struct chan *c)
{
	return c == &s->nc ? s->cfg->database.listen_url : s->cfg->database.url;
}

/* Connected, and LISTENing when it does (its LISTEN answered). */
static int ready(const struct chan *c) { return c->state == CH_READY && c->q != Q_LISTEN; }

/* Every channel connected (and LISTENing where it does). */
static int connected(const struct serve *s)
{
	return ready(&s->lc) && ready(&s->cc) && (!uses_nc(s) || ready(&s->nc));
}

/* The channel that LISTENs sends nothing while the start-up check that a
 * NOTIFY reaches it is under way: through a pooler in transaction mode, a
 * transaction of its own could run on the server connection that holds the
 * LISTEN and pick the NOTIFY up by chance, hiding the problem. */
static int quiet(const struct serve *s, const struct chan *c)
{
	return c->listen && (s->selfcheck == SC_TODO || s->selfcheck == SC_SENT);
}

/* c can take a query now. */
static int usable(const struct serve *s, const struct chan *c)
{
	return ready(c) && c->q == Q_NONE && !quiet(s, c);
}

/* The first of a and b that can take a query now, or NULL. */
static struct chan *idle_chan(const struct serve *s, struct chan *a, struct chan *b)
{
	if (usable(s, a))
		return a;
	if (b && usable(s, b))
		return b;
	return NULL;
}

/*
 * How long a query's answer may keep us waiting with nothing arriving on its
 * connection before the connection counts as lost. A heartbeat answers in
 * milliseconds: it is overdue by the next one's time, at least 5 s. The rest
 * may legitimately wait on the server for a while (a lock, a commit that a
 * synchronous standby holds up, a batch of large outputs): 30 s, or a
 * heartbeat interval when that is longer. A slow but live server keeps its
 * TCP connection answering (keepalives, db.c), so an answer overdue this
 * long is a link that acknowledges and forwards nothing (a stuck middlebox,
 * a paused peer). Self-fencing does not wait for it: it counts from the last
 * confirmed heartbeat whatever the connections look like.
 */
static uint64_t answer_deadline_ms(const struct serve *s, enum query q)
{
	uint64_t hb = (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	if (q == Q_HEARTBEAT)
		return hb > 5000 ? hb : 5000;
	return hb > 30000 ? hb : 30000;
}

/* Put a completion batch that may not have been recorded back in line. */
static void requeue_batch(struct serve *s)
{
	for (size_t i = 0; i < s->cc.n_batch; i++)
		jv_done_push(&s->done, &s->n_done, &s->cap_done, &s->cc.batch[i]);
	free(s->cc.batch);
	s->cc.batch = NULL;
	s->cc.n_batch = 0;
}

static void close_chan(struct serve *s, struct chan *c)
{
	if (c->conn)
		PQfinish(c->conn); /* non-blocking: never waits to say goodbye */
	c->conn = NULL;
	c->state = CH_DOWN;
	c->q = Q_NONE;
	c->flush = 0;
	PQclear(c->res); /* (a query not ended is as good as lost) */
	c->res = NULL;
	if (s->hb_chan == c)
		s->hb_chan = NULL;
}

static void close_all(struct serve *s)
{
	requeue_batch(s);
	close_chan(s, &s->lc);
	close_chan(s, &s->cc);
	close_chan(s, &s->nc);
	s->recovering = 0;
	if (s->selfcheck == SC_SENT)
		s->selfcheck = SC_TODO; /* cut off: again on the next connection */
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

/* Close every channel and reconnect at once (reconnect_step). */
static void link_reset(struct serve *s)
{
	give_back_queue(s); /* release_unheld() at the reconnect */
	close_all(s);
	s->reconnecting = 1;
	s->lost_at = jv_now_ms();
	s->reconnect_delay = 0;
	s->next_reconnect = s->lost_at;
}

/* A small xorshift for the reconnect jitter: no shared state with anyone. */
static uint64_t jitter(struct serve *s, uint64_t d)
{
	uint32_t x = s->rng ? s->rng : (uint32_t)getpid() * 2654435761u + (uint32_t)jv_now_ms();
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rng = x;
	return d / 2 + x % (d / 2 + 1);
}

/* A reconnect attempt failed (c: the channel, when one is to blame;
 * timed_out: its host never answered). Closes what was opened and tries
 * again after the back-off; a multi-host url then starts at the host after
 * the silent one. */
static void connect_failed(struct serve *s, struct chan *c, const char *err, int timed_out,
			   uint64_t now)
{
	if (c && timed_out && c->conn && jv_db_host_count(chan_url(s, c)) > 1) {
		int i = jv_db_host_index(chan_url(s, c), c->first_host, c->conn);
		/* (every channel on that url: the host is as silent for them) */
		struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
		for (size_t k = 0; i >= 0 && k < sizeof chans / sizeof chans[0]; k++)
			if ((chans[k] == &s->nc) == (c == &s->nc))
				chans[k]->first_host = i + 1;
	}
	close_all(s);
	s->reconnect_delay = s->reconnect_delay == 0 ? JV_RECONNECT_FIRST_MS
			     : s->reconnect_delay * 2 > JV_RECONNECT_MAX_MS ? JV_RECONNECT_MAX_MS
									: s->reconnect_delay * 2;
	s->next_reconnect = now + jitter(s, s->reconnect_delay);
	/* A reason that needs an operator (a role's connection limit,
	 * max_connections, a password) must reach the log, but once, not at
	 * every retry. */
	if (strcmp(err, s->reconnect_why) != 0)
		jv_log(JV_WARNING, "cannot reconnect to the database yet, retrying: %s", err);
	else
		jv_debug("reconnect failed: %s", err);
	snprintf(s->reconnect_why, sizeof s->reconnect_why, "%s", err);
}

static void db_lost(struct serve *s, const char *what, const char *err)
{
	if (s->reconnecting) {
		/* (while connecting: one more failed attempt) */
		connect_failed(s, NULL, err, 0, jv_now_ms());
		return;
	}
	jv_log(JV_ERROR, "database connection lost (%s: %s); jobs keep running, reconnecting",
	       what, err);
	link_reset(s);
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

/* A query was just sent on c: it is in flight, its output maybe not all
 * written yet (the connection does not block: the rest goes out as the
 * socket takes it). Returns 0, or 1 when the connection broke (handled). */
static int chan_sent(struct serve *s, struct chan *c, enum query q, uint64_t now)
{
	c->q = q;
	c->failed = 0;
	c->deadline = now + answer_deadline_ms(s, q);
	int r = PQflush(c->conn);
	c->flush = r == 1;
	if (r < 0) {
		db_lost(s, c->name, PQerrorMessage(c->conn));
		return 1;
	}
	return 0;
}

#define LISTEN_ALL                                                                            \
	"LISTEN " JV_DB_NOTIFY_CHANNEL "; LISTEN " JV_DB_CANCEL_CHANNEL "; LISTEN " JV_DB_CONTROL_CHANNEL

/* c reached its server: the rest of its set-up (LISTEN) is a query too. */
static void chan_connected(struct serve *s, struct chan *c, uint64_t now)
{
	PQsetnonblocking(c->conn, 1);
	if (!c->listen) {
		c->state = CH_READY;
		return;
	}
	if (!PQsendQuery(c->conn, LISTEN_ALL)) {
		char err[512];
		jv_db_format_error(c->conn, NULL, err, sizeof err);
		connect_failed(s, c, err, 0, now);
		return;
	}
	c->state = CH_READY; /* (ready() waits for the LISTEN's answer) */
	chan_sent(s, c, Q_LISTEN, now);
}

/* Drive c's connecting on: its socket is ready, or it was just started. */
static void chan_connect_poll(struct serve *s, struct chan *c, uint64_t now)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING: c->want_write = 0; return;
	case PGRES_POLLING_WRITING: c->want_write = 1; return;
	case PGRES_POLLING_OK: chan_connected(s, c, now); return;
	default: {
		char err[512];
		jv_db_connect_error(chan_url(s, c), c->conn, err, sizeof err);
		connect_failed(s, c, err, 0, now);
		return;
	}
	}
}

/* The reconnect's turn: start connecting every channel (the attempt goes
 * on in the loop: chan_connect_poll, link_check). */
static void reconnect_step(struct serve *s, uint64_t now)
{
	if (!s->reconnecting || s->lc.state != CH_DOWN || now < s->next_reconnect)
		return;
	struct chan *chans[] = {&s->lc, &s->cc, uses_nc(s) ? &s->nc : NULL};
	struct chan *l = listen_chan(s);
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		struct chan *c = chans[i];
		if (!c)
			continue;
		char err[512];
		c->conn = jv_db_connect_start(chan_url(s, c), "jobvisor serve", c->first_host, err,
					     sizeof err);
		if (!c->conn) {
			connect_failed(s, c, err, 0, now);
			return;
		}
		c->state = CH_CONNECTING;
		c->want_write = 1; /* as libpq says: behave as if it asked to write */
		c->connect_deadline = now + (uint64_t)jv_db_connect_timeout_ms(chan_url(s, c));
		c->listen = c == l;
	}
}

/* "HOST:PORT" of c's connection into buf. */
static const char *chan_host(const struct chan *c, char *buf, size_t len)
{
	const char *h = c->conn ? PQhost(c->conn) : NULL;
	const char *p = c->conn ? PQport(c->conn) : NULL;
	if (h && h[0] == '/')
		snprintf(buf, len, "socket %s port %s", h, p && *p ? p : "5432");
	else
		snprintf(buf, len, "%s:%s", h && *h ? h : "?", p && *p ? p : "5432");
	return buf;
}

static void send_release(struct serve *s, uint64_t now);

/* Every channel is up again: say where, then release_unheld() before any
 * claim, and a heartbeat at once. */
static void link_check(struct serve *s, uint64_t now)
{
	if (!s->reconnecting || !connected(s))
		return;
	char lhost[300], chost[300], nbuf[300], nhost[320] = "";
	chan_host(&s->lc, lhost, sizeof lhost);
	chan_host(&s->cc, chost, sizeof chost);
	if (uses_nc(s))
		snprintf(nhost, sizeof nhost, "; LISTEN on %s", chan_host(&s->nc, nbuf, sizeof nbuf));
	jv_log(JV_INFO, "database connection back after %llu ms: %s%s%s%s",
	       (unsigned long long)(now - s->lost_at), chost, strcmp(lhost, chost) ? ", claims on " : "",
	       strcmp(lhost, chost) ? lhost : "", nhost);
	s->reconnecting = 0;
	s->reconnect_delay = 0;
	s->reconnect_why[0] = '\0';
	s->n_reconnects++;
	s->epoch++;
	s->recovering = 1;
	send_release(s, now);
	s->next_heartbeat = now; /* say we are alive at once */
	s->complete_retry_at = 0;
}

/* Open the channels at start, waiting (nothing runs yet): a database that
 * cannot be reached is an error to exit with, as the service manager
 * expects. */
static int db_open(struct serve *s, char *err, size_t errlen)
{
	struct chan *chans[] = {&s->lc, &s->cc, uses_nc(s) ? &s->nc : NULL};
	struct chan *l = listen_chan(s);
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		struct chan *c = chans[i];
		if (!c)
			continue;
		c->conn = jv_db_connect(chan_url(s, c), "jobvisor serve", err, errlen);
		if (!c->conn) {
			close_all(s);
			return JV_EDB;
		}
		c->listen = c == l;
		if (c->listen && (jv_db_exec(c->conn, "LISTEN " JV_DB_NOTIFY_CHANNEL, 0, NULL, err,
					     errlen) != 0 ||
				  jv_db_exec(c->conn, "LISTEN " JV_DB_CANCEL_CHANNEL, 0, NULL, err,
					     errlen) != 0 ||
				  jv_db_exec(c->conn, "LISTEN " JV_DB_CONTROL_CHANNEL, 0, NULL, err,
					     errlen) != 0)) {
			close_all(s);
			return JV_EDB;
		}
		c->state = CH_READY;
	}
	/* A pooler gives its clients a process id of its own (PgBouncer does):
	 * the hint the NOTIFY self-check's warning gives. */
	long long pid;
	if (jv_db_query_int64(s->cc.conn, "SELECT pg_backend_pid()", 0, NULL, &pid, NULL, err,
			      errlen) != 0) {
		close_all(s);
		return JV_EDB;
	}
	s->pooled = pid != PQbackendPID(s->cc.conn);
	return 0;
}

/* Turn the channels to non-blocking once start-up is done. */
static void db_nonblocking(struct serve *s)
{
	struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++)
		if (chans[i]->conn)
			PQsetnonblocking(chans[i]->conn, 1);
}

/* How NOTIFY reaches us, for the configuration: through LISTEN (checked
 * once the loop runs: selfcheck), or not at all (polling, said once). */
static void listen_mode(struct serve *s)
{
	s->control_by_poll = listen_chan(s) == NULL;
	s->selfcheck = s->control_by_poll ? SC_NONE : SC_TODO;
	if (s->control_by_poll)
		jv_log(JV_INFO,
		       "database.pooler is transaction and no database.listen_url is set: new jobs "
		       "are found by polling every %d ms (processor.poll_interval_ms), and cancel "
		       "and pause requests within the same interval",
		       s->cfg->processor.poll_interval_ms);
}

/* ------------------------------------------------------------ jobs */

static int fenced_take(struct serve *s, int64_t id);
static void note_fenced_recorded(const struct jv_done *done, size_t n_done,
				 const struct jv_applied *applied, size_t n);

/* Runs that self-fencing stopped (fence_begin): unless they succeeded
 * before they stopped, they end as fenced, whatever the executor said. */
static void fence_note(struct serve *s, size_t from)
{
	for (size_t i = from; i < s->n_done && s->n_fenced > 0; i++) {
		struct jv_done *d = &s->done[i];
		if (!fenced_take(s, d->id) || d->end == JV_END_SUCCEEDED)
			continue;
		char *why = jv_asprintf("stopped by self-fencing: no heartbeat of this processor was "
					"confirmed for %lld ms, and other processors may rescue its jobs "
					"after %d ms%s%s",
					(long long)(s->cfg->processor.stuck_job_timeout_ms -
						    jv_config_fence_margin_ms(s->cfg)),
					s->cfg->processor.stuck_job_timeout_ms, d->error ? ": " : "",
					d->error ? d->error : "");
		free(d->error);
		d->error = why;
		d->end = JV_END_FENCED;
		d->retry_in_ms = 0;
		s->n_fenced_total++;
	}
}

static void finished(struct serve *s, size_t from)
{
	/* Called after new entries were appended to s->done at [from, n). */
	if (from == 0 && s->n_done > 0)
		s->first_done_at = jv_now_ms();
	fence_note(s, from);
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

/* Log what a completion round trip did. Returns the number applied. */
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
	if (s->n_done == 0 || s->cc.q != Q_NONE || !connected(s) || now < s->complete_retry_at)
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
	s->cc.batch = s->done;
	s->cc.n_batch = n;
	s->done = NULL;
	s->n_done = s->cap_done = 0;
	/* What did not fit in this round trip waits for the next. */
	for (size_t i = n; i < total; i++)
		jv_done_push(&s->done, &s->n_done, &s->cap_done, &s->cc.batch[i]);
	chan_sent(s, &s->cc, Q_COMPLETE, now);
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
	note_fenced_recorded(s->cc.batch, s->cc.n_batch, applied, n);
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

/* Claiming is possible now: connected, released what a lost claim may
 * have left, not fenced, not stopping or paused, not waiting for the
 * NOTIFY self-check (quiet). */
static int may_claim(const struct serve *s)
{
	return connected(s) && !s->recovering && !s->fenced && !s->draining && !s->paused &&
	       !quiet(s, &s->lc);
}

static void send_claim(struct serve *s, uint64_t now)
{
	int slots = free_slots(s);
	if (slots <= 0 || s->lc.q != Q_NONE || !may_claim(s))
		return;
	char err[1024];
	if (jv_store_claim_send(s->lc.conn, s->id, slots, s->cfg->processor.per_user_limit,
				s->types, s->epoch, err, sizeof err) != 0) {
		if (!check_lost(s, s->lc.conn, "claiming", err))
			jv_log(JV_ERROR, "claim failed: %s", err);
		s->want_claim = 0;
		return;
	}
	s->n_claim_queries++;
	s->lc.slots = slots;
	s->want_claim = 0;
	chan_sent(s, &s->lc, Q_CLAIM, now);
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
		if (s->fenced) {
			/* claimed as self-fencing began: not started, given back */
			end_now(s, &rows[i], JV_END_RELEASED,
				"given back unstarted: the processor had fenced itself");
			jv_claimed_free(&rows[i]);
			continue;
		}
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

/* ------------------------------------------------------------ heartbeat */

/* Heartbeat and rescue, one round trip on whichever channel is idle (the
 * completion channel first), once per heartbeat interval; never waited
 * for. One is in flight at a time: confirmations come in the order sent. */
static void heartbeat(struct serve *s, uint64_t now)
{
	if (s->hb_chan || !connected(s) || s->stop_sent)
		return; /* in flight; or at once when the link is back (link_check) */
	struct chan *c = idle_chan(s, &s->cc, &s->lc);
	if (!c)
		return; /* right after the query in flight (see the wake-up) */
	s->next_heartbeat = now + (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	char err[512];
	const char *state = s->draining ? "stopping" : s->paused ? "paused" : "running";
	if (jv_store_heartbeat_send(c->conn, s->id, state, s->cfg->processor.stuck_job_timeout_ms,
				    err, sizeof err) != 0) {
		if (!check_lost(s, c->conn, "heartbeat", err))
			jv_log(JV_ERROR, "heartbeat failed: %s", err);
		return;
	}
	s->hb_chan = c;
	s->hb_sent_at = now;
	s->hb_sent_stuck_ms = s->cfg->processor.stuck_job_timeout_ms;
	chan_sent(s, c, Q_HEARTBEAT, now);
}

static void fence_lift(struct serve *s, uint64_t now);

static void on_heartbeat_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (!check_lost(s, c->conn, "heartbeat", err))
			jv_log(JV_ERROR, "heartbeat or stuck-job rescue failed: %s", err);
		return;
	}
	/* The database's heartbeat_at is its transaction's start, after we sent
	 * it: counting from the send is never later than the database does. */
	s->hb_confirmed_sent = s->hb_sent_at;
	s->declared_stuck_ms = s->hb_sent_stuck_ms;
	s->last_heartbeat_unix_ms = jv_unix_ms();
	s->last_heartbeat_mono_ms = now;
	if (s->fenced)
		fence_lift(s, now);
	int rescued = jv_store_count_parse(res);
	if (rescued > 0) {
		/* Any live processor rescues the jobs of dead ones. */
		jv_log(JV_WARNING, "rescued %d stuck jobs of processors silent for over %g min", rescued,
		       s->cfg->processor.stuck_job_timeout_ms / 60000.0);
		s->want_claim = 1;
		struct jv_event ev = {.kind = JV_EV_STUCK_JOBS_RESET, .number = rescued};
		jv_alerter_raise(s->alerter, &ev);
	}
}

/* ------------------------------------------------------------ self-fencing */

/*
 * Other processors rescue our running jobs once the database's clock says our
 * heartbeat_at is older than the horizon (stuck_job_timeout_minutes).
 * heartbeat_at is set by a heartbeat's transaction, which starts after we
 * sent it; so counting on our monotonic clock from the send of the last
 * heartbeat confirmed to us, we can never think ourselves further from a
 * rescue than we are. At horizon - margin after that send, with no newer
 * heartbeat confirmed, we stop every running job (told to stop, killed
 * JV_KILL_GRACE_MS later), give back what waits unstarted, and claim
 * nothing until a heartbeat is confirmed again: every copy of a job we ran
 * is dead before any other processor may start another. The margin is the
 * kill grace plus slack for scheduling and the clocks' rates
 * (jv_config_fence_margin_ms); config load refuses a horizon shorter than
 * two heartbeats plus the margin, so a processor whose heartbeats get
 * through never fences. What the stopped runs report (or their kill) is
 * recorded as 'fenced' when the database is back: a rescue in history,
 * attempt counted, or a late result if another processor rescued it first.
 */
static uint64_t fence_at(const struct serve *s)
{
	/* The horizon others rescue us by is the one the database has for us
	 * (sql/013: declared with the last confirmed heartbeat); a reload
	 * that lengthened ours holds only once a heartbeat carried it there,
	 * one that shortened it at once. (The margin of the configured
	 * horizon: never less than that of the shorter one.) */
	int64_t horizon = s->cfg->processor.stuck_job_timeout_ms;
	if (s->declared_stuck_ms > 0 && s->declared_stuck_ms < horizon)
		horizon = s->declared_stuck_ms;
	return s->hb_confirmed_sent + (uint64_t)(horizon - jv_config_fence_margin_ms(s->cfg));
}

static void fenced_add(struct serve *s, int64_t id)
{
	for (size_t k = 0; k < s->n_fenced; k++)
		if (s->fenced_ids[k] == id)
			return;
	if (s->n_fenced == s->cap_fenced) {
		s->cap_fenced = s->cap_fenced ? 2 * s->cap_fenced : 16;
		s->fenced_ids = jv_realloc(s->fenced_ids, s->cap_fenced * sizeof *s->fenced_ids);
	}
	s->fenced_ids[s->n_fenced++] = id;
}

/* 1 (and forgotten) when self-fencing stopped job id's run. */
static int fenced_take(struct serve *s, int64_t id)
{
	for (size_t k = 0; k < s->n_fenced; k++)
		if (s->fenced_ids[k] == id) {
			s->fenced_ids[k] = s->fenced_ids[--s->n_fenced];
			return 1;
		}
	return 0;
}

/* Every job running on threads (each generation's) into the fenced list. */
static void fence_thread_jobs(struct serve *s, struct jv_tpool *tp)
{
	struct jv_buf ids = {0};
	size_t from = s->n_done;
	jv_tpool_unqueue(tp, "given back unstarted: the processor had fenced itself", &s->done,
			 &s->n_done, &s->cap_done);
	finished(s, from);
	jv_tpool_ids(tp, &ids);
	for (const char *p = ids.data; p && *p;) {
		char *end;
		long long id = strtoll(p, &end, 10);
		if (end == p)
			break;
		fenced_add(s, id);
		p = *end == ',' ? end + 1 : end;
	}
	jv_buf_free(&ids);
	jv_tpool_cancel_all(tp);
}

static void fence_begin(struct serve *s, uint64_t now)
{
	s->fenced = 1;
	s->fence_kill_at = now + JV_KILL_GRACE_MS;
	int running = s->inflight;
	jv_log(JV_ERROR,
	       "self-fencing: no heartbeat confirmed for %llu ms (other processors may rescue "
	       "this one's jobs %d ms after its last one): stopping %d running jobs now (killed "
	       "after %d ms), giving back %zu unstarted, claiming nothing until a heartbeat is "
	       "confirmed",
	       (unsigned long long)(now - s->hb_confirmed_sent),
	       s->cfg->processor.stuck_job_timeout_ms, running, JV_KILL_GRACE_MS, s->n_queued);
	for (size_t i = 0; i < s->n_queued; i++) {
		end_now(s, &s->queue[i], JV_END_RELEASED,
			"given back unstarted: the processor had fenced itself");
		jv_claimed_free(&s->queue[i]);
	}
	s->n_queued = 0;
	s->worker_wait_until = s->worker_wait_since = s->worker_backoff = 0;
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0 && s->pool.w[i].busy) {
			fenced_add(s, s->pool.w[i].job_id);
			jv_pool_cancel(&s->pool, i);
		}
	if (s->tp)
		fence_thread_jobs(s, s->tp);
	for (struct old_gen *g = s->old; g; g = g->next)
		fence_thread_jobs(s, g->tp);
	s->next_publish = 0;
}

/* JV_KILL_GRACE_MS after fence_begin: what still runs is killed. A thread
 * cannot be killed: a trusted in-process executor that ignores the stop
 * leaves one way to keep the guarantee, which is to end the process (the
 * workers die with it); the service manager starts it again. */
static void fence_kill(struct serve *s)
{
	s->fence_kill_at = 0;
	for (int i = 0; i < s->pool.n; i++) {
		struct jv_worker *w = &s->pool.w[i];
		if (w->pid <= 0 || !w->busy)
			continue;
		int ours = 0;
		for (size_t k = 0; k < s->n_fenced && !ours; k++)
			ours = s->fenced_ids[k] == w->job_id;
		if (!ours)
			continue;
		jv_log(JV_WARNING, "self-fencing: job %" PRId64 " did not stop; killing worker %d",
		       w->job_id, (int)w->pid);
		size_t from = s->n_done;
		jv_pool_kill(&s->pool, i, JV_END_FENCED, &s->done, &s->n_done, &s->cap_done);
		finished(s, from);
	}
	int threads = s->tp ? jv_tpool_inflight(s->tp) : 0;
	for (const struct old_gen *g = s->old; g; g = g->next)
		threads += jv_tpool_inflight(g->tp);
	if (threads > 0) {
		jv_log(JV_ERROR,
		       "self-fencing: %d jobs running on threads (isolation: thread) did not stop "
		       "within %d ms, and a thread cannot be killed: exiting, so that no job runs "
		       "here once other processors may rescue it",
		       threads, JV_KILL_GRACE_MS);
		for (int i = 0; i < s->pool.n; i++)
			if (s->pool.w[i].pid > 0) {
				kill(-s->pool.w[i].pid, SIGKILL);
				kill(s->pool.w[i].pid, SIGKILL);
			}
		_exit(JV_EXIT_INTERNAL);
	}
}

static void fence_lift(struct serve *s, uint64_t now)
{
	s->fenced = 0;
	s->want_claim = 1;
	jv_log(JV_WARNING,
	       "self-fencing over: a heartbeat is confirmed again (sent %llu ms ago); claiming "
	       "again",
	       (unsigned long long)(now - s->hb_sent_at));
}

/* Each turn: fence when the time has come, kill what did not stop. */
static void fence_check(struct serve *s, uint64_t now)
{
	if (!s->fenced && now >= fence_at(s))
		fence_begin(s, now);
	if (s->fence_kill_at && now >= s->fence_kill_at)
		fence_kill(s);
}

/* The attempts stopped by fencing, once recorded: said once per batch. */
static void note_fenced_recorded(const struct jv_done *done, size_t n_done,
				 const struct jv_applied *applied, size_t n)
{
	size_t fenced = 0, kept = 0;
	for (size_t i = 0; i < n_done; i++)
		if (done[i].end == JV_END_FENCED) {
			fenced++;
			for (size_t k = 0; k < n; k++)
				if (applied[k].id == done[i].id && applied[k].attempt == done[i].attempt)
					kept += applied[k].applied != 0;
		}
	if (fenced > 0)
		jv_log(JV_WARNING,
		       "recorded %zu attempts stopped by self-fencing: %zu as rescued (attempt "
		       "counted), %zu had been rescued by another processor meanwhile",
		       fenced, kept, fenced - kept);
}

/* ------------------------------------------------------------ control */

/* The jobs we run or hold unstarted, as a bigint[] literal (caller frees
 * with jv_buf_free). */
static void running_ids(struct serve *s, struct jv_buf *b)
{
	jv_buf_puts(b, "{");
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0 && s->pool.w[i].busy)
			jv_buf_printf(b, "%lld,", (long long)s->pool.w[i].job_id);
	if (s->tp)
		jv_tpool_ids(s->tp, b);
	for (const struct old_gen *g = s->old; g; g = g->next)
		jv_tpool_ids(g->tp, b);
	for (size_t i = 0; i < s->n_queued; i++)
		jv_buf_printf(b, "%lld,", (long long)s->queue[i].id);
	if (b->data[b->len - 1] == ',')
		b->len--;
	jv_buf_puts(b, "}");
}

/* Without LISTEN: ask for cancel and pause requests every poll interval. */
static void send_control(struct serve *s, uint64_t now)
{
	if (!s->control_by_poll || !connected(s) || now < s->next_control)
		return;
	struct chan *c = idle_chan(s, &s->lc, &s->cc);
	if (!c)
		return;
	s->next_control = now + (uint64_t)s->cfg->processor.poll_interval_ms;
	struct jv_buf ids = {0};
	running_ids(s, &ids);
	char err[512];
	int rc = jv_store_control_send(c->conn, s->id, ids.data, err, sizeof err);
	jv_buf_free(&ids);
	if (rc != 0) {
		if (!check_lost(s, c->conn, "control poll", err))
			jv_log(JV_ERROR, "control poll failed: %s", err);
		return;
	}
	chan_sent(s, c, Q_CONTROL, now);
}

static void on_control_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (!check_lost(s, c->conn, "control poll", err))
			jv_log(JV_ERROR, "control poll failed: %s", err);
		return;
	}
	struct jv_control ctl;
	jv_store_control_parse(res, &ctl);
	for (size_t i = 0; i < ctl.n_gone; i++) {
		if (strcmp(ctl.gone[i].status, "cancelled") != 0)
			jv_log(JV_WARNING,
			       "job %" PRId64 " is no longer running under this processor (%s): "
			       "stopping its run",
			       ctl.gone[i].id, ctl.gone[i].status);
		cancel_running(s, ctl.gone[i].id, now);
	}
	free(ctl.gone);
	if (ctl.seq >= 0 && ctl.seq != s->control_seq) {
		s->control_seq = ctl.seq;
		set_paused(s, ctl.pause, now);
	}
}

/* The start-up check that a NOTIFY reaches our LISTEN: one to ourselves on
 * the completion channel (database.url), which must arrive on the channel
 * that LISTENs. Through a pooler in transaction mode it does not: the
 * LISTEN stayed on whichever server connection ran it. */
static void send_selfcheck(struct serve *s, uint64_t now)
{
	if (s->selfcheck != SC_TODO || !connected(s) || s->recovering || s->cc.q != Q_NONE)
		return;
	char payload[64], err[512];
	snprintf(payload, sizeof payload, "selfcheck %" PRId64, s->id);
	if (jv_store_notify_send(s->cc.conn, JV_DB_CONTROL_CHANNEL, payload, err, sizeof err) != 0) {
		if (!check_lost(s, s->cc.conn, "NOTIFY self-check", err))
			jv_log(JV_ERROR, "NOTIFY self-check failed: %s", err);
		return;
	}
	s->selfcheck = SC_SENT;
	s->selfcheck_until = 0; /* counted from its answer */
	chan_sent(s, &s->cc, Q_NOTIFY, now);
}

static void selfcheck_failed(struct serve *s, const char *why)
{
	s->selfcheck = SC_DONE;
	s->control_by_poll = 1;
	jv_log(JV_WARNING,
	       "a NOTIFY this processor sent did not reach its LISTEN (%s): %s; set "
	       "database.pooler: transaction, and database.listen_url to a direct connection for "
	       "LISTEN. Until then new jobs are found by polling every %d ms "
	       "(processor.poll_interval_ms), and cancel and pause requests the same way",
	       why,
	       s->pooled ? "database.url goes through a connection pooler (its server process is not "
			"the one the connection was told: PgBouncer in transaction or statement "
			"mode, most likely)"
		      : "database.url probably goes through a connection pooler in transaction "
			"or statement mode (PgBouncer, most likely)",
	       s->cfg->processor.poll_interval_ms);
}

/* Our self-check's NOTIFY arrived on c. */
static void selfcheck_heard(struct serve *s, const struct chan *c)
{
	if (s->selfcheck != SC_SENT)
		return;
	if (!c->listen) {
		char why[96];
		snprintf(why, sizeof why, "it arrived on the %s connection, which does not LISTEN",
			 c->name);
		selfcheck_failed(s, why);
		return;
	}
	s->selfcheck = SC_DONE;
	jv_debug("NOTIFY reaches this processor's LISTEN");
}

static void on_selfcheck_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (!check_lost(s, c->conn, "NOTIFY self-check", err)) {
			jv_log(JV_ERROR, "NOTIFY self-check failed: %s", err);
			s->selfcheck = SC_DONE;
		}
		return;
	}
	if (s->selfcheck == SC_SENT)
		s->selfcheck_until = now + JV_SELFCHECK_MS;
}

/* ------------------------------------------------------------ recovery */

/*
 * A claim in flight when the connection broke may have committed: its jobs
 * are running under our id, and we never heard of them. Tell the database
 * which jobs we do hold (running, or finished and not yet recorded); the
 * rest go back to pending. It also moves our connection epoch on, so a
 * claim still running on a connection we gave up on claims nothing
 * (sql/010). No claim is sent before its answer (may_claim).
 */
static void send_release(struct serve *s, uint64_t now)
{
	if (!s->recovering || s->cc.q != Q_NONE || !connected(s) || now < s->release_at)
		return;
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
	int rc = jv_store_release_unheld_send(s->cc.conn, s->id, held.data, s->epoch, err, sizeof err);
	jv_buf_free(&held);
	if (rc != 0) {
		if (!check_lost(s, s->cc.conn, "releasing unknown claims", err)) {
			jv_log(JV_ERROR, "after reconnecting, could not release unknown claims: %s "
			       "(again in 1 s)", err);
			s->release_at = now + 1000;
		}
		return;
	}
	chan_sent(s, &s->cc, Q_RELEASE, now);
}

static void on_release_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char err[512];
		jv_db_format_error(c->conn, res, err, sizeof err);
		if (!check_lost(s, c->conn, "releasing unknown claims", err)) {
			jv_log(JV_ERROR, "after reconnecting, could not release unknown claims: %s "
			       "(again in 1 s)", err);
			s->release_at = now + 1000;
		}
		return;
	}
	int released = jv_store_count_parse(res);
	if (released > 0)
		jv_log(JV_WARNING,
		       "released %d jobs claimed by a claim whose answer was lost with the "
		       "connection (back to pending, attempt not counted)",
		       released);
	s->recovering = 0;
	s->release_at = 0;
	s->want_claim = 1;
}

/* At exit, once everything is recorded: the processor row says stopped. */
static void send_stopped(struct serve *s, uint64_t now)
{
	char err[512];
	if (jv_store_stopped_send(s->cc.conn, s->id, err, sizeof err) != 0) {
		if (!check_lost(s, s->cc.conn, "marking the processor stopped", err))
			jv_log(JV_ERROR, "could not mark processor stopped: %s", err);
		return;
	}
	s->stop_sent = 1; /* (a heartbeat after it would say running again) */
	chan_sent(s, &s->cc, Q_STOPPED, now);
}

/* ------------------------------------------------------------ channels */

/* The result of c's query q, which has ended. */
static void on_result(struct serve *s, struct chan *c, enum query q, PGresult *res, uint64_t now)
{
	switch (q) {
	case Q_LISTEN:
		if (c->failed) {
			char err[512];
			jv_db_format_error(c->conn, res, err, sizeof err);
			if (!check_lost(s, c->conn, "LISTEN", err))
				connect_failed(s, c, err, 0, now);
		}
		return;
	case Q_CLAIM: on_claim_result(s, res, now); return;
	case Q_COMPLETE: on_completion_result(s, res, now); return;
	case Q_HEARTBEAT: on_heartbeat_result(s, c, res, now); return;
	case Q_RELEASE: on_release_result(s, c, res, now); return;
	case Q_CONTROL: on_control_result(s, c, res, now); return;
	case Q_NOTIFY: on_selfcheck_result(s, c, res, now); return;
	case Q_STOPPED:
		if (c->failed) {
			char err[512];
			jv_db_format_error(c->conn, res, err, sizeof err);
			if (!check_lost(s, c->conn, "marking the processor stopped", err))
				jv_log(JV_ERROR, "could not mark processor stopped: %s", err);
		}
		return;
	case Q_NONE: return;
	}
}

/*
 * A result of c's query in flight, kept until the query has ended: its
 * implicit transaction commits only then (at Sync), after the rows were
 * sent. A claim's rows acted on before that could start jobs whose claim a
 * crash or a failover then undoes (a commit waiting for a synchronous
 * standby when the primary dies), so that another run of them starts while
 * ours goes on; a heartbeat taken as confirmed before that could make us
 * fence later than the rescue the database allows. The first result is
 * kept, or the first error.
 */
static void keep_result(struct chan *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	int bad = st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK;
	if (!c->res || (bad && !c->failed)) {
		PQclear(c->res);
		c->res = res;
		c->failed = bad;
	} else {
		PQclear(res);
	}
}

/* c's query in flight has ended (every result read, its transaction over):
 * its result is acted on now. */
static void on_query_done(struct serve *s, struct chan *c, uint64_t now)
{
	enum query q = c->q;
	PGresult *res = c->res;
	c->res = NULL;
	c->q = Q_NONE;
	c->flush = 0;
	if (s->hb_chan == c)
		s->hb_chan = NULL;
	if (res)
		on_result(s, c, q, res, now); /* (may close every channel) */
	PQclear(res);
	if (q == Q_STOPPED && !c->failed)
		s->stopped_recorded = 1;
	if (q == Q_STOPPED && c->failed) {
		s->stop_sent = 0;
		s->stop_retry_at = jv_now_ms() + 1000;
	}
	if (q == Q_COMPLETE && c->batch)
		requeue_batch(s); /* (no answer came: sent again) */
}

/* A notification, whichever channel it came on. */
static void on_notification(struct serve *s, struct chan *c, const PGnotify *nt, uint64_t now)
{
	char self[64];
	snprintf(self, sizeof self, "selfcheck %" PRId64, s->id);
	if (!strcmp(nt->relname, JV_DB_CANCEL_CHANNEL))
		cancel_running(s, strtoll(nt->extra, NULL, 10), now);
	else if (!strcmp(nt->relname, JV_DB_CONTROL_CHANNEL) && !strcmp(nt->extra, self))
		selfcheck_heard(s, c);
	else if (!strcmp(nt->relname, JV_DB_CONTROL_CHANNEL))
		control_request(s, nt->extra, now);
	else
		s->want_claim = 1;
}

/* Read what a channel has: notifications and the results of its query in
 * flight. Input moves the query's deadline on: the connection is alive. */
static void on_chan_readable(struct serve *s, struct chan *c, uint64_t now)
{
	if (!PQconsumeInput(c->conn)) {
		char what[64];
		snprintf(what, sizeof what, "reading on the %s connection", c->name);
		db_lost(s, what, PQerrorMessage(c->conn));
		return;
	}
	if (c->q != Q_NONE)
		c->deadline = now + answer_deadline_ms(s, c->q);
	PGnotify *nt;
	while (c->conn && (nt = PQnotifies(c->conn))) {
		on_notification(s, c, nt, now);
		PQfreemem(nt);
	}
	while (c->conn && c->q != Q_NONE && !PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		if (!res) {
			on_query_done(s, c, now);
			break;
		}
		keep_result(c, res);
	}
}

/* What c waits for in poll(): fd -1 when nothing. */
static struct pollfd chan_pollfd(const struct chan *c)
{
	struct pollfd p = {-1, 0, 0};
	if (!c->conn || c->state == CH_DOWN)
		return p;
	p.fd = PQsocket(c->conn);
	if (c->state == CH_CONNECTING)
		p.events = c->want_write ? POLLOUT : POLLIN;
	else
		p.events = POLLIN | (c->flush ? POLLOUT : 0);
	return p;
}

/* poll() says c's socket (as it was, fd) is ready. */
static void chan_event(struct serve *s, struct chan *c, const struct pollfd *p, uint64_t now)
{
	if (!p->revents || !c->conn || p->fd != PQsocket(c->conn))
		return;
	if (c->state == CH_CONNECTING) {
		chan_connect_poll(s, c, now);
		return;
	}
	if (c->flush && (p->revents & (POLLOUT | POLLERR | POLLHUP))) {
		int r = PQflush(c->conn);
		if (r < 0) {
			db_lost(s, c->name, PQerrorMessage(c->conn));
			return;
		}
		c->flush = r == 1;
		c->deadline = now + answer_deadline_ms(s, c->q);
	}
	if (p->revents & (POLLIN | POLLERR | POLLHUP))
		on_chan_readable(s, c, now);
}

/* Connects and answers that are overdue: a lost connection. */
static void chan_deadlines(struct serve *s, uint64_t now)
{
	struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		struct chan *c = chans[i];
		char err[512], host[300];
		if (c->state == CH_CONNECTING && now >= c->connect_deadline) {
			snprintf(err, sizeof err, "could not connect to database: no answer from %s within %d ms",
				 chan_host(c, host, sizeof host),
				 jv_db_connect_timeout_ms(chan_url(s, c)));
			connect_failed(s, c, err, 1, now);
			return;
		}
		if (c->state == CH_READY && c->q != Q_NONE && now >= c->deadline) {
			/* (a LISTEN while reconnecting: connect_failed, through db_lost) */
			snprintf(err, sizeof err, "no answer to the %s from %s within %llu ms",
				 query_name[c->q], chan_host(c, host, sizeof host),
				 (unsigned long long)answer_deadline_ms(s, c->q));
			db_lost(s, c->name, err);
			return;
		}
	}
}

/* The earliest of the database's timers (wake lowered to it). */
static uint64_t db_wake(const struct serve *s, uint64_t wake)
{
	const struct chan *chans[] = {&s->lc, &s->cc, &s->nc};
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
		const struct chan *c = chans[i];
		if (c->state == CH_CONNECTING && c->connect_deadline < wake)
			wake = c->connect_deadline;
		if (c->state == CH_READY && c->q != Q_NONE && c->deadline < wake)
			wake = c->deadline;
	}
	if (s->reconnecting && s->lc.state == CH_DOWN && s->next_reconnect < wake)
		wake = s->next_reconnect;
	if (!s->fenced && fence_at(s) < wake)
		wake = fence_at(s);
	if (s->fence_kill_at && s->fence_kill_at < wake)
		wake = s->fence_kill_at;
	if (s->selfcheck == SC_SENT && s->selfcheck_until && s->selfcheck_until < wake)
		wake = s->selfcheck_until;
	if (s->recovering && connected(s) && s->cc.q == Q_NONE && s->release_at < wake)
		wake = s->release_at;
	int idle = connected(s) && (usable(s, &s->lc) || usable(s, &s->cc));
	if (idle && !s->hb_chan && s->next_heartbeat < wake)
		wake = s->next_heartbeat;
	if (idle && s->control_by_poll && s->next_control < wake)
		wake = s->next_control;
	return wake;
}

/* Each turn: the database's side of the loop, none of it waiting. */
static void db_step(struct serve *s, uint64_t now)
{
	chan_deadlines(s, now);
	reconnect_step(s, now);
	link_check(s, now);
	send_release(s, now);
	if (s->selfcheck == SC_SENT && s->selfcheck_until && now >= s->selfcheck_until)
		selfcheck_failed(s, "nothing arrived within 5 s");
	send_selfcheck(s, now);
	if (now >= s->next_heartbeat)
		heartbeat(s, now);
	send_control(s, now);
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
	int db_changed = strcmp(cfg->database.url, s->cfg->database.url) != 0 ||
			 cfg->database.pooler != s->cfg->database.pooler ||
			 strcmp(cfg->database.listen_url ? cfg->database.listen_url : "",
				s->cfg->database.listen_url ? s->cfg->database.listen_url : "") != 0;
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
	if (db_changed) {
		/* As after a lost connection: what was in flight is sent again,
		 * release_unheld() runs on the new connections. */
		jv_log(JV_INFO, "database settings changed: reconnecting");
		link_reset(s);
		s->lc.first_host = s->cc.first_host = s->nc.first_host = 0;
		listen_mode(s);
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
			    : s->fenced     ? "self-fenced: no heartbeat confirmed, jobs stopped"
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

/*
 * Stopping (SIGTERM/SIGINT): running jobs get the grace period, then are
 * told to stop and, JV_KILL_GRACE_MS later, released. Once nothing runs,
 * what finished is recorded and the processor row marked stopped, all
 * through the loop (the database's answers do not hold up anything else);
 * with the database away, that is tried for 10 s more. Returns 1 when the
 * loop is done.
 */
static int drain_step(struct serve *s, uint64_t now)
{
	if (s->inflight > 0 && now >= s->drain_deadline && !s->releasing) {
		jv_log(JV_WARNING, "grace period over: stopping %d running jobs", s->inflight);
		release_begin(s);
	}
	if (s->inflight > 0 && s->releasing && !s->released &&
	    now >= s->drain_deadline + JV_KILL_GRACE_MS) {
		jv_log(JV_WARNING, "releasing %d running jobs", s->inflight);
		release_all(s);
	}
	if (s->inflight > 0 || s->n_queued > 0)
		return 0;
	if (!s->exit_deadline) {
		uint64_t at = s->drain_deadline + 10000;
		s->exit_deadline = at > now + 10000 ? at : now + 10000;
	}
	if (s->stopped_recorded)
		return 1;
	if (now >= s->exit_deadline)
		return 1; /* finish() says what is left */
	if (connected(s) && !s->recovering && s->n_done == 0 && s->cc.q == Q_NONE &&
	    s->lc.q == Q_NONE && (!uses_nc(s) || s->nc.q == Q_NONE) && now >= s->stop_retry_at)
		send_stopped(s, now);
	return 0;
}

/* The poll slots before the workers'. */
enum slot { SLOT_SIGNAL, SLOT_CLAIM, SLOT_COMPLETE, SLOT_LISTEN, SLOT_THREADS, SLOT_BRIDGE, N_SLOTS };

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
		fence_check(s, now);
		if (!s->fenced)
			run_queued(s);
		if (s->draining && drain_step(s, now))
			break;
		db_step(s, now);

		/* Finished work goes out, then new work comes in; neither waits. */
		send_completions(s, now);
		if (may_claim(s)) {
			if (now >= s->next_poll) {
				s->want_claim = 1;
				s->next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;
			}
			if (s->next_due && now >= s->next_due) {
				s->want_claim = 1;
				s->next_due = 0;
			}
			if (s->want_claim)
				send_claim(s, now);
		}

		/* What to wait for. */
		int n_old = 0;
		for (const struct old_gen *g = s->old; g; g = g->next)
			n_old++;
		int nfds = N_SLOTS + s->pool.n + n_old;
		if (nfds > cap) {
			cap = nfds;
			pfds = jv_realloc(pfds, (size_t)cap * sizeof *pfds);
		}
		/* nfds >= N_SLOTS, so pfds was allocated above. */
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		pfds[SLOT_SIGNAL] = (struct pollfd){s->sfd, POLLIN, 0};
		pfds[SLOT_CLAIM] = chan_pollfd(&s->lc);
		pfds[SLOT_COMPLETE] = chan_pollfd(&s->cc);
		pfds[SLOT_LISTEN] = chan_pollfd(&s->nc);
		pfds[SLOT_THREADS] = (struct pollfd){s->tp ? jv_tpool_fd(s->tp) : -1, POLLIN, 0};
		pfds[SLOT_BRIDGE] = (struct pollfd){jv_bridge_fd(s->bridge), POLLIN, 0};
		int k = N_SLOTS;
		for (int i = 0; i < s->pool.n; i++)
			pfds[k++] = (struct pollfd){s->pool.w[i].fd, POLLIN, 0};
		int old_at = k;
		for (const struct old_gen *g = s->old; g; g = g->next)
			pfds[k++] = (struct pollfd){jv_tpool_fd(g->tp), POLLIN, 0};

		uint64_t wake = db_wake(s, now + 60000);
		if (may_claim(s)) {
			if (s->next_poll < wake)
				wake = s->next_poll;
			if (s->next_due && s->next_due < wake)
				wake = s->next_due;
		}
		if (s->draining && !s->released) {
			uint64_t at = s->drain_deadline + (s->releasing ? JV_KILL_GRACE_MS : 0);
			if (at < wake)
				wake = at;
		}
		if (s->exit_deadline && s->exit_deadline < wake)
			wake = s->exit_deadline;
		if (s->stop_retry_at > now && s->stop_retry_at < wake)
			wake = s->stop_retry_at;
		if (ping && ping < wake)
			wake = ping;
		if (s->n_queued > 0 && s->worker_wait_until > now && s->worker_wait_until < wake)
			wake = s->worker_wait_until; /* a job waits for a worker process */
		if (!s->draining && s->pool.retry_at_ms > now && s->pool.retry_at_ms < wake)
			wake = s->pool.retry_at_ms;
		if (s->n_done > 0 && s->complete_retry_at > now && s->complete_retry_at < wake)
			wake = s->complete_retry_at;
		if (s->n_done > 0 && connected(s) && s->cc.q == Q_NONE &&
		    s->first_done_at + JV_COALESCE_MS < wake)
			wake = s->first_done_at + JV_COALESCE_MS; /* (busy: its answer wakes us) */
		size_t from = s->n_done;
		uint64_t dl = jv_pool_check_deadlines(&s->pool, now, &s->done, &s->n_done,
						      &s->cap_done);
		finished(s, from);
		if (dl && dl < wake)
			wake = dl;
		int timeout;
		if (s->n_done > 0 && connected(s) && s->cc.q == Q_NONE &&
		    now >= s->complete_retry_at && completion_due(s, now))
			timeout = 0; /* results to send */
		else if (s->want_claim && free_slots(s) > 0 && s->lc.q == Q_NONE && may_claim(s))
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
		if (pfds[SLOT_SIGNAL].revents)
			on_signal(s);
		int thread_results = pfds[SLOT_THREADS].revents != 0;
		for (int i = old_at; i < k; i++)
			thread_results |= pfds[i].revents != 0;
		if (thread_results)
			collect_thread_results(s);
		if (pfds[SLOT_BRIDGE].revents) {
			take_requests(s, now);
			s->next_publish = 0; /* show the change at once */
		}
		for (int i = 0; i < s->pool.n && N_SLOTS + i < k; i++)
			if (pfds[N_SLOTS + i].revents && pfds[N_SLOTS + i].fd == s->pool.w[i].fd) {
				size_t f = s->n_done;
				jv_pool_on_readable(&s->pool, i, &s->done, &s->n_done,
						    &s->cap_done);
				finished(s, f);
			}
		chan_event(s, &s->lc, &pfds[SLOT_CLAIM], now);
		chan_event(s, &s->cc, &pfds[SLOT_COMPLETE], now);
		chan_event(s, &s->nc, &pfds[SLOT_LISTEN], now);
		/* Replace workers that died or retired. */
		if (!s->draining)
			jv_pool_fill(&s->pool);
	}
	free(pfds);
	return 0;
}

/* At exit: say what could not be recorded (it will be rescued). */
static int finish(struct serve *s)
{
	requeue_batch(s);
	if (s->n_done > 0) {
		jv_log(JV_ERROR,
		       "could not record %zu finished jobs before exit (%s); they will be rescued",
		       s->n_done, s->reconnect_why[0] ? s->reconnect_why : "no answer in time");
		return JV_EDB;
	}
	if (!s->stopped_recorded) {
		jv_log(JV_ERROR, "could not mark processor stopped (%s)",
		       s->reconnect_why[0] ? s->reconnect_why : "no answer in time");
		return JV_EDB;
	}
	return 0;
}

int jv_serve(const char *config_path)
{
	struct serve sv;
	struct serve *s = &sv;
	memset(s, 0, sizeof *s);
	s->sfd = -1;
	s->config_path = config_path;
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
	s->lc.name = "claim";
	s->cc.name = "completion";
	s->nc.name = "listen";
	if (db_open(s, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		status = JV_EXIT_USER;
		goto out;
	}
	if (jv_schema_check(s->cc.conn, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		status = JV_EXIT_USER;
		goto out;
	}
	/* Registering is the first heartbeat: its row's heartbeat_at is its
	 * transaction's start, after this. */
	s->hb_confirmed_sent = jv_now_ms();
	s->declared_stuck_ms = s->cfg->processor.stuck_job_timeout_ms;
	if (jv_store_register(s->cc.conn, s->cfg->processor.name, s->hostname, (int)getpid(),
			      PACKAGE_VERSION, s->declared_stuck_ms, &s->id, err, sizeof err) != 0) {
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
	char dbhost[300], lhost[300];
	jv_log(JV_INFO, "database: %s%s%s, pooler %s", chan_host(&s->cc, dbhost, sizeof dbhost),
	       uses_nc(s) ? "; LISTEN on " : "",
	       uses_nc(s) ? chan_host(&s->nc, lhost, sizeof lhost) : "",
	       s->cfg->database.pooler == JV_POOLER_TRANSACTION ? "transaction" : "none");
	db_nonblocking(s);
	listen_mode(s);
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
	requeue_batch(s);
	for (size_t i = 0; i < s->n_done; i++)
		jv_done_free(&s->done[i]);
	free(s->done);
	close_chan(s, &s->lc);
	close_chan(s, &s->cc);
	close_chan(s, &s->nc);
	free(s->fenced_ids);
	if (s->sfd >= 0)
		close(s->sfd);
	jv_runtime_free(s->rt);
	jv_plugins_free(s->plugins);
	jv_config_free(s->cfg);
	free(s->types);
	return status;
}

/*
 * serve_int.h -- what the files of `jobvisor serve` share (private to
 * core/engine/): struct serve, the supervisor's state, and the functions
 * one file of the loop calls in another. serve.h is the public side.
 *
 * The loop is split by concern:
 *   serve.c     start-up, reload and shutdown (the lifecycle), draining
 *   loop.c      the main loop: its steps, the wake-up, poll slots, signals,
 *               the API's requests and view, systemd's status
 *   chan.c      a database channel: send, receive, one result dispatcher,
 *               deadlines
 *   link.c      connecting at start, losing and regaining the connection,
 *               releasing claims a lost claim may have made
 *   claim.c     claiming and the queue of jobs claimed ahead (prefetch)
 *   dispatch.c  handing one claimed job to a worker process or thread
 *   complete.c  finished attempts: collecting, recording, alerts
 *   progress.c  running jobs' progress, written at most once a second per job
 *   deps.c      the results of a job's dependencies, for a run that asks
 *   fence.c     heartbeats and self-fencing
 *   control.c   cancel and pause requests, the NOTIFY self-check
 *
 * Functions shared between these files are prefixed sv_; everything else
 * is static in its file.
 */
#ifndef JV_SERVE_INT_H
#define JV_SERVE_INT_H

#include "engine/store.h"
#include "engine/worker.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <sys/resource.h>

struct jv_config;
struct jv_plugins;
struct jv_runtime;
struct jv_alerter;
struct jv_bridge;
struct jv_api;
struct jv_api_tls;
struct jv_scheduler;

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
	Q_PROGRESS,  /* jobvisor.set_progress(): running jobs' latest progress */
	Q_DEPS,      /* jobvisor.dependency_results() for the runs that asked */
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
	struct jv_done_list batch; /* Q_COMPLETE: the attempts in flight */
	int slots;              /* Q_CLAIM: slots asked for */
};

/* The start-up check that a NOTIFY reaches our LISTEN. */
enum selfcheck { SC_NONE = 0, SC_TODO, SC_SENT, SC_DONE };

/* The database link as a whole: losing it and getting it back (link.c). */
struct serve_link {
	int reconnecting;    /* the channels are connecting after a loss */
	int recovering;      /* connected; release_unheld() not answered yet */
	uint64_t next_at;    /* the next reconnect attempt */
	uint64_t delay;      /* its back-off */
	uint64_t lost_at;
	uint64_t release_at; /* recovering: send release_unheld() then */
	int epoch;           /* connection epoch: claims carry it (sql/010) */
	uint32_t rng;        /* for the reconnect jitter */
	char why[512];       /* why the last reconnect failed, logged once */
	int pooled;          /* database.url's server process is not the one libpq was told */
};

/* Heartbeats (fence.c). */
struct serve_hb {
	uint64_t next;              /* when the next is due */
	struct chan *chan;          /* the heartbeat in flight, on this channel */
	uint64_t sent_at;           /* when it was sent */
	uint64_t confirmed_sent;    /* when the last confirmed one was sent */
	int sent_stuck_ms;          /* the horizon the one in flight declares */
	int declared_stuck_ms;      /* the horizon the database has for us (sql/013) */
	int64_t last_unix_ms;       /* the last confirmed, for the API */
	uint64_t last_mono_ms;      /* (for ages: see bridge.h) */
};

/* Self-fencing (fence.c). */
struct serve_fence {
	int on;             /* jobs stopped, claiming stopped: no heartbeat confirmed */
	uint64_t kill_at;   /* jobs told to stop are killed then (0: none) */
	int64_t *ids;       /* jobs stopped by fencing, until their end is known */
	size_t n_ids, cap_ids;
	uint64_t n_total;   /* attempts stopped by fencing since the last report */
};

/* Cancel and pause requests, and how they reach us (control.c). */
struct serve_ctl {
	int paused;
	int by_poll;        /* no LISTEN: control_poll() every poll interval */
	uint64_t next_poll;
	int64_t seq;        /* processors.control_seq last applied */
	enum selfcheck selfcheck;
	uint64_t selfcheck_until;
};

/* Claiming, and the jobs claimed ahead (claim.c). */
struct serve_claim {
	int want;               /* reason to think work is due */
	uint64_t next_poll;     /* the poll interval's fallback claim */
	uint64_t next_due;      /* when the last claim said the next job is due (0: none known) */
	int none_pending;       /* the last claim found nothing pending it could take, now
				 * or later: a completion alone gives no reason to claim */
	/* Claimed ahead (prefetch), waiting for a free slot, oldest first. */
	struct jv_claimed *queue;
	size_t n_queued, cap_queued;
};

/* No worker process could be had for the job at the head of the queue
 * (see wait_for_worker in dispatch.c): not tried again before until. */
struct serve_wait {
	uint64_t until;     /* 0: none waits so */
	uint64_t backoff;
	uint64_t since;
	uint64_t warned_at; /* the last warning about it: one a minute at most */
	int warned;         /* this shortage was logged */
};

/* Finished attempts on their way to the database (complete.c). */
struct serve_cmp {
	uint64_t first_at;  /* when the oldest unsent result arrived */
	uint64_t retry_at;  /* after a failed completion: not before */
	int64_t *drop;      /* jobs cancelled by the API: their results are not */
	size_t n_drop, cap_drop; /* recorded (the API recorded the cancellation) */
};

/* Stopping (SIGTERM/SIGINT; serve.c), in this order. */
enum drain_state {
	DRAIN_OFF = 0,   /* running */
	DRAIN_GRACE,     /* stop claiming; running jobs get the grace period */
	DRAIN_RELEASING, /* the grace period ran out: running executors told to stop */
	DRAIN_RELEASED,  /* ... and what still ran was killed and released */
};

struct serve_drain {
	enum drain_state state;
	uint64_t deadline;      /* the end of the grace period */
	uint64_t exit_deadline; /* give up recording after this (0: not yet) */
	int stopped_recorded;   /* the processor row says stopped */
	int stop_sent;          /* ... is being said: no heartbeat may follow it */
	uint64_t stop_retry_at; /* after a failed stop: not before */
};

/* What the configuration allows, as the API may retune it. */
struct serve_tune {
	int batch_size;     /* processor.batch_size, or as retuned by the API */
	int max_concurrent; /* processor.max_concurrent_jobs, likewise */
	int prefetch;       /* processor.prefetch */
};

/* Counters, for the API and the log line at exit. */
struct serve_count {
	uint64_t claimed, completed, stale;
	uint64_t claim_queries, complete_queries;
	uint64_t reconnects;
};

/* The config's queues as the database takes them (flow.c). */
struct serve_flow {
	char *served;       /* text[] literal of processor.queues; NULL: every queue */
	char *limit_queues; /* text[] literal: the queues whose concurrency can bind */
	char *limits;       /* integer[] literal: those concurrencies, in that order */
	int held;           /* max_concurrent + prefetch they were built for; -1: none */
	char *sync;         /* JSON for jobvisor.sync_queues(); NULL: no queues: */
	int sync_due;       /* sync not yet confirmed (rides on the next heartbeat) */
	int sync_sent;      /* the heartbeat in flight carries it */
};

/* Running jobs' progress on its way to the database (progress.c): the
 * latest of each job, written at most once a second per job. */
struct prog_item {
	int64_t id;
	int32_t attempt;
	int percent;
	char *note;          /* clean, cut; may be NULL */
	int dirty;           /* not yet written */
	uint64_t written_at; /* when last sent (0: never) */
};

struct serve_progress {
	struct prog_item *items;
	size_t n, cap;
	struct chan *chan;   /* the write in flight is on it (NULL: none) */
};

/* A run's ask for its dependencies' results (deps.c). */
struct dep_ask {
	int64_t id;
	int32_t attempt;
	int worker;          /* the worker process's index, -1: a thread of tp */
	struct jv_tpool *tp;
};

struct serve_deps {
	struct dep_ask *asks; /* not yet sent */
	size_t n, cap;
	struct dep_ask *sent; /* in flight on chan */
	size_t n_sent;
	struct chan *chan;
	struct jv_tpool *taking; /* the thread pool whose asks are being taken */
};

struct serve {
	/* The running configuration (replaced by reload). */
	const char *config_path;
	struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_runtime *rt;
	struct jv_api_tls *tls; /* loaded with cfg, until the API takes it */
	char *types; /* text[] literal of the configured job types */
	struct serve_flow flow;

	/* Who we are. */
	int64_t id; /* our processors.id */
	char hostname[256];
	char *label; /* "NAME (id N, host H, pid P)", in alerts */
	int64_t started_unix_ms;
	uint64_t started_mono_ms;

	/* The database. */
	struct chan lc; /* claims (and LISTEN with pooler: none) */
	struct chan cc; /* completions, heartbeat, rescue */
	struct chan nc; /* LISTEN on database.listen_url (pooler: transaction) */
	struct serve_link link;
	struct serve_hb hb;
	struct serve_fence fence;
	struct serve_ctl ctl;

	/* Where jobs run. */
	struct jv_pool pool;
	struct jv_tpool *tp; /* NULL when no executor runs in threads */
	struct old_gen *old; /* replaced by reloads, thread jobs still running */
	struct rlimit nofile_before; /* RLIMIT_NOFILE as found, for the workers */
	int inflight; /* claimed and not yet finished executing */
	struct serve_claim claim;
	struct serve_wait wait;
	struct serve_tune tune;
	uint64_t worker_deadline; /* the pool's next deadline or kill (0: none) */

	/* Finished, not yet sent. */
	struct jv_done_list done;
	struct serve_cmp cmp;

	/* What running jobs say and ask (ABI 1.2). */
	struct serve_progress prog;
	struct serve_deps deps;

	/* The loop's own. */
	int sfd;                    /* the signalfd */
	struct serve_drain drain;
	struct jv_alerter *alerter; /* NULL: no alert sinks */
	struct jv_bridge *bridge;   /* the API's way in */
	struct jv_api *api;         /* NULL: no api: section */
	struct jv_scheduler *sched; /* NULL: no schedules to run */
	uint64_t next_publish;      /* when the API's snapshot is next refreshed */
	uint64_t next_status;       /* systemd: when STATUS= is next looked at */
	struct serve_count count;
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

/* serve.c */
int sv_drain_step(struct serve *s, uint64_t now);
void sv_old_gen_free(struct old_gen *g, struct serve *s);
void sv_reload(struct serve *s);
int sv_thread_count(const struct jv_config *cfg);

/* loop.c */
void sv_notify_state(struct serve *s, int ready);
void sv_publish(struct serve *s);
int sv_run_loop(struct serve *s);
uint64_t sv_wake_at(const struct serve *s, uint64_t now, uint64_t ping);
int sv_poll_timeout(const struct serve *s, uint64_t now, uint64_t wake);

/* chan.c */
void sv_chan_event(struct serve *s, struct chan *c, const struct pollfd *p, uint64_t now);
const char *sv_chan_host(const struct chan *c, char *buf, size_t len);
struct pollfd sv_chan_pollfd(const struct chan *c);
int sv_chan_sent(struct serve *s, struct chan *c, enum query q, uint64_t now);
const char *sv_chan_url(const struct serve *s, const struct chan *c);
int sv_check_lost(struct serve *s, PGconn *conn, const char *what, const char *err);
void sv_close_all(struct serve *s);
void sv_close_chan(struct serve *s, struct chan *c);
int sv_connected(const struct serve *s);
void sv_db_step(struct serve *s, uint64_t now);
uint64_t sv_db_wake(const struct serve *s, uint64_t wake);
struct chan *sv_idle_chan(const struct serve *s, struct chan *a, struct chan *b);
struct chan *sv_listen_chan(struct serve *s);
int sv_quiet(const struct serve *s, const struct chan *c);
int sv_ready(const struct chan *c);
int sv_uses_nc(const struct serve *s);

/* flow.c */
void sv_flow_adopt(struct serve *s);
void sv_flow_free(struct serve *s);
void sv_flow_limits(struct serve *s, const char **queues, const char **limits);

/* link.c */
void sv_chan_connect_poll(struct serve *s, struct chan *c, uint64_t now);
void sv_connect_failed(struct serve *s, struct chan *c, const char *err, int timed_out,
			   uint64_t now);
void sv_db_lost(struct serve *s, const char *what, const char *err);
void sv_db_nonblocking(struct serve *s);
int sv_db_open(struct serve *s, char *err, size_t errlen);
void sv_link_check(struct serve *s, uint64_t now);
void sv_link_reset(struct serve *s);
void sv_listen_mode(struct serve *s);
void sv_on_release_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now);
void sv_reconnect_step(struct serve *s, uint64_t now);
void sv_send_release(struct serve *s, uint64_t now);

/* complete.c */
void sv_collect_thread_results(struct serve *s);
int sv_completion_due(const struct serve *s, uint64_t now);
void sv_finished(struct serve *s, size_t from);
void sv_on_completion_result(struct serve *s, PGresult *res, uint64_t now);
void sv_requeue_batch(struct serve *s);
void sv_send_completions(struct serve *s, uint64_t now);

/* progress.c */
void sv_progress_note(void *arg, int64_t id, int32_t attempt, int percent, const char *note);
void sv_progress_forget(struct serve *s, int64_t id);
void sv_send_progress(struct serve *s, uint64_t now);
void sv_on_progress_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now);
uint64_t sv_progress_wake(const struct serve *s, uint64_t wake);
void sv_progress_free(struct serve *s);

/* deps.c */
void sv_deps_ask(void *arg, int worker, int64_t id, int32_t attempt);
void sv_send_deps(struct serve *s, uint64_t now);
void sv_on_deps_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now);
void sv_deps_chan_lost(struct serve *s, const struct chan *c);
void sv_deps_free(struct serve *s);

/* dispatch.c */
int32_t sv_timeout_ms_for(const struct jv_config *cfg, const struct jv_claimed *c, int ex);
int sv_dispatch(struct serve *s, struct jv_claimed *c);
void sv_end_now(struct serve *s, const struct jv_claimed *c, enum jv_outcome end, const char *why);

/* claim.c */
int sv_free_slots(const struct serve *s);
void sv_give_back_queue(struct serve *s);
int sv_may_claim(const struct serve *s);
void sv_on_claim_result(struct serve *s, PGresult *res, uint64_t now);
void sv_run_queued(struct serve *s);
void sv_send_claim(struct serve *s, uint64_t now);
void sv_claim_step(struct serve *s, uint64_t now);
int sv_unqueue(struct serve *s, int64_t id);

/* fence.c */
uint64_t sv_fence_at(const struct serve *s);
void sv_fence_check(struct serve *s, uint64_t now);
void sv_fence_note(struct serve *s, size_t from);
void sv_heartbeat(struct serve *s, uint64_t now);
void sv_note_fenced_recorded(const struct jv_done_list *sent, const struct jv_applied *applied,
			     size_t n);
void sv_on_heartbeat_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now);

/* control.c */
void sv_cancel_running(struct serve *s, int64_t id, uint64_t now);
void sv_control_request(struct serve *s, const char *text, uint64_t now);
void sv_on_control_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now);
void sv_on_selfcheck_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now);
void sv_selfcheck_failed(struct serve *s, const char *why);
void sv_selfcheck_heard(struct serve *s, const struct chan *c);
void sv_send_control(struct serve *s, uint64_t now);
void sv_send_selfcheck(struct serve *s, uint64_t now);
void sv_set_paused(struct serve *s, int paused, uint64_t now);

#endif

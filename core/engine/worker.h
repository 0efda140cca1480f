/*
 * worker.h -- where executors run: a pool of pre-forked worker processes
 * (the default, `isolation: process`) and a pool of threads in the
 * supervisor (`isolation: thread`, for trusted in-process executors).
 *
 * Process workers are forked after every instance was created, so each
 * inherits the plugins and their state. A worker runs one job at a time,
 * reading JV_MSG_JOB frames from its end of a socketpair and answering with
 * JV_MSG_RESULT. It is its own process group leader, so killing the group
 * kills whatever it started; it dies with the supervisor (PR_SET_PDEATHSIG).
 *
 * The pools only run jobs and report how each ended; the engine (serve.c and
 * the files serve_int.h lists) decides what that means for the job.
 */
#ifndef JV_WORKER_H
#define JV_WORKER_H

#include "engine/attempt.h"
#include "engine/proto.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

struct jv_runtime;

/* A finished attempt. Owned by whoever holds it; free with jv_done_free(). */
struct jv_done {
	struct jv_attempt at; /* the attempt that ended (its strings are the done's) */
	enum jv_outcome outcome;
	int64_t retry_in_ms; /* -1: none asked */
	int64_t duration_ms;
	char *error;         /* may be NULL */
	char *output;        /* may be NULL */
	char *result;        /* JSON text or NULL */
};

void jv_done_free(struct jv_done *d);

/* A growable list of finished attempts. It owns them: free with
 * jv_done_list_free(). Zero-initialised is empty. */
struct jv_done_list {
	struct jv_done *items;
	size_t n, cap;
};

/* Append *d to l, which takes over its strings. */
void jv_done_list_push(struct jv_done_list *l, const struct jv_done *d);
/* Append every attempt of from to to; from is left empty (its array freed). */
void jv_done_list_move(struct jv_done_list *to, struct jv_done_list *from);
/* Free every attempt and the array; l is left empty. */
void jv_done_list_free(struct jv_done_list *l);

/* One process worker, as the supervisor sees it. */
struct jv_worker {
	pid_t pid;            /* 0: not running */
	int fd;               /* supervisor end of the socketpair, -1 when none */
	struct jv_frame_reader rd;
	int busy;
	unsigned jobs_done;   /* for recycling */
	int retire;           /* replace once idle (config reload) */
	/* the job it runs */
	struct jv_attempt at; /* owned while busy; moved into its jv_done at the end */
	uint64_t started_ms;
	uint64_t deadline_ms; /* 0: none */
	int killed;           /* SIGKILLed by us: why, as an enum jv_outcome (0: not) */
	int overdue;          /* past its deadline, told to stop (SIGUSR1) */
	int releasing;        /* told to stop at shutdown: a failure is a release */
};

struct jv_pool {
	struct jv_runtime *rt;   /* the runtime new workers are forked with */
	struct jv_worker *w;
	int n;                   /* slots allocated */
	int target;              /* slots kept running: [0, target) */
	int max_jobs;            /* recycle a worker after this many jobs; 0: never */
	/* Called in each new worker right after fork(), before anything else:
	 * the engine closes its database socket and other fds there. */
	void (*child_setup)(void *arg);
	void *child_arg;
	/* What a running job says besides its result (ABI 1.2), for the engine
	 * (may be NULL): its progress (note valid during the call), and its ask
	 * for the dependencies' results, to be answered with
	 * jv_pool_answer_deps(). Set after jv_pool_init(). */
	void (*on_progress)(void *arg, int64_t id, int32_t attempt, int percent, const char *note);
	void (*on_deps_ask)(void *arg, int worker, int64_t id, int32_t attempt);
	void *cb_arg;
	/* A worker could not be started (socketpair or fork failed: descriptors,
	 * memory or processes short). jv_pool_fill() tries again no sooner than
	 * retry_at_ms, backing off up to JV_POOL_RETRY_MAX_MS; one warning per
	 * shortage (at most one a minute), and a line when workers start again. */
	uint64_t retry_at_ms;    /* 0: no shortage */
	uint64_t backoff_ms;
	unsigned n_failed;       /* failed starts in this shortage */
	int warned;              /* this shortage was logged */
	uint64_t warned_at_ms;   /* when a shortage was last logged */
	char why[160];           /* the last failure, e.g. "socketpair: Too many open files" */
};

#define JV_POOL_RETRY_MAX_MS 5000

/* Why workers cannot be started now, or NULL when nothing says so. */
const char *jv_pool_short(const struct jv_pool *p);

/* Set up pool with n worker slots (none started). */
void jv_pool_init(struct jv_pool *p, struct jv_runtime *rt, int n, int max_jobs,
		  void (*child_setup)(void *), void *child_arg);

/* Change the number of workers kept running to n: new slots start on the
 * next jv_pool_fill(); workers past n finish their job and are not
 * replaced. */
void jv_pool_resize(struct jv_pool *p, int n);

/* Start every missing worker, unless the last start failed less than its
 * back-off ago (see retry_at_ms). Returns the number running. */
int jv_pool_fill(struct jv_pool *p);

/* An idle worker's index, or -1. */
int jv_pool_idle(const struct jv_pool *p);

/* Send attempt *a, with its payload and output limit, to worker i (idle).
 * Returns 0: the worker owns *a now (left zeroed); or JV_EIO when the worker
 * is gone (the caller may try another): *a is still the caller's. */
int jv_pool_send(struct jv_pool *p, int i, struct jv_attempt *a, const char *payload,
		 int32_t max_output);

/*
 * Worker i's fd is readable (or hung up): read and collect finished
 * attempts into *out. A worker that
 * died is reaped; if it was busy its job ends as crashed. Dead workers are
 * replaced on the next jv_pool_fill().
 */
void jv_pool_on_readable(struct jv_pool *p, int i, struct jv_done_list *out);

/* Busy workers past their deadline are told to stop (SIGUSR1: the run's
 * host->cancelled() turns true); a failure they then report ends as
 * timed_out. Those still busy JV_KILL_GRACE_MS later are killed with their
 * process groups, their jobs ending as timed_out. Returns the earliest
 * deadline or kill time still pending (0: none). */
uint64_t jv_pool_check_deadlines(struct jv_pool *p, uint64_t now_ms, struct jv_done_list *out);

/* Answer worker i's ask for the dependencies' results of attempt
 * (id, attempt): rc 0 and json, or a JV_HOST_* error. Nothing happens when
 * the worker no longer runs that attempt. */
void jv_pool_answer_deps(struct jv_pool *p, int i, int64_t id, int32_t attempt, int rc,
			 const char *json);

/* Kill worker i now (SIGKILL to its group), ending its job as `why`. */
void jv_pool_kill(struct jv_pool *p, int i, enum jv_outcome why, struct jv_done_list *out);

/* Shutdown: tell every busy worker's executor to stop (SIGUSR1); a failure
 * it then reports ends as released (back to pending, attempt not counted),
 * a success stands. Kill the rest with jv_pool_kill(JV_OUTCOME_RELEASED). */
void jv_pool_release_begin(struct jv_pool *p);

/* Stop the job job_id if a worker runs it: told now (SIGUSR1), killed
 * JV_KILL_GRACE_MS later. Returns 1 when one did. */
int jv_pool_cancel_job(struct jv_pool *p, int64_t job_id, uint64_t now_ms);

/* Ask worker i's executor to stop (SIGUSR1: host->cancelled() turns true). */
void jv_pool_cancel(struct jv_pool *p, int i);

/* Close every worker's socket (they exit on EOF), wait for them for up to
 * wait_ms, SIGKILL the rest, reap all, free the pool's memory. */
void jv_pool_shutdown(struct jv_pool *p, int wait_ms);

/* The body of a worker process: serve jobs from fd until EOF. Never returns. */
void jv_worker_main(struct jv_runtime *rt, int fd) __attribute__((noreturn));


/*
 * The thread pool for `isolation: thread` executors. Jobs are queued and run
 * by n threads; finished ones are queued back and announced by writing to
 * an eventfd the engine polls.
 */
struct jv_tpool;

/* Start n threads running jobs of rt. Returns NULL if threads can't start. */
struct jv_tpool *jv_tpool_new(struct jv_runtime *rt, int n);
/* The fd to poll for finished jobs. */
int jv_tpool_fd(const struct jv_tpool *tp);
/* Queue attempt *a, which the pool owns now (left zeroed); payload is copied. */
void jv_tpool_submit(struct jv_tpool *tp, struct jv_attempt *a, const char *payload,
		     int32_t max_output);
/* Take every finished job into *out, and clear the eventfd. */
void jv_tpool_collect(struct jv_tpool *tp, struct jv_done_list *out);
/* What the running jobs said since the last call (ABI 1.2): their
 * progress and their asks for the dependencies' results, passed to cb's
 * on_progress and on_deps_ask (worker -1), under the pool's lock (they
 * must not call the pool). */
void jv_tpool_take(struct jv_tpool *tp, struct jv_pool *cb);
/* Answer a thread job's ask, as jv_pool_answer_deps() does a worker's. */
void jv_tpool_answer_deps(struct jv_tpool *tp, int64_t id, int32_t attempt, int rc,
			  const char *json);
/* Ask every running job to stop. */
void jv_tpool_cancel_all(struct jv_tpool *tp);

/* Cancel the run of job_id, running or queued. Returns 1 when found. */
int jv_tpool_cancel_job(struct jv_tpool *tp, int64_t job_id);
/* Jobs queued or running. */
int jv_tpool_inflight(struct jv_tpool *tp);
/* Append the ids of the jobs queued or running to *b as "id," each. */
void jv_tpool_ids(struct jv_tpool *tp, struct jv_buf *b);
/* The queued jobs (not yet started) come back at once into *out as
 * released (attempt not counted), with why as their error; the running ones
 * go on, and the pool takes new jobs. */
void jv_tpool_unqueue(struct jv_tpool *tp, const char *why, struct jv_done_list *out);
/* Take no more jobs: the queued ones come back at once into *out as
 * released (attempt not counted); the running ones go on, and each thread
 * ends after its job. Their results are collected as before; once
 * jv_tpool_inflight() is 0, jv_tpool_free() no longer waits. */
void jv_tpool_stop(struct jv_tpool *tp, struct jv_done_list *out);
/* jv_tpool_stop(), wait for the running jobs to end, take their results
 * into *out, free. */
void jv_tpool_free(struct jv_tpool *tp, struct jv_done_list *out);

#endif

/*
 * attempt.h -- one attempt of one job: what travels unchanged from the
 * moment a claimed job is dispatched to the moment its end is recorded.
 *
 * The path of one attempt (docs/architecture.md, "One job, from INSERT to
 * history"), and who owns its struct jv_attempt at each step:
 *
 *   claim.c     the claimed row (struct jv_claimed, store.h) waits in the
 *               claim queue; no attempt exists yet.
 *   dispatch.c  sv_dispatch() makes the attempt (jv_attempt_make), once,
 *               and hands it over: to a worker process (jv_pool_send: the
 *               struct jv_worker owns it while it runs) or to the thread
 *               pool (jv_tpool_submit: its queued or running job owns it).
 *               A job that ends at once (sv_end_now) goes straight to
 *               its struct jv_done.
 *   worker.c    when the run ends (result, crash, kill, release) the
 *               attempt moves into its struct jv_done, in the engine's
 *               done list (serve_int.h: s->done, then s->cc.batch).
 *   complete.c  once recorded (or dropped), jv_done_free() frees it.
 *
 * The worker process never sees this struct: jv_pool_send() builds the
 * wire message (struct jv_msg_job, proto.h) from it.
 */
#ifndef JV_ATTEMPT_H
#define JV_ATTEMPT_H

#include <stdint.h>

/* How an attempt ended, as the engine records it; jv_outcome_text() and
 * jv_outcome_retryable() below say what the database makes of it. */
enum jv_outcome {
	JV_OUTCOME_SUCCEEDED = 0,
	JV_OUTCOME_RETRYABLE,  /* the executor asked for a retry */
	JV_OUTCOME_PERMANENT,  /* the executor failed for good */
	JV_OUTCOME_TIMED_OUT,
	JV_OUTCOME_CRASHED,
	JV_OUTCOME_CANCELLED,
	JV_OUTCOME_RELEASED,   /* stopped at shutdown: back to pending, attempt not counted */
	JV_OUTCOME_FENCED,     /* stopped by self-fencing (fence.c): rescued, attempt counted */
};

/* The job_executions outcome of an attempt that ended so ("succeeded",
 * "failed", "timed_out", "crashed", "cancelled", "released", "fenced"). */
const char *jv_outcome_text(enum jv_outcome o);

/* 1 when an attempt that ended so may be retried (within max_attempts);
 * whether one attempt may is jv_attempt_may_retry() below. */
int jv_outcome_retryable(enum jv_outcome o);

/* The identity and rules of one attempt. Strings owned by the struct; it has
 * one owner at a time (see above), and is freed with jv_attempt_free(). */
struct jv_attempt {
	int64_t id;           /* the job's */
	int32_t attempt;      /* its number: 1 for the first (jobs.attempts once claimed) */
	int32_t max_attempts; /* the effective limit: the job's own, capped by its
			       * executor's (0: not known here; the job's own applies) */
	int32_t timeout_ms;   /* the run's time limit (0: none) */
	int32_t executor;     /* index into the runtime's executors; -1: none */
	char *type;
	char *user_id;        /* may be NULL */
};

/* An attempt of job id with copies of type and user_id. */
struct jv_attempt jv_attempt_make(int64_t id, int32_t attempt, int32_t max_attempts,
				  int32_t timeout_ms, int32_t executor, const char *type,
				  const char *user_id);

/* The effective max_attempts of an attempt: the job's own, capped by its
 * executor's when that is set (> 0) and lower. */
int32_t jv_attempt_max(int32_t job_max, int32_t executor_max);

/* Free a's strings; a is left zeroed. */
void jv_attempt_free(struct jv_attempt *a);

/*
 * Whether attempt a, ended so, may be tried again -- the one place in C that
 * decides it. The rule: an attempt may be retried when its outcome is one
 * that can be (jv_outcome_retryable(): the executor asked for a retry, timed
 * out, crashed, or was stopped by self-fencing) and it is not the last one
 * its executor allows (a->max_attempts, from jv_attempt_max(), when set:
 * attempt < max_attempts).
 *
 * How the work divides with the database: this answer travels as
 * "retryable" in the completion (jv_store_complete_send), and SQL's
 * jobvisor.next_status() (sql/002_engine.sql) then puts the job back to
 * pending only if also its own, authoritative count allows (jobs.attempts <
 * jobs.max_attempts). C knows the outcome and the executor's cap; the
 * database knows the job's attempt count and its own limit. Released and
 * cancelled attempts are not retries: next_status() settles those by their
 * outcome alone.
 */
int jv_attempt_may_retry(const struct jv_attempt *a, enum jv_outcome o);

#endif

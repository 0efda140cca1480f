/*
 * store.h -- the engine's side of the database: the processor row, claim,
 * completion, rescue, control. Each is one round trip to a function of
 * sql/002_engine.sql or sql/010_engine_fence.sql, with parameters only.
 *
 * serve's loop never waits for an answer: it sends with the _send()
 * functions (PQsendQueryParams, on a connection in non-blocking mode) and
 * reads the PGresult with the _parse() ones when it has arrived. The plain
 * functions wait, and are only for start-up.
 *
 * Every function returns 0 or JV_EDB with one line in err; after JV_EDB the
 * caller checks jv_db_is_broken() to tell a lost connection from an error.
 */
#ifndef JV_STORE_H
#define JV_STORE_H

#include "engine/worker.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Register a new processor row (state running), declaring its rescue
 * horizon stuck_ms: its jobs are never rescued before its heartbeat is that
 * old (sql/013), whoever runs the rescue. */
int jv_store_register(PGconn *conn, const char *name, const char *hostname, int pid,
		      const char *version, int stuck_ms, int64_t *id, char *err, size_t errlen);

/* Send the heartbeat and the stuck-job rescue that goes with it (one
 * round trip, jobvisor.heartbeat()), rescuing the jobs of processors silent
 * for more than stuck_ms; the answer is one row, its first column the
 * number of jobs rescued (jv_store_count_parse). queues: NULL, or the JSON
 * of the config's queues for jobvisor.sync_queues(), stored by the same
 * round trip (after a reload). */
int jv_store_heartbeat_send(PGconn *conn, int64_t id, const char *state, int stuck_ms,
			    const char *queues, char *err, size_t errlen);

/* After a reconnect: put back to pending every job running under processor
 * id that is not in held (a PostgreSQL bigint[] literal, e.g. {1,2}) --
 * claimed by a claim whose answer was lost -- and make epoch the
 * processor's connection epoch, unless it already is (or a newer one): then
 * nothing changes. The answer is one count (jv_store_count_parse). */
int jv_store_release_unheld_send(PGconn *conn, int64_t id, const char *held, int epoch, char *err,
				 size_t errlen);

/* The one integer of a one-row, one-column answer (0 when there is none). */
int jv_store_count_parse(const PGresult *res);

/* Mark the processor stopped (the plain one waits). */
int jv_store_stopped(PGconn *conn, int64_t id, char *err, size_t errlen);
int jv_store_stopped_send(PGconn *conn, int64_t id, char *err, size_t errlen);

/* A running job that is no longer running under this processor. */
struct jv_gone {
	int64_t id;
	char status[16]; /* its status now ("cancelled", ...), "deleted" when gone */
};

/* What jobvisor.control_poll() answered. */
struct jv_control {
	struct jv_gone *gone; /* caller frees */
	size_t n_gone;
	int64_t seq;          /* processors.control_seq; -1: no such processor */
	int pause;            /* processors.control_pause */
};

/* Ask for the cancel and pause requests of processor id (when it cannot
 * LISTEN): running is the bigint[] literal of the jobs it runs. */
int jv_store_control_send(PGconn *conn, int64_t id, const char *running, char *err,
			  size_t errlen);
void jv_store_control_parse(const PGresult *res, struct jv_control *out);

/* SELECT pg_notify(channel, payload). */
int jv_store_notify_send(PGconn *conn, const char *channel, const char *payload, char *err,
			 size_t errlen);

/* A claimed job. Strings owned by the struct; free with jv_claimed_free(). */
struct jv_claimed {
	int64_t id;
	char *type;
	char *user_id;  /* may be NULL */
	char *payload;  /* JSON text */
	int32_t attempt;
	int32_t max_attempts;
	int32_t timeout_seconds; /* 0: not set on the job */
};

void jv_claimed_free(struct jv_claimed *c);

/*
 * Claim up to slots due jobs of the given types (a PostgreSQL text[]
 * literal, e.g. {"noop","shell"}) for processor id within per_user (0: no
 * per-user limit), on the processor's connection epoch (-1: none checked;
 * see release_unheld). _parse(): *out (caller frees each and the array)
 * gets *n rows, *next what the claim says of the jobs it left.
 */
struct jv_claim_queues {
	const char *served;       /* text[] literal of the queues served; NULL: all */
	const char *limit_queues; /* text[] literal: queues with a limit of the processor's */
	const char *limits;       /* integer[] literal: those limits (concurrency) */
};
int jv_store_claim_send(PGconn *conn, int64_t id, int slots, int per_user, const char *types,
			int epoch, const struct jv_claim_queues *q, char *err, size_t errlen);
struct jv_claim_next {
	int full;       /* a full batch was claimed: more may be due now */
	int64_t due_ms; /* !full: milliseconds until the next pending job is due
			 * (0: due now but held back by per_user_limit; -1: none) */
};
int jv_store_claim_parse(const PGresult *res, struct jv_claimed **out, size_t *n,
			 struct jv_claim_next *next);

/* A job's status (jobs.status), parsed once from its text. */
enum jv_job_status {
	JV_JOB_OTHER = 0, /* a text not known here */
	JV_JOB_PENDING,
	JV_JOB_RUNNING,
	JV_JOB_SUCCEEDED,
	JV_JOB_FAILED,
	JV_JOB_CANCELLED,
};

/* The status that text names (JV_JOB_OTHER for anything else). */
enum jv_job_status jv_job_status_parse(const char *text);

/* Per finished attempt, what the completion did. */
struct jv_applied {
	int64_t id;
	int32_t attempt;
	int applied;    /* 0: fenced off (rescued or cancelled meanwhile) */
	enum jv_job_status status; /* the job's status after it, when applied */
};

/*
 * Record done[0..n) in one transaction: job updates and history rows.
 * max_output bounds each output (cut and marked); text is made valid UTF-8
 * without NUL bytes. *applied (an array of *n_applied the caller frees)
 * says what happened to each (_parse()).
 */
int jv_store_complete_send(PGconn *conn, int64_t id, const struct jv_done *done, size_t n,
			   int retry_base_ms, int retry_max_ms, size_t max_output, char *err,
			   size_t errlen);
int jv_store_complete_parse(const PGresult *res, struct jv_applied **applied, size_t *n);

#endif

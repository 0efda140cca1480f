/*
 * bridge.h -- how the API's threads and the engine's loop talk.
 *
 * The loop publishes a snapshot of itself (struct jv_engine_view) after
 * every turn that changed something; API threads read the latest one. API
 * threads post requests (pause, resume, retune, trigger a claim, cancel a
 * running job); posting wakes the loop through an eventfd it polls, and the
 * loop takes them all at once. Everything is under one mutex, held only to
 * copy.
 */
#ifndef JV_BRIDGE_H
#define JV_BRIDGE_H

#include "alert/alert.h"

#include <stddef.h>
#include <stdint.h>

struct jv_engine_view {
	int64_t processor_id;
	char name[128];
	char hostname[256];
	int pid;
	int64_t started_unix_ms;
	int64_t last_heartbeat_unix_ms; /* 0: none yet */
	/* The same two on CLOCK_MONOTONIC (jv_now_ms()): uptime and heartbeat
	 * age are measured on it, so a step of the wall clock moves neither. */
	uint64_t started_mono_ms;
	uint64_t last_heartbeat_mono_ms;
	int paused;            /* claiming paused (POST /api/cron/stop) */
	int draining;          /* shutting down */
	int db_connected;
	int batch_size;        /* as retuned now */
	int max_concurrent;
	int batch_size_limit;  /* the configured ones: retuning stays within */
	int max_concurrent_limit;
	int workers_total;     /* process workers running */
	int workers_busy;
	int threads_total;     /* isolation: thread pool size, 0 when none */
	int inflight;          /* claimed and not yet finished */
	int prefetched;        /* claimed ahead (processor.prefetch), waiting for a slot */
	uint64_t claimed;
	uint64_t completed;
	uint64_t claim_queries;
	uint64_t complete_queries;
	uint64_t stale;
	uint64_t db_reconnects;
	struct jv_alert_stats alerts;
};

struct jv_bridge_requests {
	int pause;             /* -1: no change, 0: resume, 1: pause */
	int batch_size;        /* 0: no change */
	int max_concurrent;    /* 0: no change */
	int trigger;           /* claim now */
	int64_t *cancel;       /* job ids to stop if this processor runs them */
	size_t n_cancel;       /* (the caller frees cancel) */
};

struct jv_bridge;

/* NULL when no eventfd can be made. */
struct jv_bridge *jv_bridge_new(void);
void jv_bridge_free(struct jv_bridge *b);

/* The fd the loop polls for requests (readable: call jv_bridge_take). */
int jv_bridge_fd(const struct jv_bridge *b);

/* Loop side. */
void jv_bridge_publish(struct jv_bridge *b, const struct jv_engine_view *v);
void jv_bridge_take(struct jv_bridge *b, struct jv_bridge_requests *out);

/* API side. jv_bridge_view() returns 0, or -1 when nothing was published
 * yet. */
int jv_bridge_view(struct jv_bridge *b, struct jv_engine_view *out);
void jv_bridge_pause(struct jv_bridge *b, int paused);
void jv_bridge_retune(struct jv_bridge *b, int batch_size, int max_concurrent);
void jv_bridge_trigger(struct jv_bridge *b);
void jv_bridge_cancel(struct jv_bridge *b, int64_t job_id);

#endif

/*
 * alert.h -- alerts: the events the core raises, how one (or a fold of
 * several identical ones) becomes the struct jv_alert a sink plugin sends,
 * and the alerter that delivers them off the hot path.
 *
 * The engine calls jv_alerter_raise() from its loop; that only copies the
 * event into the bounded queue of each sink that wants it and returns.
 * Each sink has a thread of its own that folds identical events (same
 * event and job type within fold_seconds: the first goes out at once, the
 * rest as one message with their count when the window closes), keeps to
 * the sink's min_interval_ms, retries failed sends with backoff up to
 * max_attempts, and records every message -- sent, failed or dropped -- in
 * jobvisor.alerts. A full queue drops its oldest event and counts it. A
 * watcher thread raises the events found in the database rather than in
 * the engine: processor_down, failure_rate and queue_backlog, each once per
 * occurrence across all processors (jobvisor.alert_state).
 */
#ifndef JV_ALERT_H
#define JV_ALERT_H

#include "config/config.h"

#include <jobvisor/plugin.h>

#include <stddef.h>
#include <stdint.h>

struct jv_config;
struct jv_runtime;

/* "job_failed", ...; NULL when out of range. */
const char *jv_event_name(enum jv_event_kind kind);

/* The kind named name, or -1. */
int jv_event_parse(const char *name);

/* One event, as raised. Strings are owned by whoever holds the event
 * (jv_event_copy() / jv_event_clear()). */
struct jv_event {
	enum jv_event_kind kind;
	int64_t at_ms;          /* unix time, ms */
	int64_t job_id;         /* 0: not about one job */
	char *job_type;         /* job events; failure_rate: the type; may be NULL */
	char *user_id;          /* may be NULL */
	int32_t attempt;        /* job events */
	int32_t max_attempts;
	char *error;            /* may be NULL */
	char *subject;          /* processor_down: the silent processor ("name (id N, host H)") */
	int64_t number;         /* stuck_jobs_reset: jobs reset; failure_rate: failed
	                         * attempts; queue_backlog: due pending jobs */
	int64_t total;          /* failure_rate: attempts in the window */
	int64_t seconds;        /* processor_down: heartbeat age; failure_rate: the
	                         * window; queue_backlog: the oldest due job's wait */
};

void jv_event_copy(struct jv_event *dst, const struct jv_event *src);
void jv_event_clear(struct jv_event *ev);

/*
 * A rendered alert: the struct jv_alert a sink's send() gets, with the
 * strings it points to. first is the first event of the message; when
 * count > 1, last is the last one folded in (else NULL) and window_s the
 * fold window. processor names this processor; dashboard_url may be NULL.
 * Free with jv_alert_msg_free().
 */
struct jv_alert_msg {
	struct jv_alert alert;
	char *title, *text, *json, *link;
	char *error;            /* trimmed */
	char *job_type, *user_id; /* valid UTF-8 copies */
};

void jv_alert_render(struct jv_alert_msg *m, const struct jv_event *first,
		     const struct jv_event *last, uint32_t count, int window_s,
		     const char *processor, const char *dashboard_url);
void jv_alert_msg_free(struct jv_alert_msg *m);

/* ------------------------------------------------------------ the alerter */

struct jv_alerter;

/* Counters, for status and metrics. */
struct jv_alert_stats {
	uint64_t raised;   /* events taken into some sink's queue */
	uint64_t sent;     /* messages delivered */
	uint64_t failed;   /* messages given up on after max_attempts, or refused */
	uint64_t dropped;  /* events dropped because a queue was full */
	uint64_t folded;   /* events that went out inside another's message */
};

/*
 * Start the alerter for rt's alert instances (cfg->alerts, same order):
 * one thread per sink, and the watcher when a sink wants processor_down,
 * failure_rate or queue_backlog. processor_id and processor (its display
 * name) label what this processor raises. Returns NULL when no alert sink
 * is configured (then jv_alerter_raise() and _stop() accept NULL). cfg and
 * rt must outlive the alerter.
 */
struct jv_alerter *jv_alerter_start(const struct jv_config *cfg, struct jv_runtime *rt,
				    int64_t processor_id, const char *processor);

/* 1 when some sink wants events of kind (cheap; NULL: 0). */
int jv_alerter_wants(const struct jv_alerter *a, enum jv_event_kind kind);

/* Hand ev to every sink that wants it (kind, type and user filters). Never
 * blocks on delivery: copies and returns. Thread-safe. NULL a: nothing. */
void jv_alerter_raise(struct jv_alerter *a, const struct jv_event *ev);

/* Counters so far (summed over sinks). */
void jv_alerter_stats(const struct jv_alerter *a, struct jv_alert_stats *out);

/* Stop: deliver what is queued (folds close at once) for up to flush_ms,
 * record the rest as dropped, join the threads, free. NULL is fine. */
void jv_alerter_stop(struct jv_alerter *a, int flush_ms);

#endif

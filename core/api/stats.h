/*
 * stats.h -- the engine's counters by job type, for Prometheus (GET
 * /metrics): jobs claimed, attempts finished by outcome, and a histogram
 * of attempt durations. One table per process; the engine's loop adds to
 * it, the API's threads render it; a mutex keeps them apart.
 */
#ifndef JV_STATS_H
#define JV_STATS_H

#include "lib/mem.h"

#include <stdint.h>

/* A job of type was claimed (handed to a worker). */
void jv_stats_claimed(const char *type);

/* An attempt of a job of type ended with outcome ("succeeded", "failed",
 * "timed_out", "crashed", "cancelled", "released") after duration_ms. */
void jv_stats_finished(const char *type, const char *outcome, int64_t duration_ms);

/* Append the families in Prometheus text exposition format to out:
 * jobvisor_jobs_claimed_total{type}, jobvisor_attempts_total{type,outcome},
 * jobvisor_attempt_duration_seconds{type} (histogram). */
void jv_stats_render(struct jv_buf *out);

/* Forget everything (tests). */
void jv_stats_reset(void);

#endif

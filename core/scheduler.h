/*
 * scheduler.h -- the thread that turns due schedule runs into jobs.
 * Placeholder interface, being written.
 */
#ifndef JV_SCHEDULER_H
#define JV_SCHEDULER_H

#include <stdint.h>

struct jv_config;
struct jv_scheduler;

/* Sync cfg's schedules into jobvisor.schedules and start the thread (its
 * own database connection). NULL when there is nothing to do or it cannot
 * start (logged). cfg must outlive it. */
struct jv_scheduler *jv_scheduler_start(const struct jv_config *cfg, int64_t processor_id);

/* Stop the thread and free. NULL is fine. */
void jv_scheduler_stop(struct jv_scheduler *s);

#endif

/* scheduler.c -- placeholder, being written: schedules do not fire yet. */
#include "scheduler.h"

#include <stddef.h>

struct jv_scheduler *jv_scheduler_start(const struct jv_config *cfg, int64_t processor_id)
{
	(void)cfg;
	(void)processor_id;
	return NULL;
}

void jv_scheduler_stop(struct jv_scheduler *s) { (void)s; }

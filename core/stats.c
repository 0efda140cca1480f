/* stats.c -- placeholder, being written: counts nothing yet. */
#include "stats.h"

void jv_stats_claimed(const char *type) { (void)type; }

void jv_stats_finished(const char *type, const char *outcome, int64_t duration_ms)
{
	(void)type;
	(void)outcome;
	(void)duration_ms;
}

void jv_stats_render(struct jv_buf *out) { (void)out; }

void jv_stats_reset(void) {}

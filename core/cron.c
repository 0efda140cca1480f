/* cron.c -- placeholder, being written. */
#include "cron.h"

#include <stdio.h>

int jv_cron_parse(const char *expr, struct jv_cron **out, char *err, size_t errlen)
{
	(void)expr;
	*out = NULL;
	snprintf(err, errlen, "cron expressions are not implemented yet");
	return -1;
}

void jv_cron_free(struct jv_cron *c) { (void)c; }

int jv_tz_valid(const char *tz) { return tz == NULL; }

int jv_cron_next(const struct jv_cron *c, const char *tz, int64_t after, int64_t *next,
		 char *err, size_t errlen)
{
	(void)c;
	(void)tz;
	(void)after;
	*next = 0;
	snprintf(err, errlen, "cron expressions are not implemented yet");
	return -1;
}

/*
 * cron.h -- cron expressions and when they next fire, in any IANA zone.
 *
 * Syntax: five fields "MIN HOUR DAY MONTH WEEKDAY", or six with a leading
 * seconds field; lists (1,5), ranges (1-5), steps (*\/15, 10-40/5), month
 * and weekday names (JAN, MON), and the shorthands @yearly @annually
 * @monthly @weekly @daily @midnight @hourly and "@every 30s" intervals.
 * Day of month and day of week combine as in Vixie cron: when both are
 * restricted, either matching is enough.
 *
 * Time zones come from the system's zoneinfo (TZif files); across a DST
 * gap a time that does not exist that day fires once at the next valid
 * minute, and in a repeated hour a time fires once (the first).
 */
#ifndef JV_CRON_H
#define JV_CRON_H

#include <stddef.h>
#include <stdint.h>

struct jv_cron;

/* Parse expr. 0 and *out (free with jv_cron_free), or -1 with one line in
 * err naming the field and the position, e.g. "hour (field 2) at position
 * 5: 25 is out of range 0-23". */
int jv_cron_parse(const char *expr, struct jv_cron **out, char *err, size_t errlen);
void jv_cron_free(struct jv_cron *c);

/* 1 when tz names a zone this system knows ("UTC" always does). */
int jv_tz_valid(const char *tz);

/* The first time the expression fires strictly after `after` (unix
 * seconds), in zone tz (NULL: UTC). 0 and *next, or -1 with the reason in
 * err (unknown zone; no time within the next 5 years, e.g. "0 0 30 2 *"). */
int jv_cron_next(const struct jv_cron *c, const char *tz, int64_t after, int64_t *next,
		 char *err, size_t errlen);

#endif

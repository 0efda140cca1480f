/*
 * tz.h -- IANA time zones read from the system's TZif files, without
 * touching the process-global TZ/localtime machinery (thread-safe).
 *
 * Zones are parsed once and cached for the life of the process (the cache
 * is mutex-protected); a returned zone is never freed and may be used from
 * any thread.
 */
#ifndef JV_TZ_H
#define JV_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct jv_tz;

/* The zoneinfo directory searched for zone files. */
#define JV_TZ_DIR "/usr/share/zoneinfo"

/* 1 when name is a syntactically acceptable zone name: 1-255 characters of
 * [A-Za-z0-9_+-/], no leading or trailing '/', no empty component (so it
 * can never leave the zoneinfo directory). */
int jv_tz_name_ok(const char *name);

/* The zone called name (NULL, "UTC" and "Etc/UTC" are built in), or NULL
 * with the reason in err. */
const struct jv_tz *jv_tz_get(const char *name, char *err, size_t errlen);

/* The zone's offset from UTC (seconds east) at the instant t. */
int32_t jv_tz_offset(const struct jv_tz *z, int64_t t);

/* The instant a local wall-clock time (seconds since 1970-01-01 00:00 as if
 * the zone were UTC) happens. 0: it exists (in a repeated hour, the first
 * occurrence); 1: it falls in a gap and *t is the first instant after the
 * gap (the moment the clocks jump). */
int jv_tz_local_to_utc(const struct jv_tz *z, int64_t local, int64_t *t);

/* Calendar helpers shared with cron.c (proleptic Gregorian). */
int64_t jv_days_from_civil(int64_t y, int m, int d);
void jv_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
int jv_days_in_month(int64_t y, int m);
int64_t jv_floordiv(int64_t a, int64_t b);

/* gmtime_r of the instant t (seconds since 1970): 1, or 0 when t is
 * beyond what time_t or struct tm can hold (tm is then all zero). */
int jv_utc_tm(int64_t t, struct tm *tm);

#endif

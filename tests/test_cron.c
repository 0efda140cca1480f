/*
 * test_cron.c -- the cron parser and jv_cron_next, table-driven: parser
 * errors with exact messages, and next runs in UTC, Europe/Berlin,
 * America/New_York and Australia/Lord_Howe across DST gaps and overlaps,
 * leap days, month ends, seconds, @every intervals and Vixie's day rule.
 * Expected instants are UTC ISO strings. Also jv_utc_tm, the checked
 * gmtime_r behind every printed UTC time.
 */
#include "unit.h"

#include "lib/cron.h"
#include "lib/tz.h"

#include <string.h>
#include <time.h>

static int64_t iso(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static void fmt(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Parser rejections: expression and the exact error. */
static const struct {
	const char *expr, *err;
} bad[] = {
	{"", "empty expression"},
	{"   ", "empty expression"},
	{"* * * *", "expected 5 or 6 fields, got 4"},
	{"* * * * * * *", "expected 5 or 6 fields, got 7"},
	{"*", "expected 5 or 6 fields, got 1"},
	{"60 * * * *", "minute (field 1) at position 1: 60 is out of range 0-59"},
	{"0 24 * * *", "hour (field 2) at position 3: 24 is out of range 0-23"},
	{"*/5 25 * * *", "hour (field 2) at position 5: 25 is out of range 0-23"},
	{"0 0 0 * *", "day of month (field 3) at position 5: 0 is out of range 1-31"},
	{"0 0 32 * *", "day of month (field 3) at position 5: 32 is out of range 1-31"},
	{"0 0 1-32 * *", "day of month (field 3) at position 7: 32 is out of range 1-31"},
	{"0 0 * 13 *", "month (field 4) at position 7: 13 is out of range 1-12"},
	{"0 0 * 0 *", "month (field 4) at position 7: 0 is out of range 1-12"},
	{"0 0 * * 8", "day of week (field 5) at position 9: 8 is out of range 0-7"},
	{"0 0 * FOO *", "month (field 4) at position 7: unknown name \"FOO\""},
	{"0 0 * JANUARY *", "month (field 4) at position 7: unknown name \"JANUARY\""},
	{"0 0 * * FUN", "day of week (field 5) at position 9: unknown name \"FUN\""},
	{"0 0 * * JAN", "day of week (field 5) at position 9: unknown name \"JAN\""},
	{"0 MON * * *", "hour (field 2) at position 3: \"MON\" is not a number"},
	{"*/0 * * * *", "minute (field 1) at position 3: step must be at least 1"},
	{"1-5/0 * * * *", "minute (field 1) at position 5: step must be at least 1"},
	{"*/60 * * * *", "minute (field 1) at position 3: step 60 is larger than 59"},
	{"5-3 * * * *", "minute (field 1) at position 1: range 5-3 is reversed"},
	{"0 0 * * FRI-MON", "day of week (field 5) at position 9: range 5-1 is reversed"},
	{"0 0 * DEC-JAN *", "month (field 4) at position 7: range 12-1 is reversed"},
	{"1,,2 * * * *", "minute (field 1) at position 3: empty list item"},
	{"1, * * * *", "minute (field 1) at position 3: empty list item"},
	{",1 * * * *", "minute (field 1) at position 1: empty list item"},
	{"1-* * * * *", "minute (field 1) at position 3: unexpected character '*'"},
	{"1- * * * *", "minute (field 1) at position 3: a range needs an end"},
	{"1-5/ * * * *", "minute (field 1) at position 5: a step must be a number"},
	{"1/x * * * *", "minute (field 1) at position 3: a step must be a number"},
	{"* * * * ?", "day of week (field 5) at position 9: unexpected character '?'"},
	{"# * * * *", "minute (field 1) at position 1: unexpected character '#'"},
	{"1x * * * *", "minute (field 1) at position 2: unexpected character 'x'"},
	{"** * * * *", "minute (field 1) at position 2: unexpected character '*'"},
	{"99999999999 * * * *", "minute (field 1) at position 1: number too large (range 0-59)"},
	{"60 * * * * *", "second (field 1) at position 1: 60 is out of range 0-59"},
	{"0 60 * * * *", "minute (field 2) at position 3: 60 is out of range 0-59"},
	{"0 0 24 * * *", "hour (field 3) at position 5: 24 is out of range 0-23"},
	{"0 0 * * * x", "day of week (field 6) at position 11: unknown name \"x\""},
	{"@foo", "unknown shorthand \"@foo\" at position 1 (expected @yearly, @annually, @monthly, "
		 "@weekly, @daily, @midnight, @hourly or @every)"},
	{"@daily x", "unexpected text at position 8 after @daily"},
	{"@every", "@every at position 7: a duration is missing (e.g. 30s, 5m, 1h30m)"},
	{"@every 0s", "@every at position 8: the interval must be at least 1s"},
	{"@every 5x", "@every at position 9: expected a unit s, m, h or d"},
	{"@every 30", "@every at position 10: expected a unit s, m, h or d"},
	{"@every s", "@every at position 8: expected a number (e.g. 30s, 5m, 1h30m)"},
	{"@every 30s extra", "@every at position 12: unexpected text after the duration"},
	{"@every 400d", "@every at position 8: interval longer than 366 days"},
};

/* next runs: expression, zone, after, expected (or "ERR:" + message). */
static const struct {
	const char *expr, *tz, *after, *want;
} runs[] = {
	/* UTC basics */
	{"* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
	{"* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z"},
	{"* * * * *", NULL, "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
	{"0 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
	{"0 0 * * *", "Etc/UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
	{"30 6 * * *", "UTC", "2026-01-01T06:30:00Z", "2026-01-02T06:30:00Z"},
	{"30 6 * * *", "UTC", "2026-01-01T06:29:59Z", "2026-01-01T06:30:00Z"},
	{"*/15 * * * *", "UTC", "2026-01-01T00:07:00Z", "2026-01-01T00:15:00Z"},
	{"*/15 * * * *", "UTC", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"},
	{"5-10 * * * *", "UTC", "2026-01-01T00:10:00Z", "2026-01-01T01:05:00Z"},
	{"5-10 * * * *", "UTC", "2026-01-01T00:06:00Z", "2026-01-01T00:07:00Z"},
	{"1,31,59 * * * *", "UTC", "2026-01-01T00:31:00Z", "2026-01-01T00:59:00Z"},
	{"1-5/2,7,9-10 * * * *", "UTC", "2026-01-01T00:05:00Z", "2026-01-01T00:07:00Z"},
	{"1-5/2,7,9-10 * * * *", "UTC", "2026-01-01T00:07:00Z", "2026-01-01T00:09:00Z"},
	{"5/15 * * * *", "UTC", "2026-01-01T00:20:00Z", "2026-01-01T00:35:00Z"},
	{"5/15 * * * *", "UTC", "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z"},
	{"0 9-17/4 * * *", "UTC", "2026-01-01T10:00:00Z", "2026-01-01T13:00:00Z"},
	{"0 9-17/4 * * *", "UTC", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"},
	{"  0   12 * * *  ", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z"},
	{"0\t12\t*\t*\t*", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z"},
	{"0 0 1 * *", "UTC", "2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z"},
	{"0 0 1 1 *", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	{"0 0 1 */3 *", "UTC", "2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z"},
	/* shorthands */
	{"@yearly", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	{"@annually", "UTC", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
	{"@monthly", "UTC", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z"},
	{"@weekly", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
	{"@daily", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
	{"@midnight", "UTC", "2026-02-28T12:00:00Z", "2026-03-01T00:00:00Z"},
	{"@hourly", "UTC", "2026-01-01T00:59:59Z", "2026-01-01T01:00:00Z"},
	{"@DAILY", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
	{"  @hourly  ", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
	{"@daily", "Europe/Berlin", "2026-01-01T00:00:00Z", "2026-01-01T23:00:00Z"},
	/* weekdays and names (2026-01-01 is a Thursday) */
	{"0 0 * * MON", "UTC", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
	{"0 0 * * 1-5", "UTC", "2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z"},
	{"0 0 * * mon-fri", "UTC", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"},
	{"0 0 * * SAT,SUN", "UTC", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
	{"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
	{"0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
	{"0 0 * * sun", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
	{"0 0 * * 5-7", "UTC", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"},
	{"0 0 * * MON-FRI/2", "UTC", "2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z"},
	{"0 12 * JUN *", "UTC", "2026-01-01T00:00:00Z", "2026-06-01T12:00:00Z"},
	{"0 12 1 jan-mar/2 *", "UTC", "2026-02-01T00:00:00Z", "2026-03-01T12:00:00Z"},
	{"0 0 1 Dec *", "UTC", "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z"},
	/* month ends and leap days */
	{"0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
	{"0 0 31 * *", "UTC", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"},
	{"0 0 31 * *", "UTC", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"},
	{"0 0 30 * *", "UTC", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
	{"0 0 29 * *", "UTC", "2026-01-29T00:00:00Z", "2026-03-29T00:00:00Z"},
	{"0 0 29 * *", "UTC", "2028-01-29T00:00:00Z", "2028-02-29T00:00:00Z"},
	{"0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
	{"0 0 29 2 *", "UTC", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
	{"0 0 29 2 *", "UTC", "1999-01-01T00:00:00Z", "2000-02-29T00:00:00Z"},
	{"0 0 29 2 *", "UTC", "2097-03-01T00:00:00Z", "ERR:the expression never fires within 5 years"},
	{"0 0 28 2 *", "UTC", "2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z"},
	{"0 0 1 3 *", "UTC", "2028-02-28T00:00:00Z", "2028-03-01T00:00:00Z"},
	{"59 23 31 12 *", "UTC", "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z"},
	{"59 23 * * *", "UTC", "2028-02-29T00:00:00Z", "2028-02-29T23:59:00Z"},
	{"0 0 31 1,4 *", "UTC", "2026-02-01T00:00:00Z", "2027-01-31T00:00:00Z"},
	{"0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", "ERR:the expression never fires within 5 years"},
	{"0 0 31 4,6,9,11 *", "UTC", "2026-01-01T00:00:00Z", "ERR:the expression never fires within 5 years"},
	{"0 0 29 2 *", "Europe/Berlin", "2025-01-01T00:00:00Z", "2028-02-28T23:00:00Z"},
	{"0 0 29 2 *", "America/New_York", "2025-01-01T00:00:00Z", "2028-02-29T05:00:00Z"},
	{"0 0 31 12 *", "Australia/Lord_Howe", "2026-01-01T00:00:00Z", "2026-12-30T13:00:00Z"},
	/* Vixie: day of month OR day of week when both are restricted */
	{"0 0 13 * FRI", "UTC", "2026-02-01T00:00:00Z", "2026-02-06T00:00:00Z"},
	{"0 0 13 * FRI", "UTC", "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z"},
	{"0 0 13 * FRI", "UTC", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00Z"},
	{"0 0 1 * MON", "UTC", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
	{"0 0 1 * MON", "UTC", "2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z"},
	{"0 0 1-7 * MON", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
	{"0 0 1-7 * MON", "UTC", "2026-01-07T00:00:00Z", "2026-01-12T00:00:00Z"},
	/* ... but a field starting with '*' means AND, as in Vixie */
	{"0 0 */2 * MON", "UTC", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
	{"0 0 */2 * MON", "UTC", "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"},
	{"0 0 * * FRI", "UTC", "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z"},
	{"0 0 13 * *", "UTC", "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z"},
	{"0 0 13 * */1", "UTC", "2026-02-01T00:00:00Z", "2026-02-13T00:00:00Z"},
	/* six fields: seconds */
	{"*/10 * * * * *", "UTC", "2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z"},
	{"* * * * * *", "UTC", "2026-01-01T00:00:59Z", "2026-01-01T00:01:00Z"},
	{"30 * * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:30Z"},
	{"0 0 0 * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
	{"15,45 30 12 * * *", "UTC", "2026-01-01T12:30:15Z", "2026-01-01T12:30:45Z"},
	{"15,45 30 12 * * *", "UTC", "2026-01-01T12:30:45Z", "2026-01-02T12:30:15Z"},
	{"59 59 23 31 12 *", "UTC", "2026-06-01T00:00:00Z", "2026-12-31T23:59:59Z"},
	{"0 30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
	{"30 30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
	/* @every: multiples of the interval since the epoch, in UTC */
	{"@every 30s", "UTC", "1970-01-01T00:16:40Z", "1970-01-01T00:17:00Z"},
	{"@every 30s", "UTC", "1970-01-01T00:17:00Z", "1970-01-01T00:17:30Z"},
	{"@every 1h30m", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T01:30:00Z"},
	{"@every 1h30m", "Europe/Berlin", "2026-01-01T00:00:00Z", "2026-01-01T01:30:00Z"},
	{"@every 5m", "UTC", "2026-01-01T00:02:00Z", "2026-01-01T00:05:00Z"},
	{"@every 1h", "America/New_York", "2026-01-01T00:59:59Z", "2026-01-01T01:00:00Z"},
	{"@every 7s", "UTC", "1970-01-01T00:00:00Z", "1970-01-01T00:00:07Z"},
	{"@every 1d", "UTC", "2026-03-29T01:30:00Z", "2026-03-30T00:00:00Z"},
	{"@every 45m", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:45:00Z"},
	{"@every 1m30s", "UTC", "1970-01-01T00:01:31Z", "1970-01-01T00:03:00Z"},
	{"@every 10m", "UTC", "1969-12-31T23:55:00Z", "1970-01-01T00:00:00Z"},
	/* Europe/Berlin spring forward: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z) */
	{"30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
	{"30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
	{"30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", "2026-03-28T01:30:00Z"},
	{"0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
	{"0 2 * * *", "Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z"},
	{"0 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"},
	{"59 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
	{"0 1 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T00:00:00Z"},
	{"*/15 * * * *", "Europe/Berlin", "2026-03-29T00:50:00Z", "2026-03-29T01:00:00Z"},
	{"*/15 * * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"},
	{"0 * * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"},
	{"0 * * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"},
	{"30 2 * * SUN", "Europe/Berlin", "2026-03-23T00:00:00Z", "2026-03-29T01:00:00Z"},
	/* Europe/Berlin fall back: 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z) */
	{"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
	{"30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
	{"0 * * * *", "Europe/Berlin", "2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z"},
	{"0 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"},
	{"*/30 * * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"},
	{"*/30 * * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-25T02:00:00Z"},
	{"0 3 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T02:00:00Z"},
	{"0 0 * * *", "Europe/Berlin", "2026-06-15T00:00:00Z", "2026-06-15T22:00:00Z"},
	{"0 0 * * *", "Europe/Berlin", "2026-01-15T00:00:00Z", "2026-01-15T23:00:00Z"},
	{"0 0 1 1 *", "Europe/Berlin", "2026-06-01T00:00:00Z", "2026-12-31T23:00:00Z"},
	/* after the last TZif transition: the footer's POSIX rule */
	{"30 2 * * *", "Europe/Berlin", "2045-03-25T12:00:00Z", "2045-03-26T01:00:00Z"},
	{"30 2 * * *", "Europe/Berlin", "2045-10-28T12:00:00Z", "2045-10-29T00:30:00Z"},
	{"0 12 * 7 *", "Europe/Berlin", "2045-06-01T00:00:00Z", "2045-07-01T10:00:00Z"},
	{"30 2 * * *", "America/New_York", "2045-03-11T12:00:00Z", "2045-03-12T07:00:00Z"},
	/* America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) */
	{"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
	{"30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
	{"0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
	{"0 3 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
	{"*/20 * * * *", "America/New_York", "2026-03-08T06:50:00Z", "2026-03-08T07:00:00Z"},
	{"*/20 * * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T07:20:00Z"},
	/* America/New_York: 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z) */
	{"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
	{"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
	{"0 * * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"},
	{"*/20 * * * *", "America/New_York", "2026-11-01T05:40:00Z", "2026-11-01T07:00:00Z"},
	{"*/20 * * * *", "America/New_York", "2026-11-01T06:10:00Z", "2026-11-01T07:00:00Z"},
	{"0 9 * * MON-FRI", "America/New_York", "2026-03-06T15:00:00Z", "2026-03-09T13:00:00Z"},
	{"0 9 * * MON-FRI", "America/New_York", "2026-10-30T14:00:00Z", "2026-11-02T14:00:00Z"},
	{"0 0 * * *", "America/New_York", "2026-01-01T00:00:00Z", "2026-01-01T05:00:00Z"},
	{"0 0 * * *", "America/New_York", "2026-07-01T00:00:00Z", "2026-07-01T04:00:00Z"},
	/* Australia/Lord_Howe: 2026-10-04 02:00 +10:30 -> 02:30 +11 (2026-10-03T15:30Z) */
	{"15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", "2026-10-03T15:30:00Z"},
	{"15 2 * * *", "Australia/Lord_Howe", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"},
	{"15 2 * * *", "Australia/Lord_Howe", "2026-10-02T00:00:00Z", "2026-10-02T15:45:00Z"},
	{"30 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", "2026-10-03T15:30:00Z"},
	{"0 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", "2026-10-03T15:30:00Z"},
	{"*/10 * * * *", "Australia/Lord_Howe", "2026-10-03T15:25:00Z", "2026-10-03T15:30:00Z"},
	{"*/10 * * * *", "Australia/Lord_Howe", "2026-10-03T15:30:00Z", "2026-10-03T15:40:00Z"},
	/* Australia/Lord_Howe: 2026-04-05 02:00 +11 -> 01:30 +10:30 (2026-04-04T15:00Z) */
	{"45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", "2026-04-04T14:45:00Z"},
	{"45 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"},
	{"*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:45:00Z", "2026-04-04T15:30:00Z"},
	{"0 2 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", "2026-04-04T15:30:00Z"},
	{"0 0 * * *", "Australia/Lord_Howe", "2026-01-01T00:00:00Z", "2026-01-01T13:00:00Z"},
	{"0 0 * * *", "Australia/Lord_Howe", "2026-06-01T00:00:00Z", "2026-06-01T13:30:00Z"},
	{"30 2 * * *", "Australia/Lord_Howe", "2045-09-30T00:00:00Z", "2045-09-30T15:30:00Z"},
	/* zones */
	{"* * * * *", "Mars/Olympus", "2026-01-01T00:00:00Z", "ERR:unknown time zone \"Mars/Olympus\""},
	{"* * * * *", "../etc/passwd", "2026-01-01T00:00:00Z", "ERR:invalid time zone name \"../etc/passwd\""},
	{"* * * * *", "/etc/passwd", "2026-01-01T00:00:00Z", "ERR:invalid time zone name \"/etc/passwd\""},
	{"* * * * *", "Europe", "2026-01-01T00:00:00Z", "ERR:unknown time zone \"Europe\""},
};

static void t_bad(void)
{
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct jv_cron *c = (struct jv_cron *)1;
		char err[256] = "";
		int rc = jv_cron_parse(bad[i].expr, &c, err, sizeof err);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_PTR_NULL(c);
		if (rc != -1 || strcmp(err, bad[i].err) != 0) {
			printf("\n  parse \"%s\": got rc %d \"%s\"\n  want \"%s\"", bad[i].expr, rc, err,
			       bad[i].err);
			CU_FAIL("parser error");
		}
		if (rc == 0)
			jv_cron_free(c);
	}
	struct jv_cron *c;
	char err[64];
	CU_ASSERT_EQUAL(jv_cron_parse(NULL, &c, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "empty expression");
	/* a short buffer truncates, never overflows */
	char tiny[8];
	CU_ASSERT_EQUAL(jv_cron_parse("0 99 * * *", &c, tiny, sizeof tiny), -1);
	CU_ASSERT_STRING_EQUAL(tiny, "hour (f");
}

static void t_runs(void)
{
	for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
		struct jv_cron *c;
		char err[256] = "", got[64];
		if (jv_cron_parse(runs[i].expr, &c, err, sizeof err) != 0) {
			printf("\n  parse \"%s\": %s", runs[i].expr, err);
			CU_FAIL("parse");
			continue;
		}
		int64_t after = iso(runs[i].after), next = -1;
		int rc = jv_cron_next(c, runs[i].tz, after, &next, err, sizeof err);
		if (rc == 0)
			fmt(next, got, sizeof got);
		else
			snprintf(got, sizeof got, "ERR:%.59s", err);
		if (strncmp(runs[i].want, "ERR:", 4) == 0 ? strcmp(got, runs[i].want) != 0 ||
								      strcmp(err, runs[i].want + 4) != 0
							    : strcmp(got, runs[i].want) != 0) {
			printf("\n  \"%s\" in %s after %s: got %s (%s), want %s", runs[i].expr,
			       runs[i].tz ? runs[i].tz : "NULL", runs[i].after, got, err, runs[i].want);
			CU_FAIL("next run");
		}
		jv_cron_free(c);
	}
}

static void t_tz_valid(void)
{
	CU_ASSERT_EQUAL(jv_tz_valid(NULL), 1);
	CU_ASSERT_EQUAL(jv_tz_valid("UTC"), 1);
	CU_ASSERT_EQUAL(jv_tz_valid("Etc/UTC"), 1);
	CU_ASSERT_EQUAL(jv_tz_valid("Europe/Berlin"), 1);
	CU_ASSERT_EQUAL(jv_tz_valid("America/New_York"), 1);
	CU_ASSERT_EQUAL(jv_tz_valid("Australia/Lord_Howe"), 1);
	CU_ASSERT_EQUAL(jv_tz_valid("Europe/Berlin"), 1); /* cached */
	CU_ASSERT_EQUAL(jv_tz_valid(""), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("Nope/Zone"), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("Europe/../../etc/passwd"), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("/etc/localtime"), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("Europe//Berlin"), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("Europe/"), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("zone.tab"), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("Europe"), 0);
	CU_ASSERT_EQUAL(jv_tz_valid("Europe/Berlin\n"), 0);
}

/* jv_utc_tm: the instants struct tm holds, and a clear 0 beyond them
 * (the callers then print a placeholder, never an uninitialised tm). */
static void t_utc_tm(void)
{
	struct tm tm;
	CU_ASSERT_EQUAL(jv_utc_tm(0, &tm), 1);
	CU_ASSERT_EQUAL(tm.tm_year, 70);
	CU_ASSERT_EQUAL(tm.tm_mday, 1);
	CU_ASSERT_EQUAL(jv_utc_tm(-1, &tm), 1);
	CU_ASSERT(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31 && tm.tm_hour == 23 &&
		  tm.tm_min == 59 && tm.tm_sec == 59);
	CU_ASSERT_EQUAL(jv_utc_tm(iso("2026-11-29T07:45:30Z"), &tm), 1);
	CU_ASSERT(tm.tm_year == 126 && tm.tm_mon == 10 && tm.tm_mday == 29 && tm.tm_hour == 7 &&
		  tm.tm_min == 45 && tm.tm_sec == 30);
	tm.tm_year = 5;
	CU_ASSERT_EQUAL(jv_utc_tm(INT64_MAX, &tm), 0);
	CU_ASSERT_EQUAL(tm.tm_year, 0);
	CU_ASSERT_EQUAL(jv_utc_tm(INT64_MIN, &tm), 0);
	CU_ASSERT_EQUAL(jv_utc_tm(INT64_MAX / 100, &tm), 0); /* a year past INT_MAX */
}

/* Every DST day of 2026 in the three zones: consecutive runs of an
 * every-minute job move forward and never repeat an instant. */
static void t_monotonic(void)
{
	static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"};
	struct jv_cron *c;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(jv_cron_parse("*/7 * * * *", &c, err, sizeof err), 0);
	for (int z = 0; z < 3; z++) {
		int64_t t = iso("2026-03-01T00:00:00Z"), end = iso("2026-11-15T00:00:00Z");
		int64_t prev = t;
		int ok = 1;
		while (t < end && ok) {
			int64_t n;
			ok = jv_cron_next(c, zones[z], t, &n, err, sizeof err) == 0 && n > prev &&
			     n - prev <= 2 * 3600;
			prev = t = n;
		}
		CU_ASSERT(ok);
	}
	jv_cron_free(c);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"parser rejects with exact errors", t_bad},
		{"next runs (table)", t_runs},
		{"zone names", t_tz_valid},
		{"runs move forward across DST", t_monotonic},
		{"UTC calendar of an instant, and its limits", t_utc_tm},
		{NULL, NULL},
	};
	printf("cron table: %zu parser cases, %zu next-run cases\n", sizeof bad / sizeof *bad,
	       sizeof runs / sizeof *runs);
	return jv_unit_run("cron", tests);
}

/*
 * cron.c -- cron expressions (5 or 6 fields, names, shorthands, @every)
 * and the next time they fire in an IANA zone (see cron.h, tz.h).
 */
#include "lib/cron.h"

#include "lib/mem.h"
#include "lib/tz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct jv_cron {
	uint64_t sec, min;
	uint32_t hour, dom, mon;
	uint8_t dow;          /* bit 0 = Sunday; 7 folds into 0 */
	int dom_star, dow_star; /* field began with '*' (Vixie's rule) */
	int64_t every;        /* > 0: an @every interval in seconds */
};

struct field_def {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] is value lo_name + i */
	int names_base;
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const struct field_def fields[6] = {
	{"second", 0, 59, NULL, 0},      {"minute", 0, 59, NULL, 0},
	{"hour", 0, 23, NULL, 0},        {"day of month", 1, 31, NULL, 0},
	{"month", 1, 12, month_names, 1}, {"day of week", 0, 7, day_names, 0},
};

struct perr {
	char *buf;
	size_t len;
	const struct field_def *f;
	int fieldno;
};

static int fail(struct perr *e, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct perr *e, size_t pos, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(e->buf, e->len, "%s (field %d) at position %zu: %s", e->f->name, e->fieldno, pos + 1,
		 msg);
	return -1;
}

/* A value at s[*i]: a number or (for month/weekday) a name. */
static int parse_value(const char *s, size_t *i, struct perr *e, long *out)
{
	size_t b = *i;
	if (s[b] >= '0' && s[b] <= '9') {
		long v = 0;
		size_t j = b;
		while (s[j] >= '0' && s[j] <= '9') {
			if (v < 1000000)
				v = v * 10 + (s[j] - '0');
			j++;
		}
		*i = j;
		*out = v;
		return 0;
	}
	size_t j = b;
	while ((s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= 'a' && s[j] <= 'z'))
		j++;
	if (j == b) {
		char c[8];
		if (s[b] == '\0' || s[b] == ' ' || s[b] == '\t')
			return fail(e, b, "a value is missing");
		if ((unsigned char)s[b] >= 0x20 && (unsigned char)s[b] < 0x7f)
			snprintf(c, sizeof c, "'%c'", s[b]);
		else
			snprintf(c, sizeof c, "0x%02x", (unsigned char)s[b]);
		return fail(e, b, "unexpected character %s", c);
	}
	char word[16];
	size_t n = j - b < sizeof word - 1 ? j - b : sizeof word - 1;
	memcpy(word, s + b, n);
	word[n] = '\0';
	if (e->f->names && j - b == 3)
		for (int k = 0; e->f->names[k]; k++)
			if (strcasecmp(word, e->f->names[k]) == 0) {
				*i = j;
				*out = k + e->f->names_base;
				return 0;
			}
	if (e->f->names)
		return fail(e, b, "unknown name \"%s\"", word);
	return fail(e, b, "\"%s\" is not a number", word);
}

static int check_range(const char *s, size_t pos, struct perr *e, long v)
{
	(void)s;
	if (v < e->f->lo || v > e->f->hi) {
		char msg[80];
		snprintf(msg, sizeof msg, "%ld is out of range %d-%d", v >= 1000000 ? 999999 : v,
			 e->f->lo, e->f->hi);
		if (v >= 1000000)
			snprintf(msg, sizeof msg, "number too large (range %d-%d)", e->f->lo, e->f->hi);
		return fail(e, pos, "%s", msg);
	}
	return 0;
}

/* One field: s[b, end). Sets bits; *star when it begins with '*'. */
static int parse_field(const char *s, size_t b, size_t end, struct perr *e, uint64_t *bits, int *star)
{
	*bits = 0;
	*star = s[b] == '*';
	size_t i = b;
	for (;;) {
		long lo, hi, step = 1;
		size_t start = i;
		if (i >= end || s[i] == ',')
			return fail(e, i, "empty list item");
		if (s[i] == '*') {
			lo = e->f->lo;
			hi = e->f->hi;
			i++;
			if (e->f->hi == 7)
				hi = 6;
		} else {
			/* parse_value sets lo when it returns 0; the analyzer does not
			 * follow the variadic fail(). */
			/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
			if (parse_value(s, &i, e, &lo) || check_range(s, start, e, lo))
				return -1;
			hi = lo;
			if (i < end && s[i] == '-') {
				i++;
				size_t hpos = i;
				if (i >= end)
					return fail(e, i, "a range needs an end");
				if (parse_value(s, &i, e, &hi) || check_range(s, hpos, e, hi))
					return -1;
				if (hi < lo)
					return fail(e, start, "range %ld-%ld is reversed", lo, (long)hi);
			} else if (i < end && s[i] == '/') {
				hi = e->f->hi == 7 ? 6 : e->f->hi; /* "N/step": from N to the end */
			}
		}
		if (i < end && s[i] == '/') {
			i++;
			size_t spos = i;
			if (i >= end || s[i] < '0' || s[i] > '9')
				return fail(e, spos, "a step must be a number");
			if (parse_value(s, &i, e, &step))
				return -1;
			if (step < 1)
				return fail(e, spos, "step must be at least 1");
			if (step > e->f->hi)
				return fail(e, spos, "step %ld is larger than %ld", step, (long)e->f->hi);
		}
		for (long v = lo; v <= hi; v += step)
			*bits |= 1ULL << v;
		if (i >= end)
			break;
		if (s[i] != ',') {
			char c[8];
			if ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f)
				snprintf(c, sizeof c, "'%c'", s[i]);
			else
				snprintf(c, sizeof c, "0x%02x", (unsigned char)s[i]);
			return fail(e, i, "unexpected character %s", c);
		}
		i++;
	}
	return 0;
}

static int parse_every(const char *s, size_t b, int64_t *out, char *err, size_t errlen)
{
	size_t i = b;
	int64_t total = 0;
	int any = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	size_t dstart = i;
	if (s[i] == '\0') {
		snprintf(err, errlen, "@every at position %zu: a duration is missing (e.g. 30s, 5m, 1h30m)",
			 i + 1);
		return -1;
	}
	while (s[i] && s[i] != ' ' && s[i] != '\t') {
		size_t np = i;
		int64_t n = 0;
		if (s[i] < '0' || s[i] > '9') {
			snprintf(err, errlen, "@every at position %zu: expected a number (e.g. 30s, 5m, 1h30m)",
				 i + 1);
			return -1;
		}
		while (s[i] >= '0' && s[i] <= '9') {
			if (n < 100000000)
				n = n * 10 + (s[i] - '0');
			i++;
		}
		int64_t unit;
		switch (s[i]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default:
			snprintf(err, errlen, "@every at position %zu: expected a unit s, m, h or d", i + 1);
			return -1;
		}
		i++;
		total += n * unit;
		any = 1;
		if (total > 366LL * 86400) {
			snprintf(err, errlen, "@every at position %zu: interval longer than 366 days", np + 1);
			return -1;
		}
	}
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (s[i]) {
		snprintf(err, errlen, "@every at position %zu: unexpected text after the duration", i + 1);
		return -1;
	}
	if (!any || total <= 0) {
		snprintf(err, errlen, "@every at position %zu: the interval must be at least 1s", dstart + 1);
		return -1;
	}
	*out = total;
	return 0;
}

static int parse_fields(const char *expr, struct jv_cron *c, char *err, size_t errlen)
{
	size_t start[7], end[7];
	int n = 0;
	size_t i = 0;
	for (;;) {
		while (expr[i] == ' ' || expr[i] == '\t')
			i++;
		if (!expr[i])
			break;
		size_t b = i;
		while (expr[i] && expr[i] != ' ' && expr[i] != '\t')
			i++;
		if (n < 7) {
			start[n] = b;
			end[n] = i;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty expression");
		return -1;
	}
	if (n != 5 && n != 6) {
		snprintf(err, errlen, "expected 5 or 6 fields, got %d", n);
		return -1;
	}
	int first = n == 5 ? 1 : 0;
	uint64_t bits[6];
	int stars[6];
	bits[0] = 1; /* second 0 when there is no seconds field */
	stars[0] = 0;
	for (int k = first; k < 6; k++) {
		struct perr e = {err, errlen, &fields[k], k - first + 1};
		if (parse_field(expr, start[k - first], end[k - first], &e, &bits[k], &stars[k]))
			return -1;
	}
	c->sec = bits[0];
	c->min = bits[1];
	c->hour = (uint32_t)bits[2];
	c->dom = (uint32_t)bits[3];
	c->mon = (uint32_t)bits[4];
	c->dow = (uint8_t)((bits[5] | bits[5] >> 7) & 0x7f);
	c->dom_star = stars[3];
	c->dow_star = stars[5];
	return 0;
}

int jv_cron_parse(const char *expr, struct jv_cron **out, char *err, size_t errlen)
{
	static const struct {
		const char *name, *expr;
	} shorthands[] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	*out = NULL;
	if (!expr) {
		snprintf(err, errlen, "empty expression");
		return -1;
	}
	struct jv_cron c;
	memset(&c, 0, sizeof c);
	size_t i = 0;
	while (expr[i] == ' ' || expr[i] == '\t')
		i++;
	if (expr[i] == '@') {
		size_t b = i;
		while (expr[i] && expr[i] != ' ' && expr[i] != '\t')
			i++;
		size_t wl = i - b;
		if (wl == 6 && strncasecmp(expr + b, "@every", 6) == 0) {
			if (parse_every(expr, i, &c.every, err, errlen))
				return -1;
		} else {
			const char *sub = NULL;
			for (size_t k = 0; k < sizeof shorthands / sizeof *shorthands; k++)
				if (strlen(shorthands[k].name) == wl &&
				    strncasecmp(expr + b, shorthands[k].name, wl) == 0)
					sub = shorthands[k].expr;
			if (!sub) {
				snprintf(err, errlen,
					 "unknown shorthand \"%.*s\" at position %zu (expected @yearly, @annually, "
					 "@monthly, @weekly, @daily, @midnight, @hourly or @every)",
					 (int)(wl > 32 ? 32 : wl), expr + b, b + 1);
				return -1;
			}
			while (expr[i] == ' ' || expr[i] == '\t')
				i++;
			if (expr[i]) {
				snprintf(err, errlen, "unexpected text at position %zu after %.*s", i + 1,
					 (int)wl, expr + b);
				return -1;
			}
			if (parse_fields(sub, &c, err, errlen))
				return -1;
		}
	} else if (parse_fields(expr, &c, err, errlen)) {
		return -1;
	}
	*out = jv_malloc(sizeof c);
	**out = c;
	return 0;
}

void jv_cron_free(struct jv_cron *c) { free(c); }

int jv_tz_valid(const char *tz)
{
	char err[160];
	return jv_tz_get(tz, err, sizeof err) != NULL; /* NULL: UTC */
}

static int day_matches(const struct jv_cron *c, int64_t days, int d)
{
	int wd = (int)((days % 7 + 11) % 7);
	int dm = (c->dom >> d) & 1, wm = (c->dow >> wd) & 1;
	if (c->dom_star || c->dow_star)
		return dm && wm;
	return dm || wm;
}

/* The first local wall-clock second > from that matches, or -1 past limit. */
static int next_local(const struct jv_cron *c, int64_t from, int64_t limit, int64_t *out)
{
	int64_t t = from + 1;
	int64_t days = jv_floordiv(t, 86400);
	int64_t sod = t - days * 86400;
	int64_t y;
	int mo, d;
	jv_civil_from_days(days, &y, &mo, &d);
	int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60), s = (int)(sod % 60);
	for (;;) {
		/* normalise carries */
		if (s > 59) { s = 0; mi++; }
		if (mi > 59) { mi = 0; h++; }
		if (h > 23) { h = 0; d++; }
		if (mo > 12) { mo = 1; y++; }
		if (d > jv_days_in_month(y, mo)) { d = 1; mo++; }
		if (mo > 12) { mo = 1; y++; }
		days = jv_days_from_civil(y, mo, d);
		if (days * 86400 > limit)
			return -1;
		if (!((c->mon >> mo) & 1)) {
			mo++; d = 1; h = mi = s = 0;
			continue;
		}
		if (!day_matches(c, days, d)) {
			d++; h = mi = s = 0;
			continue;
		}
		if (!((c->hour >> h) & 1)) {
			h++; mi = s = 0;
			continue;
		}
		if (!((c->min >> mi) & 1)) {
			mi++; s = 0;
			continue;
		}
		if (!((c->sec >> s) & 1)) {
			s++;
			continue;
		}
		*out = days * 86400 + h * 3600 + mi * 60 + s;
		return 0;
	}
}

#define JV_CRON_MIN_T (-62135596800LL)  /* 0001-01-01 */
#define JV_CRON_MAX_T (253402300799LL - 6 * 366 * 86400LL)

int jv_cron_next(const struct jv_cron *c, const char *tz, int64_t after, int64_t *next,
		 char *err, size_t errlen)
{
	*next = 0;
	if (after < JV_CRON_MIN_T || after > JV_CRON_MAX_T) {
		snprintf(err, errlen, "time %lld is out of range", (long long)after);
		return -1;
	}
	const struct jv_tz *z = jv_tz_get(tz, err, errlen);
	if (!z)
		return -1;
	if (c->every > 0) {
		*next = (jv_floordiv(after, c->every) + 1) * c->every;
		return 0;
	}
	int64_t cur = after + jv_tz_offset(z, after);
	int64_t limit = cur + 5 * 366 * 86400LL;
	for (;;) {
		int64_t cand, t;
		if (next_local(c, cur, limit, &cand)) {
			snprintf(err, errlen, "the expression never fires within 5 years");
			return -1;
		}
		jv_tz_local_to_utc(z, cand, &t);
		if (t > after) {
			*next = t;
			return 0;
		}
		cur = cand;
	}
}

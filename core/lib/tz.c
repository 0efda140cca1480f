/*
 * tz.c -- TZif (RFC 8536) reader, POSIX TZ rules for times after the last
 * transition, and local <-> UTC conversion. No setenv("TZ")/localtime.
 */
#include "lib/tz.h"

#include "lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A POSIX TZ rule date: Mm.w.d (kind 'M'), Jn (kind 'J'), n (kind 'N'). */
struct rule_date {
	char kind;
	int m, w, d, n;
	int32_t time; /* seconds after local midnight, may be negative or > 24h */
};

struct posix_tz {
	int32_t std_off, dst_off; /* seconds east of UTC */
	int has_dst;
	struct rule_date start, end;
};

struct jv_tz {
	char *name;
	int64_t *trans;  /* transition instants, ascending */
	uint8_t *tidx;   /* type index after each transition */
	size_t ntrans;
	int32_t *utoff;  /* per type */
	size_t ntypes;
	int has_rule;
	struct posix_tz rule;
	struct jv_tz *next;
};

static struct jv_tz utc_zone = {.name = (char *)"UTC"};
static struct jv_tz *cache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

int64_t jv_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int jv_utc_tm(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;
	if ((int64_t)tt == t && gmtime_r(&tt, tm))
		return 1;
	memset(tm, 0, sizeof *tm);
	return 0;
}

/* Howard Hinnant's civil calendar algorithms. */
int64_t jv_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = jv_floordiv(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void jv_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = jv_floordiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int jv_days_in_month(int64_t y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int jv_tz_name_ok(const char *name)
{
	if (!name)
		return 0;
	size_t n = strlen(name);
	if (n == 0 || n > 255 || name[0] == '/' || name[n - 1] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			 (ch >= '0' && ch <= '9') || ch == '_' || ch == '+' || ch == '-' || ch == '/';
		if (!ok || (ch == '/' && name[i + 1] == '/'))
			return 0;
	}
	return 1;
}

/* ---- POSIX TZ strings ---- */

static int parse_name(const char **p)
{
	const char *s = *p;
	if (*s == '<') {
		s++;
		while (*s && *s != '>')
			s++;
		if (*s != '>')
			return -1;
		s++;
	} else {
		const char *b = s;
		while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
			s++;
		if (s - b < 3)
			return -1;
	}
	*p = s;
	return 0;
}

/* [+-]hh[:mm[:ss]], hours up to 167. */
static int parse_hms(const char **p, int32_t *out)
{
	const char *s = *p;
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	int32_t v[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		if (*s < '0' || *s > '9')
			return -1;
		int digits = 0;
		while (*s >= '0' && *s <= '9') {
			if (++digits > 3)
				return -1;
			v[i] = v[i] * 10 + (*s++ - '0');
		}
	}
	if (v[0] > 167 || v[1] > 59 || v[2] > 59)
		return -1;
	*out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	*p = s;
	return 0;
}

static int parse_num(const char **p, int lo, int hi, int *out)
{
	const char *s = *p;
	int v = 0, digits = 0;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 4)
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	if (!digits || v < lo || v > hi)
		return -1;
	*out = v;
	*p = s;
	return 0;
}

static int parse_rule_date(const char **p, struct rule_date *r)
{
	const char *s = *p;
	memset(r, 0, sizeof *r);
	if (*s == 'M') {
		s++;
		r->kind = 'M';
		if (parse_num(&s, 1, 12, &r->m) || *s++ != '.' || parse_num(&s, 1, 5, &r->w) ||
		    *s++ != '.' || parse_num(&s, 0, 6, &r->d))
			return -1;
	} else if (*s == 'J') {
		s++;
		r->kind = 'J';
		if (parse_num(&s, 1, 365, &r->n))
			return -1;
	} else {
		r->kind = 'N';
		if (parse_num(&s, 0, 365, &r->n))
			return -1;
	}
	r->time = 7200;
	if (*s == '/') {
		s++;
		if (parse_hms(&s, &r->time))
			return -1;
	}
	*p = s;
	return 0;
}

static int parse_posix(const char *s, struct posix_tz *tz)
{
	memset(tz, 0, sizeof *tz);
	int32_t off;
	if (parse_name(&s) || parse_hms(&s, &off))
		return -1;
	tz->std_off = -off;
	tz->dst_off = tz->std_off;
	if (*s == '\0')
		return 0;
	if (parse_name(&s))
		return -1;
	tz->has_dst = 1;
	tz->dst_off = tz->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (parse_hms(&s, &off))
			return -1;
		tz->dst_off = -off;
	}
	if (*s == '\0') { /* no rule: POSIX leaves it implementation-defined; US rules */
		tz->start = (struct rule_date){'M', 3, 2, 0, 0, 7200};
		tz->end = (struct rule_date){'M', 11, 1, 0, 0, 7200};
		return 0;
	}
	if (*s++ != ',' || parse_rule_date(&s, &tz->start) || *s++ != ',' ||
	    parse_rule_date(&s, &tz->end) || *s != '\0')
		return -1;
	return 0;
}

/* Local midnight (as days since the epoch) of a rule date in year y. */
static int64_t rule_day(const struct rule_date *r, int64_t y)
{
	int64_t jan1 = jv_days_from_civil(y, 1, 1);
	switch (r->kind) {
	case 'J':
		return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
	case 'N':
		return jan1 + r->n;
	default: {
		int64_t first = jv_days_from_civil(y, r->m, 1);
		int wd = (int)((first % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
		int day = 1 + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
		while (day > jv_days_in_month(y, r->m))
			day -= 7;
		return first + day - 1;
	}
	}
}

static int32_t posix_offset(const struct posix_tz *tz, int64_t t)
{
	if (!tz->has_dst)
		return tz->std_off;
	int64_t y;
	int m, d;
	jv_civil_from_days(jv_floordiv(t + tz->std_off, 86400), &y, &m, &d);
	/* Check the neighbouring years too so a rule near New Year works. */
	for (int64_t yy = y - 1; yy <= y + 1; yy++) {
		int64_t start = rule_day(&tz->start, yy) * 86400 + tz->start.time - tz->std_off;
		int64_t end = rule_day(&tz->end, yy) * 86400 + tz->end.time - tz->dst_off;
		if (start < end) {
			if (t >= start && t < end)
				return tz->dst_off;
		} else {
			/* southern hemisphere: DST from start of yy into next year's end */
			int64_t end2 = rule_day(&tz->end, yy + 1) * 86400 + tz->end.time - tz->dst_off;
			if (t >= start && t < end2)
				return tz->dst_off;
		}
	}
	return tz->std_off;
}

int32_t jv_tz_offset(const struct jv_tz *z, int64_t t)
{
	if (!z->ntrans) {
		if (z->has_rule)
			return posix_offset(&z->rule, t);
		return z->ntypes ? z->utoff[0] : 0;
	}
	if (t < z->trans[0])
		return z->utoff[0];
	if (t >= z->trans[z->ntrans - 1] && z->has_rule)
		return posix_offset(&z->rule, t);
	size_t lo = 0, hi = z->ntrans; /* last transition <= t is in [lo, hi) */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->utoff[z->tidx[lo]];
}

int jv_tz_local_to_utc(const struct jv_tz *z, int64_t local, int64_t *t)
{
	/* Real zones change at most once within +-1 day around any instant. */
	int32_t oa = jv_tz_offset(z, local - 86400 - 14 * 3600);
	int32_t ob = jv_tz_offset(z, local + 86400 + 14 * 3600);
	int64_t ta = local - oa, tb = local - ob;
	int va = jv_tz_offset(z, ta) == oa, vb = jv_tz_offset(z, tb) == ob;
	if (va && vb) {
		*t = ta < tb ? ta : tb;
		return 0;
	}
	if (va || vb) {
		*t = va ? ta : tb;
		return 0;
	}
	if (oa == ob) { /* should not happen */
		*t = ta;
		return 0;
	}
	/* A gap: the clocks jump somewhere in (min, max]; find the instant. */
	int64_t lo = ta < tb ? ta : tb, hi = ta < tb ? tb : ta;
	int32_t olo = jv_tz_offset(z, lo);
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (jv_tz_offset(z, mid) == olo)
			lo = mid;
		else
			hi = mid;
	}
	*t = hi;
	return 1;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

static void tz_free(struct jv_tz *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z->tidx);
	free(z->utoff);
	free(z);
}

static struct jv_tz *tzif_parse(const unsigned char *buf, size_t len, const char *name)
{
	if (len < 44 || memcmp(buf, "TZif", 4) != 0)
		return NULL;
	int version = buf[4];
	const unsigned char *h = buf;
	size_t tsize = 4;
	if (version >= '2') {
		/* skip the v1 block to the 64-bit header */
		size_t isut = be32(h + 20), isstd = be32(h + 24), leap = be32(h + 28),
		       time = be32(h + 32), type = be32(h + 36), chr = be32(h + 40);
		size_t skip = 44 + time * 5 + type * 6 + chr + leap * 8 + isstd + isut;
		if (time > 100000 || type > 256 || chr > 100000 || leap > 100000 || isstd > 256 ||
		    isut > 256 || skip + 44 > len || memcmp(buf + skip, "TZif", 4) != 0)
			return NULL;
		h = buf + skip;
		tsize = 8;
	}
	size_t isut = be32(h + 20), isstd = be32(h + 24), leap = be32(h + 28), time = be32(h + 32),
	       type = be32(h + 36), chr = be32(h + 40);
	if (time > 100000 || type == 0 || type > 256 || chr > 100000 || leap > 100000 ||
	    isstd > 256 || isut > 256)
		return NULL;
	const unsigned char *p = h + 44;
	size_t need = time * tsize + time + type * 6 + chr + leap * (tsize + 4) + isstd + isut;
	if ((size_t)(p - buf) + need > len)
		return NULL;
	struct jv_tz *z = jv_calloc(1, sizeof *z);
	z->name = jv_strdup(name);
	z->ntrans = time;
	z->ntypes = type;
	z->trans = jv_calloc(time ? time : 1, sizeof *z->trans);
	z->tidx = jv_calloc(time ? time : 1, 1);
	z->utoff = jv_calloc(type, sizeof *z->utoff);
	for (size_t i = 0; i < time; i++)
		z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
	p += time * tsize;
	for (size_t i = 0; i < time; i++) {
		z->tidx[i] = p[i];
		if (p[i] >= type || (i > 0 && z->trans[i] <= z->trans[i - 1])) {
			tz_free(z);
			return NULL;
		}
	}
	p += time;
	for (size_t i = 0; i < type; i++) {
		z->utoff[i] = (int32_t)be32(p + i * 6);
		if (z->utoff[i] < -26 * 3600 || z->utoff[i] > 26 * 3600) {
			tz_free(z);
			return NULL;
		}
	}
	p += type * 6 + chr + leap * (tsize + 4) + isstd + isut;
	if (version >= '2' && p < buf + len && *p == '\n') {
		const unsigned char *e = memchr(p + 1, '\n', (size_t)(buf + len - p - 1));
		if (e && e - p - 1 < 200) {
			char footer[200];
			memcpy(footer, p + 1, (size_t)(e - p - 1));
			footer[e - p - 1] = '\0';
			if (footer[0] && parse_posix(footer, &z->rule) == 0)
				z->has_rule = 1;
		}
	}
	return z;
}

static struct jv_tz *tz_load(const char *name, char *err, size_t errlen)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", JV_TZ_DIR, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "unknown time zone \"%s\"", name);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		close(fd);
		snprintf(err, errlen, "unknown time zone \"%s\"", name);
		return NULL;
	}
	size_t len = (size_t)st.st_size, got = 0;
	unsigned char *buf = jv_malloc(len ? len : 1);
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	struct jv_tz *z = tzif_parse(buf, got, name);
	free(buf);
	if (!z)
		snprintf(err, errlen, "time zone \"%s\": %s is not a valid TZif file", name, path);
	return z;
}

const struct jv_tz *jv_tz_get(const char *name, char *err, size_t errlen)
{
	if (!name || strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
		return &utc_zone;
	if (!jv_tz_name_ok(name)) {
		snprintf(err, errlen, "invalid time zone name \"%.64s\"", name);
		return NULL;
	}
	pthread_mutex_lock(&cache_lock);
	struct jv_tz *z;
	for (z = cache; z; z = z->next)
		if (strcmp(z->name, name) == 0)
			break;
	if (!z) {
		z = tz_load(name, err, errlen);
		if (z) {
			z->next = cache;
			cache = z;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	return z;
}

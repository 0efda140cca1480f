/* jsontext.c -- JSON text from PostgreSQL, made fit for jansson and executors. */
#include "lib/jsontext.h"

#include "lib/error.h"
#include "lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The nesting of arrays and objects jansson's parser reads: its own
 * compile-time limit counts every value, the scalar in the innermost
 * container too, so one level less of containers. */
#ifdef JSON_PARSER_MAX_DEPTH
#define JV_JANSSON_MAX_DEPTH (JSON_PARSER_MAX_DEPTH - 1)
#else
#define JV_JANSSON_MAX_DEPTH 2047
#endif

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* What may stand on either side of a number token in JSON text. */
static int is_delim(char c)
{
	return c == ',' || c == ':' || c == '[' || c == ']' || c == '{' || c == '}' || c == ' ' ||
	       c == '\t' || c == '\n' || c == '\r';
}

/* Whether the significant digits d[0..n) (no leading zero) lie beyond
 * int64: above INT64_MAX, or for a negative number above 2^63. */
static int beyond_int64(const char *d, size_t n, int neg)
{
	if (n != 19)
		return n > 19;
	return memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0;
}

/* Whether the number token t[0..n) overflows a double. Its decimal
 * magnitude decides, except at the edge (1e308 .. 1.8e308), where strtod
 * does. int_sig: significant digits before the point; frac[0..flen) the
 * digits after it; exp the exponent (clamped). */
static int beyond_double(const char *t, size_t n, size_t int_sig, const char *frac, size_t flen,
                         long exp)
{
	long long mag;
	if (int_sig > 0) {
		mag = (long long)int_sig - 1 + exp;
	} else {
		size_t z = 0;
		while (z < flen && frac[z] == '0')
			z++;
		if (z == flen)
			return 0; /* zero */
		mag = -(long long)z - 1 + exp;
	}
	if (mag < 308)
		return 0;
	if (mag > 308)
		return 1;
	char *copy = jv_strndup(t, n);
	double v = strtod(copy, NULL);
	free(copy);
	return isinf(v);
}

/*
 * The one pass. With b, the text is copied into it as it goes, ".0" added
 * after each integer beyond int64. Long, on purpose: one loop over the
 * text with a case per kind of token, sharing the position, the depth and
 * the state of the string being read; split, each part would take and
 * return all of them.
 */
static void scan(const char *text, size_t len, struct jv_json_info *info, struct jv_buf *b)
{
	memset(info, 0, sizeof *info);
	const char *p = text, *end = text + len, *copied = text;
	int depth = 0;
	while (p < end) {
		char c = *p;
		if (c == '"') {
			/* A string: nothing in it counts. It ends at the first quote
			 * after an even run of backslashes (pairs are escaped
			 * backslashes; an odd one escapes the quote). */
			const char *from = p + 1;
			for (;;) {
				const char *q = memchr(from, '"', (size_t)(end - from));
				if (!q) {
					p = end;
					break;
				}
				const char *k = q;
				while (k > p + 1 && k[-1] == '\\')
					k--;
				if ((q - k) % 2 == 0) {
					p = q + 1;
					break;
				}
				from = q + 1;
			}
			continue;
		}
		if (c == '[' || c == '{') {
			if (++depth > info->depth)
				info->depth = depth;
			p++;
			continue;
		}
		if (c == ']' || c == '}') {
			if (depth > 0)
				depth--;
			p++;
			continue;
		}
		if (!is_digit(c) && c != '-') {
			p++;
			continue;
		}
		/* a number: -? int (. frac)? ([eE] [+-]? exp)? */
		const char *t = p;
		int neg = c == '-', real = 0;
		if (neg)
			p++;
		const char *ip = p;
		while (p < end && is_digit(*p))
			p++;
		size_t ilen = (size_t)(p - ip), iz = 0;
		while (iz < ilen && ip[iz] == '0')
			iz++;
		const char *frac = p;
		size_t flen = 0;
		if (p < end && *p == '.') {
			real = 1;
			frac = ++p;
			while (p < end && is_digit(*p))
				p++;
			flen = (size_t)(p - frac);
		}
		long exp = 0;
		if (p < end && (*p == 'e' || *p == 'E')) {
			real = 1;
			p++;
			int eneg = p < end && *p == '-';
			if (p < end && (*p == '-' || *p == '+'))
				p++;
			while (p < end && is_digit(*p)) {
				if (exp < 100000000)
					exp = exp * 10 + (*p - '0');
				p++;
			}
			if (eneg)
				exp = -exp;
		}
		if (ilen == 0) {
			if (p == t)
				p++; /* a lone '-': not a number */
			continue;
		}
		/* Only a whole token between delimiters is a number. */
		if ((t > text && !is_delim(t[-1])) || (p < end && !is_delim(*p)))
			continue;
		if (beyond_double(t, (size_t)(p - t), ilen - iz, frac, flen, exp)) {
			if (info->huge++ == 0)
				info->huge_at = (size_t)(t - text);
			continue;
		}
		if (!real && beyond_int64(ip + iz, ilen - iz, neg)) {
			info->wide_ints++;
			if (b) {
				jv_buf_append(b, copied, (size_t)(p - copied));
				jv_buf_append(b, ".0", 2);
				copied = p;
			}
		}
	}
	if (b)
		jv_buf_append(b, copied, (size_t)(end - copied));
}

/* The text again, ".0" after each integer beyond int64; caller frees. */
static char *rewrite(const char *text, size_t len, size_t *outlen)
{
	struct jv_buf b = {0};
	struct jv_json_info again;
	jv_buf_append(&b, "", 0);
	scan(text, len, &again, &b);
	if (outlen)
		*outlen = b.len;
	return jv_buf_steal(&b);
}

void jv_json_scan(const char *text, size_t len, struct jv_json_info *info, char **out,
                  size_t *outlen)
{
	scan(text, len, info, NULL);
	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (out && info->wide_ints > 0)
		*out = rewrite(text, len, outlen);
}

int jv_json_fit_payload(char **payload, char *why, size_t whylen)
{
	struct jv_json_info info;
	size_t len = strlen(*payload);
	scan(*payload, len, &info, NULL);
	if (info.depth > JV_PAYLOAD_MAX_DEPTH) {
		snprintf(why, whylen,
		         "payload nested %d levels deep: at most %d levels of arrays and objects "
		         "reach an executor",
		         info.depth, JV_PAYLOAD_MAX_DEPTH);
		return JV_EINVAL;
	}
	if (info.huge > 0) {
		snprintf(why, whylen,
		         "payload holds a number beyond the range of a double (at byte %zu): no "
		         "executor can read it",
		         info.huge_at);
		return JV_EINVAL;
	}
	if (info.wide_ints == 0)
		return 0; /* the common case: nothing copied */
	char *fixed = rewrite(*payload, len, NULL);
	free(*payload);
	*payload = fixed;
	return 0;
}

int jv_json_depth(const char *text, size_t len)
{
	struct jv_json_info info;
	scan(text, len, &info, NULL);
	return info.depth;
}

json_t *jv_json_load_pg(const char *text, size_t len, size_t flags, char *why, size_t whylen)
{
	struct jv_json_info info;
	char *fixed;
	size_t flen;
	jv_json_scan(text, len, &info, &fixed, &flen);
	json_t *j = NULL;
	if (info.depth > JV_JANSSON_MAX_DEPTH) {
		if (why)
			snprintf(why, whylen, "nested %d levels deep: at most %d can be read",
			         info.depth, JV_JANSSON_MAX_DEPTH);
	} else if (info.huge > 0) {
		if (why)
			snprintf(why, whylen,
			         "holds a number beyond the range of a double (at byte %zu)",
			         info.huge_at);
	} else {
		json_error_t e;
		j = json_loadb(fixed ? fixed : text, fixed ? flen : len, JSON_DECODE_ANY | flags,
		               &e);
		if (!j && why)
			snprintf(why, whylen, "not readable as JSON: %s (at byte %d)", e.text,
			         e.position);
	}
	free(fixed);
	return j;
}

void jv_json_set_pg(json_t *obj, const char *key, const char *text, size_t len)
{
	if (!text) {
		json_object_set_new(obj, key, json_null());
		return;
	}
	char why[160];
	json_t *v = jv_json_load_pg(text, len, 0, why, sizeof why);
	json_object_set_new(obj, key, v ? v : json_null());
	if (v)
		return;
	char *k = jv_asprintf("%sOmitted", key);
	json_t *w = json_string(why); /* an excerpt in it may not be UTF-8 */
	json_object_set_new(obj, k, w ? w : json_string("not readable as JSON"));
	free(k);
	k = jv_asprintf("%sText", key);
	json_t *t = json_stringn(text, len);
	json_object_set_new(obj, k, t ? t : json_null());
	free(k);
}

/* The shortest text of the real token t[0..n) that reads back as the same
 * double, into b; still a real (".0" when it came out whole). 0 when t is
 * not a finite real, and nothing written. */
static int shortest_real(const char *t, size_t n, struct jv_buf *b)
{
	char in[64], out[40];
	if (n >= sizeof in)
		return 0;
	memcpy(in, t, n);
	in[n] = '\0';
	char *end;
	errno = 0;
	double d = strtod(in, &end);
	if (*end || errno || !isfinite(d))
		return 0;
	for (int p = 1; p <= 17; p++) {
		snprintf(out, sizeof out, "%.*g", p, d);
		if (strtod(out, NULL) == d)
			break;
	}
	jv_buf_puts(b, out);
	if (!strpbrk(out, ".eE"))
		jv_buf_puts(b, ".0");
	return 1;
}

char *jv_json_dumps(const json_t *value, size_t flags)
{
	char *text = json_dumps(value, flags);
	if (!text || !strpbrk(text, ".eE"))
		return text;
	struct jv_buf b = {0};
	int in_string = 0;
	for (const char *p = text; *p;) {
		if (in_string) {
			if (*p == '\\' && p[1]) {
				jv_buf_append(&b, p, 2);
				p += 2;
				continue;
			}
			in_string = *p != '"';
			jv_buf_append(&b, p++, 1);
			continue;
		}
		if (*p == '"') {
			in_string = 1;
			jv_buf_append(&b, p++, 1);
			continue;
		}
		if (*p == '-' || is_digit(*p)) {
			size_t n = strcspn(p, ",:[]{} \t\n\r");
			size_t real = strcspn(p, ".eE");
			if (real >= n || !shortest_real(p, n, &b))
				jv_buf_append(&b, p, n);
			p += n;
			continue;
		}
		jv_buf_append(&b, p++, 1);
	}
	free(text);
	return jv_buf_steal(&b);
}

/* redact.c -- masking secrets in text (see redact.h). */
#include "lib/redact.h"

#include "lib/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ the set */

static void add_to(char ***list, size_t *n, const char *v, size_t len)
{
	if (!v || len == 0)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strlen((*list)[i]) == len && !memcmp((*list)[i], v, len))
			return;
	*list = jv_realloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = jv_strndup(v, len);
}

/* A secret of v[0..len): masked wherever it stands, or, when shorter than
 * JV_REDACT_MIN_WHOLE, only inside quotes. */
static void add_secret(struct jv_secrets *s, const char *v, size_t len)
{
	if (len >= JV_REDACT_MIN_WHOLE)
		add_to(&s->whole, &s->n_whole, v, len);
	else
		add_to(&s->pieces, &s->n_pieces, v, len);
}

void jv_secrets_add(struct jv_secrets *s, const char *value)
{
	if (s && value)
		add_secret(s, value, strlen(value));
}

void jv_secrets_free(struct jv_secrets *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_whole; i++)
		free(s->whole[i]);
	for (size_t i = 0; i < s->n_pieces; i++)
		free(s->pieces[i]);
	free(s->whole);
	free(s->pieces);
	memset(s, 0, sizeof *s);
}

static int hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* v[0..len) as written and percent-decoded, as whole secrets. */
static void add_encoded(struct jv_secrets *s, const char *v, size_t len)
{
	add_secret(s, v, len);
	char *d = jv_malloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '%' && i + 2 < len && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
			d[n++] = (char)(hex(v[i + 1]) * 16 + hex(v[i + 2]));
			i += 2;
		} else {
			d[n++] = v[i];
		}
	}
	d[n] = '\0';
	if (strlen(d) == n) /* a %00 ends it: libpq refuses those anyway */
		add_secret(s, d, n);
	free(d);
}

/* The pieces of v[0..len) between any of cuts, as pieces. */
static void add_pieces(struct jv_secrets *s, const char *v, size_t len, const char *cuts)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && !strchr(cuts, v[i]))
			continue;
		add_to(&s->pieces, &s->n_pieces, v + start, i - start);
		start = i + 1;
	}
}

/* ------------------------------------------------------------ scanning */

/* The length of the URL scheme that ends where "://" starts (at p), or 0. */
static size_t scheme_len(const char *start, const char *p)
{
	const char *q = p;
	while (q > start && (isalnum((unsigned char)q[-1]) || q[-1] == '+' || q[-1] == '-' ||
	                     q[-1] == '.'))
		q--;
	while (q < p && !isalpha((unsigned char)*q))
		q++;
	return (size_t)(p - q);
}

static int is_pg_scheme(const char *scheme, size_t n)
{
	return (n == 8 && !strncasecmp(scheme, "postgres", 8)) ||
	       (n == 10 && !strncasecmp(scheme, "postgresql", 10));
}

/* Where a URL standing in free text ends. */
static int ends_url(char c)
{
	return c == '\0' || isspace((unsigned char)c) || iscntrl((unsigned char)c) || c == '"' ||
	       c == '\'' || c == '<' || c == '>' || c == '`';
}

/*
 * The user info of the URL whose "://" is at p: its start (p + 3) and,
 * returned, its end (the '@' that closes it), or NULL when it has none.
 * *pg tells whether the scheme is postgres(ql). alone: the URL is all of
 * the string (a blank does not end it).
 */
static const char *userinfo_end(const char *text, const char *p, int alone, int *pg)
{
	size_t sl = scheme_len(text, p);
	*pg = is_pg_scheme(p - sl, sl);
	if (!sl)
		return NULL;
	const char *a = p + 3, *end = a, *at = NULL;
	while (*end && (alone || !ends_url(*end)))
		end++;
	size_t alen = strcspn(a, "/?#");
	/* libpq reads a password with an unencoded '/', '?', '#' or '@' in
	 * ways that echo pieces of it: there, the user info runs to the last
	 * '@' of the URL. */
	const char *stop = *pg ? end : a + (alen < (size_t)(end - a) ? alen : (size_t)(end - a));
	for (const char *q = a; q < stop; q++)
		if (*q == '@')
			at = q;
	return at;
}

/* Where an unquoted password= value ends: in any text, in a libpq
 * key=value string, in a URI's query. */
#define STOPS_TEXT     " \t\r\n\f\v&\"'"
#define STOPS_CONNINFO " \t\r\n\f\v"
#define STOPS_QUERY    "&#"

/*
 * Find the next "...password [ ]= [ ]VALUE" in t at or after *from: sets
 * the value's span (without its quotes) and *quote ('\'', '"' or 0) and
 * moves *from past it. An unquoted value ends at a control character or
 * one of stops. Returns 0 when there is none.
 */
static int next_password(const char *t, const char *stops, size_t *from, size_t *vstart,
                         size_t *vlen, char *quote)
{
	for (size_t i = *from; t[i]; i++) {
		if (strncasecmp(t + i, "password", 8) != 0)
			continue;
		size_t j = i + 8;
		while (t[j] == ' ' || t[j] == '\t')
			j++;
		if (t[j] != '=')
			continue;
		j++;
		while (t[j] == ' ' || t[j] == '\t')
			j++;
		char q = (t[j] == '\'' || t[j] == '"') ? t[j] : 0;
		size_t k = q ? j + 1 : j;
		size_t v = k;
		if (q) {
			while (t[k] && t[k] != q) {
				if (t[k] == '\\' && t[k + 1])
					k++;
				k++;
			}
		} else {
			while (t[k] && !iscntrl((unsigned char)t[k]) && !strchr(stops, t[k]))
				k++;
		}
		*vstart = v;
		*vlen = k - v;
		*quote = q;
		*from = (q && t[k]) ? k + 1 : k;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ known secrets */

/* libpq's key=value strings: a backslash escapes the next character. */
static void add_unescaped(struct jv_secrets *s, const char *v, size_t len)
{
	char *d = jv_malloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\\' && i + 1 < len)
			i++;
		d[n++] = v[i];
	}
	add_secret(s, d, n);
	free(d);
}

void jv_secrets_add_url(struct jv_secrets *s, const char *url)
{
	if (!s || !url || !*url)
		return;
	const char *p = strstr(url, "://");
	size_t from = 0, vs, vl;
	char q;
	if (p) {
		int pg;
		const char *at = userinfo_end(url, p, 1, &pg);
		const char *a = p + 3;
		if (at) {
			const char *colon = memchr(a, ':', (size_t)(at - a));
			if (colon) {
				size_t len = (size_t)(at - colon - 1);
				add_encoded(s, colon + 1, len);
				if (memchr(colon + 1, '/', len) || memchr(colon + 1, '?', len) ||
				    memchr(colon + 1, '#', len) || memchr(colon + 1, '@', len))
					add_pieces(s, colon + 1, len, "/?#@");
			} else if (!pg) {
				add_encoded(s, a, (size_t)(at - a));
			}
		}
		while (next_password(url, STOPS_QUERY, &from, &vs, &vl, &q))
			add_encoded(s, url + vs, vl);
		return;
	}
	/* key=value: an unquoted password stops at a blank, and libpq then
	 * names the next word ("missing "=" after "WORD""): the words up to
	 * the next key=value are pieces of it. */
	while (next_password(url, STOPS_CONNINFO, &from, &vs, &vl, &q)) {
		add_secret(s, url + vs, vl);
		add_unescaped(s, url + vs, vl);
		if (q)
			continue;
		size_t k = vs + vl, last = k;
		for (;;) {
			while (url[k] && isspace((unsigned char)url[k]))
				k++;
			size_t w = k;
			while (url[k] && !isspace((unsigned char)url[k]) && url[k] != '=')
				k++;
			if (k == w || url[k] == '=')
				break;
			add_to(&s->pieces, &s->n_pieces, url + w, k - w);
			last = k;
		}
		add_secret(s, url + vs, last - vs);
	}
}

/* The length of the longest of list[0..n) that text starts with, or 0. */
static size_t longest_at(const char *text, char *const *list, size_t n)
{
	size_t best = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(list[i]);
		if (len > best && !strncmp(text, list[i], len))
			best = len;
	}
	return best;
}

static char *mask_known(const char *text, const struct jv_secrets *s)
{
	struct jv_buf out = {0};
	int quoted = 0;
	for (size_t i = 0; text[i];) {
		size_t m = longest_at(text + i, s->whole, s->n_whole);
		if (quoted) {
			size_t pm = longest_at(text + i, s->pieces, s->n_pieces);
			if (pm > m)
				m = pm;
		}
		if (m) {
			jv_buf_puts(&out, JV_REDACT_MASK);
			i += m;
			continue;
		}
		if (text[i] == '"')
			quoted = !quoted;
		jv_buf_append(&out, text + i, 1);
		i++;
	}
	return out.data ? jv_buf_steal(&out) : jv_strdup("");
}

/* ------------------------------------------------------------ any text */

static char *mask_userinfo(const char *text)
{
	struct jv_buf out = {0};
	const char *done = text, *p = text;
	while ((p = strstr(p, "://"))) {
		int pg;
		const char *at = userinfo_end(text, p, 0, &pg);
		const char *a = p + 3;
		p = a;
		if (!at || at < done)
			continue;
		const char *colon = memchr(a, ':', (size_t)(at - a));
		const char *from = colon ? colon + 1 : pg ? NULL : a;
		if (!from || from == at)
			continue;
		jv_buf_append(&out, done, (size_t)(from - done));
		jv_buf_puts(&out, JV_REDACT_MASK);
		done = p = at;
	}
	jv_buf_puts(&out, done);
	return out.data ? jv_buf_steal(&out) : jv_strdup("");
}

static char *mask_passwords(const char *text)
{
	struct jv_buf out = {0};
	size_t done = 0, from = 0, vs, vl;
	char q;
	while (next_password(text, STOPS_TEXT, &from, &vs, &vl, &q)) {
		if (vl == 0)
			continue;
		jv_buf_append(&out, text + done, vs - done);
		jv_buf_puts(&out, JV_REDACT_MASK);
		done = vs + vl;
	}
	jv_buf_puts(&out, text + done);
	return out.data ? jv_buf_steal(&out) : jv_strdup("");
}

char *jv_redact(const char *text, const struct jv_secrets *s)
{
	if (!text)
		return NULL;
	char *a = s ? mask_known(text, s) : jv_strdup(text);
	char *b = mask_userinfo(a);
	free(a);
	char *c = mask_passwords(b);
	free(b);
	return c;
}

void jv_redact_buf(char *buf, size_t len, const struct jv_secrets *s)
{
	if (!buf || len == 0)
		return;
	char *r = jv_redact(buf, s);
	size_t n = strlen(r);
	if (n >= len)
		n = len - 1;
	memcpy(buf, r, n);
	buf[n] = '\0';
	free(r);
}

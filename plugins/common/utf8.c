/*
 * utf8.c -- UTF-8 helpers of the plugins (see utf8.h).
 */
#include "common/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t jvp_utf8_char_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = *p;
	size_t len = c < 0x80             ? 1
	             : (c & 0xe0) == 0xc0 ? 2
	             : (c & 0xf0) == 0xe0 ? 3
	             : (c & 0xf8) == 0xf0 ? 4
	                                  : 0;
	if (!len || (size_t)(end - p) < len)
		return 0;
	if (len == 1)
		return 1;
	uint32_t cp = len == 2   ? (uint32_t)(c & 0x1f)
	              : len == 3 ? (uint32_t)(c & 0x0f)
	                         : (uint32_t)(c & 0x07);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t jvp_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	for (int back = 0; n > 0 && back < 3 && ((unsigned char)s[n] & 0xc0) == 0x80; back++)
		n--;
	/* s[n] now starts a character, or is no UTF-8 at all */
	return ((unsigned char)s[n] & 0xc0) == 0x80 ? max : n;
}

char *jvp_utf8_valid_copy(const char *s, size_t n, size_t *out_len)
{
	if (n > ((size_t)-1 - 1) / 3)
		return NULL;
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		size_t len = jvp_utf8_char_len(p, end);
		if (len) {
			memcpy(out + o, p, len);
			o += len;
			p += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

void jvp_excerpt(const char *s, size_t len, size_t max, int flags, char *out)
{
	size_t n =
	    (flags & JVP_EXCERPT_ASCII) ? (len < max ? len : max) : jvp_utf8_cut(s, len, max);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = c < 0x20 || c == 0x7f                      ? ' '
		           : c >= 0x80 && (flags & JVP_EXCERPT_ASCII) ? '?'
		                                                      : (char)c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

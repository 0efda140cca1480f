/*
 * utf8.h -- UTF-8 for the plugins: how long a character is, where a text
 * may be cut, a valid copy of untrusted bytes, and a log-safe excerpt
 * (compiled into each plugin that uses it; nothing of it is exported).
 *
 * Ownership: the functions read the caller's bytes and never keep them;
 * jvp_utf8_valid_copy() returns a fresh string the caller frees; the
 * others write into the caller's buffers.
 */
#ifndef JV_PLUGINS_COMMON_UTF8_H
#define JV_PLUGINS_COMMON_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 character at p (end: one past the
 * text), or 0 when the bytes there are not one: a bad lead or continuation
 * byte, a sequence cut by end, an overlong form, a surrogate, or a code
 * point past U+10FFFF. */
size_t jvp_utf8_char_len(const unsigned char *p, const unsigned char *end);

/* Where s[0..len) may be cut to keep at most max bytes without splitting a
 * character: len when it fits, else max moved back over at most three
 * continuation bytes (bytes that are not UTF-8 are cut anywhere). */
size_t jvp_utf8_cut(const char *s, size_t len, size_t max);

/* s[0..n) made valid UTF-8: each byte that starts no valid character
 * becomes U+FFFD; NUL bytes stay. A fresh NUL-terminated string (the
 * caller frees it) of *out_len bytes, or NULL when out of memory. */
char *jvp_utf8_valid_copy(const char *s, size_t n, size_t *out_len);

/* Flags of jvp_excerpt(). */
enum {
	JVP_EXCERPT_ASCII = 1, /* bytes >= 0x80 become '?' (else kept, and the
	                        * cut never splits a UTF-8 character) */
};

/* The start of s[0..len) as one line for a log or an error message, into
 * out[max + 1]: at most max bytes, control characters (CR, LF and DEL
 * included) as spaces, trailing spaces dropped, NUL-terminated. */
void jvp_excerpt(const char *s, size_t len, size_t max, int flags, char *out);

#endif

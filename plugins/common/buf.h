/*
 * buf.h -- a growable byte buffer for the plugins (compiled into each
 * plugin that uses it; nothing of it is exported).
 *
 * A zeroed struct jvp_buf is an empty buffer. Appends keep data
 * NUL-terminated once anything was appended. When an allocation fails the
 * buffer is marked oom and ignores every later append, keeping what it had:
 * callers build a whole text, then check oom once.
 *
 * Ownership: data is the buffer's own (malloc'd); jvp_buf_free() frees it.
 * A caller may take it instead (then must not call jvp_buf_free()).
 */
#ifndef JV_PLUGINS_COMMON_BUF_H
#define JV_PLUGINS_COMMON_BUF_H

#include <jobvisor/plugin.h>

#include <stddef.h>

struct jvp_buf {
	char *data; /* NUL-terminated text of len bytes, or NULL while empty */
	size_t len, cap;
	int oom; /* an allocation failed: the buffer ignores appends */
};

/* Append n bytes of s (which may hold NULs). */
void jvp_buf_add(struct jvp_buf *b, const char *s, size_t n);

/* Append the string s. */
void jvp_buf_adds(struct jvp_buf *b, const char *s);

/* Append printf(fmt, ...). An encoding error marks the buffer oom too. */
void jvp_buf_printf(struct jvp_buf *b, const char *fmt, ...) JV_PRINTF(2, 3);

/* Make the buffer empty again, keeping its memory (and its oom mark). */
void jvp_buf_clear(struct jvp_buf *b);

/* Free data and zero the struct. */
void jvp_buf_free(struct jvp_buf *b);

#endif

/*
 * buf.c -- the growable byte buffer of the plugins (see buf.h).
 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JVP_BUF_FIRST_CAP 256

void jvp_buf_add(struct jvp_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n > (size_t)-1 / 2 - b->len - 1) {
		b->oom = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : JVP_BUF_FIRST_CAP;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d) {
			b->oom = 1;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void jvp_buf_adds(struct jvp_buf *b, const char *s)
{
	jvp_buf_add(b, s, strlen(s));
}

void jvp_buf_printf(struct jvp_buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		jvp_buf_add(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	jvp_buf_add(b, big, (size_t)n);
	free(big);
}

void jvp_buf_clear(struct jvp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void jvp_buf_free(struct jvp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

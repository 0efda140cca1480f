/* mem.c -- allocation wrappers that never return NULL. */
#include "lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

static unsigned long fail_countdown;
static void (*oom_handler)(size_t n);

void jv_mem_fail_at(unsigned long nth) { fail_countdown = nth; }
void jv_mem_set_oom_handler(void (*handler)(size_t n)) { oom_handler = handler; }

static void *checked(void *p, size_t n)
{
	if (p)
		return p;
	if (oom_handler)
		oom_handler(n);
	fprintf(stderr, "jobvisor: out of memory (allocating %zu bytes)\n", n);
	abort();
}

/* True when the test hook says this allocation must fail. */
static int must_fail(void)
{
	if (fail_countdown == 0)
		return 0;
	return --fail_countdown == 0;
}

void *jv_malloc(size_t n)
{
	if (must_fail())
		return checked(NULL, n);
	return checked(malloc(n ? n : 1), n);
}

void *jv_calloc(size_t nmemb, size_t size)
{
	if (must_fail())
		return checked(NULL, nmemb * size);
	return checked(calloc(nmemb ? nmemb : 1, size ? size : 1), nmemb * size);
}

void *jv_realloc(void *p, size_t n)
{
	if (must_fail())
		return checked(NULL, n);
	return checked(realloc(p, n ? n : 1), n);
}

char *jv_strdup(const char *s)
{
	if (!s)
		return NULL;
	return jv_strndup(s, strlen(s));
}

char *jv_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = jv_malloc(len + 1);
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *jv_vasprintf(const char *fmt, va_list ap)
{
	if (!fmt) /* (also tells GCC's sanitizer builds the format is not NULL) */
		fmt = "";
	va_list ap2;
	char probe[1];
	va_copy(ap2, ap);
	int n = vsnprintf(probe, sizeof probe, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	char *s = jv_malloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *jv_asprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = jv_vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static void buf_reserve(struct jv_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = jv_realloc(b->data, cap);
	b->cap = cap;
}

void jv_buf_append(struct jv_buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void jv_buf_puts(struct jv_buf *b, const char *s) { jv_buf_append(b, s, strlen(s)); }

void jv_buf_printf(struct jv_buf *b, const char *fmt, ...)
{
	if (!fmt)
		fmt = "";
	va_list ap;
	va_start(ap, fmt);
	va_list ap2;
	char probe[1];
	va_copy(ap2, ap);
	int n = vsnprintf(probe, sizeof probe, fmt, ap2);
	va_end(ap2);
	if (n > 0) {
		buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		b->len += (size_t)n;
	}
	va_end(ap);
}

void jv_buf_reset(struct jv_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void jv_buf_free(struct jv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *jv_buf_steal(struct jv_buf *b)
{
	char *d = b->data;
	if (!d)
		d = jv_strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

int jv_buf_read_fd(struct jv_buf *b, int fd, size_t max)
{
	char chunk[4096];
	int rc = 0;
	for (;;) {
		ssize_t got = read(fd, chunk, sizeof chunk);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -1;
			break;
		}
		if (got == 0)
			break;
		if (b->len + (size_t)got > max) {
			errno = EFBIG;
			rc = -1;
			break;
		}
		jv_buf_append(b, chunk, (size_t)got);
	}
	int saved = errno;
	memset(chunk, 0, sizeof chunk);
	errno = saved;
	return rc;
}

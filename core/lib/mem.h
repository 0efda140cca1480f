/*
 * mem.h -- allocation wrappers.
 *
 * Every allocation in core/ goes through these. They abort the process with
 * a message on out-of-memory, so callers never check for NULL. Tests can make
 * the Nth allocation fail (jv_mem_fail_at) to exercise error paths.
 */
#ifndef JV_MEM_H
#define JV_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *jv_malloc(size_t n);
void *jv_calloc(size_t nmemb, size_t size);
void *jv_realloc(void *p, size_t n);
char *jv_strdup(const char *s);             /* NULL in, NULL out */
char *jv_strndup(const char *s, size_t n);
char *jv_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *jv_vasprintf(const char *fmt, va_list ap);

/* Testing: make the nth allocation from now fail (1 = the next one); 0 turns
 * it off. A failing allocation calls the OOM handler, which tests may
 * replace with one that longjmps. */
void jv_mem_fail_at(unsigned long nth);
void jv_mem_set_oom_handler(void (*handler)(size_t n));

/* A growable byte buffer. Always NUL-terminated when data != NULL. */
struct jv_buf {
	char *data;
	size_t len;
	size_t cap;
};
void jv_buf_append(struct jv_buf *b, const char *s, size_t n);
void jv_buf_puts(struct jv_buf *b, const char *s);
void jv_buf_printf(struct jv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jv_buf_reset(struct jv_buf *b);        /* len = 0, keeps memory */
void jv_buf_free(struct jv_buf *b);         /* frees data, zeroes b */
char *jv_buf_steal(struct jv_buf *b);       /* returns data (caller frees), zeroes b */

/* Read fd to its end onto b, at most max bytes in all (b's own included).
 * Returns 0, or -1 with errno: EFBIG past max, else read()'s (EINTR is
 * retried). What was read stays in b either way; the stack copy is wiped
 * (it may be a key or a secret). The caller opens and closes fd. */
int jv_buf_read_fd(struct jv_buf *b, int fd, size_t max);

#endif

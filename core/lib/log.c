/* log.c -- one line per event, to stderr, as text or JSON. */
#include "lib/log.h"

#include "lib/mem.h"
#include "lib/redact.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum jv_level log_level = JV_INFO;
static enum jv_log_format log_format = JV_LOG_TEXT;
static void (*capture_fn)(enum jv_level, const char *, void *);
static void *capture_arg;

const char *const jv_log_level_names[] = {"error", "warning", "info", "debug", NULL};

void jv_log_setup(enum jv_level level, enum jv_log_format format)
{
	log_level = level;
	log_format = format;
}

enum jv_level jv_log_level(void) { return log_level; }

void jv_log_capture(void (*fn)(enum jv_level, const char *, void *), void *arg)
{
	capture_fn = fn;
	capture_arg = arg;
}

/* The length of the valid UTF-8 sequence at p and its code point, or 0
 * when p starts none (a stray byte, an overlong form, a surrogate, past
 * U+10FFFF). */
static size_t utf8_at(const unsigned char *p, uint32_t *cp)
{
	uint32_t v, min;
	size_t n;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, v = p[0] & 0x1fu, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3, v = p[0] & 0x0fu, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, v = p[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* a NUL ends the check here too */
			return 0;
		v = (v << 6) | (p[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* Characters that could end a line, move the cursor, recolour a terminal
 * or reorder what a reader sees: C0, DEL, C1, the Unicode line and
 * paragraph separators, the bidirectional embeddings, overrides and
 * isolates. */
static int must_escape(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
	       cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

char *jv_log_escape(const char *s)
{
	if (!s)
		return NULL;
	struct jv_buf b = {0};
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		const unsigned char *run = p;
		while (*p >= 0x20 && *p < 0x7f)
			p++;
		if (p > run)
			jv_buf_append(&b, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		uint32_t cp;
		size_t n = utf8_at(p, &cp);
		if (n == 0) {
			jv_buf_printf(&b, "\\x%02x", *p);
			p++;
			continue;
		}
		if (!must_escape(cp))
			jv_buf_append(&b, (const char *)p, n);
		else if (cp == '\n')
			jv_buf_puts(&b, "\\n");
		else if (cp == '\r')
			jv_buf_puts(&b, "\\r");
		else if (cp == '\t')
			jv_buf_puts(&b, "\\t");
		else if (cp < 0x80)
			jv_buf_printf(&b, "\\x%02x", (unsigned)cp);
		else
			jv_buf_printf(&b, "\\u%04x", (unsigned)cp);
		p += n;
	}
	return b.data ? jv_buf_steal(&b) : jv_strdup("");
}

/* Write all of buf to stderr in one write() where possible, so lines from
 * several processes sharing stderr do not interleave. */
static void write_line(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* One line from source; shown is 1 when the text format (and a captured
 * line) shows the source too, 0 when only JSON carries it. */
static void vlog(enum jv_level level, const char *source, int shown, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	if (level < JV_ERROR)
		level = JV_ERROR;
	/* Whatever the call site put in: no secret, and one line of plain
	 * characters whatever a value from outside held. */
	char *raw = jv_vasprintf(fmt, ap);
	char *redacted = jv_redact(raw, NULL);
	char *msg = jv_log_escape(redacted);
	free(raw);
	free(redacted);
	char *src = source ? jv_log_escape(source) : NULL;
	source = src;
	if (capture_fn) {
		if (source && shown) {
			char *line = jv_asprintf("%s: %s", source, msg);
			capture_fn(level, line, capture_arg);
			free(line);
		} else {
			capture_fn(level, msg, capture_arg);
		}
		free(msg);
		free(src);
		return;
	}

	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[96];
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(tv.tv_usec / 1000));

	char *line;
	if (log_format == JV_LOG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "ts", ts, "level",
				      jv_log_level_names[level], "msg", msg, "pid", (int)getpid());
		if (o && source)
			json_object_set_new(o, "source", json_string(source));
		char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
		line = jv_asprintf("%s\n", js ? js : "{}");
		free(js);
		json_decref(o);
	} else if (source && shown) {
		line = jv_asprintf("%s %s: %s: %s\n", ts, jv_log_level_names[level], source, msg);
	} else {
		line = jv_asprintf("%s %s: %s\n", ts, jv_log_level_names[level], msg);
	}
	write_line(line, strlen(line));
	free(line);
	free(msg);
	free(src);
}

void jv_vlog(enum jv_level level, const char *source, const char *fmt, va_list ap)
{
	vlog(level, source, 1, fmt, ap);
}

/* The base name of file without its extension ("../../core/engine/serve.c":
 * "serve") into buf. */
static const char *file_source(const char *file, char *buf, size_t size)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	size_t n = strcspn(base, ".");
	snprintf(buf, size, "%.*s", (int)n, base);
	return buf;
}

void jv_log_at(const char *file, enum jv_level level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	char src[64];
	va_list ap;
	va_start(ap, fmt);
	vlog(level, file_source(file, src, sizeof src), 0, fmt, ap);
	va_end(ap);
}

int jv_error_at(const char *file, int code, const char *fmt, ...)
{
	char src[64];
	va_list ap;
	va_start(ap, fmt);
	vlog(JV_ERROR, file_source(file, src, sizeof src), 0, fmt, ap);
	va_end(ap);
	return code;
}

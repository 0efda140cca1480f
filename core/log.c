/* log.c -- one line per event, to stderr, as text or JSON. */
#include "log.h"

#include "mem.h"

#include <jansson.h>
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

static const char *const level_names[] = {"error", "warning", "info", "debug"};

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

void jv_vlog(enum jv_level level, const char *source, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	if (level < JV_ERROR)
		level = JV_ERROR;
	char *msg = jv_vasprintf(fmt, ap);
	if (capture_fn) {
		if (source) {
			char *line = jv_asprintf("%s: %s", source, msg);
			capture_fn(level, line, capture_arg);
			free(line);
		} else {
			capture_fn(level, msg, capture_arg);
		}
		free(msg);
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
				      level_names[level], "msg", msg, "pid", (int)getpid());
		if (o && source)
			json_object_set_new(o, "source", json_string(source));
		char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
		line = jv_asprintf("%s\n", js ? js : "{}");
		free(js);
		json_decref(o);
	} else if (source) {
		line = jv_asprintf("%s %s: %s: %s\n", ts, level_names[level], source, msg);
	} else {
		line = jv_asprintf("%s %s: %s\n", ts, level_names[level], msg);
	}
	write_line(line, strlen(line));
	free(line);
	free(msg);
}

void jv_log(enum jv_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	jv_vlog(level, NULL, fmt, ap);
	va_end(ap);
}

int jv_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	jv_vlog(JV_ERROR, NULL, fmt, ap);
	va_end(ap);
	return code;
}

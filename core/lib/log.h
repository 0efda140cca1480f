/*
 * log.h -- the one logging function of the supervisor.
 *
 * Lines go to stderr, as text ("2026-11-28T23:00:00.123Z info: message") or
 * as one JSON object per line ({"ts", "level", "msg", "pid", "source"}).
 * Never log secrets.
 *
 * Every line is made safe here, whatever the call site passed: secrets that
 * any text shows (a URL's password, password=...) are masked (redact.h),
 * then control characters are escaped (jv_log_escape), so no value from
 * outside can start a line of its own or drive the reader's terminal. In
 * JSON the "msg" holds the same escaped text as the text format shows.
 */
#ifndef JV_LOG_H
#define JV_LOG_H

#include <stdarg.h>

enum jv_level { JV_ERROR = 0, JV_WARNING = 1, JV_INFO = 2, JV_DEBUG = 3 };
enum jv_log_format { JV_LOG_TEXT = 0, JV_LOG_JSON = 1 };

/* "error", "warning", "info", "debug": the names of enum jv_level, indexed
 * by it, NULL-terminated; what lines show and log.level accepts. */
extern const char *const jv_log_level_names[];

void jv_log_setup(enum jv_level level, enum jv_log_format format);
enum jv_level jv_log_level(void);

/*
 * jv_log(level, fmt, ...): one line at level. The line's source is the
 * base name of the file that logs it, without ".c" ("serve", "worker",
 * "scheduler", "alerter", "server", ...): JSON lines carry it as "source",
 * text lines stay as they were (their message says the subsystem).
 */
#define jv_log(level, ...) jv_log_at(__FILE__, level, __VA_ARGS__)
/* As jv_log at JV_ERROR, returning code, so `return jv_error(JV_EDB, ...)`. */
#define jv_error(code, ...) jv_error_at(__FILE__, code, __VA_ARGS__)

/* What jv_log and jv_error call; file is a path whose base name becomes
 * the source (JSON only). */
void jv_log_at(const char *file, enum jv_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int jv_error_at(const char *file, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One line from source (a plugin instance, "plugin NAME[INSTANCE]"), shown
 * in both formats: text as "LEVEL: SOURCE: message", JSON as "source". */
void jv_vlog(enum jv_level level, const char *source, const char *fmt, va_list ap);

/*
 * s with every character that could forge a line or drive a terminal made
 * visible: "\n", "\r", "\t", other C0 and DEL as "\xNN", C1 controls, the
 * Unicode line and paragraph separators and the bidirectional controls
 * (U+202A..U+202E, U+2066..U+2069) as "\uNNNN", and each byte that is not
 * part of valid UTF-8 as "\xNN". The result is valid UTF-8. A backslash
 * stays as it is. Returns a freshly allocated string (NULL in, NULL out).
 */
char *jv_log_escape(const char *s);

/* Testing: capture log lines into a callback instead of stderr (NULL: back
 * to stderr). The line has no timestamp and no trailing newline; it is
 * redacted and escaped as written lines are. */
void jv_log_capture(void (*fn)(enum jv_level level, const char *line, void *arg), void *arg);

#define jv_warn(...) jv_log(JV_WARNING, __VA_ARGS__)
#define jv_info(...) jv_log(JV_INFO, __VA_ARGS__)
#define jv_debug(...)                                                                              \
	do {                                                                                       \
		if (jv_log_level() >= JV_DEBUG)                                                    \
			jv_log(JV_DEBUG, __VA_ARGS__);                                             \
	} while (0)

#endif

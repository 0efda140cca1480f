/*
 * text.h -- text from outside (a job's output, an error a plugin wrote)
 * made fit for a PostgreSQL text value.
 */
#ifndef JV_TEXT_H
#define JV_TEXT_H

#include <stddef.h>

/* A copy of s[0..len) with invalid UTF-8 bytes made U+FFFD and NUL bytes
 * dropped. Never NULL; caller frees. */
char *jv_text_sanitize(const char *s, size_t len);

#endif

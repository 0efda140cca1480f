/*
 * httpresp.h -- what a plugin keeps of an HTTP response while libcurl
 * receives it: the start of the body (bounded), the status line's reason
 * phrase, the values of a few headers it asks for, and the reading of
 * Retry-After (compiled into each plugin that uses it; nothing of it is
 * exported).
 *
 * Use: fill in the settings of a zeroed struct jvp_resp, jvp_resp_attach()
 * it to the easy handle, perform, read, jvp_resp_free(). For another
 * request with the same struct (a redirect), jvp_resp_reset() in between.
 *
 * Ownership: the struct owns body.data and every headers[i].value (freed
 * by jvp_resp_reset() and jvp_resp_free()); keep and the watch's host and
 * run are borrowed and must outlive it; headers[i].name points into keep.
 */
#ifndef JV_PLUGINS_COMMON_HTTPRESP_H
#define JV_PLUGINS_COMMON_HTTPRESP_H

#include "common/buf.h"
#include "common/curlrun.h"

#include <curl/curl.h>
#include <stdint.h>
#include <time.h>

#define JVP_RESP_HEADERS_MAX   16              /* names in keep that are honoured */
#define JVP_RETRY_AFTER_CAP_MS (3600LL * 1000) /* Retry-After is capped at one hour */

struct jvp_resp_header {
	const char *name; /* the keep entry it matched (lower case) */
	char *value;      /* trimmed of spaces and tabs; NUL-terminated, may hold NULs */
	size_t len;       /* bytes of value */
};

struct jvp_resp {
	/* settings, the caller's */
	struct jvp_watch watch;  /* asked during the transfer whether to go on */
	size_t body_max;         /* bytes of the body kept */
	int stop_at_max;         /* 1: a longer body stops the transfer (curl fails
	                          * with CURLE_WRITE_ERROR, truncated set); 0: the
	                          * rest is read and dropped */
	const char *const *keep; /* NULL-terminated lower-case names of the headers
	                          * to keep (the first JVP_RESP_HEADERS_MAX), or NULL */

	/* what came in (of the last response, after any 1xx) */
	struct jvp_buf body; /* body.data is NULL while nothing came */
	int truncated;       /* the body was longer than body_max */
	char reason[64];     /* the reason phrase, printable ASCII, or "" */
	struct jvp_resp_header headers[JVP_RESP_HEADERS_MAX]; /* in order of arrival */
	size_t n_headers;
};

/* Have c deliver the body and headers into rs, and stop when rs->watch says
 * the run is cancelled. rs must outlive the transfer. */
void jvp_resp_attach(CURL *c, struct jvp_resp *rs);

/* libcurl's write and header callbacks (userdata: the struct jvp_resp),
 * set by jvp_resp_attach(). The header callback takes one header line
 * with its CRLF; a status line ("HTTP/...") starts a new response, so the
 * headers of a 1xx before it are forgotten. A header named in keep again
 * replaces the earlier value in its place. */
size_t jvp_resp_on_body(char *data, size_t size, size_t nmemb, void *userdata);
size_t jvp_resp_on_header(char *data, size_t size, size_t nmemb, void *userdata);

/* The value of the kept header name (lower case), or NULL when it did not
 * come. Borrowed from rs. */
const char *jvp_resp_header(const struct jvp_resp *rs, const char *name);

/* Forget the response (body, reason, headers), keeping the settings. */
void jvp_resp_reset(struct jvp_resp *rs);

/* Free what rs owns; rs is left as jvp_resp_reset() leaves it. */
void jvp_resp_free(struct jvp_resp *rs);

/* A Retry-After value (delta-seconds, or an HTTP-date compared with now)
 * as ms from now, at least 0 and capped at JVP_RETRY_AFTER_CAP_MS; -1 when
 * value is NULL, empty or neither form. */
int64_t jvp_retry_after_ms(const char *value, time_t now);

#endif

/*
 * curlrun.h -- running a libcurl transfer inside a plugin's run: the
 * one-time global init, cancellation through the host, the options every
 * HTTP(S) request of ours sets, request header lines, and which curl
 * errors another attempt will not fix (compiled into each plugin that uses
 * it; nothing of it is exported).
 *
 * Ownership: nothing here keeps a pointer past the call, except that
 * jvp_curl_watch() hands w to curl: w must outlive the transfer.
 */
#ifndef JV_PLUGINS_COMMON_CURLRUN_H
#define JV_PLUGINS_COMMON_CURLRUN_H

#include <jobvisor/plugin.h>

#include <curl/curl.h>
#include <stdint.h>

/* curl_global_init(CURL_GLOBAL_DEFAULT) once per plugin (thread-safe);
 * every call returns the result of that one call. */
CURLcode jvp_curl_global_init(void);

/* Whom a transfer asks whether to go on. Both borrowed. */
struct jvp_watch {
	const struct jv_host *host;
	struct jv_run *run;
};

/* Make the transfer on c stop (CURLE_ABORTED_BY_CALLBACK) as soon as
 * w->host->cancelled(w->run) turns true. */
void jvp_curl_watch(CURL *c, struct jvp_watch *w);

/* The transfer's whole timeout: ms, clamped to what curl's long takes. */
void jvp_curl_timeout(CURL *c, int64_t ms);

/* What every HTTP(S) request of ours sets on c: the URL (borrowed: curl
 * copies it), no signals, http and https only, no redirects followed by
 * curl, the timeout (ms), and certificate checks unless verify_tls is 0. */
void jvp_curl_http_setup(CURL *c, const char *url, int64_t timeout_ms, int verify_tls);

/* Is the curl error one that another attempt will not fix (a certificate
 * that does not verify, an unsupported protocol, a malformed URL)? The
 * callers add the errors of their own protocol. */
int jvp_curl_permanent(CURLcode c);

/* Is name an RFC 9110 token, so a valid header name? */
int jvp_header_name_ok(const char *name);

/* Append the request header "name: value" to *list ("name;" when value is
 * empty: curl drops a header written "name:"). 0, or -1 when out of memory
 * (*list is kept as it was). The list is the caller's: curl_slist_free_all(). */
int jvp_header_append(struct curl_slist **list, const char *name, const char *value);

/* Append the ready line to *list. 0, or -1 when out of memory (*list is kept). */
int jvp_slist_append(struct curl_slist **list, const char *line);

#endif

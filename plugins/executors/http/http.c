/*
 * http.c -- the executor that calls an HTTP endpoint with libcurl.
 *
 * Payload (a JSON object):
 *   url            string: an absolute http:// or https:// URL, or
 *   path           string: relative to the instance's base_url (joined
 *                  with exactly one '/'); may carry a ?query. One of url
 *                  and path is required, not both.
 *   method         string: GET HEAD POST PUT PATCH DELETE OPTIONS (any
 *                  case; default GET, or POST when json or body is given)
 *   headers        object of string values: added to the instance's
 *                  headers, overriding them by name (case-insensitive)
 *   json           any JSON: sent as the body, with Content-Type
 *                  application/json unless a header says otherwise
 *   body           string: sent as the body as is (not with json)
 *   expect_status  integer or list of integers 100..599: the statuses
 *                  that count as success (default: any 2xx)
 * Anything else, a value of the wrong type, or a payload that is not a
 * JSON object fails the job for good.
 *
 * Config keys of an instance:
 *   base_url            http(s) URL that payload.path is relative to
 *   allowed_hosts       list of host names, IP literals or *.domain
 *                       patterns (case-insensitive); absent: any host
 *   headers             map of default request headers (values ${VAR}-
 *                       expanded by the host, so tokens come from the
 *                       environment)
 *   verify_tls          bool, default true
 *   follow_redirects    bool, default false (then at most 5 hops, each
 *                       host checked against allowed_hosts)
 *   max_response_bytes  integer 0..8 MiB, default 1 MiB: the transfer
 *                       stops there and the body is marked truncated. At
 *                       most half of JV_RESULT_MAX, as the body travels in
 *                       the result, where JSON escaping may grow it; a
 *                       result that still exceeds JV_RESULT_MAX is stored
 *                       without the body (null, body_truncated true)
 *   timeout_seconds     (the host's own key, also the job deadline) the
 *                       request timeout, default 30 s; never past the
 *                       run's deadline
 *
 * Outcomes: a status in expect_status succeeds; 408, 429 and 5xx are
 * retried (honouring Retry-After, capped at one hour); any other status
 * fails for good. Connection errors, DNS failures, timeouts and TLS
 * handshake errors are retried; a certificate that does not verify fails
 * for good (it needs a person, not another try).
 *
 * Result: {"status", "headers" (a few of interest, lower-case names),
 * "body" (parsed when JSON and complete, else text with invalid UTF-8
 * replaced), "body_truncated", "duration_ms"}. Output: one summary line.
 *
 * Uses nothing but <jobvisor/plugin.h>, plugins/common (compiled in),
 * jansson, libcurl and libc. Thread-safe: execute() keeps all its state on
 * its own stack and heap.
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#define HTTP_VERSION PACKAGE_VERSION
#else
#define HTTP_VERSION "0.1.0"
#endif

#include <jobvisor/plugin.h>

#include "common/curlrun.h"
#include "common/httpresp.h"
#include "common/utf8.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_DEFAULT_TIMEOUT_MS 30000
#define HTTP_DEFAULT_MAX_BODY   (1024 * 1024)
#define HTTP_MAX_MAX_BODY       (JV_RESULT_MAX / 2)
#define HTTP_MAX_REDIRECTS      5
#define HTTP_ERROR_BODY_BYTES   200

struct http {
	const struct jv_host *host;
	struct jv_instance *inst;
	char *base_url;             /* without trailing '/', or NULL */
	json_t *headers;            /* name -> string; never NULL */
	const char *const *allowed; /* NULL: any host */
	int64_t timeout_ms;
	int verify_tls;
	int follow_redirects;
	int64_t max_body;
};

static const char *const http_keys[] = {"base_url",   "allowed_hosts",    "headers",
                                        "verify_tls", "follow_redirects", "max_response_bytes",
                                        NULL};

/* --------------------------------------------------------------- helpers */

static int64_t http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A header value has no CR, LF or NUL (len: the value's length). */
static int http_header_value_ok(const char *value, size_t len)
{
	return strlen(value) == len && !strpbrk(value, "\r\n");
}

/* Headers whose values must never leave the origin they were meant for. */
static int http_header_sensitive(const char *name)
{
	return !strcasecmp(name, "authorization") || !strcasecmp(name, "proxy-authorization") ||
	       !strcasecmp(name, "cookie");
}

/* Lower-case host of u, without IPv6 brackets: a fresh string (the
 * caller frees it), or NULL. */
static char *http_url_host(CURLU *u)
{
	char *h = NULL;
	if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h)
		return NULL;
	char *out = strdup(h[0] == '[' ? h + 1 : h);
	curl_free(h);
	if (!out)
		return NULL;
	size_t n = strlen(out);
	if (n && out[n - 1] == ']')
		out[n - 1] = '\0';
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* Is host (lower case) matched by the allowed_hosts list (NULL: all)? */
static int http_host_allowed(const struct http *h, const char *host)
{
	if (!h->allowed)
		return 1;
	size_t hl = strlen(host);
	if (hl && host[hl - 1] == '.')
		hl--; /* "example.com." is example.com */
	for (const char *const *a = h->allowed; *a; a++) {
		const char *pat = *a;
		size_t pl = strlen(pat);
		if (pat[0] == '[' && pl > 2 && pat[pl - 1] == ']') { /* "[::1]" is ::1 */
			if (pl - 2 == hl && !strncasecmp(host, pat + 1, hl))
				return 1;
		} else if (pat[0] == '*' && pat[1] == '.') {
			size_t sl = strlen(pat + 1); /* ".domain" */
			if (hl > sl && !strncasecmp(host + hl - sl, pat + 1, sl))
				return 1;
		} else if (pl == hl && !strncasecmp(host, pat, hl)) {
			return 1;
		}
	}
	return 0;
}

/* Parse text as an absolute http(s) URL into a fresh CURLU (caller frees
 * with curl_url_cleanup). NULL and *why set when it is not one. */
static CURLU *http_parse_url(const char *text, const char **why)
{
	CURLU *u = curl_url();
	if (!u) {
		*why = "out of memory";
		return NULL;
	}
	char *scheme = NULL;
	if (curl_url_set(u, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		*why = "is not a valid absolute URL";
		goto bad;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
	    (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
		*why = "must be an http:// or https:// URL";
		goto bad;
	}
	curl_free(scheme);
	return u;
bad:
	curl_free(scheme);
	curl_url_cleanup(u);
	return NULL;
}

/* The URL as shown in errors and output: without user name or password.
 * Freshly allocated (curl_free), or NULL. */
static char *http_display_url(CURLU *u)
{
	CURLU *d = curl_url_dup(u);
	if (!d)
		return NULL;
	curl_url_set(d, CURLUPART_USER, NULL, 0);
	curl_url_set(d, CURLUPART_PASSWORD, NULL, 0);
	char *s = NULL;
	if (curl_url_get(d, CURLUPART_URL, &s, 0) != CURLUE_OK)
		s = NULL;
	curl_url_cleanup(d);
	return s;
}

/* ---------------------------------------------------------------- create */

static void http_free(struct http *h)
{
	if (!h)
		return;
	free(h->base_url);
	json_decref(h->headers);
	free(h);
}

static int http_config_headers(struct http *h)
{
	const struct jv_host *host = h->host;
	const char *text = NULL;
	int rc = host->config_json(h->inst, "headers", &text);
	if (rc == JV_HOST_ENOENT) {
		h->headers = json_object();
		return h->headers ? 0 : JV_HOST_ENOMEM;
	}
	if (rc)
		return rc;
	json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return host->config_error(h->inst, "headers",
		                          "must be a map of header names to strings");
	}
	h->headers = o;
	const char *name;
	json_t *v;
	json_object_foreach(o, name, v)
	{
		if (!jvp_header_name_ok(name))
			return host->config_error(h->inst, "headers",
			                          "'%s' is not a valid header name", name);
		if (!json_is_string(v))
			return host->config_error(h->inst, "headers", "%s: must be a string", name);
		if (!http_header_value_ok(json_string_value(v), json_string_length(v)))
			return host->config_error(h->inst, "headers",
			                          "%s: must not contain CR, LF or NUL", name);
	}
	return 0;
}

static int http_config_allowed(struct http *h)
{
	const struct jv_host *host = h->host;
	const char *const *list = NULL;
	size_t n = 0;
	int rc = host->config_strings(h->inst, "allowed_hosts", &list, &n);
	if (rc == JV_HOST_ENOENT)
		return 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const char *p = list[i];
		const char *star = strchr(p, '*');
		if (!*p || strpbrk(p, "/@?# \t"))
			return host->config_error(h->inst, "allowed_hosts",
			                          "'%s' is not a host name, IP address or *.domain",
			                          p);
		if (star && (star != p || p[1] != '.' || !p[2] || strchr(p + 1, '*')))
			return host->config_error(h->inst, "allowed_hosts",
			                          "'%s': a '*' is only allowed as a leading '*.'",
			                          p);
	}
	h->allowed = list;
	return 0;
}

static int http_config_base_url(struct http *h)
{
	const struct jv_host *host = h->host;
	const char *text = NULL;
	int rc = host->config_string(h->inst, "base_url", &text);
	if (rc == JV_HOST_ENOENT)
		return 0;
	if (rc)
		return rc;
	const char *why = NULL;
	CURLU *u = http_parse_url(text, &why);
	if (!u)
		return host->config_error(h->inst, "base_url", "%s", why);
	char *q = NULL, *f = NULL, *hostname = http_url_host(u);
	int bad_part = curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK ||
	               curl_url_get(u, CURLUPART_FRAGMENT, &f, 0) == CURLUE_OK;
	curl_free(q);
	curl_free(f);
	curl_url_cleanup(u);
	if (bad_part) {
		free(hostname);
		return host->config_error(h->inst, "base_url",
		                          "must not have a ?query or #fragment");
	}
	if (!hostname || !http_host_allowed(h, hostname)) {
		rc = host->config_error(h->inst, "base_url", "host '%s' is not in allowed_hosts",
		                        hostname ? hostname : "");
		free(hostname);
		return rc;
	}
	free(hostname);
	size_t len = strlen(text);
	while (len && text[len - 1] == '/')
		len--;
	h->base_url = strndup(text, len);
	return h->base_url ? 0 : JV_HOST_ENOMEM;
}

static int http_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	CURLcode grc = jvp_curl_global_init();
	if (grc != CURLE_OK) {
		host->log(inst, JV_LOG_ERROR, "curl_global_init failed: %s",
		          curl_easy_strerror(grc));
		return JV_HOST_EINVAL;
	}
	struct http *h = calloc(1, sizeof *h);
	if (!h) {
		host->log(inst, JV_LOG_ERROR, "out of memory");
		return JV_HOST_ENOMEM;
	}
	h->host = host;
	h->inst = inst;
	h->timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
	h->verify_tls = 1;
	h->max_body = HTTP_DEFAULT_MAX_BODY;

	int64_t secs = 0;
	int rc = host->config_int(inst, "timeout_seconds", &secs);
	if (rc == 0) {
		if (secs < 1 || secs > 604800) {
			rc = host->config_error(inst, "timeout_seconds",
			                        "must be between 1 and 604800");
			goto fail;
		}
		h->timeout_ms = secs * 1000;
	} else if (rc != JV_HOST_ENOENT) {
		goto fail;
	}
	rc = host->config_int(inst, "max_response_bytes", &h->max_body);
	if (rc != 0 && rc != JV_HOST_ENOENT)
		goto fail;
	if (h->max_body < 0 || h->max_body > HTTP_MAX_MAX_BODY) {
		rc = host->config_error(inst, "max_response_bytes",
		                        "must be between 0 and %lld (half of the result limit, %d "
		                        "bytes: the body travels in the job's result)",
		                        (long long)HTTP_MAX_MAX_BODY, JV_RESULT_MAX);
		goto fail;
	}
	rc = host->config_bool(inst, "verify_tls", &h->verify_tls);
	if (rc != 0 && rc != JV_HOST_ENOENT)
		goto fail;
	rc = host->config_bool(inst, "follow_redirects", &h->follow_redirects);
	if (rc != 0 && rc != JV_HOST_ENOENT)
		goto fail;
	if ((rc = http_config_allowed(h)) || (rc = http_config_headers(h)) ||
	    (rc = http_config_base_url(h)))
		goto fail;
	if (!h->verify_tls)
		host->log(inst, JV_LOG_WARNING,
		          "verify_tls is off: TLS certificates are not checked");
	*state = h;
	return 0;
fail:
	http_free(h);
	return rc ? rc : JV_HOST_EINVAL;
}

static void http_destroy(void *state)
{
	http_free(state);
}

/* ------------------------------------------------------------- one call */

/* What one request is to send: built from the payload, checked. */
struct http_req {
	char method[8];
	CURLU *url;       /* owned */
	json_t *headers;  /* name -> string, merged; owned */
	const char *body; /* borrowed from the payload, or from body_own */
	size_t body_len;
	int has_body;
	char *body_own; /* json_dumps of payload.json */
	int expect[64]; /* statuses; n_expect 0: any 2xx */
	size_t n_expect;
};

/* The response headers kept, and put in the result. */
static const char *const http_resp_keep[] = {
    "content-type", "content-length", "location",     "retry-after",
    "etag",         "last-modified",  "x-request-id", NULL};

static void http_req_free(struct http_req *r)
{
	curl_url_cleanup(r->url);
	json_decref(r->headers);
	free(r->body_own);
}

/* payload.headers (or config headers) merged into r->headers: a name given
 * again, in any case, replaces the earlier one. */
static void http_merge_header(json_t *into, const char *name, json_t *value)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(into, tmp, k, v)
	{
		if (!strcasecmp(k, name))
			json_object_del(into, k);
	}
	json_object_set(into, name, value);
}

static int http_header_given(json_t *headers, const char *name)
{
	const char *k;
	json_t *v;
	json_object_foreach(headers, k, v)
	{
		if (!strcasecmp(k, name))
			return 1;
	}
	return 0;
}

static int http_known_key(const char *key)
{
	static const char *const keys[] = {"url",  "path", "method",        "headers",
	                                   "json", "body", "expect_status", NULL};
	for (const char *const *k = keys; *k; k++)
		if (!strcmp(*k, key))
			return 1;
	return 0;
}

/* Build r from the payload. Returns 0, or -1 with the run's error set. */
static int http_build(const struct http *h, struct jv_run *run, json_t *p, struct http_req *r)
{
	const struct jv_host *host = h->host;
	if (!json_is_object(p)) {
		host->error(run, "http: payload must be a JSON object");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(p, key, v)
	{
		if (!http_known_key(key)) {
			host->error(run,
			            "http: unknown payload key '%.64s' (known: url, path, method, "
			            "headers, json, body, expect_status)",
			            key);
			return -1;
		}
	}

	/* url or path */
	json_t *url = json_object_get(p, "url"), *path = json_object_get(p, "path");
	const char *why = NULL;
	if (url && path) {
		host->error(run, "http: payload.url and payload.path exclude each other");
		return -1;
	}
	if (url) {
		if (!json_is_string(url)) {
			host->error(run, "http: payload.url must be a string");
			return -1;
		}
		if (!(r->url = http_parse_url(json_string_value(url), &why))) {
			host->error(run, "http: payload.url %s (got '%.200s')", why,
			            json_string_value(url));
			return -1;
		}
	} else if (path) {
		if (!json_is_string(path)) {
			host->error(run, "http: payload.path must be a string");
			return -1;
		}
		const char *ps = json_string_value(path);
		if (!h->base_url) {
			host->error(run,
			            "http: payload.path needs base_url in the executor's config "
			            "(or give payload.url)");
			return -1;
		}
		/* no scheme ("x:" before any '/', '?' or '#'); leading slashes
		 * go, so "//host/x" stays under base_url */
		if (memchr(ps, ':', strcspn(ps, "/?#")) || strpbrk(ps, "\r\n \t") ||
		    strlen(ps) != json_string_length(path)) {
			host->error(run,
			            "http: payload.path must be a path relative to base_url, not "
			            "a URL (got '%.200s')",
			            ps);
			return -1;
		}
		while (*ps == '/')
			ps++;
		size_t n = strlen(h->base_url) + strlen(ps) + 2;
		char *joined = malloc(n);
		if (!joined) {
			host->error(run, "http: out of memory");
			return -1;
		}
		snprintf(joined, n, "%s/%s", h->base_url, ps);
		r->url = http_parse_url(joined, &why);
		free(joined);
		if (!r->url) {
			host->error(run, "http: payload.path gives a URL that %s (path '%.200s')",
			            why, json_string_value(path));
			return -1;
		}
	} else {
		host->error(run, "http: payload needs url (an absolute URL) or path (relative to "
		                 "base_url)");
		return -1;
	}

	/* body or json */
	json_t *body = json_object_get(p, "body"), *js = json_object_get(p, "json");
	if (body && js) {
		host->error(run, "http: payload.json and payload.body exclude each other");
		return -1;
	}
	if (body) {
		if (!json_is_string(body)) {
			host->error(run,
			            "http: payload.body must be a string (use payload.json for "
			            "JSON)");
			return -1;
		}
		r->body = json_string_value(body);
		r->body_len = json_string_length(body);
		r->has_body = 1;
	} else if (js) {
		r->body_own = json_dumps(js, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!r->body_own) {
			host->error(run, "http: payload.json could not be encoded");
			return -1;
		}
		r->body = r->body_own;
		r->body_len = strlen(r->body_own);
		r->has_body = 1;
	}

	/* method */
	json_t *m = json_object_get(p, "method");
	const char *method = r->has_body ? "POST" : "GET";
	if (m) {
		if (!json_is_string(m)) {
			host->error(run, "http: payload.method must be a string");
			return -1;
		}
		method = json_string_value(m);
	}
	static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
	                                      "PATCH", "DELETE", "OPTIONS", NULL};
	const char *const *mm = methods;
	for (; *mm; mm++)
		if (!strcasecmp(*mm, method))
			break;
	if (!*mm) {
		host->error(run,
		            "http: unknown payload.method '%.32s' (GET, HEAD, POST, PUT, PATCH, "
		            "DELETE, OPTIONS)",
		            method);
		return -1;
	}
	snprintf(r->method, sizeof r->method, "%s", *mm);
	if (r->has_body && !strcmp(r->method, "HEAD")) {
		host->error(run, "http: a HEAD request cannot have a body");
		return -1;
	}

	/* headers */
	if (!(r->headers = json_deep_copy(h->headers))) {
		host->error(run, "http: out of memory");
		return -1;
	}
	json_t *hd = json_object_get(p, "headers");
	if (hd && !json_is_object(hd)) {
		host->error(run, "http: payload.headers must be an object of header names to "
		                 "strings");
		return -1;
	}
	json_object_foreach(hd, key, v)
	{
		if (!jvp_header_name_ok(key)) {
			host->error(
			    run, "http: payload.headers: '%.64s' is not a valid header name", key);
			return -1;
		}
		if (!json_is_string(v)) {
			host->error(run, "http: payload.headers.%s must be a string", key);
			return -1;
		}
		if (!http_header_value_ok(json_string_value(v), json_string_length(v))) {
			host->error(run, "http: payload.headers.%s must not contain CR, LF or NUL",
			            key);
			return -1;
		}
		http_merge_header(r->headers, key, v);
	}
	if (js && !http_header_given(r->headers, "content-type"))
		json_object_set_new(r->headers, "Content-Type", json_string("application/json"));

	/* expect_status */
	json_t *es = json_object_get(p, "expect_status");
	if (es) {
		json_t *one = json_is_integer(es) ? es : NULL;
		size_t n = one ? 1 : json_array_size(es);
		if ((!one && !json_is_array(es)) || n == 0 ||
		    n > sizeof r->expect / sizeof r->expect[0]) {
			host->error(run, "http: payload.expect_status must be a status or a "
			                 "non-empty list of statuses (at most 64)");
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			json_t *s = one ? one : json_array_get(es, i);
			json_int_t st = json_is_integer(s) ? json_integer_value(s) : 0;
			if (st < 100 || st > 599) {
				host->error(run, "http: payload.expect_status must hold integers "
				                 "between 100 and 599");
				return -1;
			}
			r->expect[r->n_expect++] = (int)st;
		}
	}
	return 0;
}

/* Is the content type JSON (application/json, anything+json)? */
static int http_is_json_type(const char *ct)
{
	if (!ct)
		return 0;
	size_t n = strcspn(ct, "; \t");
	if (n == 16 && !strncasecmp(ct, "application/json", 16))
		return 1;
	return n > 5 && !strncasecmp(ct + n - 5, "+json", 5);
}

/* Valid UTF-8 of s[0..n) (bad bytes as U+FFFD, NUL kept): a fresh json
 * string, or NULL on OOM. */
static json_t *http_text(const char *s, size_t n)
{
	size_t len = 0;
	char *out = jvp_utf8_valid_copy(s ? s : "", s ? n : 0, &len);
	json_t *j = out ? json_stringn(out, len) : NULL;
	free(out);
	return j;
}

/* The kept headers as a JSON object (values made valid text), or NULL. */
static json_t *http_headers_json(const struct jvp_resp *rs)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < rs->n_headers; i++)
		json_object_set_new(o, rs->headers[i].name,
		                    http_text(rs->headers[i].value, rs->headers[i].len));
	return o;
}

/* The curl header list of r's headers; sensitive ones only when keep_auth.
 * NULL on OOM (or when empty, which does not happen: Expect is added). */
static struct curl_slist *http_header_list(const struct http_req *r, int keep_auth)
{
	struct curl_slist *list = NULL;
	const char *k;
	json_t *v;
	json_object_foreach(r->headers, k, v)
	{
		if (!keep_auth && http_header_sensitive(k))
			continue;
		if (jvp_header_append(&list, k, json_string_value(v)))
			goto oom;
	}
	if (!http_header_given(r->headers, "expect") && jvp_slist_append(&list, "Expect:"))
		goto oom;
	if (!http_header_given(r->headers, "user-agent") &&
	    jvp_slist_append(&list, "User-Agent: jobvisor-http/" HTTP_VERSION))
		goto oom;
	return list;
oom:
	curl_slist_free_all(list);
	return NULL;
}

/* Set the result JSON and the output line of a received response. */
static void http_report(const struct jvp_resp *rs, long status, const char *method,
                        const char *shown, int64_t ms)
{
	const struct jv_host *host = rs->watch.host;
	struct jv_run *run = rs->watch.run;
	json_t *body = NULL;
	const char *ct = jvp_resp_header(rs, "content-type");
	size_t len = rs->body.len;
	if (!rs->truncated && len && http_is_json_type(ct))
		body = json_loadb(rs->body.data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!body)
		body = http_text(rs->body.data, len);
	json_t *res = json_pack("{s:i, s:o*, s:o*, s:b, s:I}", "status", (int)status, "headers",
	                        http_headers_json(rs), "body", body, "body_truncated",
	                        rs->truncated, "duration_ms", (json_int_t)ms);
	char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
	int left_out = 0;
	if (text && host->result_json(run, text) == JV_HOST_ERANGE) {
		/* Escaped, the body outgrew the result limit: keep the rest. */
		json_object_set_new(res, "body", json_null());
		json_object_set_new(res, "body_truncated", json_true());
		free(text);
		text = json_dumps(res, JSON_COMPACT);
		left_out = text && host->result_json(run, text) == 0;
	}
	free(text);
	json_decref(res);

	char line[2400];
	int n = snprintf(line, sizeof line, "%s %s -> %ld (%zu bytes%s, %lld ms)\n%s", method,
	                 shown, status, len, rs->truncated ? ", truncated" : "", (long long)ms,
	                 left_out ? "body left out of the result: as JSON it exceeds the result "
	                            "limit\n"
	                          : "");
	if (n > 0)
		host->output(run, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Same scheme, host and port? */
static int http_same_origin(CURLU *a, CURLU *b)
{
	static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
	int same = 1;
	for (size_t i = 0; same && i < 3; i++) {
		char *x = NULL, *y = NULL;
		curl_url_get(a, parts[i], &x, CURLU_DEFAULT_PORT);
		curl_url_get(b, parts[i], &y, CURLU_DEFAULT_PORT);
		same = x && y && !strcasecmp(x, y);
		curl_free(x);
		curl_free(y);
	}
	return same;
}

static int http_is_expected(const struct http_req *r, long status)
{
	if (!r->n_expect)
		return status >= 200 && status <= 299;
	for (size_t i = 0; i < r->n_expect; i++)
		if (r->expect[i] == status)
			return 1;
	return 0;
}

/* Run the request (following redirects when configured). */
static int http_perform(const struct http *h, struct jv_run *run, struct http_req *r)
{
	const struct jv_host *host = h->host;
	CURL *c = curl_easy_init();
	struct jvp_resp rs = {.watch = {host, run},
	                      .body_max = (size_t)h->max_body,
	                      .stop_at_max = 1,
	                      .keep = http_resp_keep};
	long status = 0;
	struct curl_slist *hl = NULL;
	char *shown = NULL, *target = NULL, *hostname = NULL;
	CURLU *origin = curl_url_dup(r->url);
	int rc = JV_RETRY;
	if (!c || !origin) {
		host->error(run, "http: out of memory");
		goto out;
	}
	int64_t start = http_now_ms();
	/* one budget for all hops: timeout_seconds, never past the deadline */
	int64_t limit = host->remaining_ms(run);
	if (limit > h->timeout_ms)
		limit = h->timeout_ms;
	int keep_auth = 1;
	for (int hop = 0;; hop++) {
		curl_free(shown);
		curl_free(target);
		free(hostname);
		shown = http_display_url(r->url);
		target = NULL;
		hostname = http_url_host(r->url);
		if (!shown || !hostname ||
		    curl_url_get(r->url, CURLUPART_URL, &target, 0) != CURLUE_OK) {
			host->error(run, "http: out of memory");
			goto out;
		}
		if (!http_host_allowed(h, hostname)) {
			host->error(run, "http: host '%s' is not in allowed_hosts%s", hostname,
			            hop ? " (redirected there)" : "");
			rc = JV_FAIL;
			goto out;
		}
		int64_t left = limit - (http_now_ms() - start);
		if (left <= 0 || host->cancelled(run)) {
			host->error(run, "http: %s %s: %s before the request was sent", r->method,
			            shown, left <= 0 ? "out of time" : "cancelled");
			goto out;
		}
		curl_slist_free_all(hl);
		if (!(hl = http_header_list(r, keep_auth))) {
			host->error(run, "http: out of memory");
			goto out;
		}
		jvp_resp_reset(&rs);
		status = 0;

		curl_easy_reset(c);
		jvp_curl_http_setup(c, target, left, h->verify_tls);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
		jvp_resp_attach(c, &rs);
		if (!strcmp(r->method, "HEAD")) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (r->has_body || !strcmp(r->method, "POST")) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)(r->has_body ? r->body_len : 0));
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->has_body ? r->body : "");
			if (strcmp(r->method, "POST"))
				curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		} else if (strcmp(r->method, "GET")) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		}

		CURLcode cc = curl_easy_perform(c);
		int64_t ms = http_now_ms() - start;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_WRITE_ERROR && rs.truncated)
			cc = CURLE_OK; /* we stopped it at max_response_bytes */
		if (cc != CURLE_OK) {
			char line[2400];
			if (cc == CURLE_ABORTED_BY_CALLBACK) {
				snprintf(line, sizeof line, "http: %s %s: cancelled after %lld ms",
				         r->method, shown, (long long)ms);
			} else if (cc == CURLE_OPERATION_TIMEDOUT) {
				snprintf(line, sizeof line,
				         "http: %s %s: timed out after %lld ms (limit %lld ms)",
				         r->method, shown, (long long)ms, (long long)limit);
			} else {
				snprintf(line, sizeof line, "http: %s %s: %s", r->method, shown,
				         curl_easy_strerror(cc));
			}
			host->error(run, "%s", line);
			host->output(run, line + 6, strlen(line + 6));
			host->output(run, "\n", 1);
			rc = cc == CURLE_TOO_MANY_REDIRECTS || jvp_curl_permanent(cc) ? JV_FAIL
			                                                              : JV_RETRY;
			goto out;
		}

		char *loc = NULL;
		if (h->follow_redirects && status >= 300 && status <= 399 && status != 304 &&
		    !http_is_expected(r, status) &&
		    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
			if (hop >= HTTP_MAX_REDIRECTS) {
				host->error(run, "http: %s %s: more than %d redirects", r->method,
				            shown, HTTP_MAX_REDIRECTS);
				rc = JV_FAIL;
				goto out;
			}
			char line[2400];
			int n = snprintf(line, sizeof line, "%s %s -> %ld (redirect)\n", r->method,
			                 shown, status);
			if (n > 0)
				host->output(run, line,
				             (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
			const char *why = NULL;
			CURLU *next = http_parse_url(loc, &why);
			if (!next) {
				host->error(run, "http: %s %s -> %ld: the redirect target %s",
				            r->method, shown, status, why);
				rc = JV_FAIL;
				goto out;
			}
			if (!http_same_origin(origin, next))
				keep_auth = 0; /* never hand credentials to another origin */
			curl_url_cleanup(r->url);
			r->url = next;
			if (status == 303 ||
			    ((status == 301 || status == 302) && !strcmp(r->method, "POST"))) {
				if (strcmp(r->method, "HEAD"))
					snprintf(r->method, sizeof r->method, "GET");
				r->has_body = 0;
			}
			continue;
		}

		http_report(&rs, status, r->method, shown, ms);
		if (http_is_expected(r, status)) {
			rc = JV_SUCCESS;
			goto out;
		}
		char excerpt[HTTP_ERROR_BODY_BYTES + 1];
		jvp_excerpt(rs.body.data, rs.body.len, HTTP_ERROR_BODY_BYTES, 0, excerpt);
		const char *hint = status >= 300 && status <= 399 && !h->follow_redirects
		                       ? " (redirects are not followed: see follow_redirects)"
		                       : "";
		host->error(run, "http: %s %s -> %ld%s%s%s%s%s", r->method, shown, status,
		            rs.reason[0] ? " " : "", rs.reason, hint, excerpt[0] ? ": " : "",
		            excerpt);
		if (status == 408 || status == 429 || status >= 500) {
			int64_t after =
			    jvp_retry_after_ms(jvp_resp_header(&rs, "retry-after"), time(NULL));
			if (after >= 0)
				host->retry_in(run, after);
			rc = JV_RETRY;
		} else {
			rc = JV_FAIL;
		}
		goto out;
	}
out:
	curl_slist_free_all(hl);
	curl_free(shown);
	curl_free(target);
	free(hostname);
	jvp_resp_free(&rs);
	curl_url_cleanup(origin);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

static int http_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct http *h = state;
	json_error_t e;
	json_t *payload = json_loadb(job->payload, job->payload_len, JSON_DECODE_ANY, &e);
	if (!payload) {
		h->host->error(run, "http: payload is not JSON: %s (at byte %d)", e.text,
		               e.position);
		return JV_FAIL;
	}
	struct http_req r = {0};
	int rc = http_build(h, run, payload, &r) ? JV_FAIL : http_perform(h, run, &r);
	http_req_free(&r);
	json_decref(payload);
	return rc;
}

static const struct jv_plugin http_plugin = {
    JV_PLUGIN_HEADER,
    .kind = JV_PLUGIN_EXECUTOR,
    .name = "http",
    .version = HTTP_VERSION,
    .description = "calls an HTTP endpoint (libcurl): retries 408, 429, 5xx and network errors",
    .config_keys = http_keys,
    .create = http_create,
    .destroy = http_destroy,
    .execute = http_execute,
};

JV_PLUGIN_ENTRY(http_plugin)

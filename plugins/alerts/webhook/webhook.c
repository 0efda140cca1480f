/*
 * webhook.c -- the alert sink that sends each alert as JSON to any URL,
 * signed with HMAC-SHA256 when a secret is set.
 *
 * Config keys of an instance (an entry under `alerts:`):
 *   url              required: an http:// or https:// URL (url_file works;
 *                    only its scheme://host:port is ever shown, since the
 *                    path or query may carry a token)
 *   secret           optional: the HMAC key (secret_file works; never
 *                    logged; empty counts as unset, with a warning). Set:
 *                    every request carries
 *                    X-Jobvisor-Signature-256: sha256=<hex HMAC of the body>
 *   headers          optional: a map of extra request headers (string
 *                    values, no CR/LF; Content-Length, Host,
 *                    Transfer-Encoding and X-Jobvisor-* are the plugin's)
 *   method           optional: POST (default) or PUT
 *   timeout_seconds  (the host's own key) the request timeout, default 10 s;
 *                    never past the send's deadline
 *
 * The body: the alert's JSON object (struct jv_alert.json) with "id" (the
 * delivery id: 32 lower-case hex digits, new for every request) and
 * "sent_at" (ISO-8601 UTC with milliseconds) added. Headers: Content-Type:
 * application/json, User-Agent: jobvisor-webhook/VERSION,
 * X-Jobvisor-Delivery: <id>, X-Jobvisor-Event: <event>, and the signature.
 *
 * Outcomes: 2xx is delivered; 408, 429 and 5xx, connection errors and
 * timeouts are retried (Retry-After honoured, capped at one hour); any other
 * status fails for good, with the start of the answer in the error, and so
 * does a TLS certificate that does not verify. Output: one line with the
 * status.
 *
 * Uses nothing but <jobvisor/plugin.h>, plugins/common (compiled in),
 * jansson, libcurl, OpenSSL's libcrypto (HMAC) and libc. send() keeps its
 * state on its own stack and heap: thread-safe.
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#define WEBHOOK_VERSION PACKAGE_VERSION
#else
#define WEBHOOK_VERSION "0.1.0"
#endif

#include <jobvisor/plugin.h>

#include "common/curlrun.h"
#include "common/httpresp.h"
#include "common/utf8.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define WEBHOOK_DEFAULT_TIMEOUT_MS 10000
#define WEBHOOK_BODY_KEEP          1024 /* bytes of the answer kept for errors */
#define WEBHOOK_ERROR_BODY_BYTES   200  /* bytes of it shown in an error */

struct webhook {
	const struct jv_host *host;
	struct jv_instance *inst;
	const char *url;          /* host-owned; may hold a token */
	char *shown;              /* scheme://host[:port], for messages */
	const char *secret;       /* host-owned, or NULL; a secret */
	struct curl_slist *extra; /* "Name: value" lines of `headers` */
	int user_agent_given;     /* `headers` names User-Agent */
	int content_type_given;   /* `headers` names Content-Type */
	char method[8];           /* POST or PUT */
	int64_t timeout_ms;
};

static const char *const webhook_keys[] = {"url", "secret", "headers", "method", NULL};

/* The response headers kept. */
static const char *const webhook_resp_keep[] = {"retry-after", NULL};

/* --------------------------------------------------------------- helpers */

/* 16 random bytes as 32 lower-case hex digits into id[33]. 0, or -1. */
static int webhook_delivery_id(char id[33])
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof r) { /* no getrandom(): the device */
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		got = 0;
		while (got < sizeof r) {
			ssize_t n = read(fd, r + got, sizeof r - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fd);
		if (got < sizeof r)
			return -1;
	}
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* "2026-11-29T01:30:55.123Z" into buf. */
static void webhook_now_iso(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[24];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000L) % 1000);
}

/* "sha256=" and the lower-case hex HMAC-SHA256 of body under secret into
 * out[7 + 64 + 1]. 0, or -1. */
static int webhook_sign(const char *secret, const char *body, size_t len, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, md,
	          &mdlen) ||
	    mdlen != 32)
		return -1;
	/* The snprintf below ends the string. */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ------------------------------------------------------------------ send */

/* The body for alert a into *body (fresh), its id into id. 0, or -1. */
static int webhook_body(const struct jv_alert *a, char id[33], char **body)
{
	json_t *o = json_loads(a->json, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	char at[40];
	webhook_now_iso(at, sizeof at);
	if (webhook_delivery_id(id) || json_object_set_new(o, "id", json_string(id)) ||
	    json_object_set_new(o, "sent_at", json_string(at))) {
		json_decref(o);
		return -1;
	}
	*body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *body ? 0 : -1;
}

static int webhook_send(void *state, const struct jv_alert *alert, struct jv_run *run)
{
	const struct webhook *w = state;
	const struct jv_host *host = w->host;
	char id[33] = "", line[512];
	char *body = NULL;
	CURL *c = NULL;
	struct curl_slist *hl = NULL;
	struct jvp_resp rs = {
	    .watch = {host, run}, .body_max = WEBHOOK_BODY_KEEP, .keep = webhook_resp_keep};
	int rc = JV_RETRY;
	if (webhook_body(alert, id, &body)) {
		host->error(run, "webhook: could not build the request body (out of memory, "
		                 "or no randomness for the delivery id)");
		goto out;
	}
	if (!(c = curl_easy_init())) {
		host->error(run, "webhook: out of memory");
		goto out;
	}
	for (const struct curl_slist *e = w->extra; e; e = e->next)
		if (jvp_slist_append(&hl, e->data))
			goto oom;
	if (!w->content_type_given && jvp_slist_append(&hl, "Content-Type: application/json"))
		goto oom;
	if (!w->user_agent_given &&
	    jvp_slist_append(&hl, "User-Agent: jobvisor-webhook/" WEBHOOK_VERSION))
		goto oom;
	snprintf(line, sizeof line, "X-Jobvisor-Delivery: %s", id);
	if (jvp_slist_append(&hl, line))
		goto oom;
	snprintf(line, sizeof line, "X-Jobvisor-Event: %.100s", alert->event);
	if (strpbrk(line, "\r\n") || jvp_slist_append(&hl, line))
		goto oom;
	if (w->secret) {
		char sig[72];
		if (webhook_sign(w->secret, body, strlen(body), sig)) {
			host->error(run, "webhook: HMAC-SHA256 failed");
			rc = JV_FAIL;
			goto out;
		}
		snprintf(line, sizeof line, "X-Jobvisor-Signature-256: %s", sig);
		if (jvp_slist_append(&hl, line))
			goto oom;
	}
	if (jvp_slist_append(&hl, "Expect:"))
		goto oom;

	int64_t limit = host->remaining_ms(run);
	if (limit > w->timeout_ms)
		limit = w->timeout_ms;
	if (limit <= 0 || host->cancelled(run)) {
		host->error(run, "webhook: %s %s: %s before the request was sent", w->method,
		            w->shown, limit <= 0 ? "out of time" : "cancelled");
		goto out;
	}
	jvp_curl_http_setup(c, w->url, limit, 1);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (strcmp(w->method, "POST"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, w->method);
	jvp_resp_attach(c, &rs);

	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		host->error(run, "webhook: %s %s: cancelled", w->method, w->shown);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		host->error(run, "webhook: %s %s: no answer within %lld ms", w->method, w->shown,
		            (long long)limit);
		goto out;
	}
	if (cc != CURLE_OK) {
		host->error(run, "webhook: %s %s: %s", w->method, w->shown, curl_easy_strerror(cc));
		rc = jvp_curl_permanent(cc) ? JV_FAIL : JV_RETRY;
		goto out;
	}
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	int n = snprintf(line, sizeof line, "%s %s -> %ld (delivery %s)", w->method, w->shown,
	                 status, id);
	if (n > 0)
		host->output(run, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	if (status >= 200 && status <= 299) {
		rc = JV_SUCCESS;
		goto out;
	}
	/* printable ASCII only: safe in any log */
	char excerpt[WEBHOOK_ERROR_BODY_BYTES + 1];
	jvp_excerpt(rs.body.data, rs.body.len, WEBHOOK_ERROR_BODY_BYTES, JVP_EXCERPT_ASCII,
	            excerpt);
	const char *sep = excerpt[0] ? ": " : "";
	if (status == 408 || status == 429 || status >= 500) {
		int64_t after = jvp_retry_after_ms(jvp_resp_header(&rs, "retry-after"), time(NULL));
		if (after >= 0) {
			host->retry_in(run, after);
			host->error(run, "webhook: %s %s -> %ld%s%s (retry in %lld s)", w->method,
			            w->shown, status, sep, excerpt,
			            (long long)((after + 999) / 1000));
		} else {
			host->error(run, "webhook: %s %s -> %ld%s%s", w->method, w->shown, status,
			            sep, excerpt);
		}
		rc = JV_RETRY;
		goto out;
	}
	host->error(run, "webhook: %s %s -> %ld%s%s%s", w->method, w->shown, status,
	            status >= 300 && status <= 399 ? " (redirects are not followed)" : "", sep,
	            excerpt);
	rc = JV_FAIL;
	goto out;
oom:
	host->error(run, "webhook: out of memory");
out:
	curl_slist_free_all(hl);
	if (c)
		curl_easy_cleanup(c);
	jvp_resp_free(&rs);
	free(body);
	return rc;
}

/* ---------------------------------------------------------------- create */

static void webhook_free(struct webhook *w)
{
	if (!w)
		return;
	curl_free(w->shown);
	curl_slist_free_all(w->extra);
	free(w);
}

/* Check w->url and set w->shown (scheme://host[:port]). 0, or non-zero
 * after config_error(). Messages never quote the URL. */
static int webhook_config_url(struct webhook *w)
{
	const struct jv_host *host = w->host;
	int rc = host->config_string(w->inst, "url", &w->url);
	if (rc == JV_HOST_ENOENT)
		return host->config_error(w->inst, NULL,
		                          "url is required (the http:// or https:// URL to send "
		                          "alerts to)");
	if (rc)
		return rc;
	const char *why = NULL;
	char *scheme = NULL, *hostname = NULL;
	CURLU *u = curl_url();
	if (!u)
		return JV_HOST_ENOMEM;
	if (!*w->url)
		why = "must not be empty";
	else if (curl_url_set(u, CURLUPART_URL, w->url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		why = "is not a valid absolute URL";
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
	         (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")))
		why = "must be an http:// or https:// URL";
	else if (curl_url_get(u, CURLUPART_HOST, &hostname, 0) != CURLUE_OK || !hostname ||
	         !*hostname)
		why = "has no host";
	if (!why) {
		/* what messages show: no user, password, path, query or fragment */
		CURLUPart drop[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS,
		                    CURLUPART_QUERY, CURLUPART_FRAGMENT};
		for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
			curl_url_set(u, drop[i], NULL, 0);
		curl_url_set(u, CURLUPART_PATH, "/", 0);
		if (curl_url_get(u, CURLUPART_URL, &w->shown, 0) != CURLUE_OK || !w->shown) {
			why = "could not be read";
		} else {
			size_t n = strlen(w->shown);
			if (n > 1 && w->shown[n - 1] == '/')
				w->shown[n - 1] = '\0';
		}
		int local = !strcasecmp(hostname, "localhost") || !strcmp(hostname, "127.0.0.1") ||
		            !strcmp(hostname, "[::1]");
		if (!why && strcasecmp(scheme, "https") && !local)
			host->log(w->inst, JV_LOG_WARNING,
			          "url is not https://: alerts travel unencrypted to %s", w->shown);
	}
	curl_free(scheme);
	curl_free(hostname);
	curl_url_cleanup(u);
	return why ? host->config_error(w->inst, "url", "%s", why) : 0;
}

static int webhook_config_headers(struct webhook *w)
{
	const struct jv_host *host = w->host;
	const char *text = NULL;
	int rc = host->config_json(w->inst, "headers", &text);
	if (rc == JV_HOST_ENOENT)
		return 0;
	if (rc)
		return rc;
	json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return host->config_error(w->inst, "headers",
		                          "must be a map of header names to strings");
	}
	static const char *const reserved[] = {"content-length", "host", "transfer-encoding",
	                                       "expect", NULL};
	const char *name;
	json_t *v;
	rc = 0;
	json_object_foreach(o, name, v)
	{
		const char *s = json_string_value(v);
		int is_reserved = !strncasecmp(name, "x-jobvisor-", 11);
		for (const char *const *r = reserved; *r; r++)
			is_reserved |= !strcasecmp(name, *r);
		if (!jvp_header_name_ok(name))
			rc = host->config_error(w->inst, "headers",
			                        "'%.64s' is not a valid header name", name);
		else if (is_reserved)
			rc = host->config_error(w->inst, "headers",
			                        "%s: is set by the plugin itself", name);
		else if (!json_is_string(v))
			rc = host->config_error(w->inst, "headers", "%s: must be a string", name);
		else if (strlen(s) != json_string_length(v) || strpbrk(s, "\r\n"))
			rc = host->config_error(w->inst, "headers",
			                        "%s: must not contain CR, LF or NUL", name);
		if (rc)
			break;
		w->user_agent_given |= !strcasecmp(name, "user-agent");
		w->content_type_given |= !strcasecmp(name, "content-type");
		if (jvp_header_append(&w->extra, name, s)) {
			rc = JV_HOST_ENOMEM;
			break;
		}
	}
	json_decref(o);
	return rc;
}

static int webhook_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	CURLcode grc = jvp_curl_global_init();
	if (grc != CURLE_OK) {
		host->log(inst, JV_LOG_ERROR, "curl_global_init failed: %s",
		          curl_easy_strerror(grc));
		return JV_HOST_EINVAL;
	}
	struct webhook *w = calloc(1, sizeof *w);
	if (!w) {
		host->log(inst, JV_LOG_ERROR, "out of memory");
		return JV_HOST_ENOMEM;
	}
	w->host = host;
	w->inst = inst;
	w->timeout_ms = WEBHOOK_DEFAULT_TIMEOUT_MS;
	snprintf(w->method, sizeof w->method, "POST");

	int64_t secs = 0;
	int rc = host->config_int(inst, "timeout_seconds", &secs);
	if (rc == 0 && secs > 0)
		w->timeout_ms = secs * 1000;
	else if (rc != 0 && rc != JV_HOST_ENOENT)
		goto fail;
	if ((rc = webhook_config_url(w)))
		goto fail;
	rc = host->config_string(inst, "secret", &w->secret);
	if (rc == JV_HOST_ENOENT)
		w->secret = NULL;
	else if (rc)
		goto fail;
	else if (!*w->secret) { /* "${WEBHOOK_SECRET:-}" with the variable unset */
		host->log(inst, JV_LOG_WARNING, "secret is empty: alerts are sent unsigned");
		w->secret = NULL;
	}
	const char *method = NULL;
	rc = host->config_string(inst, "method", &method);
	if (rc == 0) {
		if (strcasecmp(method, "POST") && strcasecmp(method, "PUT")) {
			rc = host->config_error(inst, "method", "must be POST or PUT");
			goto fail;
		}
		snprintf(w->method, sizeof w->method, "%s",
		         strcasecmp(method, "PUT") ? "POST" : "PUT");
	} else if (rc != JV_HOST_ENOENT) {
		goto fail;
	}
	if ((rc = webhook_config_headers(w)))
		goto fail;
	*state = w;
	return 0;
fail:
	webhook_free(w);
	return rc ? rc : JV_HOST_EINVAL;
}

static void webhook_destroy(void *state)
{
	webhook_free(state);
}

static const struct jv_plugin webhook_plugin = {
    JV_PLUGIN_HEADER,
    .kind = JV_PLUGIN_ALERT,
    .name = "webhook",
    .version = WEBHOOK_VERSION,
    .description = "sends alerts as JSON to any URL, signed with HMAC-SHA256",
    .config_keys = webhook_keys,
    .create = webhook_create,
    .destroy = webhook_destroy,
    .send = webhook_send,
};

JV_PLUGIN_ENTRY(webhook_plugin)

/*
 * slack.c -- the alert sink that posts to a Slack incoming webhook.
 *
 * Config keys of an instance (an entry under `alerts:`):
 *   webhook_url      required: the incoming webhook's https:// URL (http://
 *                    is accepted, with a warning unless the host is
 *                    127.0.0.1, ::1 or localhost). A secret: give it with
 *                    ${VAR} or webhook_url_file; it is never logged nor put
 *                    in an error ("the Slack webhook" stands for it).
 *   channel          optional: #channel or user to post to (only honoured by
 *                    legacy webhooks; app webhooks post to their own channel)
 *   username         optional: the name the message is posted under
 *   icon_emoji       optional: e.g. ":rotating_light:"
 *   mention          optional: mrkdwn put before the message on job_failed
 *                    and processor_down, e.g. "<!here>" or "<@U0123ABC>"
 *   timeout_seconds  (the host's own key) the request timeout, default 10 s;
 *                    never past the send's deadline
 *
 * The message: a `text` fallback (the title) and Block Kit `blocks`: a
 * header with the title (at most 150 characters), a section of fields
 * (event, job with its dashboard link, type, user, attempt, processor,
 * count when folded), the error in a code block, a context line with the
 * time (the time range when folded) and an "Open in dashboard" button when
 * the alert has a link. Fields that are absent are left out; text put in
 * mrkdwn has &, < and > escaped as Slack asks.
 *
 * Outcomes: 2xx is sent; 408, 429 and 5xx, connection errors and timeouts
 * are retried (Retry-After honoured, capped at one hour); any other status
 * (400 invalid_payload, 403 invalid_token, 404 no_service, ...) fails for
 * good with Slack's answer in the error, and so does a TLS certificate that
 * does not verify.
 *
 * Uses nothing but <jobvisor/plugin.h>, plugins/common (compiled in),
 * jansson, libcurl and libc. send() keeps its state on its own stack and
 * heap: thread-safe.
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#define SLACK_VERSION PACKAGE_VERSION
#else
#define SLACK_VERSION "0.1.0"
#endif

#include <jobvisor/plugin.h>

#include "common/buf.h"
#include "common/curlrun.h"
#include "common/httpresp.h"
#include "common/utf8.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SLACK_DEFAULT_TIMEOUT_MS 10000
#define SLACK_BODY_KEEP          1024 /* bytes of the answer kept for errors */
#define SLACK_ERROR_BODY_BYTES   200  /* bytes of it shown in an error */
#define SLACK_HEADER_MAX         150  /* characters of a header block's text */
#define SLACK_ERROR_MAX          2900 /* bytes of the error's section text */
#define SLACK_FIELD_MAX          1900 /* bytes of one field (Slack: 2000) */
#define SLACK_TEXT_MAX           3000 /* bytes of the fallback text */
#define SLACK_URL_MAX            3000 /* Slack's limit for a button's url */

struct slack {
	const struct jv_host *host;
	struct jv_instance *inst;
	const char *url;        /* host-owned; a secret */
	const char *channel;    /* host-owned, or NULL */
	const char *username;   /* host-owned, or NULL */
	const char *icon_emoji; /* host-owned, or NULL */
	const char *mention;    /* host-owned, or NULL */
	int64_t timeout_ms;
};

static const char *const slack_keys[] = {"webhook_url", "channel", "username",
                                         "icon_emoji",  "mention", NULL};

/* The response headers kept. */
static const char *const slack_resp_keep[] = {"retry-after", NULL};

/* --------------------------------------------------------------- helpers */

enum {
	SLACK_ESCAPE = 1, /* &, <, > as &amp; &lt; &gt; (mrkdwn text) */
	SLACK_CODE = 2,   /* backticks next to another one or to an end as U+02CB,
	                   * so the text cannot close its code block */
	SLACK_CHARS = 4,  /* max counts characters, not bytes */
};

/*
 * Append s to b as valid UTF-8 (a byte that starts no character becomes
 * U+FFFD; NUL ends s), transformed as flags say. At most max bytes (or
 * characters, with SLACK_CHARS) are added: when s does not fit it is cut
 * before a whole character or entity and "…" ends it, within max.
 */
static void slack_put(struct jvp_buf *b, const char *s, size_t max, int flags)
{
	const unsigned char *start = (const unsigned char *)s, *p = start, *end = p + strlen(s);
	size_t used = 0, mark = b->len;
	while (p < end) {
		char tmp[8];
		const char *piece = tmp;
		size_t n = jvp_utf8_char_len(p, end), step = n ? n : 1;
		if (!n)
			piece = "\xef\xbf\xbd", n = 3;
		else if ((flags & SLACK_ESCAPE) && *p == '&')
			piece = "&amp;", n = 5;
		else if ((flags & SLACK_ESCAPE) && *p == '<')
			piece = "&lt;", n = 4;
		else if ((flags & SLACK_ESCAPE) && *p == '>')
			piece = "&gt;", n = 4;
		else if ((flags & SLACK_CODE) && *p == '`' &&
		         (p == start || p[-1] == '`' || p + 1 == end || p[1] == '`'))
			piece = "\xcb\x8b", n = 2;
		else
			memcpy(tmp, p, n);
		size_t units = (flags & SLACK_CHARS) ? 1 : n;
		if (used + units > max) {
			b->len = mark; /* the last place "…" fits */
			if (b->data)
				b->data[b->len] = '\0';
			if (max >= ((flags & SLACK_CHARS) ? 1u : 3u))
				jvp_buf_adds(b, "\xe2\x80\xa6");
			return;
		}
		jvp_buf_add(b, piece, n);
		used += units;
		if (used + ((flags & SLACK_CHARS) ? 1 : 3) <= max)
			mark = b->len;
		p += step;
	}
}

/* A fresh copy of s made valid UTF-8 (see slack_put), or NULL on OOM. */
static char *slack_clean(const char *s, size_t max, int flags)
{
	struct jvp_buf b = {0};
	jvp_buf_add(&b, "", 0);
	slack_put(&b, s, max, flags);
	if (b.oom) {
		free(b.data);
		return NULL;
	}
	return b.data;
}

/* "2026-11-29 01:30:55 UTC" */
static void slack_fmt_time(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Slack's date token, shown in the reader's own time zone:
 * "<!date^SECONDS^{date_short_pretty} {time_secs}|FALLBACK>". */
static void slack_add_date(struct jvp_buf *b, int64_t ms)
{
	char fallback[40], tok[160];
	slack_fmt_time(fallback, sizeof fallback, ms);
	snprintf(tok, sizeof tok, "<!date^%lld^{date_short_pretty} {time_secs}|%s>",
	         (long long)(ms / 1000), fallback);
	jvp_buf_adds(b, tok);
}

/* A URL made safe inside a mrkdwn <URL|text>: '|', '<', '>' and spaces
 * percent-encoded, '&' as &amp;. */
static void slack_add_link_url(struct jvp_buf *b, const char *url)
{
	for (const char *p = url; *p; p++) {
		char tmp[8];
		switch (*p) {
		case '|':
		case '<':
		case '>':
		case ' ':
			snprintf(tmp, sizeof tmp, "%%%02X", (unsigned)(unsigned char)*p);
			jvp_buf_adds(b, tmp);
			break;
		case '&':
			jvp_buf_adds(b, "&amp;");
			break;
		default:
			jvp_buf_add(b, p, 1);
		}
	}
}

/* Add a mrkdwn field "*LABEL*\nVALUE" (value already mrkdwn) to fields. */
static void slack_field(json_t *fields, const char *label, struct jvp_buf *value)
{
	if (value->oom || !value->data)
		return;
	char *text = NULL;
	size_t n = strlen(label) + value->len + 8;
	if ((text = malloc(n))) {
		snprintf(text, n, "*%s*\n%s", label, value->data);
		json_array_append_new(fields,
		                      json_pack("{s:s, s:s}", "type", "mrkdwn", "text", text));
		free(text);
	}
	value->len = 0;
	value->data[0] = '\0';
}

/* The field value of plain text s (escaped, bounded). */
static void slack_value(struct jvp_buf *v, const char *s)
{
	slack_put(v, s, SLACK_FIELD_MAX, SLACK_ESCAPE);
}

/* --------------------------------------------------------------- message */

/* The message for alert a as JSON text (fresh; the caller frees it), or
 * NULL on OOM. */
static char *slack_message(const struct slack *s, const struct jv_alert *a)
{
	json_t *aj = json_loads(a->json, 0, NULL); /* for what the struct lacks */
	json_t *job = json_object_get(aj, "job");
	json_int_t max_attempts = json_integer_value(json_object_get(job, "max_attempts"));
	json_int_t first_id = json_integer_value(json_object_get(aj, "first_job_id"));
	json_int_t last_id = json_integer_value(json_object_get(aj, "last_job_id"));
	int mention = s->mention && *s->mention &&
	              (!strcmp(a->event, "job_failed") || !strcmp(a->event, "processor_down"));
	const char *link = a->link && *a->link ? a->link : NULL;
	char num[96];

	json_t *msg = json_object(), *blocks = json_array(), *fields = json_array();
	struct jvp_buf t = {0}, v = {0};
	char *out = NULL;
	if (!msg || !blocks || !fields)
		goto done;

	/* text: the fallback for notifications */
	if (mention) {
		slack_put(&t, s->mention, 500, 0);
		jvp_buf_adds(&t, " ");
	}
	slack_put(&t, a->title, SLACK_TEXT_MAX - 510, SLACK_ESCAPE);
	if (t.oom)
		goto done;
	json_object_set_new(msg, "text", json_string(t.data));
	if (s->channel)
		json_object_set_new(msg, "channel", json_string(s->channel));
	if (s->username)
		json_object_set_new(msg, "username", json_string(s->username));
	if (s->icon_emoji)
		json_object_set_new(msg, "icon_emoji", json_string(s->icon_emoji));

	/* header: the title as plain text */
	char *title = slack_clean(a->title, SLACK_HEADER_MAX, SLACK_CHARS);
	if (!title)
		goto done;
	json_array_append_new(blocks,
	                      json_pack("{s:s, s:{s:s, s:s, s:b}}", "type", "header", "text",
	                                "type", "plain_text", "text", title, "emoji", 1));
	free(title);

	/* the fields */
	jvp_buf_add(&v, "", 0);
	jvp_buf_adds(&v, "`");
	slack_value(&v, a->event);
	jvp_buf_adds(&v, "`");
	slack_field(fields, "Event", &v);
	if (a->job_id > 0) {
		snprintf(num, sizeof num, "#%lld", (long long)a->job_id);
		if (link && strlen(link) <= SLACK_URL_MAX) {
			jvp_buf_adds(&v, "<");
			slack_add_link_url(&v, link);
			jvp_buf_adds(&v, "|");
			jvp_buf_adds(&v, num);
			jvp_buf_adds(&v, ">");
		} else {
			jvp_buf_adds(&v, num);
		}
		slack_field(fields, "Job", &v);
	} else if (first_id > 0 && last_id > 0) {
		snprintf(num, sizeof num, "#%lld \xe2\x80\xa6 #%lld", (long long)first_id,
		         (long long)last_id);
		jvp_buf_adds(&v, num);
		slack_field(fields, "Jobs", &v);
	}
	if (a->job_type && *a->job_type) {
		slack_value(&v, a->job_type);
		slack_field(fields, "Type", &v);
	}
	if (a->user_id && *a->user_id) {
		slack_value(&v, a->user_id);
		slack_field(fields, "User", &v);
	}
	if (a->attempt > 0) {
		if (max_attempts > 0)
			snprintf(num, sizeof num, "%d of %lld", a->attempt,
			         (long long)max_attempts);
		else
			snprintf(num, sizeof num, "%d", a->attempt);
		jvp_buf_adds(&v, num);
		slack_field(fields, "Attempt", &v);
	}
	if (a->processor && *a->processor) {
		slack_value(&v, a->processor);
		slack_field(fields, "Processor", &v);
	}
	if (a->count > 1) {
		snprintf(num, sizeof num, "%u", a->count);
		jvp_buf_adds(&v, num);
		slack_field(fields, "Count", &v);
	}
	json_t *section = json_pack("{s:s, s:O}", "type", "section", "fields", fields);
	if (section && mention) {
		slack_put(&v, s->mention, 500, 0);
		json_object_set_new(
		    section, "text",
		    json_pack("{s:s, s:s}", "type", "mrkdwn", "text", v.data ? v.data : ""));
		v.len = 0;
	}
	json_array_append_new(blocks, section);

	/* the error, in a code block */
	if (a->error && *a->error) {
		v.len = 0;
		jvp_buf_adds(&v, "*Error*\n```");
		slack_put(&v, a->error, SLACK_ERROR_MAX - 16, SLACK_ESCAPE | SLACK_CODE);
		jvp_buf_adds(&v, "```");
		if (!v.oom)
			json_array_append_new(blocks,
			                      json_pack("{s:s, s:{s:s, s:s}}", "type", "section",
			                                "text", "type", "mrkdwn", "text", v.data));
	}

	/* when: the time, or the range of a folded alert */
	if (a->first_at_ms > 0) {
		v.len = 0;
		if (a->count > 1) {
			snprintf(num, sizeof num, "%u alerts from ", a->count);
			jvp_buf_adds(&v, num);
			slack_add_date(&v, a->first_at_ms);
			jvp_buf_adds(&v, " to ");
			slack_add_date(&v, a->last_at_ms > 0 ? a->last_at_ms : a->first_at_ms);
		} else {
			slack_add_date(&v, a->first_at_ms);
		}
		if (!v.oom)
			json_array_append_new(blocks, json_pack("{s:s, s:[{s:s, s:s}]}", "type",
			                                        "context", "elements", "type",
			                                        "mrkdwn", "text", v.data));
	}

	/* the dashboard */
	if (link) {
		char *url = slack_clean(link, SLACK_URL_MAX, 0);
		if (url && strlen(url) == strlen(link)) /* a button needs it whole */
			json_array_append_new(blocks,
			                      json_pack("{s:s, s:[{s:s, s:{s:s, s:s}, s:s}]}",
			                                "type", "actions", "elements", "type",
			                                "button", "text", "type", "plain_text",
			                                "text", "Open in dashboard", "url", url));
		free(url);
	}
	json_object_set(msg, "blocks", blocks);
	if (!v.oom && !t.oom)
		out = json_dumps(msg, JSON_COMPACT);
done:
	free(t.data);
	free(v.data);
	json_decref(fields);
	json_decref(blocks);
	json_decref(msg);
	json_decref(aj);
	return out;
}

/* ------------------------------------------------------------------ send */

/* Slack's answer, made one short line of valid text, into buf. */
static void slack_excerpt(const struct jvp_resp *rs, char *buf, size_t size)
{
	char raw[SLACK_BODY_KEEP + 1];
	size_t len = rs->body.data ? rs->body.len : 0;
	memcpy(raw, len ? rs->body.data : "", len);
	raw[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
			raw[i] = ' ';
	struct jvp_buf b = {0};
	slack_put(&b, raw, size - 1 < SLACK_ERROR_BODY_BYTES ? size - 1 : SLACK_ERROR_BODY_BYTES,
	          0);
	size_t n = b.data && !b.oom ? b.len : 0;
	while (n > 0 && b.data[n - 1] == ' ')
		n--;
	size_t start = 0;
	while (start < n && b.data[start] == ' ')
		start++;
	memcpy(buf, n ? b.data + start : "", n - start);
	buf[n - start] = '\0';
	free(b.data);
}

static int slack_send(void *state, const struct jv_alert *alert, struct jv_run *run)
{
	const struct slack *s = state;
	const struct jv_host *host = s->host;
	char *body = slack_message(s, alert);
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct jvp_resp rs = {
	    .watch = {host, run}, .body_max = SLACK_BODY_KEEP, .keep = slack_resp_keep};
	int rc = JV_RETRY;
	if (!body || !c) {
		host->error(run, "slack: out of memory");
		goto out;
	}
	static const char *const headers[] = {"Content-Type: application/json; charset=utf-8",
	                                      "User-Agent: jobvisor-slack/" SLACK_VERSION,
	                                      "Expect:", NULL};
	for (const char *const *h = headers; *h; h++) {
		if (jvp_slist_append(&hl, *h)) {
			host->error(run, "slack: out of memory");
			goto out;
		}
	}
	int64_t limit = host->remaining_ms(run);
	if (limit > s->timeout_ms)
		limit = s->timeout_ms;
	if (limit <= 0 || host->cancelled(run)) {
		host->error(run, "slack: %s before the request was sent",
		            limit <= 0 ? "out of time" : "cancelled");
		goto out;
	}
	jvp_curl_http_setup(c, s->url, limit, 1);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	jvp_resp_attach(c, &rs);

	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		host->error(run, "slack: cancelled while posting to the Slack webhook");
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		host->error(run, "slack: the Slack webhook did not answer within %lld ms",
		            (long long)limit);
		goto out;
	}
	if (cc != CURLE_OK) {
		/* curl_easy_strerror() names no URL: the secret stays out */
		host->error(run, "slack: could not post to the Slack webhook: %s",
		            curl_easy_strerror(cc));
		rc = jvp_curl_permanent(cc) ? JV_FAIL : JV_RETRY;
		goto out;
	}
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	char excerpt[SLACK_ERROR_BODY_BYTES + 8];
	slack_excerpt(&rs, excerpt, sizeof excerpt);
	char line[SLACK_ERROR_BODY_BYTES + 64];
	int n = snprintf(line, sizeof line, "the Slack webhook answered %ld%s%s", status,
	                 excerpt[0] ? ": " : "", excerpt);
	if (n > 0)
		host->output(run, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	if (status >= 200 && status <= 299) {
		rc = JV_SUCCESS;
		goto out;
	}
	if (status == 408 || status == 429 || status >= 500) {
		int64_t after = jvp_retry_after_ms(jvp_resp_header(&rs, "retry-after"), time(NULL));
		if (after >= 0) {
			host->retry_in(run, after);
			host->error(run, "slack: %s (retry in %lld s)", line,
			            (long long)((after + 999) / 1000));
		} else {
			host->error(run, "slack: %s", line);
		}
		rc = JV_RETRY;
		goto out;
	}
	const char *hint = status >= 300 && status <= 399 ? " (redirects are not followed)"
	                   : status == 404 || status == 403 || status == 410
	                       ? " (is the webhook URL right, and the webhook still enabled?)"
	                       : "";
	host->error(run, "slack: %s%s", line, hint);
	rc = JV_FAIL;
out:
	curl_slist_free_all(hl);
	if (c)
		curl_easy_cleanup(c);
	jvp_resp_free(&rs);
	free(body);
	return rc;
}

/* ---------------------------------------------------------------- create */

/* Is text an http(s) URL with a host? *local: the host is a loopback one.
 * Returns NULL, or why not (a message that does not quote the URL). */
static const char *slack_check_url(const char *text, int *https, int *local)
{
	const char *why = NULL;
	char *scheme = NULL, *hostname = NULL;
	CURLU *u = curl_url();
	if (!u)
		return "out of memory";
	if (!*text)
		why = "must not be empty";
	else if (curl_url_set(u, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		why = "is not a valid absolute URL";
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
	         (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")))
		why = "must be an https:// (or http://) URL";
	else if (curl_url_get(u, CURLUPART_HOST, &hostname, 0) != CURLUE_OK || !hostname ||
	         !*hostname)
		why = "has no host";
	if (!why) {
		*https = !strcasecmp(scheme, "https");
		*local = !strcasecmp(hostname, "localhost") || !strcmp(hostname, "127.0.0.1") ||
		         !strcmp(hostname, "[::1]");
	}
	curl_free(scheme);
	curl_free(hostname);
	curl_url_cleanup(u);
	return why;
}

/* An optional string key into *out; 0, or non-zero after an error. */
static int slack_opt_string(struct slack *s, const char *key, const char **out)
{
	int rc = s->host->config_string(s->inst, key, out);
	if (rc == JV_HOST_ENOENT) {
		*out = NULL;
		return 0;
	}
	if (rc)
		return rc;
	if (strpbrk(*out, "\r\n"))
		return s->host->config_error(s->inst, key, "must be one line");
	if (!**out)
		*out = NULL;
	return 0;
}

static int slack_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	CURLcode grc = jvp_curl_global_init();
	if (grc != CURLE_OK) {
		host->log(inst, JV_LOG_ERROR, "curl_global_init failed: %s",
		          curl_easy_strerror(grc));
		return JV_HOST_EINVAL;
	}
	struct slack *s = calloc(1, sizeof *s);
	if (!s) {
		host->log(inst, JV_LOG_ERROR, "out of memory");
		return JV_HOST_ENOMEM;
	}
	s->host = host;
	s->inst = inst;
	s->timeout_ms = SLACK_DEFAULT_TIMEOUT_MS;

	int64_t secs = 0;
	int rc = host->config_int(inst, "timeout_seconds", &secs);
	if (rc == 0 && secs > 0)
		s->timeout_ms = secs * 1000;
	else if (rc != 0 && rc != JV_HOST_ENOENT)
		goto fail;
	rc = host->config_string(inst, "webhook_url", &s->url);
	if (rc == JV_HOST_ENOENT) {
		rc = host->config_error(inst, NULL,
		                        "webhook_url is required (the Slack incoming webhook's "
		                        "URL; give it with ${VAR} or webhook_url_file)");
		goto fail;
	}
	if (rc)
		goto fail;
	int https = 0, local = 0;
	const char *why = slack_check_url(s->url, &https, &local);
	if (why) {
		rc = host->config_error(inst, "webhook_url", "%s", why);
		goto fail;
	}
	if ((rc = slack_opt_string(s, "channel", &s->channel)) ||
	    (rc = slack_opt_string(s, "username", &s->username)) ||
	    (rc = slack_opt_string(s, "icon_emoji", &s->icon_emoji)) ||
	    (rc = slack_opt_string(s, "mention", &s->mention)))
		goto fail;
	if (!https && !local)
		host->log(inst, JV_LOG_WARNING,
		          "the Slack webhook is not an https:// URL: alerts and the webhook's "
		          "token travel unencrypted");
	*state = s;
	return 0;
fail:
	free(s);
	return rc ? rc : JV_HOST_EINVAL;
}

static void slack_destroy(void *state)
{
	free(state);
}

static const struct jv_plugin slack_plugin = {
    JV_PLUGIN_HEADER,
    .kind = JV_PLUGIN_ALERT,
    .name = "slack",
    .version = SLACK_VERSION,
    .description = "posts alerts to a Slack incoming webhook (Block Kit)",
    .config_keys = slack_keys,
    .create = slack_create,
    .destroy = slack_destroy,
    .send = slack_send,
};

JV_PLUGIN_ENTRY(slack_plugin)

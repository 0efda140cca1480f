/*
 * httpresp.c -- receiving an HTTP response into a plugin (see httpresp.h).
 */
#include "common/httpresp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void jvp_resp_attach(CURL *c, struct jvp_resp *rs)
{
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, jvp_resp_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, jvp_resp_on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	jvp_curl_watch(c, &rs->watch);
}

size_t jvp_resp_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct jvp_resp *rs = userdata;
	size_t n = size * nmemb;
	size_t room = rs->body_max > rs->body.len ? rs->body_max - rs->body.len : 0;
	size_t take = n < room ? n : room;
	if (take) {
		jvp_buf_add(&rs->body, data, take);
		if (rs->body.oom && rs->stop_at_max)
			return 0; /* curl: CURLE_WRITE_ERROR, truncated not set */
	}
	/* cppcheck-suppress knownConditionTrueFalse ; 2.10 misreads x = a < b ? a : b */
	if (take < n) {
		rs->truncated = 1;
		if (rs->stop_at_max)
			return take; /* stop the transfer: CURLE_WRITE_ERROR */
	}
	return n; /* the rest is read and dropped */
}

static void jvp_resp_forget_headers(struct jvp_resp *rs)
{
	for (size_t i = 0; i < rs->n_headers; i++)
		free(rs->headers[i].value);
	rs->n_headers = 0;
	rs->reason[0] = '\0';
}

/* The reason phrase of the status line data[0..n) into rs->reason. */
static void jvp_resp_status_line(struct jvp_resp *rs, const char *data, size_t n)
{
	const char *sp = memchr(data, ' ', n);
	const char *sp2 = sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 - data)) : NULL;
	if (!sp2)
		return;
	const char *r = sp2 + 1, *end = data + n;
	size_t j = 0;
	for (size_t i = 0; r + i < end && i < sizeof rs->reason - 1; i++) {
		unsigned char c = (unsigned char)r[i];
		if (c == '\r' || c == '\n')
			break;
		if (c >= 0x20 && c < 0x7f)
			rs->reason[j++] = (char)c;
	}
	rs->reason[j] = '\0';
}

/* Keep value v[0..len) of the header named *k. */
static void jvp_resp_keep(struct jvp_resp *rs, const char *k, const char *v, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return; /* a header of interest goes missing; the transfer goes on */
	memcpy(copy, v, len);
	copy[len] = '\0';
	for (size_t i = 0; i < rs->n_headers; i++) {
		if (rs->headers[i].name == k) {
			free(rs->headers[i].value);
			rs->headers[i].value = copy;
			rs->headers[i].len = len;
			return;
		}
	}
	if (rs->n_headers == JVP_RESP_HEADERS_MAX) {
		free(copy);
		return;
	}
	rs->headers[rs->n_headers++] = (struct jvp_resp_header){k, copy, len};
}

size_t jvp_resp_on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct jvp_resp *rs = userdata;
	size_t n = size * nmemb;
	if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* A new response (after a 1xx, say): forget the last one's. */
		jvp_resp_forget_headers(rs);
		jvp_resp_status_line(rs, data, n);
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon || !rs->keep)
		return n;
	size_t nl = (size_t)(colon - data);
	for (size_t i = 0; i < JVP_RESP_HEADERS_MAX && rs->keep[i]; i++) {
		const char *k = rs->keep[i];
		if (strlen(k) != nl || strncasecmp(k, data, nl))
			continue;
		const char *v = colon + 1, *end = data + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v &&
		       (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		jvp_resp_keep(rs, k, v, (size_t)(end - v));
		break;
	}
	return n;
}

const char *jvp_resp_header(const struct jvp_resp *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_headers; i++)
		if (!strcmp(rs->headers[i].name, name))
			return rs->headers[i].value;
	return NULL;
}

void jvp_resp_reset(struct jvp_resp *rs)
{
	jvp_resp_forget_headers(rs);
	jvp_buf_clear(&rs->body);
	rs->body.oom = 0;
	rs->truncated = 0;
}

void jvp_resp_free(struct jvp_resp *rs)
{
	jvp_resp_reset(rs);
	jvp_buf_free(&rs->body);
}

int64_t jvp_retry_after_ms(const char *value, time_t now)
{
	if (!value || !*value)
		return -1;
	int64_t ms;
	size_t len = strlen(value);
	if (strspn(value, "0123456789") == len) {
		ms = len > 7 ? JVP_RETRY_AFTER_CAP_MS : strtoll(value, NULL, 10) * 1000;
	} else {
		time_t t = curl_getdate(value, NULL);
		if (t == (time_t)-1)
			return -1;
		ms = ((int64_t)t - (int64_t)now) * 1000;
		if (ms < 0)
			ms = 0;
	}
	return ms > JVP_RETRY_AFTER_CAP_MS ? JVP_RETRY_AFTER_CAP_MS : ms;
}

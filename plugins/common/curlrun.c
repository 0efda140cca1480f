/*
 * curlrun.c -- libcurl glue of the plugins (see curlrun.h).
 */
#include "common/curlrun.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t jvp_curl_once = PTHREAD_ONCE_INIT;
static CURLcode jvp_curl_global_rc = CURLE_FAILED_INIT;

static void jvp_curl_global_init_once(void)
{
	jvp_curl_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURLcode jvp_curl_global_init(void)
{
	pthread_once(&jvp_curl_once, jvp_curl_global_init_once);
	return jvp_curl_global_rc;
}

static int jvp_curl_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	const struct jvp_watch *w = userdata;
	return w->host->cancelled(w->run) ? 1 : 0;
}

void jvp_curl_watch(CURL *c, struct jvp_watch *w)
{
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, jvp_curl_on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

void jvp_curl_timeout(CURL *c, int64_t ms)
{
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(ms > 2000000000 ? 2000000000 : ms));
}

void jvp_curl_http_setup(CURL *c, const char *url, int64_t timeout_ms, int verify_tls)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	jvp_curl_timeout(c, timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify_tls ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify_tls ? 2L : 0L);
}

int jvp_curl_permanent(CURLcode c)
{
	switch (c) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return 1;
	default:
		return 0;
	}
}

int jvp_header_name_ok(const char *name)
{
	if (!*name)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (!isalnum(*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return 0;
	return 1;
}

int jvp_slist_append(struct curl_slist **list, const char *line)
{
	struct curl_slist *t = curl_slist_append(*list, line);
	if (!t)
		return -1;
	*list = t;
	return 0;
}

int jvp_header_append(struct curl_slist **list, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *line = malloc(n);
	if (!line)
		return -1;
	if (*value)
		snprintf(line, n, "%s: %s", name, value);
	else
		snprintf(line, n, "%s;", name);
	int rc = jvp_slist_append(list, line);
	free(line);
	return rc;
}

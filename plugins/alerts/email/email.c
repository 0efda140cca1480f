/*
 * email.c -- the alert sink that mails an alert through an SMTP server with
 * libcurl.
 *
 * Config keys of an instance (an entry under `alerts:` with plugin: email):
 *   smtp_url        required: smtp://HOST[:PORT] (default port 25, STARTTLS
 *                   per `starttls`) or smtps://HOST[:PORT] (TLS from the
 *                   first byte, default port 465). No user, password,
 *                   path, query or fragment.
 *   from            required: "addr@domain" or "Name <addr@domain>"
 *   to              required: one address or a list (same forms as from)
 *   cc              optional list of addresses
 *   username        optional SMTP login (AUTH PLAIN/LOGIN/... as curl
 *   password        picks); both or neither. ${VAR} and password_file
 *                   work through the host. Never logged.
 *   starttls        auto (default: upgrade when the server offers it),
 *                   always (fail when it does not), never
 *   subject_prefix  default "[jobvisor] "
 *   verify_tls      bool, default true
 *   helo_domain     the name sent in EHLO (default: curl's choice)
 * The host's own timeout_seconds bounds each send (curl's timeout is the
 * run's remaining time, at most 30 s).
 *
 * The message: RFC 5322 headers (Date in UTC, Message-ID, From, To, Cc,
 * Subject = prefix + title, RFC 2047-encoded when not plain ASCII, MIME
 * headers, Auto-Submitted, X-Jobvisor-Event), a text/plain UTF-8 body made
 * of the alert's text (8bit; quoted-printable when a line is too long for
 * SMTP). CRLF line endings throughout; curl does the dot-stuffing.
 *
 * Outcomes: delivered -> success. A 4xx reply, connection refused, DNS
 * failure, timeouts, a dropped connection -> retry. A 5xx reply (rejected
 * recipient, failed login), a certificate that does not verify, or a
 * server without STARTTLS under `starttls: always` -> fail for good. Errors
 * name the SMTP reply; never the password.
 *
 * Uses nothing but <jobvisor/plugin.h>, plugins/common (compiled in),
 * libcurl and libc. send() keeps its state on its own stack and heap; the
 * instance is read-only after create().
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#define EMAIL_VERSION PACKAGE_VERSION
#else
#define EMAIL_VERSION "0.1.0"
#endif

#include <jobvisor/plugin.h>

#include "common/buf.h"
#include "common/curlrun.h"
#include "common/utf8.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define EMAIL_DEFAULT_TIMEOUT_MS 30000
#define EMAIL_DEFAULT_PREFIX     "[jobvisor] "
#define EMAIL_MAX_LINE           998 /* RFC 5322 2.1.1, without the CRLF */
#define EMAIL_FOLD_AT            78  /* where header lines are folded when possible */
#define EMAIL_REPLY_MAX          200 /* bytes of a server reply kept for errors */

/* One parsed address: the addr-spec, and the display name or NULL. */
struct email_addr {
	char *addr;
	char *name;
};

struct email {
	const struct jv_host *host;
	struct jv_instance *inst;
	char *url;   /* what curl connects to (helo_domain as the path) */
	char *shown; /* scheme://host:port, for output and errors */
	struct email_addr from;
	struct email_addr *rcpt; /* to, then cc */
	size_t n_to, n_cc;
	const char *username, *password; /* host-owned, NULL when unset */
	long use_ssl;                    /* CURLUSESSL_* */
	int verify_tls;
	const char *prefix; /* host-owned or the default */
	int64_t timeout_ms;
	const char *msgid_domain; /* points into from.addr */
};

static const char *const email_keys[] = {"smtp_url",   "from",        "to",       "cc",
                                         "username",   "password",    "starttls", "subject_prefix",
                                         "verify_tls", "helo_domain", NULL};

/* --------------------------------------------------------------- helpers */

static unsigned long email_seq; /* Message-ID uniqueness within the process */

static int64_t email_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int email_is_ascii_text(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80 || (*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

static void email_base64(struct jvp_buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
		             i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
		jvp_buf_add(b, q, 4);
	}
}

/*
 * Append text as header content, the header's line so far being col bytes
 * long: as is when it is plain ASCII (folded at spaces to keep lines short),
 * else as RFC 2047 encoded words of whole UTF-8 characters, one per line.
 * Control characters (CR and LF included) become spaces first.
 */
static void email_header_text(struct jvp_buf *b, const char *text, size_t col)
{
	char *s = strdup(text);
	if (!s) {
		b->oom = 1;
		return;
	}
	/* control characters become spaces, and runs of spaces one */
	char *o = s;
	for (const char *p = s; *p; p++) {
		char ch = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
		if (ch != ' ' || o == s || o[-1] != ' ')
			*o++ = ch;
	}
	*o = '\0';
	int plain = email_is_ascii_text(s) && !strstr(s, "=?");
	/* a plain word too long for one line also needs encoding */
	for (const char *p = s; plain && *p;) {
		size_t w = strcspn(p, " ");
		if (w > EMAIL_MAX_LINE - 20)
			plain = 0;
		p += w;
		p += strspn(p, " ");
	}
	if (plain) {
		const char *p = s;
		while (*p) {
			size_t sp = strspn(p, " ");
			size_t w = strcspn(p + sp, " ");
			/* fold before a word that would run past the soft limit */
			if (col > 1 && sp > 0 && col + sp + w > EMAIL_FOLD_AT) {
				jvp_buf_adds(b, "\r\n");
				col = 0;
			}
			jvp_buf_add(b, p, sp + w);
			col += sp + w;
			p += sp + w;
		}
	} else {
		const unsigned char *p = (const unsigned char *)s;
		size_t n = strlen(s);
		int first = 1;
		while (n > 0) {
			/* 45 bytes -> 60 base64 chars: a 72-char encoded word */
			size_t chunk = jvp_utf8_cut((const char *)p, n, 45);
			if (!first) /* one encoded word per line */
				jvp_buf_adds(b, "\r\n ");
			jvp_buf_adds(b, "=?UTF-8?B?");
			email_base64(b, p, chunk);
			jvp_buf_adds(b, "?=");
			p += chunk;
			n -= chunk;
			first = 0;
		}
	}
	free(s);
}

/* "Name <addr>" (the name quoted or encoded as needed) or "addr". */
static void email_header_addr(struct jvp_buf *b, const struct email_addr *a, size_t col)
{
	if (!a->name || !*a->name) {
		jvp_buf_adds(b, a->addr);
		return;
	}
	if (!email_is_ascii_text(a->name)) {
		email_header_text(b, a->name, col);
	} else if (strpbrk(a->name, "()<>[]:;@\\,.\"")) {
		jvp_buf_adds(b, "\"");
		for (const char *p = a->name; *p; p++) {
			if (*p == '"' || *p == '\\')
				jvp_buf_adds(b, "\\");
			jvp_buf_add(b, p, 1);
		}
		jvp_buf_adds(b, "\"");
	} else {
		jvp_buf_adds(b, a->name);
	}
	jvp_buf_printf(b, " <%s>", a->addr);
}

/* "To: a, b, ..." folded between addresses. */
static void email_header_addrs(struct jvp_buf *b, const char *name, const struct email_addr *list,
                               size_t n)
{
	jvp_buf_printf(b, "%s: ", name);
	size_t line_start = b->len - strlen(name) - 2;
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			jvp_buf_adds(b, ",");
			size_t next =
			    strlen(list[i].addr) + (list[i].name ? strlen(list[i].name) + 3 : 0);
			if (b->len - line_start + 1 + next > EMAIL_FOLD_AT) {
				jvp_buf_adds(b, "\r\n");
				line_start = b->len;
			}
			jvp_buf_adds(b, " ");
		}
		email_header_addr(b, &list[i], b->len - line_start);
	}
	jvp_buf_adds(b, "\r\n");
}

/* "Sun, 29 Nov 2026 01:30:55 +0000", whatever the locale. */
static void email_date(char *out, size_t len, int64_t unix_ms)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
	         tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec);
}

static int64_t email_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does the body (LF or CRLF lines) have a line longer than SMTP allows? */
static int email_has_long_line(const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "\r\n");
		if (n > EMAIL_MAX_LINE)
			return 1;
		s += n;
		if (*s == '\r')
			s++;
		if (*s == '\n')
			s++;
	}
	return 0;
}

/* Append one line (without its end) quoted-printable, then CRLF. */
static void email_qp_line(struct jvp_buf *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		char enc[4];
		size_t el;
		unsigned char c = s[i];
		int last = i + 1 == n;
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
			enc[0] = (char)c;
			el = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			el = 3;
		}
		if (col + el > 75) { /* soft break: "=" ends a 76-char line */
			jvp_buf_adds(b, "=\r\n");
			col = 0;
		}
		jvp_buf_add(b, enc, el);
		col += el;
	}
	jvp_buf_adds(b, "\r\n");
}

/* Append text with every line end (LF, CRLF or CR) made CRLF, quoted-
 * printable when qp; a last line without an end gets one. */
static void email_body_text(struct jvp_buf *b, const char *s, int qp)
{
	while (*s) {
		size_t n = strcspn(s, "\r\n");
		if (qp) {
			email_qp_line(b, (const unsigned char *)s, n);
		} else {
			jvp_buf_add(b, s, n);
			jvp_buf_adds(b, "\r\n");
		}
		s += n;
		if (*s == '\r' && s[1] == '\n')
			s += 2;
		else if (*s)
			s++;
	}
}

/* ------------------------------------------------------------ addresses */

/* Parse "addr" or "Name <addr>" (a quoted name too) into a. 0, or -1 and
 * *why. The address must be ASCII, with one local part and a domain. */
static int email_parse_addr(const char *text, struct email_addr *a, const char **why)
{
	a->addr = a->name = NULL;
	if (strpbrk(text, "\r\n")) {
		*why = "must not contain a line break";
		return -1;
	}
	const char *s = text + strspn(text, " \t");
	size_t len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	const char *addr = s;
	size_t alen = len;
	if (len && s[len - 1] == '>') {
		const char *lt = NULL;
		for (const char *p = s; p < s + len; p++)
			if (*p == '<')
				lt = p;
		if (!lt) {
			*why = "has a '>' without '<': write addr@domain or Name <addr@domain>";
			return -1;
		}
		addr = lt + 1;
		alen = (size_t)(s + len - 1 - addr);
		size_t nlen = (size_t)(lt - s);
		while (nlen && (s[nlen - 1] == ' ' || s[nlen - 1] == '\t'))
			nlen--;
		const char *name = s;
		if (nlen >= 2 && name[0] == '"' && name[nlen - 1] == '"') {
			name++;
			nlen -= 2;
		}
		if (memchr(name, '<', nlen) || memchr(name, '>', nlen)) {
			*why = "must be addr@domain or Name <addr@domain>";
			return -1;
		}
		if (nlen) {
			a->name = strndup(name, nlen);
			if (!a->name) {
				*why = "out of memory";
				return -1;
			}
		}
	}
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\\\"", c)) {
			*why = c >= 0x7f ? "must be an ASCII address (internationalized addresses "
			                   "are not supported)"
			                 : "must be addr@domain or Name <addr@domain> (no spaces, "
			                   "quotes or <> in the address)";
			goto bad;
		}
		if (c == '@')
			at = addr + i;
	}
	if (!at || at == addr || at == addr + alen - 1) {
		*why = alen ? "is not an address: it needs a local part, '@' and a domain"
		            : "is empty";
		goto bad;
	}
	a->addr = strndup(addr, alen);
	if (!a->addr) {
		*why = "out of memory";
		goto bad;
	}
	return 0;
bad:
	free(a->name);
	a->name = NULL;
	return -1;
}

static void email_addr_free(struct email_addr *a)
{
	free(a->addr);
	free(a->name);
}

/* --------------------------------------------------------------- config */

static void email_free(struct email *e)
{
	if (!e)
		return;
	free(e->url);
	free(e->shown);
	email_addr_free(&e->from);
	for (size_t i = 0; e->rcpt && i < e->n_to + e->n_cc; i++)
		email_addr_free(&e->rcpt[i]);
	free(e->rcpt);
	free(e);
}

/* Is this libcurl able to speak SMTP (and SMTPS when tls)? */
static int email_curl_has(const char *proto)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	for (const char *const *p = v->protocols; p && *p; p++)
		if (!strcasecmp(*p, proto))
			return 1;
	return 0;
}

/* A host name usable in EHLO: letters, digits, '-', '.', or [an IP literal]. */
static int email_helo_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 255)
		return 0;
	if (s[0] == '[' && s[n - 1] == ']')
		return strspn(s + 1, "0123456789abcdefABCDEF.:") == n - 2 && n > 2;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n;
}

static int email_config_url(struct email *e)
{
	const struct jv_host *host = e->host;
	const char *text = NULL, *helo = NULL;
	int rc = host->config_string(e->inst, "smtp_url", &text);
	if (rc == JV_HOST_ENOENT)
		return host->config_error(
		    e->inst, NULL, "smtp_url is required (e.g. smtps://smtp.example.com:465)");
	if (rc)
		return rc;
	rc = host->config_string(e->inst, "helo_domain", &helo);
	if (rc && rc != JV_HOST_ENOENT)
		return rc;
	if (helo && !email_helo_ok(helo))
		return host->config_error(e->inst, "helo_domain",
		                          "must be a host name (letters, digits, '-', '.') or "
		                          "[an IP address]");

	CURLU *u = curl_url();
	char *scheme = NULL, *hostname = NULL, *port = NULL, *user = NULL, *pw = NULL, *path = NULL,
	     *query = NULL, *frag = NULL;
	const char *why = NULL;
	if (!u) {
		why = "out of memory";
		goto bad;
	}
	if (curl_url_set(u, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		why = "is not a valid URL: write smtp://HOST[:PORT] or smtps://HOST[:PORT]";
		goto bad;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
	    (strcasecmp(scheme, "smtp") && strcasecmp(scheme, "smtps"))) {
		why = "must be an smtp:// or smtps:// URL";
		goto bad;
	}
	if (!email_curl_has(scheme)) {
		why = !strcasecmp(scheme, "smtps") ? "this libcurl was built without SMTPS (TLS)"
		                                   : "this libcurl was built without SMTP";
		goto bad;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK) {
		why = "must not hold a user name or password: use the username and password "
		      "keys";
		goto bad;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		why = "must not have a ?query or #fragment";
		goto bad;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path && strcmp(path, "/") &&
	    *path) {
		why = "must not have a path (the EHLO name is set with helo_domain)";
		goto bad;
	}
	if (curl_url_get(u, CURLUPART_HOST, &hostname, 0) != CURLUE_OK || !hostname || !*hostname) {
		why = "has no host";
		goto bad;
	}
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	for (char *p = scheme; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	size_t n = strlen(scheme) + strlen(hostname) + (port ? strlen(port) : 0) + 8;
	e->shown = malloc(n);
	e->url = malloc(n + (helo ? strlen(helo) : 0) + 1);
	if (!e->shown || !e->url) {
		why = "out of memory";
		goto bad;
	}
	snprintf(e->shown, n, "%s://%s%s%s", scheme, hostname, port ? ":" : "", port ? port : "");
	snprintf(e->url, n + (helo ? strlen(helo) : 0) + 1, "%s/%s", e->shown, helo ? helo : "");
	if (!strcmp(scheme, "smtp") && e->password && e->use_ssl == CURLUSESSL_NONE)
		host->log(e->inst, JV_LOG_WARNING,
		          "smtp_url is plain smtp:// and starttls is never: the password goes "
		          "over the network in clear; use smtps:// or starttls: always");
	rc = 0;
	goto out;
bad:
	rc = host->config_error(e->inst, "smtp_url", "%s", why);
out:
	curl_free(scheme);
	curl_free(hostname);
	curl_free(port);
	curl_free(user);
	curl_free(pw);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

/* Parse the list under key into e->rcpt from index at; *n gets its length. */
static int email_config_rcpts(struct email *e, const char *key, size_t at, size_t *n, int required)
{
	const struct jv_host *host = e->host;
	const char *const *list = NULL;
	size_t len = 0;
	int rc = host->config_strings(e->inst, key, &list, &len);
	if (rc == JV_HOST_ENOENT) {
		if (required)
			return host->config_error(
			    e->inst, NULL, "%s is required: one address or a list of them", key);
		*n = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (required && len == 0)
		return host->config_error(e->inst, key, "must name at least one address");
	struct email_addr *r = realloc(e->rcpt, (at + len + 1) * sizeof *r);
	if (!r)
		return JV_HOST_ENOMEM;
	e->rcpt = r;
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		const char *why = NULL;
		if (email_parse_addr(list[i], &e->rcpt[at + i], &why))
			return host->config_error(e->inst, key, "'%s' %s", list[i], why);
		*n = i + 1;
	}
	return 0;
}

static int email_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	CURLcode grc = jvp_curl_global_init();
	if (grc != CURLE_OK) {
		host->log(inst, JV_LOG_ERROR, "curl_global_init failed: %s",
		          curl_easy_strerror(grc));
		return JV_HOST_EINVAL;
	}
	struct email *e = calloc(1, sizeof *e);
	if (!e) {
		host->log(inst, JV_LOG_ERROR, "out of memory");
		return JV_HOST_ENOMEM;
	}
	e->host = host;
	e->inst = inst;
	e->timeout_ms = EMAIL_DEFAULT_TIMEOUT_MS;
	e->verify_tls = 1;
	e->use_ssl = CURLUSESSL_TRY;
	e->prefix = EMAIL_DEFAULT_PREFIX;

	const char *s = NULL;
	int rc = host->config_string(inst, "starttls", &s);
	if (rc == 0) {
		if (!strcmp(s, "auto"))
			e->use_ssl = CURLUSESSL_TRY;
		else if (!strcmp(s, "always"))
			e->use_ssl = CURLUSESSL_ALL;
		else if (!strcmp(s, "never"))
			e->use_ssl = CURLUSESSL_NONE;
		else {
			rc = host->config_error(inst, "starttls", "must be auto, always or never");
			goto fail;
		}
	} else if (rc != JV_HOST_ENOENT) {
		goto fail;
	}
	rc = host->config_bool(inst, "verify_tls", &e->verify_tls);
	if (rc && rc != JV_HOST_ENOENT)
		goto fail;
	rc = host->config_string(inst, "subject_prefix", &e->prefix);
	if (rc && rc != JV_HOST_ENOENT)
		goto fail;
	if (strpbrk(e->prefix, "\r\n")) {
		rc = host->config_error(inst, "subject_prefix", "must not contain a line break");
		goto fail;
	}
	rc = host->config_string(inst, "username", &e->username);
	if (rc && rc != JV_HOST_ENOENT)
		goto fail;
	rc = host->config_string(inst, "password", &e->password);
	if (rc && rc != JV_HOST_ENOENT)
		goto fail;
	if (!e->username != !e->password) {
		rc = host->config_error(inst, e->username ? "username" : "password",
		                        "username and password go together: set both or neither");
		goto fail;
	}

	if ((rc = email_config_url(e)))
		goto fail;

	rc = host->config_string(inst, "from", &s);
	if (rc == JV_HOST_ENOENT) {
		rc = host->config_error(
		    inst, NULL, "from is required (e.g. \"jobvisor <jobvisor@example.com>\")");
		goto fail;
	} else if (rc) {
		goto fail;
	}
	const char *why = NULL;
	if (email_parse_addr(s, &e->from, &why)) {
		rc = host->config_error(inst, "from", "'%s' %s", s, why);
		goto fail;
	}
	e->msgid_domain = strrchr(e->from.addr, '@') + 1;

	if ((rc = email_config_rcpts(e, "to", 0, &e->n_to, 1)) ||
	    (rc = email_config_rcpts(e, "cc", e->n_to, &e->n_cc, 0)))
		goto fail;

	if (!e->verify_tls)
		host->log(inst, JV_LOG_WARNING,
		          "verify_tls is off: the SMTP server's certificate is not checked");
	*state = e;
	return 0;
fail:
	email_free(e);
	return rc ? rc : JV_HOST_EINVAL;
}

static void email_destroy(void *state)
{
	email_free(state);
}

/* ------------------------------------------------------------ the message */

/* The whole message, CRLF lines, in b. */
static void email_message(const struct email *e, const struct jv_alert *alert, struct jvp_buf *b)
{
	char date[64];
	int64_t now = email_unix_ms();
	email_date(date, sizeof date, now);
	unsigned char rnd[8] = {0};
	if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
		uint64_t x = (uint64_t)now ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)b;
		memcpy(rnd, &x, sizeof rnd);
	}
	unsigned long seq = __atomic_add_fetch(&email_seq, 1, __ATOMIC_RELAXED);

	jvp_buf_printf(b, "Date: %s\r\n", date);
	jvp_buf_printf(b, "Message-ID: <jobvisor.%lld.", (long long)now);
	for (size_t i = 0; i < sizeof rnd; i++)
		jvp_buf_printf(b, "%02x", rnd[i]);
	jvp_buf_printf(b, "%lx@%s>\r\n", seq, e->msgid_domain);
	jvp_buf_adds(b, "From: ");
	email_header_addr(b, &e->from, 6);
	jvp_buf_adds(b, "\r\n");
	email_header_addrs(b, "To", e->rcpt, e->n_to);
	if (e->n_cc)
		email_header_addrs(b, "Cc", e->rcpt + e->n_to, e->n_cc);

	size_t sl = strlen(e->prefix) + strlen(alert->title) + 1;
	char *subject = malloc(sl);
	if (!subject) {
		b->oom = 1;
		return;
	}
	snprintf(subject, sl, "%s%s", e->prefix, alert->title);
	jvp_buf_adds(b, "Subject: ");
	email_header_text(b, subject, 9);
	jvp_buf_adds(b, "\r\n");
	free(subject);

	const char *text = alert->text ? alert->text : "";
	int with_link = alert->link && *alert->link && !strstr(text, alert->link);
	int qp =
	    email_has_long_line(text) || (with_link && strlen(alert->link) + 6 > EMAIL_MAX_LINE);
	jvp_buf_adds(b, "MIME-Version: 1.0\r\n"
	                "Content-Type: text/plain; charset=utf-8\r\n");
	jvp_buf_printf(b, "Content-Transfer-Encoding: %s\r\n", qp ? "quoted-printable" : "8bit");
	jvp_buf_adds(b, "Auto-Submitted: auto-generated\r\n");
	jvp_buf_printf(b, "X-Jobvisor-Event: %s\r\n", alert->event ? alert->event : "alert");
	if (alert->job_id > 0)
		jvp_buf_printf(b, "X-Jobvisor-Job-Id: %lld\r\n", (long long)alert->job_id);
	jvp_buf_adds(b, "\r\n");
	email_body_text(b, text, qp);
	if (with_link) {
		jvp_buf_adds(b, "\r\n");
		struct jvp_buf l = {0};
		jvp_buf_printf(&l, "link: %s", alert->link);
		if (l.oom)
			b->oom = 1;
		else
			email_body_text(b, l.data, qp);
		free(l.data);
	}
}

/* ---------------------------------------------------------------- sending */

struct email_xfer {
	struct jvp_watch watch; /* asked whether the run goes on */
	const char *data;
	size_t len, pos;
	char reply[EMAIL_REPLY_MAX + 1]; /* the last 4xx/5xx reply line of the server */
};

static size_t email_on_read(char *buf, size_t size, size_t nitems, void *userp)
{
	struct email_xfer *x = userp;
	size_t n = size * nitems;
	if (n > x->len - x->pos)
		n = x->len - x->pos;
	memcpy(buf, x->data + x->pos, n);
	x->pos += n;
	return n;
}

/* Keep the server's last error reply (only what came in: what we send
 * holds the credentials). */
static int email_on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *userp)
{
	(void)c;
	struct email_xfer *x = userp;
	if (type != CURLINFO_HEADER_IN || size < 3 || data[0] < '4' || data[0] > '5')
		return 0;
	size_t n = 0;
	while (n < size && n < EMAIL_REPLY_MAX && data[n] != '\r' && data[n] != '\n') {
		unsigned char ch = (unsigned char)data[n];
		x->reply[n] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
		n++;
	}
	x->reply[n] = '\0';
	return 0;
}

/* Curl errors that another try will not fix. */
static int email_curl_permanent(CURLcode c)
{
	return c == CURLE_USE_SSL_FAILED || c == CURLE_LOGIN_DENIED || jvp_curl_permanent(c);
}

static int email_send(void *state, const struct jv_alert *alert, struct jv_run *run)
{
	const struct email *e = state;
	const struct jv_host *host = e->host;
	struct jvp_buf msg = {0};
	struct curl_slist *rcpts = NULL;
	CURL *c = NULL;
	int rc = JV_RETRY;

	int64_t limit = host->remaining_ms(run);
	if (limit > e->timeout_ms)
		limit = e->timeout_ms;
	if (limit <= 0 || host->cancelled(run)) {
		host->error(run, "email: %s: %s before sending", e->shown,
		            limit <= 0 ? "out of time" : "cancelled");
		return JV_RETRY;
	}

	email_message(e, alert, &msg);
	size_t n_rcpt = e->n_to + e->n_cc;
	char from[512];
	snprintf(from, sizeof from, "<%s>", e->from.addr);
	for (size_t i = 0; i < n_rcpt && !msg.oom; i++) {
		char r[512];
		snprintf(r, sizeof r, "<%s>", e->rcpt[i].addr);
		struct curl_slist *l = curl_slist_append(rcpts, r);
		if (!l) {
			msg.oom = 1;
			break;
		}
		rcpts = l;
	}
	c = curl_easy_init();
	if (msg.oom || !c) {
		host->error(run, "email: out of memory");
		goto out;
	}

	struct email_xfer x = {.watch = {host, run}, .data = msg.data, .len = msg.len};
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, e->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	jvp_curl_timeout(c, limit);
	curl_easy_setopt(c, CURLOPT_USE_SSL, e->use_ssl);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, e->verify_tls ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, e->verify_tls ? 2L : 0L);
	if (e->username) {
		curl_easy_setopt(c, CURLOPT_USERNAME, e->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, e->password);
	}
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, email_on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, email_on_debug);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, &x);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L); /* feeds email_on_debug only */
	jvp_curl_watch(c, &x.watch);

	int64_t start = email_mono_ms();
	CURLcode cc = curl_easy_perform(c);
	int64_t ms = email_mono_ms() - start;
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (cc == CURLE_OK) {
		char line[600];
		int n = snprintf(line, sizeof line, "sent to %zu recipient%s via %s in %lld ms",
		                 n_rcpt, n_rcpt == 1 ? "" : "s", e->shown, (long long)ms);
		if (n > 0)
			host->output(run, line,
			             (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		rc = JV_SUCCESS;
		goto out;
	}

	const char *what = errbuf[0] ? errbuf : curl_easy_strerror(cc);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		host->error(run, "email: %s: timed out after %lld ms (limit %lld ms)", e->shown,
		            (long long)ms, (long long)limit);
	else if (cc == CURLE_ABORTED_BY_CALLBACK)
		host->error(run, "email: %s: cancelled after %lld ms", e->shown, (long long)ms);
	else if (x.reply[0] && code >= 400)
		host->error(run, "email: %s: %s (server said: %s)", e->shown, what, x.reply);
	else if (code >= 400)
		host->error(run, "email: %s: %s (SMTP %ld)", e->shown, what, code);
	else
		host->error(run, "email: %s: %s", e->shown, what);

	if (code >= 500 && code <= 599)
		rc = JV_FAIL;
	else if (code >= 400 && code <= 499)
		rc = JV_RETRY;
	else
		rc = email_curl_permanent(cc) ? JV_FAIL : JV_RETRY;
out:
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(rcpts);
	free(msg.data);
	return rc;
}

static const struct jv_plugin email_plugin = {
    JV_PLUGIN_HEADER,
    .kind = JV_PLUGIN_ALERT,
    .name = "email",
    .version = EMAIL_VERSION,
    .description = "mails alerts through an SMTP server (smtp://, smtps://, STARTTLS)",
    .config_keys = email_keys,
    .create = email_create,
    .destroy = email_destroy,
    .send = email_send,
};

JV_PLUGIN_ENTRY(email_plugin)

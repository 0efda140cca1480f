/* test_plugcommon.c -- unit tests of plugins/common/: the growable buffer,
 * UTF-8 cutting and cleaning, excerpts, HTTP response capture (fed the
 * lines and bytes libcurl hands over) and Retry-After. */
#include "common/buf.h"
#include "common/curlrun.h"
#include "common/httpresp.h"
#include "common/utf8.h"
#include "unit.h"

#include <string.h>

/* Feed one header line (with its CRLF) to rs as libcurl does. */
static void header(struct jvp_resp *rs, const char *line)
{
	size_t n = strlen(line);
	CU_ASSERT_EQUAL(jvp_resp_on_header((char *)line, 1, n, rs), n);
}

/* Feed body bytes to rs; what the write callback returned. */
static size_t body(struct jvp_resp *rs, const char *data, size_t n)
{
	return jvp_resp_on_body((char *)data, 1, n, rs);
}

/* Does s[0..n) hold no cut UTF-8 character (all of it decodes)? */
static int whole_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		size_t l = jvp_utf8_char_len(p, end);
		if (!l)
			return 0;
		p += l;
	}
	return 1;
}

/* ------------------------------------------------------------------ buf */

static void test_buf_grows(void)
{
	struct jvp_buf b = {0};
	jvp_buf_add(&b, "", 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b.data);
	CU_ASSERT_STRING_EQUAL(b.data, "");
	for (int i = 0; i < 1000; i++)
		jvp_buf_adds(&b, "abcdefghij");
	CU_ASSERT_EQUAL(b.len, 10000);
	CU_ASSERT_EQUAL(strlen(b.data), 10000);
	CU_ASSERT_TRUE(b.cap > b.len);
	jvp_buf_clear(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_STRING_EQUAL(b.data, "");
	jvp_buf_printf(&b, "%s-%d", "x", 42);
	CU_ASSERT_STRING_EQUAL(b.data, "x-42");
	/* longer than the printf's stack buffer */
	char big[2000];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	jvp_buf_printf(&b, "<%s>", big);
	CU_ASSERT_EQUAL(b.len, 4 + 2 + sizeof big - 1);
	CU_ASSERT_EQUAL(b.data[b.len - 1], '>');
	CU_ASSERT_FALSE(b.oom);
	jvp_buf_add(&b, "a\0b", 3); /* NULs are bytes like any */
	CU_ASSERT_EQUAL(memcmp(b.data + b.len - 3, "a\0b", 3), 0);
	jvp_buf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
}

static void test_buf_oom_sticks(void)
{
	struct jvp_buf b = {0};
	jvp_buf_adds(&b, "kept");
	jvp_buf_add(&b, "x", (size_t)-1 / 2); /* cannot be had: marks oom */
	CU_ASSERT_TRUE(b.oom);
	jvp_buf_adds(&b, "dropped");
	CU_ASSERT_STRING_EQUAL(b.data, "kept");
	CU_ASSERT_EQUAL(b.len, 4);
	jvp_buf_free(&b);
	CU_ASSERT_FALSE(b.oom);
}

/* ----------------------------------------------------------------- utf8 */

static void test_utf8_char_len(void)
{
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
	    {"a", 1},
	    {"\xc3\xa9", 2},             /* é */
	    {"\xe2\x82\xac", 3},         /* € */
	    {"\xf0\x9f\x98\x80", 4},     /* 😀 */
	    {"\xc3", 0},                 /* cut by the end */
	    {"\xe2\x82", 0},             /* cut by the end */
	    {"\xc3\x28", 0},             /* bad continuation */
	    {"\x80", 0},                 /* a stray continuation byte */
	    {"\xc0\xaf", 0},             /* overlong '/' */
	    {"\xe0\x80\xaf", 0},         /* overlong */
	    {"\xed\xa0\x80", 0},         /* surrogate U+D800 */
	    {"\xf4\x90\x80\x80", 0},     /* past U+10FFFF */
	    {"\xf8\x88\x80\x80\x80", 0}, /* five-byte form */
	    {"\xff", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const unsigned char *p = (const unsigned char *)cases[i].s;
		CU_ASSERT_EQUAL(jvp_utf8_char_len(p, p + strlen(cases[i].s)), cases[i].len);
	}
}

static void test_utf8_cut_never_splits(void)
{
	/* a, é, €, 😀 repeated: every cut point from 0 to the whole */
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	                "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	size_t len = strlen(s);
	for (size_t max = 0; max <= len + 2; max++) {
		size_t n = jvp_utf8_cut(s, len, max);
		CU_ASSERT_TRUE(n <= max || (n == len && len <= max));
		CU_ASSERT_TRUE(whole_utf8(s, n));
		CU_ASSERT_TRUE(max < 4 || n + 3 >= (max < len ? max : len)); /* loses < 4 bytes */
	}
	CU_ASSERT_EQUAL(jvp_utf8_cut(s, len, 2), 1); /* not into é */
	CU_ASSERT_EQUAL(jvp_utf8_cut(s, len, 3), 3); /* after é */
	CU_ASSERT_EQUAL(jvp_utf8_cut(s, len, 9), 6); /* not into 😀 */
	CU_ASSERT_EQUAL(jvp_utf8_cut(s, len, 10), 10);
	/* bytes that are no UTF-8 are cut where max says: never stuck at 0 */
	const char *junk = "\x80\x80\x80\x80\x80\x80\x80\x80";
	CU_ASSERT_EQUAL(jvp_utf8_cut(junk, 8, 5), 5);
}

static void test_utf8_valid_copy(void)
{
	size_t n = 0;
	char *c = jvp_utf8_valid_copy("ok \xc3\xa9", 5, &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_STRING_EQUAL(c, "ok \xc3\xa9");
	free(c);
	/* a bad byte, a cut character, a NUL kept */
	c = jvp_utf8_valid_copy("a\xff"
	                        "b\0c\xe2\x82",
	                        7, &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(n, 13);
	CU_ASSERT_EQUAL(memcmp(c,
	                       "a\xef\xbf\xbd"
	                       "b\0c\xef\xbf\xbd\xef\xbf\xbd",
	                       13),
	                0);
	CU_ASSERT_TRUE(whole_utf8(c, n));
	free(c);
}

static void test_excerpt(void)
{
	char out[32];
	jvp_excerpt("line one\r\nline\ttwo  \n", 21, 30, 0, out);
	CU_ASSERT_STRING_EQUAL(out, "line one  line two");
	/* cut at max, never inside é */
	jvp_excerpt("abc\xc3\xa9xyz", 8, 4, 0, out);
	CU_ASSERT_STRING_EQUAL(out, "abc");
	jvp_excerpt("abc\xc3\xa9xyz", 8, 5, 0, out);
	CU_ASSERT_STRING_EQUAL(out, "abc\xc3\xa9");
	/* ASCII only: other bytes as '?', cut anywhere */
	jvp_excerpt("abc\xc3\xa9xyz\x7f", 9, 4, JVP_EXCERPT_ASCII, out);
	CU_ASSERT_STRING_EQUAL(out, "abc?");
	jvp_excerpt("abc\xc3\xa9xyz\x7f", 9, 30, JVP_EXCERPT_ASCII, out);
	CU_ASSERT_STRING_EQUAL(out, "abc??xyz");
	jvp_excerpt("", 0, 30, 0, out);
	CU_ASSERT_STRING_EQUAL(out, "");
	jvp_excerpt(" \r\n", 3, 30, 0, out);
	CU_ASSERT_STRING_EQUAL(out, "");
}

/* ------------------------------------------------------------- httpresp */

static const char *const keep[] = {"content-type", "retry-after", "x-request-id", NULL};

static void test_resp_headers_case_and_space(void)
{
	struct jvp_resp rs = {.keep = keep};
	header(&rs, "HTTP/1.1 503 Service Unavailable\r\n");
	header(&rs, "RETRY-AFTER:\t  120 \t\r\n");
	header(&rs, "Content-Type:application/json; charset=utf-8\r\n");
	header(&rs, "X-Request-Id:    \r\n"); /* empty after trimming */
	header(&rs, "Retry-After : 5\r\n");   /* a space before ':' is no such name */
	header(&rs, "Server: x\r\n");         /* not asked for */
	header(&rs, "no colon at all\r\n");
	header(&rs, "\r\n");
	CU_ASSERT_STRING_EQUAL(rs.reason, "Service Unavailable");
	CU_ASSERT_STRING_EQUAL(jvp_resp_header(&rs, "retry-after"), "120");
	CU_ASSERT_STRING_EQUAL(jvp_resp_header(&rs, "content-type"),
	                       "application/json; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(jvp_resp_header(&rs, "x-request-id"), "");
	CU_ASSERT_PTR_NULL(jvp_resp_header(&rs, "server"));
	/* in order of arrival, names as in keep */
	CU_ASSERT_EQUAL_FATAL(rs.n_headers, 3);
	CU_ASSERT_STRING_EQUAL(rs.headers[0].name, "retry-after");
	CU_ASSERT_STRING_EQUAL(rs.headers[1].name, "content-type");
	/* again: replaced in its place */
	header(&rs, "retry-after: 7\r\n");
	CU_ASSERT_EQUAL(rs.n_headers, 3);
	CU_ASSERT_STRING_EQUAL(rs.headers[0].value, "7");
	jvp_resp_free(&rs);
	CU_ASSERT_EQUAL(rs.n_headers, 0);
}

static void test_resp_status_line_resets(void)
{
	struct jvp_resp rs = {.keep = keep};
	header(&rs, "HTTP/1.1 100 Continue\r\n");
	header(&rs, "Retry-After: 30\r\n");
	header(&rs, "\r\n");
	header(&rs, "HTTP/2 429 \r\n");
	CU_ASSERT_PTR_NULL(jvp_resp_header(&rs, "retry-after"));
	CU_ASSERT_STRING_EQUAL(rs.reason, "");
	header(&rs, "HTTP/1.1 200\r\n"); /* no reason phrase */
	CU_ASSERT_STRING_EQUAL(rs.reason, "");
	header(&rs, "HTTP/1.1 418 I'm a \x01te\xffpot\r\n"); /* unprintables dropped */
	CU_ASSERT_STRING_EQUAL(rs.reason, "I'm a tepot");
	char longline[200] = "HTTP/1.1 500 ";
	memset(longline + 13, 'r', 150);
	memcpy(longline + 163, "\r\n", 3);
	header(&rs, longline);
	CU_ASSERT_EQUAL(strlen(rs.reason), sizeof rs.reason - 1);
	/* a header value with a NUL in it keeps its length */
	jvp_resp_on_header((char *)"x-request-id: a\0b\r\n", 1, 19, &rs);
	CU_ASSERT_EQUAL_FATAL(rs.n_headers, 1);
	CU_ASSERT_EQUAL(rs.headers[0].len, 3);
	CU_ASSERT_EQUAL(memcmp(rs.headers[0].value, "a\0b", 3), 0);
	jvp_resp_free(&rs);
}

static void test_resp_body_cap_read_on(void)
{
	struct jvp_resp rs = {.body_max = 10};
	CU_ASSERT_EQUAL(body(&rs, "01234", 5), 5);
	CU_ASSERT_FALSE(rs.truncated);
	CU_ASSERT_EQUAL(body(&rs, "56789abc", 8), 8); /* read on, the rest dropped */
	CU_ASSERT_TRUE(rs.truncated);
	CU_ASSERT_EQUAL(body(&rs, "more", 4), 4);
	CU_ASSERT_EQUAL(rs.body.len, 10);
	CU_ASSERT_STRING_EQUAL(rs.body.data, "0123456789");
	jvp_resp_reset(&rs);
	CU_ASSERT_FALSE(rs.truncated);
	CU_ASSERT_EQUAL(rs.body.len, 0);
	CU_ASSERT_EQUAL(body(&rs, "x", 1), 1);
	CU_ASSERT_STRING_EQUAL(rs.body.data, "x");
	jvp_resp_free(&rs);
	CU_ASSERT_PTR_NULL(rs.body.data);
}

static void test_resp_body_cap_stops(void)
{
	struct jvp_resp rs = {.body_max = 10, .stop_at_max = 1};
	CU_ASSERT_EQUAL(body(&rs, "0123456789", 10), 10); /* exactly the cap: fine */
	CU_ASSERT_FALSE(rs.truncated);
	CU_ASSERT_EQUAL(body(&rs, "a", 1), 0); /* one more: curl stops */
	CU_ASSERT_TRUE(rs.truncated);
	jvp_resp_reset(&rs);
	CU_ASSERT_EQUAL(body(&rs, "0123456789abc", 13), 10); /* takes what fits */
	CU_ASSERT_TRUE(rs.truncated);
	CU_ASSERT_STRING_EQUAL(rs.body.data, "0123456789");
	jvp_resp_free(&rs);
	/* a cap of 0 keeps nothing */
	struct jvp_resp none = {.body_max = 0, .stop_at_max = 1};
	CU_ASSERT_EQUAL(body(&none, "x", 1), 0);
	CU_ASSERT_TRUE(none.truncated);
	CU_ASSERT_PTR_NULL(none.body.data);
	jvp_resp_free(&none);
}

static void test_retry_after(void)
{
	const time_t now = 1795000000; /* 2026-11-19 */
	CU_ASSERT_EQUAL(jvp_retry_after_ms(NULL, now), -1);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("", now), -1);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("0", now), 0);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("120", now), 120000);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("3600", now), JVP_RETRY_AFTER_CAP_MS);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("3601", now), JVP_RETRY_AFTER_CAP_MS);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("99999999999999999999999", now),
	                JVP_RETRY_AFTER_CAP_MS); /* no overflow */
	/* garbage */
	CU_ASSERT_EQUAL(jvp_retry_after_ms("soon", now), -1);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("12abc", now), -1);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("\xff\xfe", now), -1);
	/* an HTTP-date: 90 s ahead, in the past, far ahead */
	char date[64];
	time_t ahead = now + 90;
	struct tm tm;
	gmtime_r(&ahead, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	CU_ASSERT_EQUAL(jvp_retry_after_ms(date, now), 90000);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now), 0);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("Fri, 01 Jan 2100 00:00:00 GMT", now),
	                JVP_RETRY_AFTER_CAP_MS);
	/* the obsolete forms HTTP still allows */
	time_t later = now + 600;
	gmtime_r(&later, &tm);
	CU_ASSERT_EQUAL(jvp_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", now), 0); /* RFC 850 */
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);                      /* asctime */
	CU_ASSERT_EQUAL(jvp_retry_after_ms(date, now), 600000);
}

/* ------------------------------------------------------------- curlrun */

static void test_request_headers(void)
{
	CU_ASSERT_TRUE(jvp_header_name_ok("X-Api-Key"));
	CU_ASSERT_TRUE(jvp_header_name_ok("a!#$%&'*+-.^_`|~9"));
	CU_ASSERT_FALSE(jvp_header_name_ok(""));
	CU_ASSERT_FALSE(jvp_header_name_ok("Bad Name"));
	CU_ASSERT_FALSE(jvp_header_name_ok("Bad:Name"));
	CU_ASSERT_FALSE(jvp_header_name_ok("caf\xc3\xa9"));

	struct curl_slist *l = NULL;
	CU_ASSERT_EQUAL(jvp_header_append(&l, "X-One", "1"), 0);
	CU_ASSERT_EQUAL(jvp_header_append(&l, "X-Empty", ""), 0);
	CU_ASSERT_EQUAL(jvp_slist_append(&l, "Expect:"), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_STRING_EQUAL(l->data, "X-One: 1");
	CU_ASSERT_STRING_EQUAL(l->next->data, "X-Empty;"); /* sent empty, not dropped */
	CU_ASSERT_STRING_EQUAL(l->next->next->data, "Expect:");
	curl_slist_free_all(l);

	CU_ASSERT_TRUE(jvp_curl_permanent(CURLE_PEER_FAILED_VERIFICATION));
	CU_ASSERT_TRUE(jvp_curl_permanent(CURLE_URL_MALFORMAT));
	CU_ASSERT_FALSE(jvp_curl_permanent(CURLE_COULDNT_CONNECT));
	CU_ASSERT_FALSE(jvp_curl_permanent(CURLE_OPERATION_TIMEDOUT));
	CU_ASSERT_EQUAL(jvp_curl_global_init(), CURLE_OK);
	CU_ASSERT_EQUAL(jvp_curl_global_init(), CURLE_OK); /* once, then the same */
	curl_global_cleanup();
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
	    {"buffer grows, clears, prints", test_buf_grows},
	    {"buffer oom sticks and keeps the text", test_buf_oom_sticks},
	    {"utf8 char length and what is not one", test_utf8_char_len},
	    {"utf8 cut never splits a character", test_utf8_cut_never_splits},
	    {"utf8 valid copy replaces bad bytes", test_utf8_valid_copy},
	    {"excerpt is one clean line", test_excerpt},
	    {"response headers: odd case and whitespace", test_resp_headers_case_and_space},
	    {"response status line starts anew", test_resp_status_line_resets},
	    {"response body cap, reading on", test_resp_body_cap_read_on},
	    {"response body cap, stopping", test_resp_body_cap_stops},
	    {"retry-after seconds, dates, garbage", test_retry_after},
	    {"request headers and curl errors", test_request_headers},
	    {NULL, NULL},
	};
	return jv_unit_run("plugcommon", tests);
}

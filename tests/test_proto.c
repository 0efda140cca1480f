/* test_proto.c -- supervisor <-> worker frames: round trips, reassembly from
 * arbitrary splits, corrupt input refused; text sanitising for PostgreSQL. */
#include "lib/error.h"
#include "engine/proto.h"
#include "engine/store.h"
#include "unit.h"
#include "lib/text.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void t_job_roundtrip(void)
{
	struct jv_msg_job in = {42, 3, 5, 1500, 65536, 2, "noop", NULL, "{\"a\": \"x\"}"};
	struct jv_buf b = {0};
	jv_msg_job_encode(&b, &in);
	struct jv_frame_reader r = {0};
	jv_buf_append(&r.buf, b.data, b.len);
	char *body;
	size_t len;
	CU_ASSERT_EQUAL(jv_frame_next(&r, &body, &len), 1);
	struct jv_msg_job out;
	CU_ASSERT_EQUAL(jv_msg_job_decode(body, len, &out), 0);
	CU_ASSERT_EQUAL(out.id, 42);
	CU_ASSERT_EQUAL(out.attempt, 3);
	CU_ASSERT_EQUAL(out.max_attempts, 5);
	CU_ASSERT_EQUAL(out.timeout_ms, 1500);
	CU_ASSERT_EQUAL(out.max_output, 65536);
	CU_ASSERT_EQUAL(out.executor, 2);
	CU_ASSERT_STRING_EQUAL(out.type, "noop");
	CU_ASSERT_PTR_NULL(out.user_id);
	CU_ASSERT_STRING_EQUAL(out.payload, "{\"a\": \"x\"}");
	CU_ASSERT_EQUAL(jv_frame_next(&r, &body, &len), 0);
	/* A result frame is not a job frame. */
	CU_ASSERT_EQUAL(jv_msg_result_decode(body, len, &(struct jv_msg_result){0}), JV_EINVAL);
	jv_buf_free(&b);
	jv_frame_reader_free(&r);
}

/* ABI 1.2's messages while a job runs: progress, an ask, the answer. */
static void t_aux_roundtrip(void)
{
	struct jv_buf b = {0};
	jv_msg_aux_encode(&b, &(struct jv_msg_aux){JV_MSG_PROGRESS, 9, 2, 55, "half"});
	jv_msg_aux_encode(&b, &(struct jv_msg_aux){JV_MSG_DEPS_ASK, 9, 2, 0, NULL});
	jv_msg_aux_encode(&b, &(struct jv_msg_aux){JV_MSG_DEPS, 9, 2, 0, "{\"a\":1}"});
	struct jv_frame_reader r = {0};
	jv_buf_append(&r.buf, b.data, b.len);
	char *body;
	size_t len;
	struct jv_msg_aux m;
	CU_ASSERT_EQUAL_FATAL(jv_frame_next(&r, &body, &len), 1);
	CU_ASSERT_EQUAL(jv_msg_type(body, len), JV_MSG_PROGRESS);
	CU_ASSERT_EQUAL(jv_msg_aux_decode(body, len, &m), 0);
	CU_ASSERT(m.type == JV_MSG_PROGRESS && m.id == 9 && m.attempt == 2 && m.value == 55);
	CU_ASSERT_STRING_EQUAL(m.text, "half");
	/* a progress frame is neither a job nor a result */
	CU_ASSERT_EQUAL(jv_msg_result_decode(body, len, &(struct jv_msg_result){0}), JV_EINVAL);
	CU_ASSERT_EQUAL_FATAL(jv_frame_next(&r, &body, &len), 1);
	CU_ASSERT_EQUAL(jv_msg_aux_decode(body, len, &m), 0);
	CU_ASSERT(m.type == JV_MSG_DEPS_ASK && m.id == 9 && m.text == NULL);
	CU_ASSERT_EQUAL_FATAL(jv_frame_next(&r, &body, &len), 1);
	CU_ASSERT_EQUAL(jv_msg_aux_decode(body, len, &m), 0);
	CU_ASSERT_EQUAL(m.type, JV_MSG_DEPS);
	CU_ASSERT_STRING_EQUAL(m.text, "{\"a\":1}");
	/* cut short: refused */
	CU_ASSERT_EQUAL(jv_msg_aux_decode(body, len - 1, &m), JV_EINVAL);
	/* a job frame is not one of these */
	jv_buf_reset(&b);
	jv_msg_job_encode(&b, &(struct jv_msg_job){1, 1, 1, 0, 0, 0, "t", NULL, "{}"});
	CU_ASSERT_EQUAL(jv_msg_aux_decode(b.data + 4, b.len - 4, &m), JV_EINVAL);
	jv_buf_free(&b);
	jv_frame_reader_free(&r);
}

/* Two frames written in one go and read back through a socket in pieces. */
static void t_result_split_reads(void)
{
	char bin[5] = {'a', 0, 'b', 0, 'c'};
	struct jv_msg_result r1 = {.id = 7, .attempt = 1, .status = 2, .timed_out = 1,
				   .retry_in_ms = -1, .duration_us = 1234, .error = "boom",
				   .output = bin, .output_len = sizeof bin};
	/* status 3: not a status of plugin ABI 1.x today; a later minor may add
	 * it, and it must not read as a timeout */
	struct jv_msg_result r2 = {.id = 8, .attempt = 2, .status = 3, .retry_in_ms = 500,
				   .duration_us = 1, .result = "{\"k\":1}",
				   .left_behind = "4711 (sleep)"};
	struct jv_buf b = {0};
	jv_msg_result_encode(&b, &r1);
	jv_msg_result_encode(&b, &r2);
	int sv[2];
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct jv_frame_reader rd = {0};
	int got = 0;
	for (size_t off = 0; off < b.len; off += 3) {
		size_t n = b.len - off < 3 ? b.len - off : 3;
		CU_ASSERT_EQUAL((size_t)write(sv[0], b.data + off, n), n);
		CU_ASSERT(jv_frame_read(&rd, sv[1]) > 0);
		char *body;
		size_t len;
		while (jv_frame_next(&rd, &body, &len) == 1) {
			struct jv_msg_result m;
			CU_ASSERT_EQUAL_FATAL(jv_msg_result_decode(body, len, &m), 0);
			if (got == 0) {
				CU_ASSERT_EQUAL(m.id, 7);
				CU_ASSERT_EQUAL(m.status, 2);
				CU_ASSERT_EQUAL(m.timed_out, 1);
				CU_ASSERT_EQUAL(m.retry_in_ms, -1);
				CU_ASSERT_EQUAL(m.duration_us, 1234);
				CU_ASSERT_STRING_EQUAL(m.error, "boom");
				CU_ASSERT_EQUAL(m.output_len, sizeof bin);
				CU_ASSERT_EQUAL(memcmp(m.output, bin, sizeof bin), 0);
				CU_ASSERT_PTR_NULL(m.result);
				CU_ASSERT_PTR_NULL(m.left_behind);
			} else {
				CU_ASSERT_EQUAL(m.id, 8);
				CU_ASSERT_EQUAL(m.status, 3);
				CU_ASSERT_EQUAL(m.timed_out, 0);
				CU_ASSERT_EQUAL(m.retry_in_ms, 500);
				CU_ASSERT_PTR_NULL(m.error);
				CU_ASSERT_PTR_NULL(m.output);
				CU_ASSERT_STRING_EQUAL(m.result, "{\"k\":1}");
				CU_ASSERT_STRING_EQUAL(m.left_behind, "4711 (sleep)");
			}
			got++;
		}
	}
	CU_ASSERT_EQUAL(got, 2);
	close(sv[0]);
	CU_ASSERT_EQUAL(jv_frame_read(&rd, sv[1]), 0); /* EOF */
	close(sv[1]);
	jv_buf_free(&b);
	jv_frame_reader_free(&rd);
}

static void t_corrupt(void)
{
	struct jv_frame_reader r = {0};
	char *body;
	size_t len;
	/* a zero length and an absurd one */
	jv_buf_append(&r.buf, "\0\0\0\0", 4);
	CU_ASSERT_EQUAL(jv_frame_next(&r, &body, &len), JV_EINVAL);
	jv_frame_reader_free(&r);
	jv_buf_append(&r.buf, "\xff\xff\xff\x7f", 4);
	CU_ASSERT_EQUAL(jv_frame_next(&r, &body, &len), JV_EINVAL);
	jv_frame_reader_free(&r);
	/* a string length past the end of the frame */
	struct jv_msg_job in = {1, 1, 1, 1, 1, 0, "t", "u", "{}"};
	struct jv_buf b = {0};
	jv_msg_job_encode(&b, &in);
	for (size_t cut = 1; cut < b.len - 4; cut++) {
		struct jv_msg_job out;
		char *copy = jv_malloc(b.len);
		memcpy(copy, b.data + 4, b.len - 4);
		CU_ASSERT_EQUAL(jv_msg_job_decode(copy, b.len - 4 - cut, &out), JV_EINVAL);
		free(copy);
	}
	jv_buf_free(&b);
}

static void t_sanitize(void)
{
	char *s = jv_text_sanitize("ok \xc3\xa9 \xff x\0y \xe2\x82", 14);
	CU_ASSERT_STRING_EQUAL(s, "ok \xc3\xa9 \xef\xbf\xbd xy \xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	s = jv_text_sanitize("\xc0\xaf", 2); /* overlong '/' */
	CU_ASSERT_STRING_EQUAL(s, "\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	s = jv_text_sanitize("\xed\xa0\x80", 3); /* a surrogate */
	CU_ASSERT_EQUAL(strstr(s, "\xed\xa0\x80"), NULL);
	free(s);
	s = jv_text_sanitize("\xf0\x9f\x98\x80", 4); /* an emoji stays */
	CU_ASSERT_STRING_EQUAL(s, "\xf0\x9f\x98\x80");
	free(s);
	s = jv_text_sanitize("", 0);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"job_roundtrip", t_job_roundtrip},
		{"aux_roundtrip", t_aux_roundtrip},
		{"result_split_reads", t_result_split_reads},
		{"corrupt", t_corrupt},
		{"sanitize", t_sanitize},
		{NULL, NULL},
	};
	return jv_unit_run("proto", tests);
}

/* proto.c -- framing and encoding of supervisor <-> worker messages. */
#include "engine/proto.h"

#include "lib/error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define NULL_LEN 0xffffffffu

static void put_u32(struct jv_buf *b, uint32_t v)
{
	unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	jv_buf_append(b, (const char *)p, 4);
}

static void put_u64(struct jv_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(struct jv_buf *b, const char *s, size_t len)
{
	if (!s) {
		put_u32(b, NULL_LEN);
		return;
	}
	put_u32(b, (uint32_t)len);
	jv_buf_append(b, s, len);
}

/* Start a frame of type t; returns the offset of its length field. */
static size_t frame_begin(struct jv_buf *b, int t)
{
	size_t at = b->len;
	put_u32(b, 0);
	char c = (char)t;
	jv_buf_append(b, &c, 1);
	return at;
}

static void frame_end(struct jv_buf *b, size_t at)
{
	uint32_t len = (uint32_t)(b->len - at - 4);
	unsigned char *p = (unsigned char *)b->data + at;
	p[0] = (unsigned char)len;
	p[1] = (unsigned char)(len >> 8);
	p[2] = (unsigned char)(len >> 16);
	p[3] = (unsigned char)(len >> 24);
}

void jv_msg_job_encode(struct jv_buf *out, const struct jv_msg_job *m)
{
	size_t at = frame_begin(out, JV_MSG_JOB);
	put_u64(out, (uint64_t)m->id);
	put_u32(out, (uint32_t)m->attempt);
	put_u32(out, (uint32_t)m->max_attempts);
	put_u32(out, (uint32_t)m->timeout_ms);
	put_u32(out, (uint32_t)m->max_output);
	put_u32(out, (uint32_t)m->executor);
	put_str(out, m->type, m->type ? strlen(m->type) : 0);
	put_str(out, m->user_id, m->user_id ? strlen(m->user_id) : 0);
	put_str(out, m->payload, m->payload ? strlen(m->payload) : 0);
	frame_end(out, at);
}

void jv_msg_result_encode(struct jv_buf *out, const struct jv_msg_result *m)
{
	size_t at = frame_begin(out, JV_MSG_RESULT);
	put_u64(out, (uint64_t)m->id);
	put_u32(out, (uint32_t)m->attempt);
	put_u32(out, (uint32_t)m->status);
	put_u32(out, (uint32_t)m->timed_out);
	put_u64(out, (uint64_t)m->retry_in_ms);
	put_u64(out, (uint64_t)m->duration_us);
	put_str(out, m->error, m->error ? strlen(m->error) : 0);
	put_str(out, m->output, m->output_len);
	put_str(out, m->result, m->result ? strlen(m->result) : 0);
	put_str(out, m->left_behind, m->left_behind ? strlen(m->left_behind) : 0);
	frame_end(out, at);
}

void jv_msg_aux_encode(struct jv_buf *out, const struct jv_msg_aux *m)
{
	size_t at = frame_begin(out, m->type);
	put_u64(out, (uint64_t)m->id);
	put_u32(out, (uint32_t)m->attempt);
	put_u32(out, (uint32_t)m->value);
	put_str(out, m->text, m->text ? strlen(m->text) : 0);
	frame_end(out, at);
}

int jv_msg_type(const char *body, size_t len) { return len > 0 ? (unsigned char)body[0] : 0; }

struct cursor {
	char *p;
	size_t left;
	int bad;
};

static uint32_t get_u32(struct cursor *c)
{
	if (c->left < 4) {
		c->bad = 1;
		return 0;
	}
	const unsigned char *p = (const unsigned char *)c->p;
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		     (uint32_t)p[3] << 24;
	c->p += 4;
	c->left -= 4;
	return v;
}

static uint64_t get_u64(struct cursor *c)
{
	uint64_t lo = get_u32(c);
	uint64_t hi = get_u32(c);
	return lo | hi << 32;
}

/* A string field: its start (NULL for a NULL string) and length. */
static const char *get_str(struct cursor *c, size_t *lenp)
{
	uint32_t len = get_u32(c);
	if (c->bad)
		return NULL;
	if (len == NULL_LEN) {
		if (lenp)
			*lenp = 0;
		return NULL;
	}
	if (len > c->left) {
		c->bad = 1;
		return NULL;
	}
	char *s = c->p;
	c->p += len;
	c->left -= len;
	if (lenp)
		*lenp = len;
	return s;
}

/* Where the string terminators go, written after all fields are read. */
struct pending_nul {
	char *at[8];
	int n;
};

static const char *str_field(struct cursor *c, struct pending_nul *pn, size_t *lenp)
{
	const char *s = get_str(c, lenp);
	if (s && pn->n < 8)
		pn->at[pn->n++] = c->p; /* the byte just past the string */
	return s;
}

/* Terminate the strings once every field is decoded: each terminator lands
 * on a byte already read (the next field) or on the spare byte past the frame. */
static void apply_nuls(struct pending_nul *pn)
{
	for (int i = 0; i < pn->n; i++)
		*pn->at[i] = '\0';
}

int jv_msg_job_decode(char *body, size_t len, struct jv_msg_job *m)
{
	struct cursor c = {body, len, 0};
	struct pending_nul pn = {{0}, 0};
	if (len < 1 || body[0] != JV_MSG_JOB)
		return JV_EINVAL;
	c.p++;
	c.left--;
	m->id = (int64_t)get_u64(&c);
	m->attempt = (int32_t)get_u32(&c);
	m->max_attempts = (int32_t)get_u32(&c);
	m->timeout_ms = (int32_t)get_u32(&c);
	m->max_output = (int32_t)get_u32(&c);
	m->executor = (int32_t)get_u32(&c);
	m->type = str_field(&c, &pn, NULL);
	m->user_id = str_field(&c, &pn, NULL);
	m->payload = str_field(&c, &pn, NULL);
	if (c.bad || c.left != 0 || !m->type || !m->payload)
		return JV_EINVAL;
	apply_nuls(&pn);
	return 0;
}

int jv_msg_result_decode(char *body, size_t len, struct jv_msg_result *m)
{
	struct cursor c = {body, len, 0};
	struct pending_nul pn = {{0}, 0};
	if (len < 1 || body[0] != JV_MSG_RESULT)
		return JV_EINVAL;
	c.p++;
	c.left--;
	m->id = (int64_t)get_u64(&c);
	m->attempt = (int32_t)get_u32(&c);
	m->status = (int32_t)get_u32(&c);
	m->timed_out = (int32_t)get_u32(&c);
	m->retry_in_ms = (int64_t)get_u64(&c);
	m->duration_us = (int64_t)get_u64(&c);
	m->error = str_field(&c, &pn, NULL);
	m->output = str_field(&c, &pn, &m->output_len);
	m->result = str_field(&c, &pn, NULL);
	m->left_behind = str_field(&c, &pn, NULL);
	if (c.bad || c.left != 0)
		return JV_EINVAL;
	apply_nuls(&pn);
	return 0;
}

int jv_msg_aux_decode(char *body, size_t len, struct jv_msg_aux *m)
{
	struct cursor c = {body, len, 0};
	struct pending_nul pn = {{0}, 0};
	int t = jv_msg_type(body, len);
	if (t != JV_MSG_PROGRESS && t != JV_MSG_DEPS_ASK && t != JV_MSG_DEPS)
		return JV_EINVAL;
	c.p++;
	c.left--;
	m->type = t;
	m->id = (int64_t)get_u64(&c);
	m->attempt = (int32_t)get_u32(&c);
	m->value = (int32_t)get_u32(&c);
	m->text = str_field(&c, &pn, NULL);
	if (c.bad || c.left != 0)
		return JV_EINVAL;
	apply_nuls(&pn);
	return 0;
}

int jv_frame_read(struct jv_frame_reader *r, int fd)
{
	/* Drop what was handed out, keeping the unread tail. */
	if (r->consumed) {
		size_t rest = r->buf.len - r->consumed;
		memmove(r->buf.data, r->buf.data + r->consumed, rest);
		r->buf.len = rest;
		r->consumed = 0;
	}
	char tmp[65536];
	ssize_t n = read(fd, tmp, sizeof tmp);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -1;
		return JV_EIO;
	}
	if (n > 0)
		jv_buf_append(&r->buf, tmp, (size_t)n);
	return (int)n;
}

int jv_frame_next(struct jv_frame_reader *r, char **body, size_t *len)
{
	size_t avail = r->buf.len - r->consumed;
	if (avail < 4)
		return 0;
	const unsigned char *p = (const unsigned char *)r->buf.data + r->consumed;
	uint32_t flen = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			(uint32_t)p[3] << 24;
	if (flen == 0 || flen > JV_FRAME_MAX)
		return JV_EINVAL;
	if (avail - 4 < flen)
		return 0;
	/* The decoder writes a NUL one past the frame's last string, so hand
	 * out a private copy (with jv_buf's terminator as that spare byte)
	 * rather than clobber the next frame's length. */
	jv_buf_reset(&r->frame);
	jv_buf_append(&r->frame, r->buf.data + r->consumed + 4, flen);
	*body = r->frame.data;
	*len = flen;
	r->consumed += 4 + flen;
	return 1;
}

void jv_frame_reader_free(struct jv_frame_reader *r)
{
	jv_buf_free(&r->buf);
	jv_buf_free(&r->frame);
	r->consumed = 0;
}

int jv_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return JV_EIO;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

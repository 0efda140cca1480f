/*
 * proto.h -- the messages between the supervisor and its worker processes.
 *
 * A frame is a 4-byte little-endian length (of what follows), one type byte,
 * then fields: integers little-endian, strings as a 4-byte length and the
 * bytes (length 0xffffffff for NULL). Frames travel over a SOCK_STREAM
 * socketpair; struct jv_frame_reader reassembles them from non-blocking reads.
 */
#ifndef JV_PROTO_H
#define JV_PROTO_H

#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <stddef.h>
#include <stdint.h>

enum jv_msg_type {
	JV_MSG_JOB = 1,    /* supervisor -> worker: run this job */
	JV_MSG_RESULT = 2, /* worker -> supervisor: how it went */
	/* ABI 1.2, while a job runs (struct jv_msg_aux): */
	JV_MSG_PROGRESS = 3, /* worker -> supervisor: value percent, text the note */
	JV_MSG_DEPS_ASK = 4, /* worker -> supervisor: the dependencies' results, please */
	JV_MSG_DEPS = 5,     /* supervisor -> worker: value 0 and text the JSON, or
			      * value a JV_HOST_* error and no text */
};

/* A job to run. Strings are borrowed (encode) or point into the frame (decode). */
struct jv_msg_job {
	int64_t id;
	int32_t attempt;
	int32_t max_attempts;
	int32_t timeout_ms;
	int32_t max_output;
	int32_t executor;  /* index into the runtime's executors */
	const char *type;
	const char *user_id; /* may be NULL */
	const char *payload;
};

/* A finished run. */
struct jv_msg_result {
	int64_t id;
	int32_t attempt;
	int32_t status;      /* enum jv_status, as the executor returned it */
	int32_t timed_out;   /* 1: it failed at or past its own deadline (a timeout,
			      * whatever status says); 0: not */
	int64_t retry_in_ms; /* -1: none asked */
	int64_t duration_us;
	const char *error;   /* may be NULL */
	const char *output;  /* may be NULL */
	size_t output_len;
	const char *result;  /* JSON text or NULL */
	const char *left_behind; /* the processes the job left, killed: "PID (comm), ..." or NULL */
};

/* A message about the running job (progress, the dependency results). */
struct jv_msg_aux {
	int type;          /* JV_MSG_PROGRESS, JV_MSG_DEPS_ASK or JV_MSG_DEPS */
	int64_t id;
	int32_t attempt;
	int32_t value;
	const char *text;  /* may be NULL */
};

/* Append one whole frame to out. */
void jv_msg_job_encode(struct jv_buf *out, const struct jv_msg_job *m);
void jv_msg_result_encode(struct jv_buf *out, const struct jv_msg_result *m);
void jv_msg_aux_encode(struct jv_buf *out, const struct jv_msg_aux *m);

/* The type of a frame's body (enum jv_msg_type), 0 when empty. */
int jv_msg_type(const char *body, size_t len);

/* Decode the body of a frame (after the length; starting at the type byte).
 * Returns 0, or JV_EINVAL for a malformed or wrongly typed frame. Strings
 * point into body and are NUL-terminated there (the decoder writes the
 * terminators, so body is modified). */
int jv_msg_job_decode(char *body, size_t len, struct jv_msg_job *m);
int jv_msg_result_decode(char *body, size_t len, struct jv_msg_result *m);
int jv_msg_aux_decode(char *body, size_t len, struct jv_msg_aux *m);

/* Reassembles frames from a stream. */
struct jv_frame_reader {
	struct jv_buf buf;   /* bytes read, not yet handed out past consumed */
	size_t consumed;     /* bytes of buf already handed out */
	struct jv_buf frame; /* the frame last handed out */
};

/*
 * Read what fd has (non-blocking). Returns >0 bytes read, 0 on EOF, -1 on
 * EAGAIN (nothing now), or JV_EIO on error.
 */
int jv_frame_read(struct jv_frame_reader *r, int fd);

/*
 * The next complete frame, if any: returns 1 and sets *body (the type byte
 * and fields, a copy owned by r, valid until the next jv_frame_next) and
 * *len; 0 when no complete frame is buffered; JV_EINVAL on a corrupt length.
 */
int jv_frame_next(struct jv_frame_reader *r, char **body, size_t *len);

void jv_frame_reader_free(struct jv_frame_reader *r);

/* Write all of buf to a blocking fd. 0 or JV_EIO. */
int jv_write_all(int fd, const char *data, size_t len);

#endif

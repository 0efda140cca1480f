/* store.c -- the engine's queries: processor row, claim, complete, rescue. */
#include "engine/store.h"

#include "lib/db.h"
#include "lib/error.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"
#include "lib/text.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end)
		return JV_EINVAL;
	*out = v;
	return 0;
}

int jv_store_register(PGconn *conn, const char *name, const char *hostname, int pid,
		      const char *version, int stuck_ms, int64_t *id, char *err, size_t errlen)
{
	char pidbuf[16], msbuf[16];
	snprintf(pidbuf, sizeof pidbuf, "%d", pid);
	snprintf(msbuf, sizeof msbuf, "%d", stuck_ms);
	const char *params[] = {name, hostname, pidbuf, version, msbuf};
	long long v;
	int rc = jv_db_query_int64(conn,
				   "INSERT INTO jobvisor.processors (name, hostname, pid, version, "
				   "rescue_after) VALUES ($1, $2, $3, $4, "
				   "make_interval(secs => $5::float8 / 1000)) RETURNING id",
				   5, params, &v, NULL, err, errlen);
	if (rc == 0)
		*id = v;
	return rc;
}

/* PQsendQueryParams, its error into err. */
static int send_params(PGconn *conn, const char *sql, int n, const char *const *params, char *err,
		       size_t errlen)
{
	if (!PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0)) {
		jv_db_format_error(conn, NULL, err, errlen);
		return JV_EDB;
	}
	return 0;
}

int jv_store_heartbeat_send(PGconn *conn, int64_t id, const char *state, int stuck_ms,
			    const char *queues, char *err, size_t errlen)
{
	char idbuf[24], msbuf[16];
	snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
	snprintf(msbuf, sizeof msbuf, "%d", stuck_ms);
	const char *params[] = {idbuf, state, msbuf, queues};
	if (queues)
		return send_params(conn,
				   "SELECT jobvisor.heartbeat($1, $2, make_interval(secs => $3::float8 / "
				   "1000)), jobvisor.sync_queues($4::jsonb)",
				   4, params, err, errlen);
	return send_params(conn,
			   "SELECT jobvisor.heartbeat($1, $2, make_interval(secs => $3::float8 / 1000))",
			   3, params, err, errlen);
}

int jv_store_release_unheld_send(PGconn *conn, int64_t id, const char *held, int epoch, char *err,
				 size_t errlen)
{
	char idbuf[24], epbuf[16];
	snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
	snprintf(epbuf, sizeof epbuf, "%d", epoch);
	const char *params[] = {idbuf, held, epbuf};
	return send_params(conn,
			   "SELECT count(*) FROM jobvisor.release_unheld($1, $2::bigint[], $3::integer)",
			   3, params, err, errlen);
}

int jv_store_count_parse(const PGresult *res)
{
	if (PQntuples(res) != 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0))
		return 0;
	return (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
}

static const char stopped_sql[] = "UPDATE jobvisor.processors SET state = 'stopped', "
				  "stopped_at = now(), heartbeat_at = now() WHERE id = $1";

int jv_store_stopped(PGconn *conn, int64_t id, char *err, size_t errlen)
{
	char idbuf[24];
	snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
	const char *params[] = {idbuf};
	return jv_db_exec(conn, stopped_sql, 1, params, err, errlen);
}

int jv_store_stopped_send(PGconn *conn, int64_t id, char *err, size_t errlen)
{
	char idbuf[24];
	snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
	const char *params[] = {idbuf};
	return send_params(conn, stopped_sql, 1, params, err, errlen);
}

int jv_store_control_send(PGconn *conn, int64_t id, const char *running, char *err,
			  size_t errlen)
{
	char idbuf[24];
	snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
	const char *params[] = {idbuf, running};
	return send_params(conn,
			   "SELECT job_id, job_status, control_seq, control_pause "
			   "FROM jobvisor.control_poll($1, $2::bigint[])",
			   2, params, err, errlen);
}

void jv_store_control_parse(const PGresult *res, struct jv_control *out)
{
	memset(out, 0, sizeof *out);
	out->seq = -1;
	int rows = PQntuples(res);
	if (rows > 0)
		out->gone = jv_calloc((size_t)rows, sizeof *out->gone);
	for (int r = 0; r < rows; r++) {
		if (PQgetisnull(res, r, 0)) {
			parse_i64(PQgetvalue(res, r, 2), &out->seq);
			out->pause = PQgetvalue(res, r, 3)[0] == 't';
			continue;
		}
		struct jv_gone *g = &out->gone[out->n_gone++];
		parse_i64(PQgetvalue(res, r, 0), &g->id);
		snprintf(g->status, sizeof g->status, "%s",
			 PQgetisnull(res, r, 1) ? "deleted" : PQgetvalue(res, r, 1));
	}
}

int jv_store_notify_send(PGconn *conn, const char *channel, const char *payload, char *err,
			 size_t errlen)
{
	const char *params[] = {channel, payload};
	return send_params(conn, "SELECT pg_notify($1, $2)", 2, params, err, errlen);
}

void jv_claimed_free(struct jv_claimed *c)
{
	free(c->type);
	free(c->user_id);
	free(c->payload);
}

static const char claim_sql[] =
	"SELECT id, type, user_id, payload, attempts, max_attempts, timeout_seconds, next_due_ms "
	"FROM jobvisor.claim($1, $2, $3, $4::text[], NULL, $5::integer, $6::text[], $7::text[], "
	"$8::integer[])";

int jv_store_claim_send(PGconn *conn, int64_t id, int slots, int per_user, const char *types,
			int epoch, const struct jv_claim_queues *q, char *err, size_t errlen)
{
	char idbuf[24], slotbuf[16], pubuf[16], epbuf[16];
	snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
	snprintf(slotbuf, sizeof slotbuf, "%d", slots);
	snprintf(pubuf, sizeof pubuf, "%d", per_user);
	snprintf(epbuf, sizeof epbuf, "%d", epoch);
	const char *params[] = {idbuf, slotbuf, pubuf, types, epoch >= 0 ? epbuf : NULL,
				q->served, q->limit_queues ? q->limit_queues : "{}",
				q->limits ? q->limits : "{}"};
	return send_params(conn, claim_sql, 8, params, err, errlen);
}

int jv_store_claim_parse(const PGresult *res, struct jv_claimed **out, size_t *n,
			 struct jv_claim_next *next)
{
	*out = NULL;
	*n = 0;
	/* (the trailer row comes only when fewer than slots were claimed) */
	*next = (struct jv_claim_next){.full = 1, .due_ms = -1};
	int rows = PQntuples(res);
	if (rows > 0)
		*out = jv_calloc((size_t)rows, sizeof **out);
	for (int r = 0; r < rows; r++) {
		if (PQgetisnull(res, r, 0)) {
			/* the trailer: when the next job is due */
			int64_t ms = -1;
			if (!PQgetisnull(res, r, 7))
				parse_i64(PQgetvalue(res, r, 7), &ms);
			*next = (struct jv_claim_next){.full = 0, .due_ms = ms};
			continue;
		}
		struct jv_claimed *c = &(*out)[*n];
		parse_i64(PQgetvalue(res, r, 0), &c->id);
		c->type = jv_strdup(PQgetvalue(res, r, 1));
		c->user_id = PQgetisnull(res, r, 2) ? NULL : jv_strdup(PQgetvalue(res, r, 2));
		c->payload = jv_strdup(PQgetvalue(res, r, 3));
		c->attempt = (int32_t)strtol(PQgetvalue(res, r, 4), NULL, 10);
		c->max_attempts = (int32_t)strtol(PQgetvalue(res, r, 5), NULL, 10);
		c->timeout_seconds =
			PQgetisnull(res, r, 6) ? 0 : (int32_t)strtol(PQgetvalue(res, r, 6), NULL, 10);
		(*n)++;
	}
	return 0;
}

static const char *const job_status_text[] = {
	[JV_JOB_PENDING] = "pending",     [JV_JOB_RUNNING] = "running",
	[JV_JOB_SUCCEEDED] = "succeeded", [JV_JOB_FAILED] = "failed",
	[JV_JOB_CANCELLED] = "cancelled",
};

enum jv_job_status jv_job_status_parse(const char *text)
{
	for (size_t i = 1; i < sizeof job_status_text / sizeof job_status_text[0]; i++)
		if (text && !strcmp(text, job_status_text[i]))
			return (enum jv_job_status)i;
	return JV_JOB_OTHER;
}

/* A string for the JSON document, sanitised; NULL stays JSON null. */
static json_t *text_value(const char *s, size_t len, size_t max)
{
	if (!s)
		return json_null();
	char *clean;
	if (max > 0 && len > max) {
		char *cut = jv_text_sanitize(s, max);
		clean = jv_asprintf("%s\n[output truncated: %zu bytes dropped]", cut, len - max);
		free(cut);
	} else {
		clean = jv_text_sanitize(s, len);
	}
	json_t *v = json_string(clean);
	free(clean);
	return v ? v : json_null();
}

static const char complete_sql[] =
	"SELECT id, attempt, applied, status FROM jobvisor.complete($1, $2::jsonb, $3, $4)";

int jv_store_complete_send(PGconn *conn, int64_t id, const struct jv_done *done, size_t n,
			   int retry_base_ms, int retry_max_ms, size_t max_output, char *err,
			   size_t errlen)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct jv_done *d = &done[i];
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(d->at.id));
		json_object_set_new(o, "attempt", json_integer(d->at.attempt));
		json_object_set_new(o, "outcome", json_string(jv_outcome_text(d->outcome)));
		/* whether it may be retried, as far as C knows; jobvisor.next_status()
		 * applies the job's own count (jv_attempt_may_retry) */
		json_object_set_new(o, "retryable",
				    json_boolean(jv_attempt_may_retry(&d->at, d->outcome)));
		json_object_set_new(o, "retry_ms", json_integer(d->retry_in_ms));
		json_object_set_new(o, "duration_ms", json_integer(d->duration_ms));
		if (d->error)
			json_object_set_new(o, "error",
					    text_value(d->error, strlen(d->error), JV_ERROR_MAX));
		if (d->output)
			json_object_set_new(o, "output",
					    text_value(d->output, strlen(d->output), max_output));
		if (d->result) {
			json_t *r = json_loads(d->result, JSON_DECODE_ANY, NULL);
			if (r)
				json_object_set_new(o, "result", r);
		}
		json_array_append_new(arr, o);
	}
	char *doc = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(arr);
	char idbuf[24], basebuf[16], maxbuf[16];
	snprintf(idbuf, sizeof idbuf, "%" PRId64, id);
	snprintf(basebuf, sizeof basebuf, "%d", retry_base_ms);
	snprintf(maxbuf, sizeof maxbuf, "%d", retry_max_ms);
	const char *params[] = {idbuf, doc, basebuf, maxbuf};
	int ok = PQsendQueryParams(conn, complete_sql, 4, NULL, params, NULL, NULL, 0);
	free(doc);
	if (!ok) {
		jv_db_format_error(conn, NULL, err, errlen);
		return JV_EDB;
	}
	return 0;
}

int jv_store_complete_parse(const PGresult *res, struct jv_applied **applied, size_t *n)
{
	int rows = PQntuples(res);
	*applied = jv_calloc((size_t)(rows > 0 ? rows : 1), sizeof **applied);
	for (int r = 0; r < rows; r++) {
		struct jv_applied *a = &(*applied)[r];
		parse_i64(PQgetvalue(res, r, 0), &a->id);
		a->attempt = (int32_t)strtol(PQgetvalue(res, r, 1), NULL, 10);
		a->applied = PQgetvalue(res, r, 2)[0] == 't';
		a->status = jv_job_status_parse(PQgetvalue(res, r, 3));
	}
	*n = (size_t)rows;
	return 0;
}


/* alert.c -- events and how they read: titles, plain text and JSON. */
#include "alert/alert.h"

#include "lib/mem.h"
#include "lib/text.h"
#include "lib/tz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JV_ALERT_ERROR_MAX 500 /* bytes of a job's error kept in an alert */

const char *jv_event_name(enum jv_event_kind kind)
{
	return (unsigned)kind < JV_EV_COUNT ? jv_event_names[kind] : NULL;
}

int jv_event_parse(const char *name)
{
	for (int i = 0; i < JV_EV_COUNT; i++)
		if (name && !strcmp(name, jv_event_names[i]))
			return i;
	return -1;
}

/* A copy that is valid UTF-8 (bad bytes become U+FFFD; JSON needs it). */
static char *utf8_dup(const char *s)
{
	return s ? jv_text_sanitize(s, strlen(s)) : NULL;
}

void jv_event_copy(struct jv_event *dst, const struct jv_event *src)
{
	*dst = *src;
	dst->job_type = utf8_dup(src->job_type);
	dst->user_id = utf8_dup(src->user_id);
	dst->error = utf8_dup(src->error);
	dst->subject = utf8_dup(src->subject);
}

void jv_event_clear(struct jv_event *ev)
{
	free(ev->job_type);
	free(ev->user_id);
	free(ev->error);
	free(ev->subject);
	memset(ev, 0, sizeof *ev);
}

/* s cut to at most max bytes at a UTF-8 boundary, "…" appended when cut. */
static char *trim_utf8(const char *s, size_t max)
{
	if (!s)
		return NULL;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\r'))
		len--;
	if (len <= max)
		return jv_strndup(s, len);
	size_t cut = max;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	char *out = jv_malloc(cut + 4);
	memcpy(out, s, cut);
	memcpy(out + cut, "\xE2\x80\xA6", 4); /* … and the NUL */
	return out;
}

/* "2026-11-29 01:30:55 UTC" */
static void fmt_time(char *buf, size_t len, int64_t ms)
{
	struct tm tm;
	if (!jv_utc_tm(jv_floordiv(ms, 1000), &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "%lld ms since 1970 UTC", (long long)ms);
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

/* The one-line title. */
static char *title_of(const struct jv_event *e, const struct jv_event *last, uint32_t count,
		      int window_s)
{
	const char *type = or_dash(e->job_type);
	if (count > 1) {
		switch (e->kind) {
		case JV_EV_JOB_FAILED:
			return jv_asprintf("%u jobs of type %s failed in the last %d s", count, type,
					   window_s);
		case JV_EV_JOB_TIMED_OUT:
			return jv_asprintf("%u jobs of type %s timed out in the last %d s", count,
					   type, window_s);
		case JV_EV_JOB_RETRYING:
			return jv_asprintf("%u attempts of type %s failed and will be retried "
					   "(last %d s)",
					   count, type, window_s);
		case JV_EV_STUCK_JOBS_RESET:
			return jv_asprintf("stuck jobs reset %u times in the last %d s (%lld jobs "
					   "the last time)",
					   count, window_s, (long long)(last ? last : e)->number);
		default:
			return jv_asprintf("%s, %u times in the last %d s", jv_event_name(e->kind),
					   count, window_s);
		}
	}
	switch (e->kind) {
	case JV_EV_JOB_FAILED:
		return jv_asprintf("job #%lld (%s) failed after %d attempt%s", (long long)e->job_id,
				   type, e->attempt, e->attempt == 1 ? "" : "s");
	case JV_EV_JOB_TIMED_OUT:
		return jv_asprintf("job #%lld (%s) timed out (attempt %d of %d)",
				   (long long)e->job_id, type, e->attempt, e->max_attempts);
	case JV_EV_JOB_RETRYING:
		return jv_asprintf("job #%lld (%s) failed attempt %d of %d; it will be retried",
				   (long long)e->job_id, type, e->attempt, e->max_attempts);
	case JV_EV_STUCK_JOBS_RESET:
		return jv_asprintf("%lld stuck job%s reset (their processor stopped heartbeating)",
				   (long long)e->number, e->number == 1 ? "" : "s");
	case JV_EV_PROCESSOR_DOWN:
		return jv_asprintf("processor %s is down: no heartbeat for %lld s",
				   or_dash(e->subject), (long long)e->seconds);
	case JV_EV_PROCESSOR_STARTED:
		return jv_asprintf("processor %s started", or_dash(e->subject));
	case JV_EV_PROCESSOR_STOPPED:
		return jv_asprintf("processor %s stopped", or_dash(e->subject));
	case JV_EV_FAILURE_RATE:
		return jv_asprintf("%lld%% of %s attempts failed in the last %lld s (%lld of %lld)",
				   e->total ? (long long)(e->number * 100 / e->total) : 0LL, type,
				   (long long)e->seconds, (long long)e->number,
				   (long long)e->total);
	case JV_EV_QUEUE_BACKLOG:
		return jv_asprintf("queue backlog: the oldest due job has waited %lld s "
				   "(%lld due jobs pending)",
				   (long long)e->seconds, (long long)e->number);
	case JV_EV_COUNT:
		break;
	}
	return jv_strdup("alert");
}

/* The plain text of an alert (m's title, error and link already made);
 * end is the last event folded in, first itself when one. Caller frees. */
static char *render_text(const struct jv_alert_msg *m, const struct jv_event *first,
			 const struct jv_event *end, uint32_t count, const char *t0, const char *t1,
			 const char *processor)
{
	struct jv_buf b = {0};
	jv_buf_printf(&b, "%s\n\nevent: %s\n", m->title, jv_event_name(first->kind));
	if (first->job_id > 0) {
		if (count > 1)
			jv_buf_printf(&b, "jobs: %u, first #%lld at %s, last #%lld at %s\n", count,
				      (long long)first->job_id, t0, (long long)end->job_id, t1);
		else
			jv_buf_printf(&b, "job: #%lld\n", (long long)first->job_id);
		jv_buf_printf(&b, "type: %s\n", or_dash(first->job_type));
		if (end->user_id)
			jv_buf_printf(&b, "user: %s\n", end->user_id);
		if (end->attempt > 0 && end->max_attempts > 0)
			jv_buf_printf(&b, "attempt: %d of %d\n", end->attempt, end->max_attempts);
		else if (end->attempt > 0)
			jv_buf_printf(&b, "attempt: %d\n", end->attempt);
	} else if (count > 1) {
		jv_buf_printf(&b, "occurrences: %u, first at %s, last at %s\n", count, t0, t1);
	}
	if (first->kind == JV_EV_FAILURE_RATE || first->kind == JV_EV_QUEUE_BACKLOG ||
	    first->kind == JV_EV_STUCK_JOBS_RESET)
		jv_buf_printf(&b, "count: %lld\n", (long long)end->number);
	if (m->error)
		jv_buf_printf(&b, "error: %s\n", m->error);
	jv_buf_printf(&b, "processor: %s\n", or_dash(processor));
	jv_buf_printf(&b, "time: %s\n", count > 1 ? t1 : t0);
	if (m->link)
		jv_buf_printf(&b, "link: %s\n", m->link);
	char *text = jv_strdup(b.data);
	jv_buf_free(&b);
	return text;
}

/* The JSON text of an alert (m's text made already). Caller frees. */
static char *render_json(const struct jv_alert_msg *m, const struct jv_event *first,
			 const struct jv_event *end, uint32_t count, const char *t0, const char *t1,
			 const char *processor)
{
	json_t *o = json_object();
	json_object_set_new(o, "event", json_string(jv_event_name(first->kind)));
	json_object_set_new(o, "title", json_string(m->title));
	json_object_set_new(o, "count", json_integer(count));
	json_object_set_new(o, "first_at", json_string(t0));
	json_object_set_new(o, "last_at", json_string(t1));
	if (first->job_id > 0) {
		json_t *job = json_pack("{s:I, s:s?, s:s?, s:i, s:i}", "id", (json_int_t)end->job_id,
					"type", first->job_type, "user", end->user_id, "attempt",
					end->attempt, "max_attempts", end->max_attempts);
		json_object_set_new(o, "job", job);
		if (count > 1) {
			json_object_set_new(o, "first_job_id", json_integer(first->job_id));
			json_object_set_new(o, "last_job_id", json_integer(end->job_id));
		}
	}
	if (first->kind == JV_EV_FAILURE_RATE || first->kind == JV_EV_QUEUE_BACKLOG ||
	    first->kind == JV_EV_STUCK_JOBS_RESET || first->kind == JV_EV_PROCESSOR_DOWN) {
		json_object_set_new(o, "number", json_integer(end->number));
		json_object_set_new(o, "seconds", json_integer(end->seconds));
		if (first->kind == JV_EV_FAILURE_RATE)
			json_object_set_new(o, "total", json_integer(end->total));
	}
	if (first->subject)
		json_object_set_new(o, "subject", json_string(first->subject));
	if (first->job_type)
		json_object_set_new(o, "job_type", json_string(first->job_type));
	if (m->error)
		json_object_set_new(o, "error", json_string(m->error));
	json_object_set_new(o, "processor", json_string(or_dash(processor)));
	json_object_set_new(o, "text", json_string(m->text));
	if (m->link)
		json_object_set_new(o, "link", json_string(m->link));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

void jv_alert_render(struct jv_alert_msg *m, const struct jv_event *first,
		     const struct jv_event *last, uint32_t count, int window_s,
		     const char *processor, const char *dashboard_url)
{
	memset(m, 0, sizeof *m);
	if (count < 1)
		count = 1;
	/* Whoever raised them may have handed in any bytes: render copies
	 * that are valid UTF-8. */
	struct jv_event f, l;
	jv_event_copy(&f, first);
	if (last)
		jv_event_copy(&l, last);
	first = &f;
	/* cppcheck-suppress uninitvar ; l is taken only when it was filled */
	last = last ? &l : NULL;
	const struct jv_event *end = count > 1 && last ? last : first;
	m->title = title_of(first, end, count, window_s);
	m->error = trim_utf8(end->error, JV_ALERT_ERROR_MAX);
	if (dashboard_url && *dashboard_url) {
		size_t n = strlen(dashboard_url);
		while (n > 0 && dashboard_url[n - 1] == '/')
			n--;
		m->link = first->job_id > 0 && count == 1
				  ? jv_asprintf("%.*s/#/jobs/%lld", (int)n, dashboard_url,
						(long long)first->job_id)
				  : jv_asprintf("%.*s/", (int)n, dashboard_url);
	}

	char t0[40], t1[40];
	fmt_time(t0, sizeof t0, first->at_ms);
	fmt_time(t1, sizeof t1, end->at_ms);
	m->text = render_text(m, first, end, count, t0, t1, processor);

	m->json = render_json(m, first, end, count, t0, t1, processor);

	struct jv_alert *a = &m->alert;
	a->struct_size = sizeof *a;
	a->event = jv_event_name(first->kind);
	a->title = m->title;
	a->text = m->text;
	a->json = m->json;
	a->job_id = count > 1 ? 0 : first->job_id;
	a->attempt = end->attempt;
	a->error = m->error;
	a->processor = processor;
	a->count = count;
	a->first_at_ms = first->at_ms;
	a->last_at_ms = end->at_ms;
	a->link = m->link;
	/* job_type and user_id must outlive this call: keep them in m */
	m->job_type = f.job_type;
	m->user_id = end == &l ? l.user_id : f.user_id;
	f.job_type = NULL;
	if (end == &l)
		l.user_id = NULL;
	else
		f.user_id = NULL;
	a->job_type = m->job_type;
	a->user_id = m->user_id;
	jv_event_clear(&f);
	if (last)
		jv_event_clear(&l);
}

void jv_alert_msg_free(struct jv_alert_msg *m)
{
	free(m->title);
	free(m->text);
	free(m->json);
	free(m->link);
	free(m->error);
	free(m->job_type);
	free(m->user_id);
	memset(m, 0, sizeof *m);
}

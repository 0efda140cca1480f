/*
 * progress.c -- what running jobs say of their progress (host->progress,
 * ABI 1.2), on its way to jobvisor.jobs: the latest of each job is kept
 * here and written with jobvisor.set_progress(jsonb), many jobs in one
 * round trip, at most once a second per job, on whichever channel is idle.
 * Nothing waits for it: a write that fails is logged and the next update
 * is written as usual. A job that ends is forgotten (its completion
 * records how it ended; set_progress() is fenced to the running attempt).
 */
#include "autoconf.h"

#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* At most one write per job per this many ms. */
#define JV_PROGRESS_WRITE_MS 1000

static struct prog_item *find(struct serve *s, int64_t id)
{
	for (size_t i = 0; i < s->prog.n; i++)
		if (s->prog.items[i].id == id)
			return &s->prog.items[i];
	return NULL;
}

/* The pools' on_progress: the latest of (id, attempt), kept until written. */
void sv_progress_note(void *arg, int64_t id, int32_t attempt, int percent, const char *note)
{
	struct serve *s = arg;
	struct prog_item *it = find(s, id);
	if (!it) {
		if (s->prog.n == s->prog.cap) {
			s->prog.cap = s->prog.cap ? 2 * s->prog.cap : 16;
			s->prog.items = jv_realloc(s->prog.items, s->prog.cap * sizeof *s->prog.items);
		}
		it = &s->prog.items[s->prog.n++];
		memset(it, 0, sizeof *it);
		it->id = id;
	}
	it->attempt = attempt;
	it->percent = percent;
	free(it->note);
	/* (the worker cleaned it; it is still only as good as its process) */
	it->note = note && note[0] ? jv_text_sanitize(note, strnlen(note, 4 * JV_PROGRESS_NOTE_MAX))
				   : NULL;
	it->dirty = 1;
}

void sv_progress_forget(struct serve *s, int64_t id)
{
	struct prog_item *it = s->prog.n ? find(s, id) : NULL;
	if (!it)
		return;
	free(it->note);
	*it = s->prog.items[--s->prog.n];
}

static int due(const struct prog_item *it, uint64_t now)
{
	return it->dirty && (it->written_at == 0 || now >= it->written_at + JV_PROGRESS_WRITE_MS);
}

void sv_send_progress(struct serve *s, uint64_t now)
{
	if (s->prog.n == 0 || s->prog.chan || !sv_connected(s))
		return;
	size_t n_due = 0;
	for (size_t i = 0; i < s->prog.n; i++)
		n_due += due(&s->prog.items[i], now);
	if (n_due == 0)
		return;
	struct chan *c = sv_idle_chan(s, &s->cc, &s->lc);
	if (!c)
		return;
	json_t *arr = json_array();
	for (size_t i = 0; i < s->prog.n; i++) {
		struct prog_item *it = &s->prog.items[i];
		if (!due(it, now))
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(it->id));
		json_object_set_new(o, "attempt", json_integer(it->attempt));
		json_object_set_new(o, "percent", json_integer(it->percent));
		json_t *note = it->note ? json_string(it->note) : NULL;
		json_object_set_new(o, "note", note ? note : json_null());
		json_array_append_new(arr, o);
		it->dirty = 0;
		it->written_at = now;
	}
	char *doc = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	const char *params[] = {doc};
	int ok = PQsendQueryParams(c->conn, "SELECT jobvisor.set_progress($1::jsonb)", 1, NULL,
				   params, NULL, NULL, 0);
	free(doc);
	if (!ok) {
		char err[512];
		jv_db_format_error(c->conn, NULL, err, sizeof err);
		if (!sv_check_lost(s, c->conn, "writing progress", err))
			jv_log(JV_ERROR, "could not write the progress of %zu jobs: %s", n_due, err);
		return;
	}
	s->prog.chan = c;
	sv_chan_sent(s, c, Q_PROGRESS, now);
}

void sv_on_progress_result(struct serve *s, struct chan *c, PGresult *res, uint64_t now)
{
	(void)now;
	s->prog.chan = NULL;
	if (!c->failed)
		return;
	char err[512];
	jv_db_format_error(c->conn, res, err, sizeof err);
	if (!sv_check_lost(s, c->conn, "writing progress", err))
		jv_log(JV_ERROR, "could not write the progress of running jobs: %s", err);
}

/* When the next progress write is due (wake lowered to it). */
uint64_t sv_progress_wake(const struct serve *s, uint64_t wake)
{
	if (s->prog.chan)
		return wake; /* (its answer wakes us) */
	for (size_t i = 0; i < s->prog.n; i++) {
		const struct prog_item *it = &s->prog.items[i];
		uint64_t at = it->written_at ? it->written_at + JV_PROGRESS_WRITE_MS : 0;
		if (it->dirty && at < wake)
			wake = at;
	}
	return wake;
}

void sv_progress_free(struct serve *s)
{
	for (size_t i = 0; i < s->prog.n; i++)
		free(s->prog.items[i].note);
	free(s->prog.items);
	s->prog = (struct serve_progress){0};
}

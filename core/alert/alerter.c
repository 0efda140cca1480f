/*
 * alerter.c -- delivering alerts off the hot path (see alert.h).
 *
 * Threads: one per sink, and a watcher. The engine's jv_alerter_raise()
 * takes the lock, appends a copy of the event to each interested sink's
 * ring (dropping the oldest when full) and signals; it never waits on a
 * network or the database. A sink thread owns everything else about its
 * sink: folds, the outbox of rendered messages, the rate limit, retries,
 * and a database connection of its own for the history, so a dead Slack or
 * a slow history insert holds up nothing but that sink.
 */
#include "alert/alert.h"

#include "config/config.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/tz.h"
#include "plugin/host.h"
#include "plugin/loader.h"

#include <libpq-fe.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JV_ALERT_BACKOFF_MAX_MS 60000   /* between two tries of one message */
#define JV_ALERT_DB_RETRY_MS 30000      /* after the history database failed */
#define JV_ALERT_MAX_FOLDS 256          /* distinct fold keys kept per sink */

struct fold {
	enum jv_event_kind kind;
	char *type;              /* the key: event and job type */
	struct jv_event first;   /* of those waiting (pending > 0) */
	struct jv_event last;
	uint32_t pending;        /* events since the last message */
	uint64_t window_end;     /* monotonic ms */
};

struct msg {
	struct jv_event first, last;
	uint32_t count;
	int window_s;
	int attempts;
	uint64_t next_try;       /* monotonic ms */
	char *error;             /* of the last try */
};

/* What the ring holds: one event (count 1) or a closed fold of count. */
struct item {
	struct jv_event first, last; /* last: only when count > 1 */
	uint32_t count;
	int window_s;
};

struct sink {
	struct jv_alerter *a;
	size_t index;
	const struct jv_alert_cfg *cfg;
	struct jv_instance *inst;
	char *label;             /* "alerts[0] (slack)" */
	unsigned wants;          /* bit per enum jv_event_kind */
	pthread_t thread;
	int started;

	/* under a->lock: the ring of items, and the open folds */
	struct item *ring;
	size_t cap, head, len;
	uint64_t dropped_new;    /* events dropped since the thread last looked */
	struct fold *folds;
	size_t n_folds;

	/* the thread's own */
	struct msg *out;
	size_t n_out;
	uint64_t next_send;      /* monotonic ms: min_interval_ms after the last send */
	PGconn *db;
	uint64_t db_retry_at;

	_Atomic uint64_t sent, failed, dropped, folded, raised;
};

struct jv_alerter {
	const struct jv_config *cfg;
	struct jv_runtime *rt;
	int64_t processor_id;
	char *processor;
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* new events, or stopping */
	int stopping;
	uint64_t stop_deadline;  /* monotonic ms */
	struct sink *sinks;
	size_t n;
	unsigned wants;          /* union of the sinks' */
	pthread_t watcher;
	int watcher_started;
};

/* ------------------------------------------------------------ raising */

static int listed(char *const *list, const char *s)
{
	if (!list)
		return 1; /* no filter */
	if (!s)
		return 0;
	for (char *const *p = list; *p; p++)
		if (!strcmp(*p, s))
			return 1;
	return 0;
}

static int sink_wants(const struct sink *k, const struct jv_event *ev)
{
	if (!(k->wants & (1u << ev->kind)))
		return 0;
	/* type and user filters apply to events about jobs or a job type */
	if (ev->job_type || ev->job_id)
		if (!listed(k->cfg->types, ev->job_type))
			return 0;
	if (ev->job_id && !listed(k->cfg->users, ev->user_id))
		return 0;
	return 1;
}

int jv_alerter_wants(const struct jv_alerter *a, enum jv_event_kind kind)
{
	return a && (a->wants & (1u << kind)) != 0;
}

static void item_clear(struct item *it)
{
	jv_event_clear(&it->first);
	jv_event_clear(&it->last);
	memset(it, 0, sizeof *it);
}

/* Append to k's ring (a->lock held), taking over it's strings; when full,
 * the oldest item goes. */
static void ring_push(struct sink *k, struct item *it)
{
	if (k->len == k->cap) {
		struct item *old = &k->ring[k->head];
		k->dropped_new += old->count;
		atomic_fetch_add(&k->dropped, old->count);
		item_clear(old);
		k->head = (k->head + 1) % k->cap;
		k->len--;
	}
	k->ring[(k->head + k->len) % k->cap] = *it;
	k->len++;
	memset(it, 0, sizeof *it);
}

static int same_key(const struct fold *f, const struct jv_event *ev)
{
	if (f->kind != ev->kind)
		return 0;
	if (!f->type || !ev->job_type)
		return f->type == ev->job_type;
	return !strcmp(f->type, ev->job_type);
}

/* Fold ev into an open window of its key (a->lock held): 1 when it was,
 * 0 when it must go out on its own (then a window opens for its key). */
static int fold_in(struct sink *k, const struct jv_event *ev, uint64_t now)
{
	int window_s = k->cfg->fold_seconds;
	if (window_s <= 0)
		return 0;
	for (size_t i = 0; i < k->n_folds; i++) {
		struct fold *f = &k->folds[i];
		if (!same_key(f, ev))
			continue;
		if (f->pending == 0)
			jv_event_copy(&f->first, ev);
		jv_event_clear(&f->last);
		jv_event_copy(&f->last, ev);
		f->pending++;
		return 1;
	}
	if (k->n_folds < JV_ALERT_MAX_FOLDS) {
		struct fold *f = &k->folds[k->n_folds++];
		memset(f, 0, sizeof *f);
		f->kind = ev->kind;
		f->type = jv_strdup(ev->job_type);
		f->window_end = now + (uint64_t)window_s * 1000;
	}
	return 0; /* (too many distinct keys at once: no folding for this one) */
}

/* Windows that closed (all of them when flushing), a->lock held: what
 * waited in one goes into the ring as one item and a new window opens; a
 * window that caught nothing closes. */
static void fold_tick(struct sink *k, uint64_t now, int flush)
{
	int window_s = k->cfg->fold_seconds;
	for (size_t i = 0; i < k->n_folds;) {
		struct fold *f = &k->folds[i];
		if (!flush && f->window_end > now) {
			i++;
			continue;
		}
		if (f->pending > 0) {
			struct item it = {.count = f->pending, .window_s = window_s};
			it.first = f->first;
			if (f->pending > 1) {
				it.last = f->last;
				atomic_fetch_add(&k->folded, f->pending - 1);
			} else {
				jv_event_clear(&f->last);
			}
			memset(&f->first, 0, sizeof f->first);
			memset(&f->last, 0, sizeof f->last);
			ring_push(k, &it);
			f->pending = 0;
			f->window_end = now + (uint64_t)window_s * 1000;
			if (!flush) {
				i++;
				continue;
			}
		}
		/* Each fold owns its type: the analyzer cannot tell folds[i] from
		 * folds[n - 1]. */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		free(f->type);
		k->folds[i] = k->folds[--k->n_folds];
	}
}

void jv_alerter_raise(struct jv_alerter *a, const struct jv_event *ev)
{
	if (!a || !jv_alerter_wants(a, ev->kind))
		return;
	struct jv_event copy = *ev;
	if (!copy.at_ms)
		copy.at_ms = jv_unix_ms();
	uint64_t now = jv_now_ms();
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n; i++) {
		struct sink *k = &a->sinks[i];
		if (!sink_wants(k, &copy))
			continue;
		atomic_fetch_add(&k->raised, 1);
		if (fold_in(k, &copy, now))
			continue;
		struct item it = {.count = 1};
		jv_event_copy(&it.first, &copy);
		ring_push(k, &it);
	}
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

void jv_alerter_stats(const struct jv_alerter *a, struct jv_alert_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		struct sink *k = &a->sinks[i];
		out->raised += atomic_load(&k->raised);
		out->sent += atomic_load(&k->sent);
		out->failed += atomic_load(&k->failed);
		out->dropped += atomic_load(&k->dropped);
		out->folded += atomic_load(&k->folded);
	}
}

/* ------------------------------------------------------------ history */

/* The sink's history connection, (re)opened when due; NULL when down. */
static PGconn *history_db(struct sink *k)
{
	if (k->db && PQstatus(k->db) == CONNECTION_OK)
		return k->db;
	if (k->db) {
		PQfinish(k->db);
		k->db = NULL;
	}
	uint64_t now = jv_now_ms();
	if (now < k->db_retry_at)
		return NULL;
	char err[512];
	k->db = jv_db_connect(k->a->cfg->database.url, "jobvisor-alerts", err, sizeof err);
	if (!k->db) {
		jv_log(JV_WARNING, "%s: alert history unavailable (retrying in %d s): %s", k->label,
		       JV_ALERT_DB_RETRY_MS / 1000, err);
		k->db_retry_at = now + JV_ALERT_DB_RETRY_MS;
	}
	return k->db;
}

static void fmt_ts(char *buf, size_t len, int64_t ms)
{
	int64_t s = jv_floordiv(ms, 1000);
	struct tm tm;
	size_t n = jv_utc_tm(s, &tm) ? strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) : 0;
	if (n == 0) /* beyond struct tm: PostgreSQL still takes this */
		snprintf(buf, len, "epoch");
	else
		snprintf(buf + n, len - n, ".%03d+00", (int)(ms - s * 1000));
}

/* One row of jobvisor.alerts. status: sent | failed | dropped. */
static void history_record(struct sink *k, const struct jv_alert_msg *m, const char *status,
			   int attempts, const char *error)
{
	PGconn *db = history_db(k);
	if (!db)
		return;
	const struct jv_alert *al = &m->alert;
	char first[40], last[40], job[24], count[16], att[16], proc[24];
	fmt_ts(first, sizeof first, al->first_at_ms);
	fmt_ts(last, sizeof last, al->last_at_ms);
	int64_t job_id = al->job_id;
	if (!job_id && al->count > 1) {
		/* a fold: the last job it is about, from the JSON */
		const char *p = strstr(al->json, "\"last_job_id\":");
		if (p)
			job_id = strtoll(p + 14, NULL, 10);
	}
	snprintf(job, sizeof job, "%lld", (long long)job_id);
	snprintf(count, sizeof count, "%u", al->count);
	snprintf(att, sizeof att, "%d", attempts);
	snprintf(proc, sizeof proc, "%lld", (long long)k->a->processor_id);
	char sinkname[32];
	snprintf(sinkname, sizeof sinkname, "alerts[%zu]", k->index);
	const char *params[] = {
		first,       last,        status,      sinkname,  k->cfg->plugin, al->event,
		count,       job_id ? job : NULL,       al->job_type, al->user_id,    al->title,
		al->text,    al->json,    att,         error,     k->a->processor_id ? proc : NULL,
	};
	char err[512];
	PGresult *res = jv_db_query(
	    db,
	    "INSERT INTO jobvisor.alerts (first_at, last_at, sent_at, status, sink, plugin, event, "
	    "count, job_id, job_type, user_id, title, body, details, attempts, error, processor) "
	    "VALUES ($1, $2, CASE WHEN $3 = 'sent' THEN now() END, $3, $4, $5, $6, $7, $8, $9, "
	    "$10, $11, $12, $13::jsonb, $14, $15, $16)",
	    16, params, NULL, err, sizeof err);
	if (!res) {
		jv_log(JV_WARNING, "%s: could not record an alert in jobvisor.alerts: %s", k->label,
		       err);
		if (PQstatus(db) != CONNECTION_OK)
			k->db_retry_at = jv_now_ms() + JV_ALERT_DB_RETRY_MS;
		return;
	}
	PQclear(res);
}

/* Record n events dropped because the queue was full, as one row. */
static void history_dropped(struct sink *k, uint64_t n)
{
	struct jv_alert_msg m;
	memset(&m, 0, sizeof m);
	m.title = jv_asprintf("%llu alerts dropped: the queue of %s was full",
			      (unsigned long long)n, k->label);
	m.text = jv_asprintf("%s\n\nalerting.queue_size is %d; the oldest waiting alerts were "
			     "dropped unsent.\n",
			     m.title, k->a->cfg->alerting.queue_size);
	m.json = jv_asprintf("{\"event\":\"dropped\",\"count\":%llu}", (unsigned long long)n);
	m.alert.event = "dropped";
	m.alert.title = m.title;
	m.alert.text = m.text;
	m.alert.json = m.json;
	m.alert.count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	m.alert.first_at_ms = m.alert.last_at_ms = jv_unix_ms();
	jv_log(JV_WARNING, "%s", m.title);
	history_record(k, &m, "dropped", 0, "queue full");
	jv_alert_msg_free(&m);
}

/* ------------------------------------------------------------ one sink */

static void msg_free(struct msg *m)
{
	jv_event_clear(&m->first);
	jv_event_clear(&m->last);
	free(m->error);
}

/* Queue a message: first alone (count 1), or a fold of count ending at last. */
static void outbox_push(struct sink *k, const struct jv_event *first, const struct jv_event *last,
			uint32_t count, int window_s)
{
	size_t cap = (size_t)k->a->cfg->alerting.queue_size;
	if (k->n_out >= cap) {
		/* the oldest message goes, recorded as dropped */
		struct jv_alert_msg m;
		struct msg *o = &k->out[0];
		jv_alert_render(&m, &o->first, o->count > 1 ? &o->last : NULL, o->count,
				o->window_s, k->a->processor, k->a->cfg->api.dashboard_url);
		history_record(k, &m, "dropped", o->attempts, "outbox full");
		jv_alert_msg_free(&m);
		atomic_fetch_add(&k->dropped, o->count);
		msg_free(o);
		memmove(k->out, k->out + 1, (k->n_out - 1) * sizeof *k->out);
		k->n_out--;
	}
	struct msg *m = &k->out[k->n_out++];
	memset(m, 0, sizeof *m);
	jv_event_copy(&m->first, first);
	if (last)
		jv_event_copy(&m->last, last);
	m->count = count;
	m->window_s = window_s;
}

/* Try the first message of the outbox, when due. Returns 1 when it tried. */
static int send_one(struct sink *k, uint64_t now)
{
	if (k->n_out == 0 || now < k->next_send || now < k->out[0].next_try)
		return 0;
	struct msg *o = &k->out[0];
	struct jv_alert_msg m;
	jv_alert_render(&m, &o->first, o->count > 1 ? &o->last : NULL, o->count, o->window_s,
			k->a->processor, k->a->cfg->api.dashboard_url);
	struct jv_run run;
	jv_run_init(&run, (int64_t)k->cfg->timeout_seconds * 1000, 4096);
	int st = jv_instance_send(k->inst, &m.alert, &run);
	o->attempts++;
	uint64_t after = jv_now_ms();
	int done = 1;
	if (st == JV_SUCCESS) {
		jv_debug("%s: sent \"%s\"", k->label, m.title);
		history_record(k, &m, "sent", o->attempts, NULL);
		atomic_fetch_add(&k->sent, 1);
	} else if (st == JV_RETRY && o->attempts < k->cfg->max_attempts) {
		/* attempts >= 1 after the ++ above. */
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
		int64_t wait = 1000LL << (o->attempts - 1 < 16 ? o->attempts - 1 : 16);
		if (wait > JV_ALERT_BACKOFF_MAX_MS)
			wait = JV_ALERT_BACKOFF_MAX_MS;
		if (run.retry_in_ms > wait)
			wait = run.retry_in_ms;
		jv_log(JV_WARNING, "%s: sending \"%s\" failed (try %d of %d), again in %lld ms: %s",
		       k->label, m.title, o->attempts, k->cfg->max_attempts, (long long)wait,
		       run.error ? run.error : "no reason given");
		o->next_try = after + (uint64_t)wait;
		free(o->error);
		o->error = jv_strdup(run.error);
		done = 0;
	} else {
		jv_log(JV_ERROR, "%s: could not send \"%s\" (%s after %d tr%s): %s", k->label,
		       m.title, st == JV_RETRY ? "gave up" : "refused", o->attempts,
		       o->attempts == 1 ? "y" : "ies", run.error ? run.error : "no reason given");
		history_record(k, &m, "failed", o->attempts, run.error ? run.error : "failed");
		atomic_fetch_add(&k->failed, 1);
	}
	jv_run_free(&run);
	jv_alert_msg_free(&m);
	if (done) {
		msg_free(o);
		memmove(k->out, k->out + 1, (k->n_out - 1) * sizeof *k->out);
		k->n_out--;
	}
	k->next_send = after + (uint64_t)k->cfg->min_interval_ms;
	return 1;
}

/* When the thread must next wake: a fold window with something waiting
 * (a->lock held), or its next send. 0: nothing to wait for. */
static uint64_t next_wake(const struct sink *k)
{
	uint64_t at = 0;
	for (size_t i = 0; i < k->n_folds; i++)
		if (k->folds[i].pending > 0 && (!at || k->folds[i].window_end < at))
			at = k->folds[i].window_end;
	if (k->n_out > 0) {
		uint64_t s = k->next_send > k->out[0].next_try ? k->next_send : k->out[0].next_try;
		if (!at || s < at)
			at = s;
	}
	return at;
}

static void timed_wait(struct jv_alerter *a, uint64_t wake, uint64_t now)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ms = wake - now;
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&a->cond, &a->lock, &ts);
}

/* Wait (holding a->lock) until sink k has events, a fold is due, or the
 * alerter stops; then move the queued events into batch. Returns how many,
 * with the count of events dropped meanwhile in *dropped, and whether the
 * alerter stops (and by when) in *stopping and *deadline. */
static size_t sink_take(struct sink *k, struct item *batch, uint64_t *dropped, int *stopping,
			uint64_t *deadline)
{
	struct jv_alerter *a = k->a;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		uint64_t now = jv_now_ms();
		fold_tick(k, now, a->stopping);
		if (k->len > 0 || k->dropped_new > 0 || a->stopping)
			break;
		uint64_t wake = next_wake(k);
		if (wake && wake <= now)
			break;
		if (wake)
			timed_wait(a, wake, now);
		else
			pthread_cond_wait(&a->cond, &a->lock);
	}
	size_t n = 0;
	while (k->len > 0) {
		batch[n++] = k->ring[k->head];
		memset(&k->ring[k->head], 0, sizeof k->ring[k->head]);
		k->head = (k->head + 1) % k->cap;
		k->len--;
	}
	*dropped = k->dropped_new;
	k->dropped_new = 0;
	*stopping = a->stopping;
	*deadline = a->stop_deadline;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* At shutdown: deliver what is left while time allows, not waiting for the
 * rate limit or a backoff beyond the deadline. */
static void sink_flush(struct sink *k, uint64_t deadline)
{
	while (k->n_out > 0 && jv_now_ms() < deadline) {
		if (send_one(k, jv_now_ms()))
			continue;
		uint64_t w = k->next_send > k->out[0].next_try ? k->next_send : k->out[0].next_try;
		uint64_t t = jv_now_ms();
		if (w >= deadline)
			break;
		if (w > t) {
			struct timespec ts = {.tv_sec = (time_t)((w - t) / 1000),
					      .tv_nsec = (long)((w - t) % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

/* What could not go out is recorded as dropped. */
static void sink_drop_unsent(struct sink *k)
{
	struct jv_alerter *a = k->a;
	for (size_t i = 0; i < k->n_out; i++) {
		struct msg *o = &k->out[i];
		struct jv_alert_msg m;
		jv_alert_render(&m, &o->first, o->count > 1 ? &o->last : NULL, o->count,
				o->window_s, a->processor, a->cfg->api.dashboard_url);
		history_record(k, &m, "dropped", o->attempts,
			       o->error ? o->error : "not sent before the processor stopped");
		jv_log(JV_WARNING, "%s: \"%s\" dropped unsent at shutdown", k->label, m.title);
		atomic_fetch_add(&k->dropped, o->count);
		jv_alert_msg_free(&m);
		msg_free(o);
	}
	k->n_out = 0;
}

/* A sink's thread: take what was raised, fold it into the outbox, send
 * what the rate limit and backoffs allow; at shutdown, flush until the
 * deadline and record the rest as dropped. */
static void *sink_main(void *arg)
{
	struct sink *k = arg;
	size_t cap = (size_t)k->a->cfg->alerting.queue_size;
	struct item *batch = jv_calloc(cap, sizeof *batch);
	k->out = jv_calloc(cap + 1, sizeof *k->out);
	for (;;) {
		uint64_t dropped, deadline;
		int stopping;
		size_t n = sink_take(k, batch, &dropped, &stopping, &deadline);
		for (size_t i = 0; i < n; i++) {
			outbox_push(k, &batch[i].first, batch[i].count > 1 ? &batch[i].last : NULL,
				    batch[i].count, batch[i].window_s);
			item_clear(&batch[i]);
		}
		if (dropped)
			history_dropped(k, dropped);
		if (stopping) {
			sink_flush(k, deadline);
			break;
		}
		while (send_one(k, jv_now_ms()))
			;
	}
	sink_drop_unsent(k);
	free(k->out);
	k->out = NULL;
	free(batch);
	if (k->db)
		PQfinish(k->db);
	k->db = NULL;
	return NULL;
}

/* ------------------------------------------------------------ the watcher */

static void watch_processors(struct jv_alerter *a, PGconn *db)
{
	const struct jv_config *cfg = a->cfg;
	int secs = cfg->alerting.processor_down_seconds;
	if (secs <= 0) {
		secs = 3 * cfg->processor.heartbeat_interval_ms / 1000;
		if (secs < 60)
			secs = 60;
	}
	char s_secs[16], s_me[24], err[512];
	snprintf(s_secs, sizeof s_secs, "%d", secs);
	snprintf(s_me, sizeof s_me, "%lld", (long long)a->processor_id);
	const char *params[] = {s_secs, s_me};
	PGresult *res = jv_db_query(
	    db,
	    "WITH down AS ("
	    "  SELECT p.id, p.name, p.hostname,"
	    "         extract(epoch FROM now() - p.heartbeat_at)::bigint AS age"
	    "  FROM jobvisor.processors p"
	    "  WHERE p.state IN ('running', 'paused', 'stopping') AND p.id <> $2::bigint"
	    "    AND p.heartbeat_at < now() - make_interval(secs => $1::int)"
	    "), ins AS ("
	    "  INSERT INTO jobvisor.alert_state (key, raised_at, processor)"
	    "  SELECT 'processor_down:' || d.id, now(), $2::bigint FROM down d"
	    "  ON CONFLICT (key) DO NOTHING RETURNING key"
	    ") SELECT d.name || ' (id ' || d.id || ', host ' || d.hostname || ')', d.age"
	    "  FROM down d JOIN ins ON ins.key = 'processor_down:' || d.id",
	    2, params, NULL, err, sizeof err);
	if (!res) {
		jv_log(JV_WARNING, "alerts: checking for silent processors failed: %s", err);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct jv_event ev = {.kind = JV_EV_PROCESSOR_DOWN, .at_ms = jv_unix_ms()};
		ev.subject = PQgetvalue(res, i, 0);
		ev.seconds = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		jv_alerter_raise(a, &ev);
	}
	PQclear(res);
}

static void watch_failure_rate(struct jv_alerter *a, PGconn *db)
{
	const struct jv_config *cfg = a->cfg;
	char s_win[16], s_min[16], s_pct[16], s_me[24], err[512];
	snprintf(s_win, sizeof s_win, "%d", cfg->alerting.failure_rate_window_seconds);
	snprintf(s_min, sizeof s_min, "%d", cfg->alerting.failure_rate_min_attempts);
	snprintf(s_pct, sizeof s_pct, "%d", cfg->alerting.failure_rate_percent);
	snprintf(s_me, sizeof s_me, "%lld", (long long)a->processor_id);
	const char *params[] = {s_win, s_min, s_pct, s_me};
	/* Attempts that ended in the window, by type; started_at bounds the
	 * scan (its BRIN index), finished_at decides. */
	PGresult *res = jv_db_query(
	    db,
	    "WITH r AS ("
	    "  SELECT e.type,"
	    "         count(*) FILTER (WHERE e.outcome IN ('failed', 'timed_out', 'crashed')) AS failed,"
	    "         count(*) AS total"
	    "  FROM jobvisor.job_executions e"
	    "  WHERE e.started_at > now() - make_interval(secs => 2 * $1::int)"
	    "    AND e.finished_at > now() - make_interval(secs => $1::int)"
	    "    AND e.outcome IN ('succeeded', 'failed', 'timed_out', 'crashed') AND NOT e.stale"
	    "  GROUP BY e.type"
	    "  HAVING count(*) >= $2::int"
	    "     AND count(*) FILTER (WHERE e.outcome IN ('failed', 'timed_out', 'crashed')) * 100"
	    "         >= $3::int * count(*)"
	    "), ins AS ("
	    "  INSERT INTO jobvisor.alert_state AS s (key, raised_at, processor)"
	    "  SELECT 'failure_rate:' || r.type, now(), $4::bigint FROM r"
	    "  ON CONFLICT (key) DO UPDATE SET raised_at = excluded.raised_at,"
	    "     processor = excluded.processor"
	    "  WHERE s.raised_at < now() - make_interval(secs => $1::int)"
	    "  RETURNING key"
	    ") SELECT r.type, r.failed, r.total FROM r JOIN ins ON ins.key = 'failure_rate:' || r.type",
	    4, params, NULL, err, sizeof err);
	if (!res) {
		jv_log(JV_WARNING, "alerts: checking failure rates failed: %s", err);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct jv_event ev = {.kind = JV_EV_FAILURE_RATE, .at_ms = jv_unix_ms()};
		ev.job_type = PQgetvalue(res, i, 0);
		ev.number = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		ev.total = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		ev.seconds = cfg->alerting.failure_rate_window_seconds;
		jv_alerter_raise(a, &ev);
	}
	PQclear(res);
}

static void watch_backlog(struct jv_alerter *a, PGconn *db)
{
	char s_secs[16], s_me[24], err[512];
	snprintf(s_secs, sizeof s_secs, "%d", a->cfg->alerting.queue_backlog_seconds);
	snprintf(s_me, sizeof s_me, "%lld", (long long)a->processor_id);
	const char *params[] = {s_secs, s_me};
	/* The oldest due pending job, each queue's first by the due-jobs index
	 * (jobvisor.oldest_due(), sql/024_claim_due.sql); the count is
	 * capped so a huge backlog costs no more than a big one. One alert per
	 * backlog: the mark is removed once the backlog is gone, so the next
	 * one is raised again. */
	PGresult *res = jv_db_query(
	    db,
	    "WITH o AS ("
	    "  SELECT extract(epoch FROM now() - jobvisor.oldest_due())::bigint AS age"
	    "), due AS (SELECT age FROM o WHERE age >= $1::int"
	    "), gone AS ("
	    "  DELETE FROM jobvisor.alert_state WHERE key = 'queue_backlog'"
	    "  AND NOT EXISTS (SELECT 1 FROM due)"
	    "), ins AS ("
	    "  INSERT INTO jobvisor.alert_state (key, raised_at, processor)"
	    "  SELECT 'queue_backlog', now(), $2::bigint FROM due"
	    "  ON CONFLICT (key) DO NOTHING RETURNING key"
	    ") SELECT due.age, (SELECT count(*) FROM (SELECT 1 FROM jobvisor.jobs"
	    "   WHERE status = 'pending' AND scheduled_at <= now() LIMIT 100000) c)"
	    "  FROM due, ins",
	    2, params, NULL, err, sizeof err);
	if (!res) {
		jv_log(JV_WARNING, "alerts: checking the backlog failed: %s", err);
		return;
	}
	if (PQntuples(res) == 1) {
		struct jv_event ev = {.kind = JV_EV_QUEUE_BACKLOG, .at_ms = jv_unix_ms()};
		ev.seconds = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		ev.number = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		jv_alerter_raise(a, &ev);
	}
	PQclear(res);
}

static void *watcher_main(void *arg)
{
	struct jv_alerter *a = arg;
	PGconn *db = NULL;
	uint64_t next = jv_now_ms() + 1000; /* a moment for our own heartbeat to land */
	for (;;) {
		pthread_mutex_lock(&a->lock);
		while (!a->stopping && jv_now_ms() < next) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t ms = next - jv_now_ms();
			if (ms > next)
				ms = 0;
			ts.tv_sec += (time_t)(ms / 1000);
			ts.tv_nsec += (long)(ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->cond, &a->lock, &ts);
		}
		int stopping = a->stopping;
		pthread_mutex_unlock(&a->lock);
		if (stopping)
			break;
		next = jv_now_ms() + (uint64_t)a->cfg->alerting.check_interval_seconds * 1000;
		if (!db || PQstatus(db) != CONNECTION_OK) {
			if (db)
				PQfinish(db);
			char err[512];
			db = jv_db_connect(a->cfg->database.url, "jobvisor-alerts", err, sizeof err);
			if (!db) {
				jv_log(JV_WARNING, "alerts: cannot check the database: %s", err);
				continue;
			}
		}
		if (jv_alerter_wants(a, JV_EV_PROCESSOR_DOWN))
			watch_processors(a, db);
		if (jv_alerter_wants(a, JV_EV_FAILURE_RATE))
			watch_failure_rate(a, db);
		if (jv_alerter_wants(a, JV_EV_QUEUE_BACKLOG))
			watch_backlog(a, db);
	}
	if (db)
		PQfinish(db);
	return NULL;
}

/* ------------------------------------------------------------ life cycle */

struct jv_alerter *jv_alerter_start(const struct jv_config *cfg, struct jv_runtime *rt,
				    int64_t processor_id, const char *processor)
{
	if (!rt || rt->n_alerts == 0)
		return NULL;
	struct jv_alerter *a = jv_calloc(1, sizeof *a);
	a->cfg = cfg;
	a->rt = rt;
	a->processor_id = processor_id;
	a->processor = jv_strdup(processor);
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	a->n = rt->n_alerts;
	a->sinks = jv_calloc(a->n, sizeof *a->sinks);
	for (size_t i = 0; i < a->n; i++) {
		struct sink *k = &a->sinks[i];
		k->a = a;
		k->index = i;
		k->cfg = &cfg->alerts[i];
		k->inst = rt->alerts[i];
		k->label = jv_asprintf("alerts[%zu] (%s)", i, k->cfg->plugin);
		for (char *const *e = k->cfg->on; e && *e; e++) {
			int kind = jv_event_parse(*e);
			if (kind >= 0)
				k->wants |= 1u << kind;
		}
		a->wants |= k->wants;
		k->cap = (size_t)cfg->alerting.queue_size;
		k->ring = jv_calloc(k->cap, sizeof *k->ring);
		k->folds = jv_calloc(JV_ALERT_MAX_FOLDS, sizeof *k->folds);
	}
	/* The threads take no signals: the engine's loop does. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (size_t i = 0; i < a->n; i++) {
		struct sink *k = &a->sinks[i];
		if (pthread_create(&k->thread, NULL, sink_main, k) == 0)
			k->started = 1;
		else
			jv_log(JV_ERROR, "%s: cannot start its thread; its alerts are lost", k->label);
	}
	unsigned watched = (1u << JV_EV_PROCESSOR_DOWN) | (1u << JV_EV_FAILURE_RATE) |
			   (1u << JV_EV_QUEUE_BACKLOG);
	if ((a->wants & watched) && pthread_create(&a->watcher, NULL, watcher_main, a) == 0)
		a->watcher_started = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	jv_log(JV_INFO, "alerts: %zu sink%s", a->n, a->n == 1 ? "" : "s");
	return a;
}

void jv_alerter_stop(struct jv_alerter *a, int flush_ms)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	a->stop_deadline = jv_now_ms() + (uint64_t)(flush_ms > 0 ? flush_ms : 0);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	if (a->watcher_started)
		pthread_join(a->watcher, NULL);
	for (size_t i = 0; i < a->n; i++)
		if (a->sinks[i].started)
			pthread_join(a->sinks[i].thread, NULL);
	struct jv_alert_stats st;
	jv_alerter_stats(a, &st);
	jv_log(JV_INFO,
	       "alerts: %" PRIu64 " events raised, %" PRIu64 " folded into others; %" PRIu64
	       " messages sent, %" PRIu64 " failed, %" PRIu64 " events dropped",
	       st.raised, st.folded, st.sent, st.failed, st.dropped);
	for (size_t i = 0; i < a->n; i++) {
		struct sink *k = &a->sinks[i];
		for (size_t j = 0; j < k->len; j++)
			item_clear(&k->ring[(k->head + j) % k->cap]);
		free(k->ring);
		for (size_t j = 0; j < k->n_folds; j++) {
			free(k->folds[j].type);
			jv_event_clear(&k->folds[j].first);
			jv_event_clear(&k->folds[j].last);
		}
		free(k->folds);
		free(k->label);
	}
	free(a->sinks);
	free(a->processor);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/*
 * stats.c -- the engine's counters by job type, rendered for Prometheus.
 *
 * One table per process under a mutex: the engine's loop adds (a lookup and
 * a few increments), API threads render. Types are few in practice; the
 * table is bounded all the same (JV_STATS_MAX_TYPES), and the types past
 * the bound are counted together under type="_other" so a flood of
 * distinct names can neither grow memory nor the scrape without limit.
 */
#include "api/stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define JV_STATS_MAX_TYPES 1000
#define JV_STATS_OTHER "_other"

/* Outcomes as jv_outcome_text() spells them (engine/attempt.h), in the order
 * they are rendered. */
static const char *const outcomes[] = {
	"succeeded", "failed", "timed_out", "crashed", "cancelled", "released", "fenced",
};
#define N_OUTCOMES (sizeof outcomes / sizeof outcomes[0])

/* Upper bounds of the duration buckets, seconds; +Inf is implied. */
static const double bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
};
static const char *const bound_text[] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2.5",   "5",    "10",    "30",   "60",  "120",  "300", "600",
};
#define N_BOUNDS (sizeof bounds / sizeof bounds[0])

struct type_stats {
	char *type;
	uint64_t claimed;
	uint64_t attempts[N_OUTCOMES + 1]; /* the last: an outcome not in the list */
	uint64_t buckets[N_BOUNDS];        /* not cumulative; +Inf is count */
	uint64_t count;
	double sum_seconds;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct type_stats *types; /* sorted by type */
static size_t n_types, cap_types;

/* The entry of type, added when new; under lock. */
static struct type_stats *entry(const char *type)
{
	if (!type || !*type)
		type = "unknown";
	size_t lo = 0, hi = n_types;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(types[mid].type, type);
		if (c == 0)
			return &types[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (n_types >= JV_STATS_MAX_TYPES && strcmp(type, JV_STATS_OTHER) != 0)
		return entry(JV_STATS_OTHER); /* one more than the bound, at most */
	if (n_types == cap_types) {
		cap_types = cap_types ? cap_types * 2 : 16;
		types = jv_realloc(types, cap_types * sizeof *types);
	}
	memmove(&types[lo + 1], &types[lo], (n_types - lo) * sizeof *types);
	memset(&types[lo], 0, sizeof *types);
	types[lo].type = jv_strdup(type);
	n_types++;
	return &types[lo];
}

void jv_stats_claimed(const char *type)
{
	pthread_mutex_lock(&lock);
	entry(type)->claimed++;
	pthread_mutex_unlock(&lock);
}

void jv_stats_finished(const char *type, const char *outcome, int64_t duration_ms)
{
	size_t o = 0;
	while (o < N_OUTCOMES && (!outcome || strcmp(outcomes[o], outcome) != 0))
		o++;
	double s = duration_ms > 0 ? (double)duration_ms / 1000.0 : 0.0;
	pthread_mutex_lock(&lock);
	struct type_stats *t = entry(type);
	t->attempts[o]++;
	size_t b = 0;
	while (b < N_BOUNDS && s > bounds[b])
		b++;
	if (b < N_BOUNDS)
		t->buckets[b]++;
	t->count++;
	t->sum_seconds += s;
	pthread_mutex_unlock(&lock);
}

/* A label value escaped as the text format wants: \\, \" and \n. */
static void put_label(struct jv_buf *out, const char *v)
{
	const char *run = v;
	for (const char *p = v; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		jv_buf_append(out, run, (size_t)(p - run));
		jv_buf_puts(out, esc);
		run = p + 1;
	}
	jv_buf_puts(out, run);
}

void jv_stats_render(struct jv_buf *out)
{
	pthread_mutex_lock(&lock);
	jv_buf_puts(out, "# HELP jobvisor_jobs_claimed_total Jobs claimed by this process, "
			 "by type.\n# TYPE jobvisor_jobs_claimed_total counter\n");
	for (size_t i = 0; i < n_types; i++) {
		jv_buf_puts(out, "jobvisor_jobs_claimed_total{type=\"");
		put_label(out, types[i].type);
		jv_buf_printf(out, "\"} %llu\n", (unsigned long long)types[i].claimed);
	}
	jv_buf_puts(out, "# HELP jobvisor_attempts_total Attempts finished by this process, by "
			 "type and outcome.\n# TYPE jobvisor_attempts_total counter\n");
	for (size_t i = 0; i < n_types; i++)
		for (size_t o = 0; o <= N_OUTCOMES; o++) {
			/* the common outcomes always, so rates start at 0 */
			if (types[i].attempts[o] == 0 && o >= 2)
				continue;
			jv_buf_puts(out, "jobvisor_attempts_total{type=\"");
			put_label(out, types[i].type);
			jv_buf_printf(out, "\",outcome=\"%s\"} %llu\n",
				      o < N_OUTCOMES ? outcomes[o] : "other",
				      (unsigned long long)types[i].attempts[o]);
		}
	jv_buf_puts(out, "# HELP jobvisor_attempt_duration_seconds How long attempts took, by "
			 "type.\n# TYPE jobvisor_attempt_duration_seconds histogram\n");
	for (size_t i = 0; i < n_types; i++) {
		const struct type_stats *t = &types[i];
		uint64_t cum = 0;
		for (size_t b = 0; b <= N_BOUNDS; b++) {
			cum = b < N_BOUNDS ? cum + t->buckets[b] : t->count;
			jv_buf_puts(out, "jobvisor_attempt_duration_seconds_bucket{type=\"");
			put_label(out, t->type);
			jv_buf_printf(out, "\",le=\"%s\"} %llu\n", b < N_BOUNDS ? bound_text[b] : "+Inf",
				      (unsigned long long)cum);
		}
		jv_buf_puts(out, "jobvisor_attempt_duration_seconds_sum{type=\"");
		put_label(out, t->type);
		jv_buf_printf(out, "\"} %.3f\n", t->sum_seconds);
		jv_buf_puts(out, "jobvisor_attempt_duration_seconds_count{type=\"");
		put_label(out, t->type);
		jv_buf_printf(out, "\"} %llu\n", (unsigned long long)t->count);
	}
	pthread_mutex_unlock(&lock);
}

void jv_stats_reset(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_types; i++)
		free(types[i].type);
	free(types);
	types = NULL;
	n_types = cap_types = 0;
	pthread_mutex_unlock(&lock);
}

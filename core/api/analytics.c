/*
 * analytics.c -- /api/cron/metrics and /api/cron/insights: analytics
 * over the history (jobvisor.job_executions), computed in SQL.
 *
 * The window: startDate/endDate (ISO-8601 dates or date-times, parsed by
 * PostgreSQL), by default the last 24 hours, at most 90 days; rows count
 * when started_at is in [start, end). Attempts still running (no outcome)
 * are left out.
 *
 * Releases (outcome 'released', or before 020_released_outcome.sql
 * 'rescued' with an error beginning "released") are left out everywhere:
 * the engine gave the attempt back uncounted, so it is no attempt here.
 *
 * Exact or sampled: a window is scanned through the BRIN index on
 * started_at, which costs in proportion to the rows in the window. Whether
 * it holds more than row_bound() (500 000) rows is decided by counting them,
 * over the same index, up to the bound + 1 (LIMIT): exact, and never more
 * than the bound + 1 rows read. Up to the bound, every figure is exact. Past
 * it, the figures are computed over a sample of the window's rows: each row
 * kept with probability p = bound / (the window's estimated rows), decided
 * by a hash of its id (so repeated requests see the same sample), in the
 * same index scan. Rows, not pages: a page sample of a time-ordered table
 * keeps or drops whole minutes, which made an hour's count off by up to 4x.
 * Counts are then scaled by 1/p (unbiased whatever p is; p only sets the
 * sample's size), every scaled count comes with its 95 % margin (margin95),
 * and the answer says "sampled": true. The rows read are the window's
 * (every row is read, a fraction aggregated): cheaper than TABLESAMPLE
 * BERNOULLI, which reads the whole table, and than the aggregation the
 * sample saves (docs/analytics.md has the measurements).
 *
 * Error patterns (topErrors) are computed over at most ERROR_SAMPLE errors:
 * their counts are exact ("estimate": false) when the window has no more
 * errors than that and is not sampled, else estimates with a margin; a
 * pattern's lastSeen and example are always the latest of the window.
 */
#include "api/api.h"

#include "config/config.h"
#include "lib/jsontext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows aggregated at most by one request (see above); tests lower it with
 * the environment variable JOBVISOR_TEST_ANALYTICS_ROW_BOUND (only tests
 * set it, to keep their planted history small). */
#define ROW_BOUND 500000.0

/* Errors turned into patterns at most, per request (the regular
 * expressions cost ~35 us an error): beyond, a random sample of them. */
#define ERROR_SAMPLE "5000"

/* The longest window, in seconds. */
#define MAX_WINDOW_S (90.0 * 86400.0)

static const char *const outcomes[] = {"succeeded", "failed",	 "timed_out", "crashed",
				       "rescued",   "cancelled", NULL};

/* The rows of the window: $1 start, $2 end; finished attempts, releases
 * left out, and, when $6 (the scale, 1/p) is above 1, only the sampled ones:
 * those whose id hashes (uniformly over 2^32) below 2^32 / scale. */
#define WINDOW_ROWS(scale)                                                                      \
	" e.started_at >= $1::timestamptz AND e.started_at < $2::timestamptz"                    \
	" AND e.outcome IS NOT NULL AND e.outcome <> 'released'"                                 \
	" AND NOT (e.outcome = 'rescued' AND coalesce(e.error, '') LIKE 'released%')"            \
	" AND (" scale "::float8 <= 1"                                                          \
	"  OR hashint8(e.id)::int8 + 2147483648 < 4294967296 / " scale "::float8)"

/* The bound, as above. */
static double row_bound(void)
{
	const char *env = getenv("JOBVISOR_TEST_ANALYTICS_ROW_BOUND");
	if (env && *env) {
		char *end;
		double v = strtod(env, &end);
		if (!*end && v >= 1)
			return v;
	}
	return ROW_BOUND;
}

/* The window of a request, resolved by the database. */
struct window {
	char start[48], end[48];     /* timestamptz text, microseconds, UTC: the SQL params */
	char start_ms[32], end_ms[32]; /* the same in milliseconds, for the answer */
	char scale[32];              /* multiply sample counts by this ("1" when exact) */
	int sampled;
	double sample_percent;       /* of the window's rows, when sampled */
	double span;                 /* seconds */
};

#define ISO_US "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
#define ISO_MS "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"

/* $1 startDate or NULL, $2 endDate or NULL, $3 the bound + 1. Returns the
 * window, its length in seconds, the table's estimated rows, the rows
 * estimated in the window from them (the table's rows times the share of
 * its time span the window covers: wrong whenever the rate varies), and the
 * window's finished rows counted up to $3 with the latest started_at among
 * those counted. When the count reaches $3, the window's rows are estimated
 * from how much of it those rows covered (the index scan reads the table in
 * its physical order, which is about time order). */
static const char sql_window[] =
    "WITH w0 AS (SELECT $1::timestamptz AS s, coalesce($2::timestamptz, now()) AS e),"
    " w AS (SELECT coalesce(s, e - interval '24 hours') AS s, e FROM w0),"
    " t AS (SELECT (SELECT started_at FROM jobvisor.job_executions ORDER BY id LIMIT 1) AS lo,"
    "  (SELECT started_at FROM jobvisor.job_executions ORDER BY id DESC LIMIT 1) AS hi,"
    "  (SELECT greatest(reltuples, 0) FROM pg_class"
    "   WHERE oid = 'jobvisor.job_executions'::regclass)::float8 AS n),"
    " c AS (SELECT count(*) AS n, max(x.started_at) AS last FROM ("
    "  SELECT e.started_at FROM jobvisor.job_executions e, w"
    "  WHERE e.started_at >= w.s AND e.started_at < w.e AND e.outcome IS NOT NULL"
    "  LIMIT $3::bigint) x)"
    " SELECT to_char(w.s AT TIME ZONE 'UTC', " ISO_US "), to_char(w.e AT TIME ZONE 'UTC', " ISO_US
    "),"
    "  to_char(w.s AT TIME ZONE 'UTC', " ISO_MS "), to_char(w.e AT TIME ZONE 'UTC', " ISO_MS "),"
    "  extract(epoch FROM w.e - w.s)::float8, t.n,"
    "  CASE WHEN t.lo IS NULL THEN 0"
    "   WHEN t.hi <= t.lo THEN t.n"
    "   ELSE t.n * greatest(0, extract(epoch FROM least(w.e, t.hi) - greatest(w.s, t.lo)))::float8"
    "        / extract(epoch FROM t.hi - t.lo)::float8 END,"
    "  c.n, CASE WHEN c.last > w.s THEN c.n * extract(epoch FROM w.e - w.s)::float8"
    "   / extract(epoch FROM c.last - w.s)::float8 END"
    " FROM w, t, c";

/* Check the query arguments (allowed), resolve the window; -1 after
 * answering. */
static int get_window(struct jv_api_req *req, const char *const *allowed, struct window *w)
{
	if (jv_api_only_query(req, allowed))
		return -1;
	double bound = row_bound();
	char cap[32];
	snprintf(cap, sizeof cap, "%.0f", bound + 1);
	const char *params[3] = {jv_api_query(req, "startDate"), jv_api_query(req, "endDate"), cap};
	for (int i = 0; i < 2; i++)
		if (params[i] && !params[i][0]) {
			jv_api_error(req, 400, "%s must not be empty", i ? "endDate" : "startDate");
			return -1;
		}
	PGresult *res = jv_api_query_db(req, sql_window, 3, params);
	if (!res)
		return -1;
	double span = strtod(PQgetvalue(res, 0, 4), NULL);
	double spread = strtod(PQgetvalue(res, 0, 6), NULL);
	double counted = strtod(PQgetvalue(res, 0, 7), NULL);
	double extrapolated = PQgetisnull(res, 0, 8) ? 0 : strtod(PQgetvalue(res, 0, 8), NULL);
	snprintf(w->start, sizeof w->start, "%s", PQgetvalue(res, 0, 0));
	snprintf(w->end, sizeof w->end, "%s", PQgetvalue(res, 0, 1));
	snprintf(w->start_ms, sizeof w->start_ms, "%s", PQgetvalue(res, 0, 2));
	snprintf(w->end_ms, sizeof w->end_ms, "%s", PQgetvalue(res, 0, 3));
	PQclear(res);
	if (span <= 0) {
		jv_api_error(req, 400, "startDate (%s) must be before endDate (%s)", w->start_ms,
			     w->end_ms);
		return -1;
	}
	if (span > MAX_WINDOW_S) {
		jv_api_error(req, 400, "the window is %.1f days long: at most 90 days", span / 86400.0);
		return -1;
	}
	w->span = span;
	/* Sampled when the count passed the bound; then p from the larger of
	 * the two estimates (a low one costs time, never correctness). */
	w->sampled = counted > bound;
	double est = counted;
	if (w->sampled) {
		est = spread > extrapolated ? spread : extrapolated;
		if (est < counted)
			est = counted;
	}
	w->sample_percent = w->sampled ? 100.0 * bound / est : 100.0;
	snprintf(w->scale, sizeof w->scale, "%.17g", w->sampled ? est / bound : 1.0);
	return 0;
}

/* The bucket= argument (default hour); NULL after answering 400. Minute
 * buckets only over at most a day, so no answer has more than 1 440. */
static const char *get_bucket(struct jv_api_req *req, const struct window *w)
{
	const char *bucket = jv_api_query(req, "bucket");
	if (!bucket)
		return "hour";
	if (strcmp(bucket, "hour") && strcmp(bucket, "minute")) {
		jv_api_error(req, 400, "bucket must be hour or minute");
		return NULL;
	}
	if (!strcmp(bucket, "minute") && w->span > 86400.0) {
		jv_api_error(req, 400,
			     "bucket=minute needs a window of at most 24 hours (this one is %.1f)",
			     w->span / 3600.0);
		return NULL;
	}
	return bucket;
}

/* Run sql and answer with its one JSON value, plus the window. */
static void answer_json_query(struct jv_api_req *req, const struct window *w, const char *sql,
			      int nparams, const char *const *params)
{
	PGresult *res = jv_api_query_db(req, sql, nparams, params);
	if (!res)
		return;
	json_t *j = jv_json_load_pg(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), 0, NULL,
				    0);
	PQclear(res);
	if (!json_is_object(j)) {
		json_decref(j);
		jv_api_error(req, 500, "internal error: bad JSON from the database");
		return;
	}
	json_t *win = json_pack("{s:s, s:s}", "start", w->start_ms, "end", w->end_ms);
	json_t *out = json_pack("{s:o, s:b}", "window", win, "sampled", w->sampled);
	if (w->sampled)
		json_object_set_new(out, "samplePercent", json_real(w->sample_percent));
	json_object_update(out, j);
	json_decref(j);
	jv_api_json(req, 200, out);
}

/* An error message as a pattern: quoted strings, UUIDs, hex ids (0x..., or
 * 6+ hex digits with both a digit and a letter) and numbers replaced by
 * placeholders, blanks folded, at most 200 characters. */
#define PATTERN(col)                                                                            \
	"left(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace("                \
	"regexp_replace(regexp_replace(" col ", '''[^'']*''', '''<s>''', 'g'),"                   \
	" '\"[^\"]*\"', '\"<s>\"', 'g'),"                                                        \
	" '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<id>',"  \
	" 'g'),"                                                                                 \
	" '\\m(0x[0-9a-fA-F]+|[0-9a-fA-F]*([0-9][a-fA-F]|[a-fA-F][0-9])[0-9a-fA-F]*)\\M',"    \
	" '<id>', 'g'),"                                                                         \
	" '[0-9]+(\\.[0-9]+)?', '<n>', 'g'), '\\s+', ' ', 'g')), 200)"

/* A count of the sample, scaled to an estimate of the whole ($6). */
#define SC(x) "round((" x ") * $6::float8)::bigint"

/* The 95 % margin of SC(x): 1.96 standard errors of a count c of rows
 * each kept with probability p = 1/$6 (binomial: sqrt(c (1 - p)) / p),
 * taking c as at least 1 so that an empty bucket has a margin too. */
#define ME_AT(x, sc)                                                                            \
	"round(1.96 * sqrt(greatest(" x ", 1) * (1 - 1 / " sc "::float8)) * " sc "::float8)::bigint"
#define ME(x) ME_AT(x, "$6")

/* jsonb {margin95: {key: ME(x), ...}} when sampled, {} when exact: give
 * it the keys and counts as jsonb_build_object's arguments. */
#define MARGINS(args)                                                                           \
	"CASE WHEN $6::float8 > 1 THEN jsonb_build_object('margin95', jsonb_build_object(" args   \
	")) ELSE '{}'::jsonb END"

/* The statistics of one group, as jsonb. */
#define STATS                                                                                   \
	"jsonb_build_object('total', " SC("n") ","                                                \
	" 'byOutcome', jsonb_build_object('succeeded', " SC("n_succeeded") ", 'failed', "        \
	SC("n_failed") ", 'timed_out', " SC("n_timed_out") ", 'crashed', " SC("n_crashed")        \
	", 'rescued', " SC("n_rescued") ", 'cancelled', " SC("n_cancelled") "),"                 \
	" 'successRate', CASE WHEN n > 0 THEN round(n_succeeded::numeric / n, 4) END,"            \
	" 'durationMs', jsonb_build_object('p50', round(pc[1]::numeric, 1), 'p95',"               \
	" round(pc[2]::numeric, 1), 'p99', round(pc[3]::numeric, 1), 'max', mx, 'avg',"           \
	" round(av, 1))) || "                                                                     \
	MARGINS("'total', " ME("n") ", 'succeeded', " ME("n_succeeded") ", 'failed', "            \
		ME("n_failed") ", 'timed_out', " ME("n_timed_out") ", 'crashed', " ME("n_crashed")  \
		", 'rescued', " ME("n_rescued") ", 'cancelled', " ME("n_cancelled")                   \
		", 'successRate', CASE WHEN n > 0 THEN round((1.96 * sqrt(n_succeeded::float8 / n"   \
		" * (1 - n_succeeded::float8 / n) / n * (1 - 1 / $6::float8)))::numeric, 4) END")

#define OUTCOME_COUNTS                                                                          \
	"count(*) FILTER (WHERE outcome = 'succeeded') AS n_succeeded,"                           \
	" count(*) FILTER (WHERE outcome = 'failed') AS n_failed,"                                \
	" count(*) FILTER (WHERE outcome = 'timed_out') AS n_timed_out,"                          \
	" count(*) FILTER (WHERE outcome = 'crashed') AS n_crashed,"                              \
	" count(*) FILTER (WHERE outcome = 'rescued') AS n_rescued,"                              \
	" count(*) FILTER (WHERE outcome = 'cancelled') AS n_cancelled"

/* A point of the throughput series, with more fields (extra) after its
 * counts. (json, not jsonb, to keep the fields in this order.) */
#define HOUR_POINT(extra)                                                                       \
	"json_build_object($7::text, to_char(g, 'YYYY-MM-DD\"T\"HH24:MI:00\"Z\"'),"              \
	" 'succeeded', " SC("coalesce(ok, 0)") ", 'failed', " SC("coalesce(bad, 0)") ","          \
	" 'total', " SC("coalesce(n, 0)") extra ")"

/* An entry of topErrors, likewise. */
#define ERROR_ENTRY(extra)                                                                      \
	"json_build_object('pattern', pattern, 'count', " SC("n") ", 'estimate', sf > 1,"          \
	" 'example', left(ex, 500), 'lastSeen', to_char(last AT TIME ZONE 'UTC', " ISO_MS "),"   \
	" 'types', types" extra ")"

/* $1 start, $2 end, $3 outcome, $4 type, $5 user (NULL: any), $6 scale,
 * $7 the throughput bucket: hour (throughputPerHour) or minute
 * (throughputPerMinute, windows of at most a day). */
static const char sql_metrics[] =
    "WITH base AS MATERIALIZED ("
    " SELECT e.type, e.user_id, e.outcome, e.duration_ms, e.error, e.started_at"
    " FROM jobvisor.job_executions e WHERE" WINDOW_ROWS("$6")
    " AND ($3::text IS NULL OR e.outcome = $3::text)"
    " AND ($4::text IS NULL OR e.type = $4::text) AND ($5::text IS NULL OR e.user_id = $5::text)),"
    " agg AS (SELECT GROUPING(type, user_id) AS gk, type, user_id, count(*) AS n, " OUTCOME_COUNTS
    ","
    "  percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS pc,"
    "  max(duration_ms) AS mx, avg(duration_ms) AS av"
    "  FROM base GROUP BY GROUPING SETS ((), (type), (user_id))),"
    " s AS (SELECT gk, type, user_id,"
    "  row_number() OVER (PARTITION BY gk, user_id IS NULL ORDER BY n DESC, type, user_id) AS rk,"
    "  " STATS " AS j FROM agg),"
    " hours AS (SELECT date_trunc($7::text, started_at AT TIME ZONE 'UTC') AS h, count(*) AS n,"
    "  count(*) FILTER (WHERE outcome = 'succeeded') AS ok,"
    "  count(*) FILTER (WHERE outcome IN ('failed', 'timed_out', 'crashed')) AS bad"
    "  FROM base GROUP BY 1),"
    /* Patterns of at most ERROR_SAMPLE errors picked at random (all of
     * them when there are no more): their counts scaled by f, the errors
     * per error counted, and by the rows' scale; exact when both are 1.
     * When not every error was counted, the walk in tl reads errs_desc
     * (materialised newest first) and stops at a pattern's first match,
     * its latest error: the pattern is computed for the errors newer than
     * it only. When every error was counted, a one-time filter skips the
     * walk, and errs_desc, read by nothing, is never sorted. */
    " errs AS MATERIALIZED (SELECT error, started_at, type FROM base"
    "  WHERE error IS NOT NULL AND error <> ''),"
    " errs_desc AS MATERIALIZED (SELECT * FROM errs ORDER BY started_at DESC),"
    " es AS MATERIALIZED (SELECT * FROM errs ORDER BY random() LIMIT " ERROR_SAMPLE "),"
    " ef AS (SELECT (SELECT count(*) FROM errs)::float8 / greatest((SELECT count(*) FROM es), 1)"
    "  AS f),"
    " te AS (SELECT pattern, count(*) AS c, (array_agg(error ORDER BY started_at DESC))[1] AS ex,"
    "  max(started_at) AS last, array_agg(DISTINCT type ORDER BY type) AS types"
    "  FROM (SELECT " PATTERN("error") " AS pattern, error, started_at, type FROM es) x"
    "  GROUP BY pattern ORDER BY count(*) DESC, pattern LIMIT 10),"
    " tl AS (SELECT te.pattern, te.types, te.c * (SELECT f FROM ef) AS n,"
    "  (SELECT f FROM ef) * $6::float8 AS sf,"
    "  coalesce(l.started_at, te.last) AS last, coalesce(l.error, te.ex) AS ex FROM te"
    "  LEFT JOIN LATERAL (SELECT x.started_at, x.error FROM errs_desc x"
    "   WHERE (SELECT f FROM ef) > 1 AND " PATTERN("x.error") " = te.pattern LIMIT 1) l ON true)"
    " SELECT json_build_object("
    " 'overall', (SELECT j FROM s WHERE gk = 3),"
    " 'byType', coalesce((SELECT json_agg(jsonb_build_object('type', type) || j ORDER BY rk)"
    "  FROM s WHERE gk = 1 AND rk <= 100), '[]'),"
    " 'byUser', coalesce((SELECT json_agg(jsonb_build_object('user', user_id) || j ORDER BY rk)"
    "  FROM s WHERE gk = 2 AND user_id IS NOT NULL AND rk <= 50), '[]'),"
    " 'throughputPer' || initcap($7::text), coalesce((SELECT json_agg(CASE WHEN $6::float8 > 1"
    "  THEN " HOUR_POINT(", 'margin95', json_build_object('succeeded', " ME("coalesce(ok, 0)")
    ", 'failed', " ME("coalesce(bad, 0)") ", 'total', " ME("coalesce(n, 0)") ")")
    "  ELSE " HOUR_POINT("") " END ORDER BY g)"
    "  FROM generate_series(date_trunc($7::text, $1::timestamptz AT TIME ZONE 'UTC'),"
    "   $2::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',"
    "   ('1 ' || $7::text)::interval) g"
    "  LEFT JOIN hours ON hours.h = g), '[]'),"
    " 'topErrors', coalesce((SELECT json_agg(CASE WHEN sf > 1 THEN "
    /* as ME, with the errors' and the rows' fractions together: 1/sf */
    ERROR_ENTRY(", 'margin95', json_build_object('count', round(1.96 * sqrt(greatest("
		"n / (SELECT f FROM ef), 1) * (1 - 1 / sf)) * sf)::bigint)")
    " ELSE " ERROR_ENTRY("") " END ORDER BY n DESC, pattern) FROM tl), '[]'))";

/* GET /api/cron/metrics?startDate=&endDate=&outcome=&type=&user= */
static void cron_metrics(struct jv_api_req *req)
{
	static const char *const args[] = {"startDate", "endDate", "outcome", "type",
					   "user",	"bucket",  NULL};
	struct window w;
	if (get_window(req, args, &w))
		return;
	const char *bucket = get_bucket(req, &w);
	if (!bucket)
		return;
	const char *outcome = jv_api_query(req, "outcome");
	if (outcome) {
		int known = 0;
		for (int i = 0; outcomes[i]; i++)
			known |= !strcmp(outcome, outcomes[i]);
		if (!known) {
			jv_api_error(req, 400,
				     "outcome must be one of succeeded, failed, timed_out, crashed, "
				     "rescued, cancelled");
			return;
		}
	}
	const char *params[] = {w.start,		  w.end, outcome, jv_api_query(req, "type"),
				jv_api_query(req, "user"), w.scale, bucket};
	answer_json_query(req, &w, sql_metrics, 7, params);
}

/* ------------------------------------------------------------ insights */

/*
 * $1 start, $2 end, $6 scale, $3 {type: timeout seconds} of the configured
 * executors, $4 processor.timeout_seconds (other types), $5
 * stuck_job_timeout_minutes, $7 per_user_limit (0: none).
 *
 * Each insight is a row (severity rank, kind rank, score, json); the
 * thresholds are in the SQL, next to the text they produce.
 */
#define INSIGHT(kind, sev, title, detail, rec, data)                                            \
	"json_build_object('kind', '" kind "', 'severity', " sev ", 'title', " title              \
	", 'detail', " detail ", 'recommendation', " rec ", 'data', " data ")"

#define SEVRANK(sev) "CASE " sev " WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"

/*
 * Queues at their global_concurrency (sql/015_queues.sql): for each queue
 * with one, the share of the window during which as many of its jobs ran
 * at once as it allows, from the attempts in the window (their queue read
 * from jobs, by primary key) and the jobs running now, clipped to the
 * window: a sweep over their starts and finishes. An attempt begun before
 * the window is left out, as everywhere here. Cost: nothing when no queue
 * has a global_concurrency (a one-time filter) or when the window is
 * sampled (a sample's intervals tell nothing of overlap: no finding then);
 * else one primary-key probe of jobs per attempt in the window (at most
 * SAMPLE_BUDGET of them, or the window would be sampled) plus the running
 * jobs (their partial index), and a sort of two events for each attempt
 * of those queues.
 */
#define QUEUE_CAP_CTES                                                                          \
	" gq AS MATERIALIZED (SELECT q.name, q.global_concurrency AS gc FROM jobvisor.queues q"  \
	"  WHERE q.global_concurrency IS NOT NULL AND $6::float8 = 1),"                          \
	" iv AS (SELECT x.queue, x.s, x.f FROM ("                                                \
	"   SELECT (SELECT j.queue FROM jobvisor.jobs j WHERE j.id = b.job_id) AS queue,"        \
	"    b.started_at AS s, least(b.finished_at, $2::timestamptz) AS f"                       \
	"   FROM base b WHERE EXISTS (SELECT 1 FROM gq)"                                          \
	"   UNION ALL SELECT j.queue, greatest(j.started_at, $1::timestamptz),"                  \
	"    least(now(), $2::timestamptz) FROM jobvisor.jobs j"                                  \
	"   WHERE j.status = 'running' AND j.started_at < $2::timestamptz"                        \
	"    AND EXISTS (SELECT 1 FROM gq)) x"                                                    \
	"  WHERE x.f > x.s AND x.queue IN (SELECT name FROM gq)),"                               \
	" ev AS (SELECT queue, s AS t, 1 AS d FROM iv UNION ALL SELECT queue, f, -1 FROM iv),"    \
	" sweep AS (SELECT queue, t, sum(d) OVER w AS c, lead(t) OVER w AS nt FROM ev"            \
	"  WINDOW w AS (PARTITION BY queue ORDER BY t, d ROWS UNBOUNDED PRECEDING)),"            \
	" atcap AS (SELECT s.queue, g.gc, max(s.c) AS peak,"                                      \
	"  coalesce(sum(extract(epoch FROM s.nt - s.t)) FILTER (WHERE s.c >= g.gc), 0)::float8"  \
	"   AS secs,"                                                                             \
	"  extract(epoch FROM least($2::timestamptz, now()) - $1::timestamptz)::float8 AS span"  \
	"  FROM sweep s JOIN gq g ON g.name = s.queue GROUP BY s.queue, g.gc),"                  \
	" gcap AS (SELECT CASE WHEN secs >= 0.5 * span THEN 'warning' ELSE 'info' END AS sev,"   \
	"  secs / span AS share, "                                                                \
	INSIGHT("queue_at_global_concurrency",                                                    \
		"CASE WHEN secs >= 0.5 * span THEN 'warning' ELSE 'info' END",                    \
		"format('Queue %s is at its global concurrency %s%% of the time', queue,"        \
		" round((100 * secs / span)::numeric))",                                          \
		"format('%s jobs of queue %s ran at once across all processors (its "             \
		"global_concurrency) for %s s of the %s s of the window; its due jobs waited "    \
		"meanwhile', gc, queue, round(secs::numeric), round(span::numeric))",             \
		"format('if what queue %s protects can take more, raise queues.%s."               \
		"global_concurrency; if not, the limit is doing its job', queue, queue)",         \
		"json_build_object('queue', queue, 'globalConcurrency', gc, 'atLimitSeconds',"    \
		" round(secs::numeric, 1), 'windowSeconds', round(span::numeric, 1), 'share',"    \
		" round((secs / span)::numeric, 4), 'peakRunning', peak)")                        \
	" AS j FROM atcap WHERE span > 0 AND secs >= 0.1 * span AND secs >= 60"                 \
	"  ORDER BY secs / span DESC, queue LIMIT 5),"

static const char sql_insights[] =
    "WITH base AS MATERIALIZED ("
    " SELECT e.type, e.outcome, e.duration_ms, e.attempt, e.error, e.processor, e.job_id,"
    " e.started_at, e.finished_at FROM jobvisor.job_executions e WHERE" WINDOW_ROWS("$6") "),"
    " t AS (SELECT type, count(*) AS n,"
    "  count(*) FILTER (WHERE outcome IN ('failed', 'timed_out', 'crashed')) AS nf,"
    "  count(*) FILTER (WHERE outcome = 'timed_out') AS nto,"
    "  count(*) FILTER (WHERE attempt > 1) AS nre,"
    "  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,"
    "  max(duration_ms) AS mx FROM base GROUP BY type),"
    " te AS (SELECT DISTINCT ON (type) type, pattern FROM ("
    "  SELECT type, " PATTERN("error") " AS pattern, count(*) AS c FROM ("
    "   SELECT type, error FROM base WHERE outcome IN ('failed', 'timed_out', 'crashed')"
    "   AND error IS NOT NULL AND error <> '' ORDER BY random() LIMIT " ERROR_SAMPLE ") y"
    "  GROUP BY 1, 2) x ORDER BY type, c DESC, pattern),"
    " tt AS (SELECT t.*, te.pattern,"
    "  coalesce(($3::jsonb ->> t.type)::float8, $4::float8) * 1000 AS tmo_ms,"
    "  nf::float8 / n AS fr FROM t LEFT JOIN te USING (type)),"
    /* most failing types: at least 10 attempts, at least 10% failed */
    " failing AS (SELECT CASE WHEN fr >= 0.5 THEN 'critical' ELSE 'warning' END AS sev, fr, "
    INSIGHT("most_failing_types", "CASE WHEN fr >= 0.5 THEN 'critical' ELSE 'warning' END",
	    "format('Type %s fails %s%% of attempts', type, round(100 * fr))",
	    "format('%s of %s attempts of type %s failed, timed out or crashed%s', " SC("nf") ", "
	    SC("n") ", type, CASE WHEN pattern IS NOT NULL"
	    " THEN format('; most common error: %s', pattern) ELSE '' END)",
	    "'look at the most common error: if it is transient (an upstream, the network), "
	    "raise max_attempts or processor.retry_base_ms for a longer backoff; if it is "
	    "permanent, fix the payloads or the executor rather than retrying'",
	    "json_build_object('type', type, 'attempts', " SC("n") ", 'failures', " SC("nf")
	    ", 'failureRate', round(fr::numeric, 4), 'topError', pattern)") " AS j"
    "  FROM tt WHERE n >= 10 AND fr >= 0.1 ORDER BY fr DESC, type LIMIT 5),"
    /* slowest types: p95 at least half of the type's timeout */
    " slow AS (SELECT CASE WHEN p95 >= 0.9 * tmo_ms THEN 'critical' ELSE 'warning' END AS sev,"
    "  p95 / tmo_ms AS ratio, "
    INSIGHT("slowest_types", "CASE WHEN p95 >= 0.9 * tmo_ms THEN 'critical' ELSE 'warning' END",
	    "format('p95 of %s is %s%% of its timeout', type, round((100 * p95 / tmo_ms)::numeric))",
	    "format('attempts of type %s take %s ms at the 95th percentile and %s ms at most, "
	    "against a timeout of %s s', type, round(p95::numeric), mx, round((tmo_ms / 1000)::numeric))",
	    "format('raise timeout_seconds of %s or split the work into smaller jobs', type)",
	    "json_build_object('type', type, 'p95Ms', round(p95::numeric, 1), 'maxMs', mx,"
	    " 'timeoutSeconds', tmo_ms / 1000, 'ratio', round((p95 / tmo_ms)::numeric, 3))") " AS j"
    "  FROM tt WHERE n >= 5 AND p95 >= 0.5 * tmo_ms ORDER BY p95 / tmo_ms DESC, type LIMIT 5),"
    /* timeouts: at least 1% of a type's attempts timed out */
    " tmo AS (SELECT CASE WHEN nto >= 0.05 * n THEN 'warning' ELSE 'info' END AS sev,"
    "  nto::float8 / n AS r, "
    INSIGHT("timeouts", "CASE WHEN nto >= 0.05 * n THEN 'warning' ELSE 'info' END",
	    "format('%s attempts of type %s timed out', " SC("nto") ", type)",
	    "format('%s%% of the %s attempts of type %s hit their timeout of %s s', "
	    "round(100.0 * nto / n, 1), " SC("n") ", type, round((tmo_ms / 1000)::numeric))",
	    "'raise timeout_seconds if the work legitimately takes longer, or find what hangs "
	    "(an upstream without its own timeout); a timed-out attempt is retried and may repeat "
	    "its side effects'",
	    "json_build_object('type', type, 'attempts', " SC("n") ", 'timedOut', " SC("nto")
	    ", 'timeoutSeconds', tmo_ms / 1000)") " AS j"
    "  FROM tt WHERE nto > 0 AND nto >= 0.01 * n ORDER BY nto::float8 / n DESC, type LIMIT 5),"
    /* retry-heavy types: at least 10 attempts, at least 20% of them retries */
    " retry AS (SELECT 'warning'::text AS sev, nre::float8 / n AS r, "
    INSIGHT("retry_heavy", "'warning'",
	    "format('%s%% of attempts of type %s are retries', round(100.0 * nre / n), type)",
	    "format('%s of %s attempts of type %s were a second or later attempt', " SC("nre")
	    ", " SC("n") ", type)",
	    "'retries multiply the load on a failing dependency: look at the top errors of this "
	    "type, raise processor.retry_base_ms for a longer backoff, or lower max_attempts for "
	    "errors that never heal'",
	    "json_build_object('type', type, 'attempts', " SC("n") ", 'retries', " SC("nre")
	    ", 'retryRate', round(nre::numeric / n, 4))") " AS j"
    "  FROM tt WHERE n >= 10 AND nre >= 0.2 * n ORDER BY nre::float8 / n DESC, type LIMIT 5),"
    /* stuck jobs in the window: attempts rescued from silent processors
     * (by another processor, or self-fenced); releases are not in base */
    " resc AS (SELECT count(*) AS n, array_agg(DISTINCT processor ORDER BY processor)"
    "   FILTER (WHERE processor IS NOT NULL) AS procs,"
    "  (SELECT json_object_agg(type, " SC("c") ") FROM (SELECT type, count(*) AS c FROM base"
    "   WHERE outcome = 'rescued' GROUP BY type) y) AS bytype"
    "  FROM base WHERE outcome = 'rescued'),"
    " stuck AS (SELECT CASE WHEN n >= 10 THEN 'critical' ELSE 'warning' END AS sev, "
    INSIGHT("stuck_jobs", "CASE WHEN n >= 10 THEN 'critical' ELSE 'warning' END",
	    "format('%s attempts were rescued from silent processors', " SC("n") ")",
	    "format('processors %s stopped heartbeating for more than stuck_job_timeout_minutes "
	    "(%s) while running them', array_to_string(procs, ', '), $5::numeric)",
	    "'check the logs of those processors (a crash, the OOM killer, a lost database "
	    "connection); if they were only slow to heartbeat, raise stuck_job_timeout_minutes "
	    "or lower heartbeat_interval_ms'",
	    "json_build_object('rescued', " SC("n") ", 'processors', procs, 'byType', bytype)")
    " AS j FROM resc WHERE n > 0),"
    /* stuck now: running on a processor silent for stuck_job_timeout_minutes */
    " now_stuck AS (SELECT count(*) AS n, array_agg(DISTINCT j.locked_by ORDER BY j.locked_by)"
    "   AS procs, min(j.started_at) AS oldest"
    "  FROM jobvisor.jobs j LEFT JOIN jobvisor.processors p ON p.id = j.locked_by"
    "  WHERE j.status = 'running' AND (p.id IS NULL OR p.state = 'stopped'"
    "   OR p.heartbeat_at < now() - make_interval(secs => $5::float8 * 60))),"
    " stuck_now AS (SELECT 'critical'::text AS sev, "
    INSIGHT("stuck_jobs_now", "'critical'",
	    "format('%s jobs are running on silent processors', n)",
	    "format('processors %s have not heartbeated for more than %s minutes but hold "
	    "running jobs (the oldest started at %s)', array_to_string(procs, ', '), $5::numeric,"
	    " to_char(oldest AT TIME ZONE 'UTC', " ISO_MS "))",
	    "'a live processor rescues them at its next heartbeat; to do it now, POST "
	    "/api/cron/reset-stuck-jobs; then find out why those processors went silent'",
	    "json_build_object('jobs', n, 'processors', procs, 'stuckJobTimeoutMinutes', $5::numeric)")
    " AS j FROM now_stuck WHERE n > 0),"
    /* users at their limit now: as many running jobs as per_user_limit, and due
     * jobs waiting for more than 30 s */
    " lim AS (SELECT r.user_id, r.running, w.waiting, w.oldest FROM ("
    "   SELECT user_id, count(*) AS running FROM jobvisor.jobs"
    "   WHERE $7::int > 0 AND status = 'running' AND user_id IS NOT NULL"
    "   GROUP BY user_id HAVING count(*) >= $7::int) r"
    "  CROSS JOIN LATERAL (SELECT count(*) AS waiting, min(p.scheduled_at) AS oldest"
    "   FROM jobvisor.jobs p WHERE p.status = 'pending' AND p.user_id = r.user_id"
    "   AND p.scheduled_at <= now() - interval '30 seconds') w"
    "  WHERE w.waiting > 0 ORDER BY w.waiting DESC, r.user_id LIMIT 10),"
    " users AS (SELECT 'warning'::text AS sev, "
    INSIGHT("users_at_limit", "'warning'",
	    "CASE WHEN count(*) = 1 THEN format('User %s is at its per_user_limit with %s due jobs "
	    "waiting', min(user_id), sum(waiting)) ELSE format('%s users are at their "
	    "per_user_limit with due jobs waiting', count(*)) END",
	    "format('per_user_limit is %s; waiting the longest: %s', $7::int,"
	    " string_agg(format('%s (%s running, %s due waiting since %s)', user_id, running, waiting,"
	    " to_char(oldest AT TIME ZONE 'UTC', " ISO_MS ")), '; ' ORDER BY waiting DESC, user_id))",
	    "'raise processor.per_user_limit if these users may run more at once, or spread their "
	    "work over time; if they should be throttled, the limit is doing its job'",
	    "json_build_object('perUserLimit', $7::int, 'users', json_agg(json_build_object("
	    "'user', user_id, 'running', running, 'dueWaiting', waiting, 'oldestDue',"
	    " to_char(oldest AT TIME ZONE 'UTC', " ISO_MS ")) ORDER BY waiting DESC, user_id))")
    " AS j FROM lim HAVING count(*) > 0)," QUEUE_CAP_CTES
    " ins AS ("
    "  SELECT " SEVRANK("sev") " AS sr, 0 AS kr, fr AS score, j FROM failing"
    "  UNION ALL SELECT " SEVRANK("sev") ", 1, 0, j FROM stuck_now"
    "  UNION ALL SELECT " SEVRANK("sev") ", 2, 0, j FROM stuck"
    "  UNION ALL SELECT " SEVRANK("sev") ", 3, ratio, j FROM slow"
    "  UNION ALL SELECT " SEVRANK("sev") ", 4, r, j FROM tmo"
    "  UNION ALL SELECT " SEVRANK("sev") ", 5, r, j FROM retry"
    "  UNION ALL SELECT " SEVRANK("sev") ", 6, 0, j FROM users"
    "  UNION ALL SELECT " SEVRANK("sev") ", 7, share, j FROM gcap),"
    " healthy AS (SELECT 2 AS sr, 9 AS kr, 0::float8 AS score, "
    INSIGHT("healthy", "'info'", "'Nothing stands out'",
	    "format('%s attempts in the window: no type fails, times out or retries often, none "
	    "runs close to its timeout, and no jobs are stuck', (SELECT " SC("count(*)")
	    " FROM base))",
	    "'nothing to do'", "json_build_object('attempts', (SELECT " SC("count(*)")
	    " FROM base))") " AS j WHERE NOT EXISTS (SELECT 1 FROM ins))"
    " SELECT json_build_object('insights', coalesce(json_agg(j ORDER BY sr, kr, score DESC),"
    " '[]')) FROM (SELECT * FROM ins UNION ALL SELECT * FROM healthy) a";

/* GET /api/cron/insights?startDate=&endDate= */
static void cron_insights(struct jv_api_req *req)
{
	static const char *const args[] = {"startDate", "endDate", NULL};
	struct window w;
	if (get_window(req, args, &w))
		return;
	const struct jv_config *cfg = jv_api_config(req);
	json_t *tmo = json_object();
	for (size_t i = 0; i < cfg->n_executors; i++) {
		const struct jv_executor_cfg *x = &cfg->executors[i];
		json_object_set_new(tmo, x->name,
				    json_integer(x->timeout_seconds > 0 ? x->timeout_seconds
									: cfg->processor.timeout_seconds));
	}
	char *tmo_text = json_dumps(tmo, JSON_COMPACT);
	json_decref(tmo);
	char def[16], stuck[32], lim[16];
	snprintf(def, sizeof def, "%d", cfg->processor.timeout_seconds);
	snprintf(stuck, sizeof stuck, "%.10g", cfg->processor.stuck_job_timeout_ms / 60000.0);
	snprintf(lim, sizeof lim, "%d", cfg->processor.per_user_limit);
	const char *params[] = {w.start, w.end, tmo_text ? tmo_text : "{}", def, stuck, w.scale, lim};
	answer_json_query(req, &w, sql_insights, 7, params);
	free(tmo_text);
}

/* ---------------------------------------------------------- throughput */

/* A point, with more fields (extra) after its counts. */
#define AT_POINT(extra)                                                                         \
	"json_build_object('at', to_char(g, 'YYYY-MM-DD\"T\"HH24:MI:00\"Z\"'),"                 \
	" 'succeeded', round(coalesce(b.ok, 0) * $4::float8)::bigint,"                           \
	" 'failed', round(coalesce(b.bad, 0) * $4::float8)::bigint,"                             \
	" 'total', round(coalesce(b.n, 0) * $4::float8)::bigint" extra ")"

/* $1 start, $2 end, $3 type (NULL: any), $4 scale, $5 bucket: finished
 * executions per bucket, and nothing else: what the dashboard's charts
 * redraw every few seconds, cheaper than the whole of /metrics. */
static const char sql_throughput[] =
    "WITH b AS (SELECT date_trunc($5::text, e.started_at AT TIME ZONE 'UTC') AS h,"
    "  count(*) AS n, count(*) FILTER (WHERE e.outcome = 'succeeded') AS ok,"
    "  count(*) FILTER (WHERE e.outcome IN ('failed', 'timed_out', 'crashed')) AS bad"
    "  FROM jobvisor.job_executions e WHERE" WINDOW_ROWS("$4")
    "  AND ($3::text IS NULL OR e.type = $3::text) GROUP BY 1)"
    " SELECT json_build_object('bucket', $5::text, 'points', coalesce(json_agg(CASE"
    "  WHEN $4::float8 > 1 THEN " AT_POINT(", 'margin95', json_build_object('succeeded', "
    ME_AT("coalesce(b.ok, 0)", "$4") ", 'failed', " ME_AT("coalesce(b.bad, 0)", "$4") ", 'total', "
    ME_AT("coalesce(b.n, 0)", "$4") ")") " ELSE " AT_POINT("") " END ORDER BY g), '[]'))"
    " FROM generate_series(date_trunc($5::text, $1::timestamptz AT TIME ZONE 'UTC'),"
    "  $2::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',"
    "  ('1 ' || $5::text)::interval) g LEFT JOIN b ON b.h = g";

/* GET /api/cron/throughput?startDate=&endDate=&bucket=&type= */
static void cron_throughput(struct jv_api_req *req)
{
	static const char *const args[] = {"startDate", "endDate", "bucket", "type", NULL};
	struct window w;
	if (get_window(req, args, &w))
		return;
	const char *bucket = get_bucket(req, &w);
	if (!bucket)
		return;
	const char *params[] = {w.start, w.end, jv_api_query(req, "type"), w.scale, bucket};
	answer_json_query(req, &w, sql_throughput, 5, params);
}

const struct jv_api_route jv_api_analytics_routes[] = {
	{"GET", "/api/cron/throughput", 0, cron_throughput,
	 "finished executions per minute or hour over a window"},
	{"GET", "/api/cron/metrics", 0, cron_metrics,
	 "history analytics: outcomes, durations, throughput, top errors"},
	{"GET", "/api/cron/insights", 0, cron_insights,
	 "plain-language findings over the history, with recommendations"},
	{NULL, NULL, 0, NULL, NULL},
};

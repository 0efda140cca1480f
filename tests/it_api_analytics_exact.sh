#!/bin/sh
# it_api_analytics_exact.sh -- the analytics never overstate: an answer that
# says it is exact matches plain SQL over the planted history, and one that
# is not says which figures are estimates and gives their margins.
#   - top errors of a window with 1 000 errors: "estimate": false, counts and
#     lastSeen as SQL counts them;
#   - a window with 12 000 errors (more than the 5 000 turned into patterns):
#     counts flagged as estimates with a margin, lastSeen still exact;
#   - releases (at shutdown, after a lost claim) are not counted as rescued
#     attempts, neither the rows written before 020_released_outcome.sql nor
#     the ones the engine's release_unheld() writes now ('released');
#   - the sampling decision follows the window's rows, not the table's rows
#     spread over its time span: a 2-hour window of 25 000 rows in a table of
#     40 000 spanning 80 days is over the bound (lowered to 20 000 with
#     JOBVISOR_TEST_ANALYTICS_ROW_BOUND, a variable only tests set), so it is
#     sampled, its hourly buckets by rows and each with its margin.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
TOKEN=analytics-exact-token-0123456789
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# get PATH: $CODE, $BODY
get()
{
	CODE=$(curl -s -o "$JV_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$B$1")
	BODY=$(cat "$JV_TMP/body")
}
j() { printf '%s\n' "$BODY" | jq -c "$1"; }
# iso SQL_TIMESTAMP: as the API writes a window's bound
iso() { jv_psql "SELECT to_char(($1) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"; }

# ---------------------------------------------------------------- history
# T is the start of the current hour. The first row (lowest id) is 80 days
# old, so the table spans 80 days. Windows, one hour each unless said:
#   A  T-48h: 12 000 failures, 10 patterns ('alpha failed with code N', ...)
#   B  T-30h: 3 000 attempts, 1 000 of them failures of 3 patterns
#   D  T-72h: 5 rescues, 7 releases written before 020, 2 released now
#      (inserted before C, so the table's latest row by id is C's)
#   C  T-2h .. T: 25 000 attempts, 5 000 in the first hour, 20 000 in the second
T=$(jv_psql "SELECT date_trunc('hour', now())")
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, type, started_at, finished_at, duration_ms, outcome)
VALUES (1, 1, 'a', '$T'::timestamptz - interval '80 days', '$T'::timestamptz - interval '80 days', 1, 'succeeded')" >/dev/null
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, type, started_at, finished_at, duration_ms, outcome, error)
SELECT 100000 + g, 1, 'a', ts, ts, 1, 'failed',
	format('%s failed with code %s', (ARRAY['alpha','bravo','charlie','delta','echo','foxtrot',
		'golf','hotel','india','juliet'])[1 + g % 10], g)
FROM generate_series(1, 12000) g,
	LATERAL (SELECT '$T'::timestamptz - interval '48 hours' + g * interval '250 ms' AS ts) t" >/dev/null
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, type, started_at, finished_at, duration_ms, outcome, error)
SELECT 200000 + g, 1, 'b', ts, ts, 1, CASE WHEN g % 3 = 0 THEN 'failed' ELSE 'succeeded' END,
	CASE WHEN g % 3 = 0 THEN format('%s timed out after %s ms',
		(ARRAY['kilo','lima','lima','mike','mike','mike'])[1 + g / 3 % 6], g) END
FROM generate_series(1, 3000) g,
	LATERAL (SELECT '$T'::timestamptz - interval '30 hours' + g * interval '1 s' AS ts) t" >/dev/null
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, processor, type, started_at, finished_at, duration_ms, outcome, error)
SELECT 300000 + g, 1, 77, 'd', ts, ts, 1000, 'rescued',
	CASE WHEN g <= 5 THEN 'rescued: processor 77 stopped heartbeating'
	     WHEN g <= 9 THEN 'released at shutdown (attempt not counted)'
	     ELSE 'released: the claim''s answer was lost with the connection (attempt not counted)' END
FROM generate_series(1, 12) g,
	LATERAL (SELECT '$T'::timestamptz - interval '72 hours' + g * interval '1 min' AS ts) t" >/dev/null
# Two jobs running under a processor that does not hold them: the engine's
# release after a lost claim answer (release_unheld) writes their rows.
LOST=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at)
	VALUES ('lost', 'h', 1, 'x', now()) RETURNING id")
jv_psql "INSERT INTO jobvisor.jobs (type, status, locked_by, started_at, attempts)
	SELECT 'd', 'running', $LOST, '$T'::timestamptz - interval '72 hours' + interval '30 min', 1
	FROM generate_series(1, 2)" >/dev/null
assert_eq 2 "$(jv_psql "SELECT count(*) FROM jobvisor.release_unheld($LOST, NULL)")" "two jobs released after a lost claim"
check assert_eq released "$(jv_psql "SELECT string_agg(DISTINCT outcome, ',') FROM jobvisor.job_executions WHERE processor = $LOST")" \
	"the engine records a release as 'released', not 'rescued'"
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, type, started_at, finished_at, duration_ms, outcome)
SELECT 400000 + g, 1, 'c', ts, ts, 1, CASE WHEN g % 4 = 0 THEN 'failed' ELSE 'succeeded' END
FROM generate_series(1, 25000) g,
	LATERAL (SELECT CASE WHEN g <= 5000 THEN '$T'::timestamptz - interval '2 hours' + g * interval '700 ms'
	                     ELSE '$T'::timestamptz - interval '1 hour' + (g - 5000) * interval '175 ms' END AS ts) t" >/dev/null
jv_psql "ANALYZE jobvisor.job_executions" >/dev/null
assert_eq t "$(jv_psql "SELECT reltuples BETWEEN 38000 AND 42000 FROM pg_class WHERE oid = 'jobvisor.job_executions'::regclass")" \
	"the table's statistics know its 40 015 rows"

JOBVISOR_TEST_ANALYTICS_ROW_BOUND=20000
export JOBVISOR_TEST_ANALYTICS_ROW_BOUND
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
jv_api_port "$JV_TMP/bg.$BG_N.err"

# ------------------------------------------------- B: exact top errors
S=$(iso "'$T'::timestamptz - interval '30 hours'")
E=$(iso "'$T'::timestamptz - interval '29 hours'")
get "/api/cron/metrics?startDate=$S&endDate=$E"
assert_eq 200 "$CODE" "metrics of window B"
check assert_eq false "$(j .sampled)" "3 000 rows: not sampled"
WANT=$(jv_psql "SELECT json_agg(json_build_object('pattern', p, 'count', n, 'lastSeen', l, 'estimate', false)
		ORDER BY n DESC, p)
	FROM (SELECT regexp_replace(error, '[0-9]+', '<n>', 'g') AS p, count(*) AS n,
		to_char(max(started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS l
	FROM jobvisor.job_executions WHERE started_at >= '$S' AND started_at < '$E' AND error IS NOT NULL
	GROUP BY 1) x" | jq -cS .)
check assert_eq "$WANT" "$(j '[.topErrors[] | {pattern, count, lastSeen, estimate}]' | jq -cS .)" \
	"1 000 errors: top errors say they are exact (estimate false), and are: counts and lastSeen as SQL has them"
check assert_eq '[]' "$(j '[.topErrors[] | select(has("margin95"))]')" "an exact count has no margin"

# ------------------------------------------------- A: sampled errors
S=$(iso "'$T'::timestamptz - interval '48 hours'")
E=$(iso "'$T'::timestamptz - interval '47 hours'")
get "/api/cron/metrics?startDate=$S&endDate=$E"
assert_eq 200 "$CODE" "metrics of window A"
check assert_eq false "$(j .sampled)" "12 000 rows: not sampled"
check assert_eq 12000 "$(j .overall.byOutcome.failed)" "its counts of rows are exact"
check assert_eq '[10,true,true]' "$(j '[(.topErrors | length), all(.topErrors[]; .estimate), all(.topErrors[]; .margin95.count > 0)]')" \
	"12 000 errors, 5 000 turned into patterns: each count says it is an estimate and gives its margin"
WANT=$(jv_psql "SELECT json_agg(json_build_object('pattern', p, 'lastSeen', l) ORDER BY p)
	FROM (SELECT regexp_replace(error, '[0-9]+', '<n>', 'g') AS p,
		to_char(max(started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS l
	FROM jobvisor.job_executions WHERE started_at >= '$S' AND started_at < '$E' AND error IS NOT NULL
	GROUP BY 1) x" | jq -cS .)
check assert_eq "$WANT" "$(j '[.topErrors[] | {pattern, lastSeen}] | sort_by(.pattern)' | jq -cS .)" \
	"lastSeen of every pattern is exact all the same"
check assert_eq '[]' "$(j '[.topErrors[] | select(((.count - 1200) | fabs) > 3 * .margin95.count)]')" \
	"each estimate (1 200 each) within 3 margins"
LATEST=$(jv_psql "SELECT error FROM jobvisor.job_executions WHERE error LIKE 'alpha%' AND started_at < '$E' ORDER BY started_at DESC LIMIT 1")
check assert_eq "\"$LATEST\"" "$(j '.topErrors[] | select(.pattern == "alpha failed with code <n>") | .example')" \
	"the example is the latest error of its pattern"

# ------------------------------------------------- D: releases are not rescues
S=$(iso "'$T'::timestamptz - interval '72 hours'")
E=$(iso "'$T'::timestamptz - interval '71 hours'")
get "/api/cron/insights?startDate=$S&endDate=$E"
assert_eq 200 "$CODE" "insights of window D"
check assert_eq '["5 attempts were rescued from silent processors",5,[77]]' \
	"$(j '[.insights[] | select(.kind == "stuck_jobs") | .title, .data.rescued, .data.processors]')" \
	"stuck_jobs counts the 5 rescues, not the 9 releases (4 at shutdown, 3 + 2 after a lost claim)"
get "/api/cron/metrics?startDate=$S&endDate=$E"
check assert_eq '[5,5]' "$(j '[.overall.total, .overall.byOutcome.rescued]')" \
	"metrics: releases are no attempts (the engine gave them back uncounted)"

# ------------------------------------------------- C: the sampling decision
S=$(iso "'$T'::timestamptz - interval '2 hours'")
E=$(iso "'$T'")
get "/api/cron/metrics?startDate=$S&endDate=$E"
assert_eq 200 "$CODE" "metrics of window C"
check assert_eq true "$(j .sampled)" \
	"25 000 rows in the window, over the bound of 20 000 (the table's rows spread over its 80 days would say 42): sampled"
SP=$(j .samplePercent)
echo "# window C: samplePercent $SP, overall $(j '[.overall.total, .overall.margin95.total]')"
check assert_eq true "$(j '.samplePercent > 50 and .samplePercent < 100')" "a share of the window's rows ($SP %)"
check assert_eq '[2,true,true]' "$(j '[.throughputPerHour | length, all(.[]; .margin95.total > 0), all(.[]; .margin95.succeeded > 0)]')" \
	"every hourly bucket of a sampled answer gives its margins"
check assert_eq true "$(j '.overall.margin95.total > 0 and .byType[0].margin95.total > 0 and .overall.margin95.successRate > 0')" "and so do the totals and the success rate"
check assert_eq '[true,true]' "$(j '.throughputPerHour | [((.[0].total - 5000) | fabs) <= 3 * .[0].margin95.total,
	((.[1].total - 20000) | fabs) <= 3 * .[1].margin95.total]')" \
	"each hour's estimate (5 000, 20 000) within 3 margins: rows are sampled, not pages"
get "/api/cron/throughput?startDate=$S&endDate=$E"
check assert_eq '[true,2,true]' "$(j '[.sampled, (.points | length), all(.points[]; .margin95.total > 0)]')" \
	"/api/cron/throughput: sampled alike, each point with its margin"
get "/api/cron/insights?startDate=$S&endDate=$E"
check assert_eq true "$(j .sampled)" "/api/cron/insights: sampled alike"

jv_done

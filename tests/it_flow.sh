#!/bin/sh
# it_flow.sh -- flow control (DESIGN.md "Flow control", sql/015, sql/016)
# across 3 processors, each limit checked from the history the database
# wrote (job_executions: started_at is the claim's, finished_at the
# completion's):
#  1. a queue's global_concurrency holds across processors, other queues
#     are not held by it;
#  2. a rate limit per user holds in every window, every job runs, and the
#     run takes about the limit's minimum (the claim says when the window
#     opens; no idle gaps, no busy loop);
#  3. user_limits: max_running holds exactly, per_user_limit for users
#     without a row, and a user of weight 3 (a row without max_running:
#     no limit) gets about 3 times the starts of a user of weight 1 while
#     all wait;
#  4. a pause through the API of one processor stops starts on all, at once,
#     and a resume starts them again;
#  5. bad queues config and an unknown queue at enqueue are refused, naming
#     the place.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# start3 [API]: 3 processors on $JV_CONF (the first with the api: section
# of $JV_CONF.api when API is given); P their pids.
start3()
{
	P=""
	for _i in 1 2 3; do
		_c=$JV_CONF
		[ "$_i" = 1 ] && [ -n "${1:-}" ] && _c=$JV_CONF.api
		jv_bg "$JOBVISOR" serve -c "$_c"
		[ "$_i" = 1 ] && SERR1=$JV_TMP/bg.$BG_N.err
		P="$P $BG_PID"
	done
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE state = 'running'\")\" = 3 ]" 20 \
		"3 processors running"
}
stop3()
{
	for _p in $P; do
		kill -TERM "$_p"
	done
	for _p in $P; do
		wait "$_p" || fail "processor $_p did not exit 0"
	done
}
# once N: every job ran exactly once, successfully (N jobs)
once()
{
	assert_eq "$1|$1|0" "$(jv_psql "SELECT (SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded') || '|' ||
		(SELECT count(DISTINCT job_id) FROM jobvisor.job_executions WHERE outcome = 'succeeded') || '|' ||
		(SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions GROUP BY job_id HAVING count(*) <> 1) d)")" \
		"all $1 jobs succeeded, each executed exactly once"
}
# The most executions of queue Q running at once: at each start, those
# started at or before it and finished after it.
max_running()
{
	jv_psql "WITH e AS (SELECT x.* FROM jobvisor.job_executions x JOIN jobvisor.jobs j ON j.id = x.job_id
	                    WHERE j.queue = '$1')
		SELECT coalesce(max((SELECT count(*) FROM e b WHERE b.started_at <= a.started_at
		                     AND b.finished_at > a.started_at)), 0) FROM e a"
}

# ------------------------------------------------- 1. global concurrency
jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 6 \
	processor.batch_size 6 \
	processor.heartbeat_interval_ms 500
cat >>"$JV_CONF" <<'YAML'
queues:
  mail: { concurrency: 5, global_concurrency: 3 }
  bulk: { concurrency: 2 }
YAML
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
start3
assert_eq "mail 3" "$(jv_psql "SELECT name || ' ' || global_concurrency FROM jobvisor.queues WHERE name = 'mail'")" \
	"the processors stored the queue's global limit"
jv_psql "INSERT INTO jobvisor.jobs (type, queue, payload)
	SELECT 'noop', 'mail', jsonb_build_object('sleep_ms', 5 + (g * 7) % 26) FROM generate_series(1, 300) g;
	INSERT INTO jobvisor.jobs (type, payload)
	SELECT 'noop', jsonb_build_object('sleep_ms', 5 + (g * 7) % 26) FROM generate_series(1, 150) g;
	INSERT INTO jobvisor.jobs (type, queue, payload)
	SELECT 'noop', 'bulk', '{\"sleep_ms\": 20}' FROM generate_series(1, 90) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 540 ]" 120 \
	"all 540 jobs succeeded"
once 540
BULK=$(jv_psql "WITH e AS (SELECT x.* FROM jobvisor.job_executions x JOIN jobvisor.jobs j ON j.id = x.job_id
                    WHERE j.queue = 'bulk')
	SELECT coalesce(max((SELECT count(*) FROM e b WHERE b.processor = a.processor AND b.started_at <= a.started_at
	                     AND b.finished_at > a.started_at)), 0) FROM e a")
assert_eq 2 "$BULK" "bulk (concurrency 2): never more than 2 running at once on one processor, and 2 reached"
MAIL=$(max_running mail)
assert_eq 3 "$MAIL" "mail: never more than 3 running at once across the processors, and 3 reached"
DEF=$(max_running default)
[ "$DEF" -gt 3 ] || fail "the default queue never ran more than $DEF at once: held by mail's limit?"
ok "the default queue is not held by mail's limit (up to $DEF at once)"
assert_eq 3 "$(jv_psql "SELECT count(DISTINCT e.processor) FROM jobvisor.job_executions e
	JOIN jobvisor.jobs j ON j.id = e.job_id WHERE j.queue = 'mail'")" "all 3 processors ran mail jobs"
stop3

# ------------------------------------------------------ 2. rate limit
jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.heartbeat_interval_ms 500
cat >>"$JV_CONF" <<'YAML'
queues:
  api: { rate_limit: { allowed: 5, period_seconds: 2, partition_by: user_id } }
YAML
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
start3
# 4 users x 40 jobs, all due now: 8 windows of 5 starts per user.
jv_psql "INSERT INTO jobvisor.jobs (type, queue, user_id, payload)
	SELECT 'noop', 'api', 'u' || (g % 4), '{\"sleep_ms\": 5}' FROM generate_series(1, 160) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 160 ]" 60 \
	"all 160 rate-limited jobs succeeded"
once 160
WORST=$(jv_psql "SELECT max((SELECT count(*) FROM jobvisor.job_executions b
	WHERE b.user_id = a.user_id AND b.started_at >= a.started_at
	  AND b.started_at < a.started_at + interval '2 seconds')) FROM jobvisor.job_executions a")
assert_eq 5 "$WORST" "no user had more than 5 starts in any 2-second window, and 5 were reached"
# The least it can take: each user's 40 starts need 8 windows, the last
# opening 7 periods after the first start. Idle gaps (waiting for the poll
# instead of the window) would add up to a second per window.
SPAN=$(jv_psql "SELECT round(extract(epoch FROM max(started_at) - min(started_at))::numeric, 2)
	FROM jobvisor.job_executions")
jv_psql "SELECT $SPAN >= 14 AND $SPAN < 17" | grep -qx t ||
	fail "the 160 starts spanned $SPAN s; the limit's minimum is 14 s"
ok "the starts spanned $SPAN s (the limit allows 14 at the least)"
stop3

# A rate limit per type, through the claim itself at a fixed time: each
# type gets its own window; once all are full the claim says when the
# oldest start leaves its window (not 0: that would be a busy loop).
jv_psql "SELECT jobvisor.sync_queues('{\"typed\": {\"rate_limit\": {\"allowed\": 2, \"period_seconds\": 60, \"partition_by\": \"type\"}}}');
	INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('sql', 'h', 1, 'x');
	INSERT INTO jobvisor.jobs (type, queue, user_id) SELECT (ARRAY['ta', 'tb'])[1 + g % 2], 'typed',
		CASE WHEN g % 3 = 0 THEN 'u' || g END FROM generate_series(1, 12) g" >/dev/null
PROC=$(jv_psql "SELECT max(id) FROM jobvisor.processors WHERE name = 'sql'")
claim_at()
{
	jv_psql "SELECT coalesce(string_agg(type, ',' ORDER BY type), '-') || '|' || coalesce(max(next_due_ms)::text, '-')
		FROM jobvisor.claim($PROC, 10, 0, '{ta,tb}', '2030-01-01 00:$1+00', NULL, '{typed}', '{}', '{}')"
}
assert_eq "ta,ta,tb,tb|60000" "$(claim_at 00:00)" "rate per type: 2 starts of each type, then the window full for 60 s"
assert_eq "-|30000" "$(claim_at 00:30)" "both windows full: none, and the next opening in 30 s"
assert_eq "ta,ta,tb,tb|60000" "$(claim_at 01:01)" "60 s later: 2 more of each"
# Each window's total (jobvisor.queue_windows, what the claim reads) is
# the sum of its starts still recorded, after starts came and went.
windows_match()
{
	assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.queue_windows w
		FULL JOIN (SELECT queue, part, sum(n)::integer AS n FROM jobvisor.queue_starts
		           GROUP BY queue, part) s USING (queue, part)
		WHERE coalesce(w.n, 0) <> coalesce(s.n, 0)")" "$1"
}
windows_match "each window's total is the sum of its recorded starts"
assert_eq "ta:2,tb:2" "$(jv_psql "SELECT string_agg(part || ':' || n, ',' ORDER BY part)
	FROM jobvisor.queue_windows WHERE queue = 'typed' AND n > 0")" \
	"the windows hold the last claim's starts only (the first's left them)"
# A window with room left holds nothing back: the claim's next look is
# the next scheduled job (90 s), not the window's next opening (60 s).
jv_psql "SELECT jobvisor.sync_queues('{\"roomy\": {\"rate_limit\": {\"allowed\": 5, \"period_seconds\": 60}}}');
	INSERT INTO jobvisor.jobs (type, queue, scheduled_at) VALUES ('ta', 'roomy', '2030-01-01 00:00+00'),
		('ta', 'roomy', '2030-01-01 00:00+00'), ('ta', 'roomy', '2030-01-01 00:03:30+00')" >/dev/null
assert_eq "ta,ta|90000" "$(jv_psql "SELECT string_agg(type, ',' ORDER BY type) || '|' || max(next_due_ms)
	FROM jobvisor.claim($PROC, 10, 0, '{ta}', '2030-01-01 00:02+00', NULL, '{roomy}', '{}', '{}')")" \
	"a window with room left: 2 started, next look when the scheduled job is due"
windows_match "... and the totals still match"
# A rate limit over the whole queue with room for every slot still counts
# each start (016 did not record them then, and such a limit never held):
# 5 a minute, claims of 4 slots a second apart.
jv_psql "SELECT jobvisor.sync_queues('{\"whole\": {\"rate_limit\": {\"allowed\": 5, \"period_seconds\": 60}}}');
	INSERT INTO jobvisor.jobs (type, queue) SELECT 'ta', 'whole' FROM generate_series(1, 20)" >/dev/null
whole_at()
{
	jv_psql "SELECT count(id) || '|' || coalesce(max(next_due_ms)::text, '-')
		FROM jobvisor.claim($PROC, 4, 0, '{ta}', '2030-01-01 00:$1+00', NULL, '{whole}', '{}', '{}')"
}
assert_eq "4|-" "$(whole_at 05:00)" "whole-queue rate 5/min: 4 slots, 4 started"
assert_eq "1|59000" "$(whole_at 05:01)" "... a second later 1 more (5 in the window), next opening in 59 s"
assert_eq "0|58000" "$(whole_at 05:02)" "... then none until the window opens"
assert_eq "4|-" "$(whole_at 06:00.5)" "... 60 s after the first starts, 4 again"
windows_match "... the totals match"
jv_psql "SELECT jobvisor.recount_queue_windows()" >/dev/null
windows_match "recount_queue_windows() agrees with the claim's totals"

# ---------------------------------------------- 3. user limits and weights
jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 1 \
	processor.batch_size 1 \
	processor.per_user_limit 2 \
	processor.heartbeat_interval_ms 500
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_psql "INSERT INTO jobvisor.user_limits (user_id, max_running) VALUES ('a', 1);
	INSERT INTO jobvisor.user_limits (user_id, weight) VALUES ('b', 3)" >/dev/null
# 90 jobs each, interleaved, all due now; 3 slots in all, so the fair
# claim decides who runs.
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload)
	SELECT 'noop', (ARRAY['a', 'b', 'c', 'd'])[1 + g % 4], '{\"sleep_ms\": 20}'
	FROM generate_series(0, 359) g ORDER BY g" >/dev/null
start3
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 360 ]" 120 \
	"all 360 jobs of the four users succeeded"
once 360
per_user_max()
{
	jv_psql "SELECT coalesce(max((SELECT count(*) FROM jobvisor.job_executions b WHERE b.user_id = a.user_id
		AND b.started_at <= a.started_at AND b.finished_at > a.started_at)), 0)
		FROM jobvisor.job_executions a WHERE a.user_id = '$1'"
}
assert_eq 1 "$(per_user_max a)" "user a (max_running 1): never 2 at once, 1 reached"
for u in c d; do
	_m=$(per_user_max $u)
	[ "$_m" -le 2 ] || fail "user $u had $_m running at once (per_user_limit 2)"
done
ok "users c, d (no row): never more than per_user_limit 2 at once"
# While every user still had jobs waiting (until the first ran out), the
# starts of each.
STARTS=$(jv_psql "WITH last AS (SELECT min(m) AS t FROM (SELECT max(started_at) AS m FROM jobvisor.job_executions
	GROUP BY user_id) x)
	SELECT string_agg(user_id || ' ' || n, ' ' ORDER BY user_id) FROM (
		SELECT user_id, count(*) AS n FROM jobvisor.job_executions, last
		WHERE started_at < last.t GROUP BY user_id) s")
B=$(printf '%s\n' "$STARTS" | sed -n 's/.*b \([0-9]*\).*/\1/p')
for u in c d; do
	_n=$(printf '%s\n' "$STARTS" | sed -n "s/.*$u \\([0-9]*\\).*/\\1/p")
	[ -n "$_n" ] && [ "$_n" -gt 0 ] || fail "user $u had no start while all waited ($STARTS)"
	# within 20 % of 3 : 2.4 <= B/n <= 3.6
	[ $((B * 10)) -ge $((_n * 24)) ] && [ $((B * 10)) -le $((_n * 36)) ] ||
		fail "weight 3 against 1: b had $B starts and $u $_n while all waited ($STARTS)"
done
ok "weight 3: b had about 3 times the starts of c and d while all waited ($STARTS)"
stop3

# ------------------------------------------------------ 4. pause, resume
jv_db
TOKEN="tok-$$-flow"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 2 \
	processor.batch_size 2 \
	processor.poll_interval_ms 500 \
	processor.heartbeat_interval_ms 500
cat >>"$JV_CONF" <<'YAML'
queues:
  mail: {}
YAML
cp "$JV_CONF" "$JV_CONF.api"
cat >>"$JV_CONF.api" <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
chmod 0600 "$JV_CONF.api"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
start3 api
jv_api_port "$SERR1"
JV_CALL_AUTH="Authorization: Bearer $TOKEN"
jv_psql "INSERT INTO jobvisor.jobs (type, queue, payload)
	SELECT 'noop', 'mail', '{\"sleep_ms\": 100}' FROM generate_series(1, 400) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" -ge 30 ]" 30 \
	"the mail queue runs on the processors"
call POST /api/queues/mail/pause
assert_eq 200 "$CODE" "POST /api/queues/mail/pause: 200 ($BODY)"
PAUSED_AT=$(jv_psql "SELECT paused_at FROM jobvisor.queues WHERE name = 'mail' AND paused")
[ -n "$PAUSED_AT" ] || fail "the queue is not paused in the table"
# Its running jobs finish; then nothing of it runs.
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'running'\")\" = 0 ]" 20 \
	"the running mail jobs finished"
AFTER=$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'")
# (a poll interval and more for any processor to have claimed again)
jv_psql "SELECT pg_sleep(1.5)" >/dev/null
assert_eq "$AFTER|0" "$(jv_psql "SELECT (SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded') || '|' ||
	(SELECT count(*) FROM jobvisor.jobs WHERE status = 'running')")" "paused: no new start on any processor"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE started_at > '$PAUSED_AT'::timestamptz + interval '0.5 seconds'")" \
	"no start later than one poll interval after the pause"
call POST /api/queues/mail/resume
assert_eq 200 "$CODE" "POST /api/queues/mail/resume: 200"
wait_for "[ \"\$(jv_psql \"SELECT count(DISTINCT processor) FROM jobvisor.job_executions WHERE started_at > (SELECT updated_at FROM jobvisor.queues WHERE name = 'mail')\")\" = 3 ]" 20 \
	"resumed: all 3 processors start mail jobs again"
stop3

# ------------------------------------------------------ 5. bad input
jv_db
cat >>"$JV_CONF" <<'YAML'
queues:
  mail: { rate_limit: { allowed: 0, period_seconds: 2 } }
YAML
run "$JOBVISOR" check-config -c "$JV_CONF"
assert_rc 1 "allowed: 0 refused"
assert_match "^$JV_CONF:[0-9]+:[0-9]+: queues\.mail\.rate_limit\.allowed: 0 is out of range" "$ERR" "... naming the place"
sed -i 's/allowed: 0, period_seconds: 2/allowed: 3, period_seconds: -2/' "$JV_CONF"
run "$JOBVISOR" check-config -c "$JV_CONF"
assert_rc 1 "a negative period refused"
assert_match "queues\.mail\.rate_limit\.period_seconds: -2 is out of range" "$ERR" "... naming it"
sed -i 's/period_seconds: -2/period_seconds: 2/' "$JV_CONF"
jv_conf_set "$JV_CONF" processor.queues '[mail, mails]'
run "$JOBVISOR" check-config -c "$JV_CONF"
assert_rc 1 "an unknown queue in processor.queues refused"
assert_match "^$JV_CONF:[0-9]+:[0-9]+: processor\.queues: unknown queue 'mails' \(did you mean 'mail'\?\)" "$ERR" \
	"... naming it, with the likely one"
jv_conf_set "$JV_CONF" processor.queues '[mail]'
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
assert_eq "mail 3/2" "$(jv_psql "SELECT name || ' ' || rate_allowed || '/' || rate_period_seconds FROM jobvisor.queues WHERE name = 'mail'")" \
	"migrate stored the config's queues (jobs can go to them before any processor started)"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM (SELECT jobvisor.enqueue('noop', queue => 'mail')) e")" \
	"enqueue() to a queue of the config"
if jv_psql "DELETE FROM jobvisor.queues WHERE name = 'mail'" >"$JV_TMP/del.out" 2>&1; then
	fail "a queue with a pending job was deleted"
fi
assert_match "queue 'mail' still has pending or running jobs" "$(cat "$JV_TMP/del.out")" \
	"a queue in use cannot be deleted"
jv_psql "DELETE FROM jobvisor.jobs" >/dev/null
jv_psql "DELETE FROM jobvisor.queues WHERE name = 'mail'" >/dev/null
jv_psql "DELETE FROM jobvisor.queues WHERE name = 'default'" >"$JV_TMP/del.out" 2>&1 &&
	fail "the default queue was deleted"
assert_match "the queue 'default' cannot be deleted" "$(cat "$JV_TMP/del.out")" "'default' cannot be deleted"
if psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "SELECT jobvisor.enqueue('noop', queue => 'nosuch')" \
	>"$JV_TMP/sql.out" 2>&1; then
	fail "an unknown queue was accepted by enqueue()"
fi
assert_match "unknown queue 'nosuch'" "$(cat "$JV_TMP/sql.out")" "enqueue() to an unknown queue: an error naming it"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "nothing inserted"

jv_done

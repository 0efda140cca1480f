#!/bin/sh
# it_serve_burst.sh -- wake-ups and worker recycling. 2 000 jobs inserted
# one statement at a time (2 000 transactions, 2 000 notifications) while
# every slot is busy must not cost anything like 2 000 claim queries: the
# notifications fold into one reason to claim, and claims come in batches
# once slots free up. A job inserted into an idle processor is picked up
# through NOTIFY well before the (long) poll interval; workers are replaced
# after worker_max_jobs.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 20 \
	processor.batch_size 20 \
	processor.poll_interval_ms 600000 \
	processor.worker_max_jobs 25
printf 'log: { level: debug, format: json }\n' >>"$JV_CONF"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'started: ' '$SERR'" 10 "serve started"

# An idle processor wakes on NOTIFY: the poll interval is 10 minutes.
ID=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $ID\")\" = succeeded ]" 5 \
	"a new job is picked up through NOTIFY, not polling"

# Fill every slot with a slow job, then the burst.
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 8000}' FROM generate_series(1, 20)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'running'\")\" = 20 ]" 10 \
	"all 20 slots busy"
i=0
while [ $i -lt 2000 ]; do
	echo "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{}');"
	i=$((i + 1))
done >"$JV_TMP/burst.sql"
psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -f "$JV_TMP/burst.sql" >/dev/null || fail "burst insert"
[ "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'running'")" = 20 ] ||
	fail "the slow jobs ended before the burst was in: the test shows nothing"
ok "the burst arrived while every slot was busy"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 2021 ]" 60 \
	"all 2 021 jobs succeeded"
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0"
line=$(grep 'stopped: ' "$SERR" | sed 's/\\"/"/g')
claims=$(printf '%s\n' "$line" | sed -E 's/.* in ([0-9]+) claim queries.*/\1/')
[ -n "$claims" ] && [ "$claims" -lt 300 ] || fail "2 000 notifications cost $claims claim queries: $line"
ok "2 000 notifications cost $claims claim queries, not 2 000"

# 2 021 jobs over 20 workers recycled every 25 jobs: at least 80 workers started.
started=$(grep -c 'worker [0-9]* started' "$SERR")
[ "$started" -ge 80 ] || fail "only $started workers started; worker_max_jobs 25 was not honoured"
ok "workers are recycled after worker_max_jobs ($started started)"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome <> 'succeeded'")" \
	"recycling lost or failed no attempt"

# log.format json: every line is one JSON object with ts, level and msg.
bad=$(grep -cv '^{"ts": *"[^"]*", *"level": *"[a-z]*", *"msg": *".*}$' "$SERR")
assert_eq 0 "$bad" "every log line is a JSON object"
assert_eq "info|t" "$(echo "SELECT (:'line'::jsonb)->>'level', (:'line'::jsonb) ? 'pid';" |
	psql -X -q -A -t -d "$JV_DB_URL" -v line="$(grep 'stopped: ' "$SERR")")" "and parses as JSON (checked by PostgreSQL)"
jv_done

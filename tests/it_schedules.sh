#!/bin/sh
# it_schedules.sh -- the scheduler end to end: three processors against
# schedules firing every second for ~20 s give exactly one job per due
# second (none missed, none doubled); with all processors stopped for 10 s
# and started again, catch_up none | latest | all behave as documented
# (a run is missed when it was more than JV_SCHED_GRACE_S = 2 s overdue
# when materialised). Then: `jobvisor schedules`, the /api/schedules
# routes (create, 400s, 409, pause/resume, delete, 404), the config sync
# on SIGHUP (a removed config schedule goes, an API one stays), the cap of
# catch_up all (the latest 100) after two days down, and jitter.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

GRACE=2
TOKEN="tok-$$-sch"
jv_db
SCHEDS=$(cat <<YAML
schedules:
  - name: sec-latest
    cron: "* * * * * *"
    type: noop
  - name: sec-none
    cron: "* * * * * *"
    type: noop
    catch_up: none
  - name: sec-all
    cron: "* * * * * *"
    type: noop
    catch_up: all
    priority: 5
    payload: {sleep_ms: 1}
YAML
)
jv_write_config "$JV_CONF" "$SCHEDS"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.shutdown_grace_seconds 2
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

PIDS=
start3()
{
	PIDS=
	for _i in 1 2 3; do
		jv_bg "$JOBVISOR" serve -c "$JV_CONF"
		PIDS="$PIDS $BG_PID"
	done
}
stop3()
{
	for _p in $PIDS; do kill -TERM "$_p" 2>/dev/null || true; done
	for _p in $PIDS; do jv_kill_pid "$_p"; done
}
runs() { jv_psql "SELECT count(*) FROM jobvisor.schedule_runs WHERE schedule = '$1'"; }

# ------------------------------------------------------ 3 processors, 20 s
start3
wait_for "[ \"\$(runs sec-latest)\" -ge 1 ]" 15 "the first run"
sleep 20
stop3
STOPPED=$(jv_psql "SELECT extract(epoch FROM clock_timestamp())")
N1=$(runs sec-latest)
[ "$N1" -ge 17 ] || fail "only $N1 runs in ~20 s"
ok "$N1 runs in ~20 s"

# Every run has its job, every job its run: none doubled.
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.schedule_runs WHERE job_id IS NULL")" \
	"every run has a job"
assert_eq "$(jv_psql "SELECT count(*) FROM jobvisor.schedule_runs")" \
	"$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "one job per run, no other job"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM (SELECT job_id FROM jobvisor.schedule_runs GROUP BY job_id HAVING count(*) > 1) d")" \
	"no job shared by two runs"
# None missed: each schedule's seconds are contiguous from its first run.
for s in sec-latest sec-none sec-all; do
	assert_eq "t" "$(jv_psql "SELECT max(run_at) - min(run_at) = (count(*) - 1) * interval '1 second' FROM jobvisor.schedule_runs WHERE schedule = '$s'")" \
		"$s: one run per second, none missed"
done
# The jobs are the schedule's template, scheduled at the run's time.
assert_eq '5|{"sleep_ms": 1}|noop|0' \
	"$(jv_psql "SELECT DISTINCT j.priority, j.payload, j.type, count(*) FILTER (WHERE j.scheduled_at <> r.run_at) OVER () FROM jobvisor.schedule_runs r JOIN jobvisor.jobs j ON j.id = r.job_id WHERE r.schedule = 'sec-all'")" \
	"sec-all's jobs: its template, scheduled at the run time"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status <> 'succeeded' AND scheduled_at < now() - interval '5 seconds'")" \
	"the jobs ran"
NPROC=$(jv_psql "SELECT count(DISTINCT processor) FROM jobvisor.schedule_runs")
echo "# runs materialised by $NPROC processors"

# ------------------------------------------------------ 10 s down, restart
sleep 10
RESTARTED=$(date +%s)
start3
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.schedule_runs WHERE run_at > to_timestamp($STOPPED)\")\" -ge 9 ]" 20 \
	"runs after the restart"
sleep 3
stop3

# after S: the runs after the last one before the stop; late: more than
# the grace overdue when materialised (missed runs).
after() { echo "FROM jobvisor.schedule_runs WHERE schedule = '$1' AND run_at > (SELECT max(run_at) FROM jobvisor.schedule_runs WHERE schedule = '$1' AND created_at < to_timestamp($STOPPED))"; }
late="run_at < date_trunc('second', created_at) - interval '$GRACE seconds'"
for s in sec-latest sec-none sec-all; do
	echo "# $s after the restart (run, materialised): $(jv_psql "SELECT string_agg(to_char(run_at, 'MI:SS') || '@' || to_char(created_at, 'MI:SS.MS'), ' ' ORDER BY run_at) $(after $s)")"
done
# latest: one missed run (the latest), then contiguous again.
assert_eq 1 "$(jv_psql "SELECT count(*) $(after sec-latest) AND $late")" \
	"latest: exactly one missed run caught up"
assert_eq "t" "$(jv_psql "SELECT max(run_at) - min(run_at) = (count(*) - 1) * interval '1 second' $(after sec-latest)")" \
	"latest: the caught-up run is the latest missed one, then every second"
assert_eq "t" "$(jv_psql "SELECT min(run_at) > to_timestamp($STOPPED + 3) $(after sec-latest)")" \
	"latest: the earlier missed runs were skipped"
# none: no missed run, then every second.
assert_eq 0 "$(jv_psql "SELECT count(*) $(after sec-none) AND $late")" "none: no missed run"
assert_eq "t" "$(jv_psql "SELECT max(run_at) - min(run_at) = (count(*) - 1) * interval '1 second' $(after sec-none)")" \
	"none: every second after the restart"
# (not "later than latest's first": latest's caught-up run and none's first
# can be the same second when the processors take a while to reach them)
assert_eq "t" "$(jv_psql "SELECT min(run_at) >= to_timestamp($RESTARTED) - interval '$GRACE seconds' $(after sec-none)")" \
	"none: nothing from the downtime, the first run is the restart's"
# all: every second of the downtime.
assert_eq "t" "$(jv_psql "SELECT max(run_at) - min(run_at) = (count(*) - 1) * interval '1 second' FROM jobvisor.schedule_runs WHERE schedule = 'sec-all'")" \
	"all: every second, the downtime included"
NLATE=$(jv_psql "SELECT count(*) $(after sec-all) AND $late")
[ "$NLATE" -ge 6 ] || fail "all: only $NLATE missed runs caught up"
ok "all: $NLATE missed runs caught up"
assert_eq "$(jv_psql "SELECT count(*) FROM jobvisor.schedule_runs")" \
	"$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "still one job per run"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.schedule_runs WHERE job_id IS NULL")" \
	"still every run with its job"


# ------------------------------------------------------ the CLI
run "$JOBVISOR" schedules -c "$JV_CONF"
assert_rc 0 "schedules"
assert_eq 3 "$(printf '%s\n' "$OUT" | grep -c '^sec-')" "schedules: the three listed"
assert_eq 15 "$(printf '%s\n' "$OUT" | grep -cE '^  (next runs|         ) 20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC$')" \
	"schedules: five next runs each, in UTC"
assert_match 'state     enabled, catch_up none' "$OUT" "schedules: catch_up shown"
run "$JOBVISOR" schedules -c "$JV_CONF" --json
assert_rc 0 "schedules --json"
assert_eq "3|5|all" "$(printf '%s' "$OUT" | jq -r '"\(length)|\(.[0].nextRuns | length)|\(.[0].catchUp)"')" \
	"schedules --json: each with five next runs"
BAD=$JV_TMP/nodb.yaml
jv_write_config "$BAD" "$SCHEDS"
jv_conf_set "$BAD" database.url '"postgresql://127.0.0.1:1/nodb?connect_timeout=2"'
run "$JOBVISOR" schedules -c "$BAD"
assert_rc 0 "schedules without a database"
assert_match "cannot read the database" "$ERR" "schedules: says the database is away"
assert_eq 3 "$(printf '%s\n' "$OUT" | grep -c '^sec-')" "schedules: the config's instead"

# ------------------------------------------------------ API, sync, SIGHUP
C2=$JV_TMP/api.yaml
write_c2()
{
	jv_write_config "$C2" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
schedules:
  - name: sec-latest
    cron: "* * * * * *"
    type: noop
$1
YAML
)"
}
write_c2 "  - name: paris
    cron: \"0 3 * * *\"
    timezone: Europe/Paris
    type: noop"
jv_bg "$JOBVISOR" serve -c "$C2"
SPID=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
AUTH="Authorization: Bearer $TOKEN"
JV_CALL_AUTH=$AUTH # call (lib.sh) sends the token
send() { call "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
field() { printf '%s' "$BODY" | jq -r "$1"; }

wait_for "[ \"\$(jv_psql \"SELECT string_agg(name, ',' ORDER BY name) FROM jobvisor.schedules\")\" = paris,sec-latest ]" 10 \
	"sync: removed config schedules deleted, the new one added"
for route in "GET /api/schedules" "POST /api/schedules" "PATCH /api/schedules/x" "DELETE /api/schedules/x"; do
	set -- $route
	CODE=$(curl -s -X "$1" -o /dev/null -w '%{http_code}' "$B$2")
	assert_eq 401 "$CODE" "$route without a token: 401"
done
call GET /api/schedules
assert_eq 200 "$CODE" "list: 200"
assert_match "^paris\\|Europe/Paris\\|config\\|5\\|T0[12]:00:00Z$" \
	"$(field '.schedules[0] | "\(.name)|\(.timezone)|\(.source)|\(.nextRuns | length)|\(.nextRuns[0][10:])"')" \
	"list: a config schedule with its next five runs (03:00 in Paris, in UTC)"

send POST /api/schedules '{"name": "api-one", "cron": "* * * * * *", "type": "noop", "timezone": "Europe/Paris", "payload": {"sleep_ms": 2}, "user": "bob", "priority": 3, "maxAttempts": 2, "catchUp": "none"}'
assert_eq 201 "$CODE" "create: 201"
assert_eq "api-one|api|true|none|5|bob|2" \
	"$(field '"\(.name)|\(.source)|\(.enabled)|\(.catchUp)|\(.nextRuns | length)|\(.user)|\(.payload.sleep_ms)"')" \
	"create: the schedule as stored"
send POST /api/schedules '{"name": "api-one", "cron": "* * * * *", "type": "noop"}'
assert_eq 409 "$CODE" "create an existing name: 409"
send POST /api/schedules '{"name": "bad", "cron": "0 25 * * *", "type": "noop"}'
assert_eq 400 "$CODE" "create with a bad hour: 400"
assert_match "hour.*field 2.*position" "$(field .error)" "the 400 names the field and position"
send POST /api/schedules '{"name": "bad", "cron": "* * * * *", "type": "noop", "timezone": "Mars/Olympus"}'
assert_eq "400|unknown timezone 'Mars/Olympus'" "$CODE|$(field .error)" "create with an unknown zone: 400"
send POST /api/schedules '{"name": "bad", "cron": "* * * * *"}'
assert_eq "400|type is required" "$CODE|$(field .error)" "create without a type: 400"
send POST /api/schedules '{"name": "bad", "cron": "* * * * *", "type": "noop", "catchUp": "some"}'
assert_eq 400 "$CODE" "create with a bad catchUp: 400"
send POST /api/schedules '{"name": "bad", "cron": "* * * * *", "type": "noop", "nope": 1}'
assert_eq 400 "$CODE" "create with an unknown key: 400"
send POST /api/schedules '{"name": "api-two", "cron": "0 0 1 1 *", "type": "noop"}'
assert_eq 201 "$CODE" "create a second one"

wait_for "[ \"\$(runs api-one)\" -ge 2 ]" 10 "api-one runs"
assert_eq "noop|bob|3|2|{\"sleep_ms\": 2}" \
	"$(jv_psql "SELECT DISTINCT j.type, j.user_id, j.priority, j.max_attempts, j.payload FROM jobvisor.jobs j JOIN jobvisor.schedule_runs r ON r.job_id = j.id WHERE r.schedule = 'api-one'")" \
	"api-one's jobs follow its template"
send PATCH /api/schedules/api-one '{"enabled": false}'
assert_eq "200|false" "$CODE|$(field .enabled)" "pause: 200"
PAUSED_AT=$(jv_psql "SELECT extract(epoch FROM clock_timestamp())")
N=$(runs api-one)
sleep 3
assert_eq "$N" "$(runs api-one)" "paused: no run"
send PATCH /api/schedules/api-one '{"enabled": true, "priority": 4}'
assert_eq "200|true|4" "$CODE|$(field .enabled)|$(field .priority)" "resume: 200"
# When the resume began (its transaction's now(), which updated_at is):
# its first run is the next second after it. (A clock read after the
# PATCH came back may be more than a second late on a loaded machine, and
# that run before it.)
RESUMED_AT=$(jv_psql "SELECT extract(epoch FROM updated_at) FROM jobvisor.schedules WHERE name = 'api-one'")
wait_for "[ \"\$(runs api-one)\" -ge $((N + 2)) ]" 10 "api-one runs again"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.schedule_runs WHERE schedule = 'api-one' AND run_at > to_timestamp($PAUSED_AT) AND run_at <= to_timestamp($RESUMED_AT)")" \
	"resume: the paused seconds are not caught up"
send PATCH /api/schedules/api-one '{"cron": "1 2 3 4 5 6 7"}'
assert_eq 400 "$CODE" "change to a bad cron: 400"
send PATCH /api/schedules/nope '{"enabled": false}'
assert_eq 404 "$CODE" "change an unknown schedule: 404"
send PATCH /api/schedules/api-one '{"name": "x"}'
assert_eq 400 "$CODE" "renaming: 400"
call DELETE /api/schedules/api-one
assert_eq "200|true" "$CODE|$(field .deleted)" "delete: 200"
call DELETE /api/schedules/api-one
assert_eq 404 "$CODE" "delete again: 404"
N=$(runs api-one)
sleep 1.5
assert_eq "$N" "$(runs api-one)" "deleted: no more runs"

# SIGHUP: the config's schedules again; the API one stays.
write_c2 ""
kill -HUP "$SPID"
wait_for "[ \"\$(jv_psql \"SELECT string_agg(name, ',' ORDER BY name) FROM jobvisor.schedules\")\" = api-two,sec-latest ]" 10 \
	"reload: the removed config schedule goes, the API one stays"
assert_no_match "error|warning" "$(grep -v 'missed run' "$SERR")" "no error or warning logged"

# (the API listens again after the reload, on a new port)
wait_for "[ \"\$(grep -c 'api: listening on 127.0.0.1:[0-9]* (' '$SERR')\" -ge 2 ]" 10 "the API listens again"
PORT=$(sed -n 's/.*api: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$SERR" | tail -n 1)
B=http://127.0.0.1:$PORT

# The cap: two days down, catch_up all enqueues the latest 100 missed runs
# (172800 of them: past the stepping limit, so the jump is taken too);
# latest, one.
send POST /api/schedules '{"name": "cap-all", "cron": "* * * * * *", "type": "noop", "catchUp": "all", "jitterSeconds": 2, "enabled": false}'
assert_eq 201 "$CODE" "cap-all created, paused"
send POST /api/schedules '{"name": "cap-latest", "cron": "*/10 * * * * *", "type": "noop", "enabled": false}'
assert_eq 201 "$CODE" "cap-latest created, paused"
jv_psql "UPDATE jobvisor.schedules SET next_run_at = now() - interval '2 days', enabled = true WHERE name LIKE 'cap-%'" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.schedule_runs WHERE schedule = 'cap-latest'\")\" -ge 1 ]" 10 \
	"cap-latest caught up"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.schedule_runs WHERE schedule = 'cap-all' AND $late\")\" -ge 100 ]" 10 \
	"cap-all caught up"
sleep 1
assert_eq "100|00:01:39" "$(jv_psql "SELECT count(*), max(run_at) - min(run_at) FROM jobvisor.schedule_runs WHERE schedule = 'cap-all' AND $late")" \
	"all: the latest 100 missed runs, no more"
assert_eq "t" "$(jv_psql "SELECT max(run_at) - min(run_at) = (count(*) - 1) * interval '1 second' FROM jobvisor.schedule_runs WHERE schedule = 'cap-all'")" \
	"all: then every second"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM jobvisor.schedule_runs WHERE schedule = 'cap-latest' AND $late")" \
	"latest: one of 17280 missed runs"
assert_eq "0|2|t" "$(jv_psql "SELECT extract(epoch FROM min(j.scheduled_at - r.run_at))::int, extract(epoch FROM max(j.scheduled_at - r.run_at))::int, count(DISTINCT j.scheduled_at - r.run_at) = 3 FROM jobvisor.schedule_runs r JOIN jobvisor.jobs j ON j.id = r.job_id WHERE r.schedule = 'cap-all'")" \
	"jitter: each job delayed by 0, 1 or 2 s after its run time"
assert_match "schedule cap-all: [0-9]+ missed runs skipped \\(catch_up all\\)" "$(cat "$SERR")" "the skipped runs logged"

jv_done

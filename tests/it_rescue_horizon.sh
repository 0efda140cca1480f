#!/bin/sh
# it_rescue_horizon.sh -- a processor's running jobs are never rescued before
# its own horizon, whoever runs the rescue (sql/013_rescue_horizon.sql).
#
# A processor fences itself (stops its jobs) when its heartbeat has gone
# unconfirmed for its horizon minus a margin; guarantee 1 across a partition
# needs every rescuer to wait at least that long. Each processor declares
# its horizon at registration and with every heartbeat (processors.
# rescue_after), and rescue_stuck() waits for the longer of the caller's
# horizon and the silent processor's own: a processor configured with a
# shorter horizon, or a reset-stuck-jobs with a shorter timeoutMinutes,
# cannot take the jobs of one that may still run them. Rows that declare
# nothing (older versions) are rescued by the caller's horizon, as before.
#
# The rescue is called with its p_now argument, so rows sit just inside or
# outside a horizon without sleeping; then a real serve declares its own.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# Three silent processors, heartbeat 30 s ago: one declaring 60 s, one 10 s,
# one nothing; a running job on each.
T0=$(jv_psql "SELECT now()")
proc()
{
	jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at, rescue_after)
		VALUES ('$1', 'h', 1, 'x', '$T0'::timestamptz - interval '30 s', $2) RETURNING id"
}
LONG=$(proc long "interval '60 s'")
SHORT=$(proc short "interval '10 s'")
OLD=$(proc old NULL)
job()
{
	jv_psql "INSERT INTO jobvisor.jobs (type, payload, status, attempts, locked_by, started_at)
		VALUES ('noop', '{}', 'running', 1, $1, '$T0'::timestamptz - interval '30 s') RETURNING id"
}
JL=$(job $LONG)
JS=$(job $SHORT)
JO=$(job $OLD)
rescue() { jv_psql "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM jobvisor.rescue_stuck(interval '$1', '$T0'::timestamptz + interval '$2')"; }

assert_eq "$JS,$JO" "$(rescue '5 s' '0 s')" \
	"a 5 s rescue takes the jobs of the processors declaring 10 s and nothing, not of the one declaring 60 s"
assert_eq "running|running" "$(jv_psql "SELECT j.status || '|' || p.state FROM jobvisor.jobs j JOIN jobvisor.processors p ON p.id = j.locked_by WHERE j.id = $JL")" \
	"the 60 s processor is still running, and so is its job"
assert_eq "" "$(rescue '5 s' '29 s')" "59 s after its heartbeat: still not rescued"
assert_eq "$JL" "$(rescue '5 s' '31 s')" "61 s after it: rescued"
assert_eq "stopped" "$(jv_psql "SELECT state FROM jobvisor.processors WHERE id = $LONG")" \
	"and its processor marked stopped"
assert_eq "1" "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $JL AND outcome = 'rescued'")" \
	"one history row for its attempt"
# A caller's longer horizon still holds for a processor declaring less.
JS2=$(job $SHORT)
jv_psql "UPDATE jobvisor.processors SET state = 'running', stopped_at = NULL WHERE id = $SHORT" >/dev/null
assert_eq "" "$(rescue '40 s' '0 s')" "a 40 s rescue leaves a processor silent for 30 s alone, whatever it declared"
assert_eq "$JS2" "$(rescue '40 s' '11 s')" "and takes its job at 41 s"

# A real serve declares its horizon at registration, and keeps it with
# every heartbeat (after a reload too).
jv_conf_set "$JV_CONF" \
	processor.stuck_job_timeout_minutes 0.25 \
	processor.heartbeat_interval_ms 1000
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
wait_for "[ \"\$(jv_psql \"SELECT rescue_after FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 00:00:15 ]" 10 \
	"serve registered with its horizon, 0.25 min = 15 s"
jv_conf_set "$JV_CONF" processor.stuck_job_timeout_minutes 0.5
kill -HUP $SERVE
wait_for "[ \"\$(jv_psql \"SELECT rescue_after FROM jobvisor.processors WHERE pid = $SERVE\")\" = 00:00:30 ]" 10 \
	"after a reload to 0.5 min its heartbeat declares 30 s"
jv_done

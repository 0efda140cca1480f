#!/bin/sh
# it_attempts.sh -- a job never runs past its max_attempts, however it was
# written (sql/009_attempts.sql): a plain INSERT or an UPDATE that makes a
# pending job without an attempt left, or a running one past its limit,
# fails naming jobs_within_max_attempts_check; every engine path (claim, retry,
# give back, rescue, API retry) stays within it; `jobvisor serve` runs
# what may run and nothing else; and an upgrade fails the rows that broke
# the rule before, without running them.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# psql_err SQL: run SQL expecting an error; the error in $ERR.
psql_err()
{
	run psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "$1"
	[ "$RC" != 0 ] || fail "expected an error from: $1"
}

# ------------------------------------------------------------- writers
psql_err "INSERT INTO jobvisor.jobs (type, attempts, max_attempts) VALUES ('noop', 3, 3)"
assert_match 'violates check constraint "jobs_within_max_attempts_check"' "$ERR" \
	"a plain INSERT of a pending job with attempts = max_attempts fails, naming the rule"
psql_err "INSERT INTO jobvisor.jobs (type, attempts, max_attempts) VALUES ('noop', 7, 2)"
assert_match 'jobs_within_max_attempts_check' "$ERR" "attempts > max_attempts: fails too"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "nothing was inserted"
ID=$(jv_psql "INSERT INTO jobvisor.jobs (type, attempts, max_attempts) VALUES ('noop', 2, 3) RETURNING id")
ok "attempts 2 of 3: inserted (job $ID, one attempt left)"
psql_err "UPDATE jobvisor.jobs SET max_attempts = 2 WHERE id = $ID"
assert_match 'jobs_within_max_attempts_check' "$ERR" "lowering a pending job's max_attempts to its attempts fails"
jv_psql "INSERT INTO jobvisor.jobs (type, status, attempts, max_attempts) VALUES ('noop', 'failed', 5, 3),
	('noop', 'succeeded', 3, 3), ('noop', 'cancelled', 9, 1)" >/dev/null
ok "finished jobs may hold any counts (the history of an old limit)"

# ------------------------------------------------------------- the engine
P=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('t', 'h', 1, 'x') RETURNING id")
got=$(jv_psql "SELECT id || ':' || attempts || '/' || max_attempts FROM jobvisor.claim($P, 10, 0, '{noop}') WHERE id IS NOT NULL")
assert_eq "$ID:3/3" "$got" "claim takes the job with its last attempt"
psql_err "UPDATE jobvisor.jobs SET max_attempts = 2 WHERE id = $ID"
assert_match 'jobs_within_max_attempts_check' "$ERR" "lowering a running job's limit below its attempts fails"
# Given back at shutdown: pending again, the attempt not counted.
done_json() { printf '[{"id": %s, "attempt": 3, "outcome": "%s", "retryable": true, "duration_ms": 1}]' "$ID" "$1"; }
assert_eq "t|pending" "$(jv_psql "SELECT applied, status FROM jobvisor.complete($P, '$(done_json released)')")" \
	"a release of the last attempt: pending again"
assert_eq "2/3" "$(jv_psql "SELECT attempts || '/' || max_attempts FROM jobvisor.jobs WHERE id = $ID")" \
	"with the attempt given back"
jv_psql "SELECT 1 FROM jobvisor.claim($P, 10, 0, '{noop}') WHERE id IS NOT NULL" >/dev/null
assert_eq "t|failed" "$(jv_psql "SELECT applied, status FROM jobvisor.complete($P, '$(done_json failed)')")" \
	"a retryable failure of the last attempt: failed"
# Rescued: the processor is gone.
jv_psql "UPDATE jobvisor.jobs SET status = 'pending', max_attempts = 4, finished_at = NULL WHERE id = $ID" >/dev/null
jv_psql "SELECT 1 FROM jobvisor.claim($P, 10, 0, '{noop}') WHERE id IS NOT NULL" >/dev/null
jv_psql "UPDATE jobvisor.processors SET heartbeat_at = now() - interval '1 hour' WHERE id = $P" >/dev/null
assert_eq "failed" "$(jv_psql "SELECT status FROM jobvisor.rescue_stuck(interval '5 min') WHERE id = $ID")" \
	"a rescued last attempt: failed, not pending"

# ------------------------------------------------------------- serve
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "tok-$$"
YAML
)"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
jv_api_port "$JV_TMP/bg.$BG_N.err"
call POST "/api/jobs/$ID/retry" -H "Authorization: Bearer tok-$$" -d '{"attempts": 2}'
assert_eq 200 "$CODE" "the API retries the failed job"
assert_match '"maxAttempts":6' "$BODY" "with two more attempts"
wait_for "[ \"\$(jv_psql \"SELECT status || ' ' || attempts FROM jobvisor.jobs WHERE id = $ID\")\" = 'succeeded 5' ]" 30 \
	"serve runs it once more (attempt 5 of 6) and it succeeds"
NEW=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $NEW\")\" = succeeded ]" 30 \
	"a plain INSERT with the defaults still runs"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions e JOIN jobvisor.jobs j ON j.id = e.job_id
	WHERE e.attempt > j.max_attempts")" "no attempt ever ran past its job's max_attempts"
jv_kill_pid "$SERVE"

# ------------------------------------------------------------- the upgrade
# A database from before 009 with rows that break the rule: drop the rule
# and its record, write such rows, migrate again.
jv_psql "ALTER TABLE jobvisor.jobs DROP CONSTRAINT jobs_within_max_attempts_check;
	DELETE FROM jobvisor.schema_migrations WHERE version = 9" >/dev/null
OLD_P=$(jv_psql "INSERT INTO jobvisor.jobs (type, attempts, max_attempts) VALUES ('noop', 3, 3) RETURNING id")
OLD_R=$(jv_psql "INSERT INTO jobvisor.jobs (type, status, locked_by, attempts, max_attempts)
	VALUES ('noop', 'running', $P, 4, 3) RETURNING id")
OK_P=$(jv_psql "INSERT INTO jobvisor.jobs (type, attempts, max_attempts, scheduled_at)
	VALUES ('noop', 1, 3, now() + interval '1 day') RETURNING id")
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate applies 009 over rows that break it"
assert_match '^applied 009_attempts$' "$OUT" "009 applied"
assert_eq "failed|t|not run: it was pending with attempts (3) not below max_attempts (3) when migration 009_attempts made that an error" \
	"$(jv_psql "SELECT status, finished_at IS NOT NULL, last_error FROM jobvisor.jobs WHERE id = $OLD_P")" \
	"a pending job without an attempt left fails, saying why"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $OLD_P")" \
	"without an execution (it never ran)"
assert_eq "running|4/4" "$(jv_psql "SELECT status, attempts || '/' || max_attempts FROM jobvisor.jobs WHERE id = $OLD_R")" \
	"a running one past its limit goes on, as its last attempt"
assert_eq "pending|1/3" "$(jv_psql "SELECT status, attempts || '/' || max_attempts FROM jobvisor.jobs WHERE id = $OK_P")" \
	"a job within its limit is left alone"
psql_err "INSERT INTO jobvisor.jobs (type, attempts, max_attempts) VALUES ('noop', 3, 3)"
assert_match 'jobs_within_max_attempts_check' "$ERR" "and the rule holds again"
jv_done

#!/bin/sh
# it_queues_cli.sh -- queues from the command line and in schedules, against
# a real PostgreSQL: `enqueue --queue` (a known queue, an unknown one refused
# by the table with nothing inserted, a bad name refused before the
# database), `jobvisor queues` (table and --json), `queues pause|resume`
# and their effect on jobvisor.queues, an unknown queue (exit 1), the
# queues section of `status`; a schedule's queue: from the config (synced,
# shown by `jobvisor schedules`, its jobs in that queue) and through
# /api/schedules (shown, set, changed; an unknown one a 400 naming it).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# ---------------------------------------------------------------- no database needed
run "$JOBVISOR" queues --help
assert_rc 0 "queues --help"
assert_match "^usage: jobvisor queues " "$OUT" "queues --help prints its usage"
assert_match "pause NAME" "$OUT" "queues --help documents pause"
assert_match "resume NAME" "$OUT" "queues --help documents resume"
run "$JOBVISOR" --help
assert_match "^  queues " "$OUT" "jobvisor --help lists queues"
run "$JOBVISOR" enqueue --help
assert_match "--queue NAME" "$OUT" "enqueue --help documents --queue"

LONG=$(printf 'q%.0s' $(seq 1 65))
for q in 'Mail' 'a b' '' "$LONG" 'é'; do
	run "$JOBVISOR" enqueue -c /nonexistent.yaml --type noop --queue "$q"
	assert_rc 1 "enqueue --queue '$q': exit 1 before the config is read"
	assert_match "^jobvisor enqueue: invalid --queue '.*': must be 1 to 64 of a-z, 0-9, '_', '\.', '-'$" \
		"$ERR" "enqueue --queue '$q': the message names --queue and the rule"
done
run "$JOBVISOR" queues -c /nonexistent.yaml pause 'Bad Name'
assert_rc 1 "queues pause with a bad name: exit 1"
assert_match "invalid queue name 'Bad Name': must be 1 to 64" "$ERR" "queues pause: a bad name is named"
run "$JOBVISOR" queues -c /nonexistent.yaml pause
assert_rc 1 "queues pause without a name: exit 1"
assert_match "pause needs the queue's NAME" "$ERR" "queues pause: the missing name is said"
run "$JOBVISOR" queues -c /nonexistent.yaml stop mail
assert_rc 1 "queues with an unknown action: exit 1"
assert_match "unknown action 'stop'" "$ERR" "queues: the unknown action is named"
run "$JOBVISOR" queues -c /nonexistent.yaml pause mail extra
assert_rc 1 "queues pause with a stray argument: exit 1"
assert_match "unexpected argument 'extra'" "$ERR" "queues: the stray argument is named"

jv_db
run "$JOBVISOR" migrate
assert_rc 0 "migrate"
# (serve's start syncs the config's queues; here the SQL it calls)
jv_psql "SELECT jobvisor.sync_queues('{\"mail\": {\"global_concurrency\": 2,
	\"rate_limit\": {\"allowed\": 5, \"period_seconds\": 60, \"partition_by\": \"user_id\"}},
	\"bulk\": {}}'::jsonb)" >/dev/null

# ---------------------------------------------------------------- enqueue --queue
run "$JOBVISOR" enqueue --type noop --queue mail
assert_rc 0 "enqueue --queue mail"
assert_eq "mail" "$(jv_psql "SELECT queue FROM jobvisor.jobs WHERE id = $OUT")" "the job is in queue mail"
run "$JOBVISOR" enqueue -t noop -q bulk --at +1h
assert_rc 0 "enqueue -q bulk"
assert_eq "bulk" "$(jv_psql "SELECT queue FROM jobvisor.jobs WHERE id = $OUT")" "the job is in queue bulk"
run "$JOBVISOR" enqueue --type noop
assert_rc 0 "enqueue without --queue"
assert_eq "default" "$(jv_psql "SELECT queue FROM jobvisor.jobs WHERE id = $OUT")" "the job is in queue default"
before=$(jv_psql "SELECT count(*) FROM jobvisor.jobs")
run "$JOBVISOR" enqueue --type noop --queue nope
assert_rc 1 "enqueue --queue nope (unknown): exit 1"
assert_match "^jobvisor enqueue: could not enqueue: jobvisor\.jobs: unknown queue 'nope'" "$ERR" \
	"an unknown queue: the table's message naming it"
run "$JOBVISOR" enqueue --type noop --queue nope --unique-key k1
assert_rc 1 "enqueue --queue nope with a unique key: exit 1"
assert_eq "$before" "$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "no refused enqueue added a job"

# ---------------------------------------------------------------- queues
run "$JOBVISOR" queues
assert_rc 0 "queues"
assert_match "^NAME +PENDING +DUE +RUNNING +GLOBAL +RATE +IN WINDOW +HELD BY +PAUSED$" "$OUT" "queues: the header"
assert_match "^bulk +1 +0 +0 +- +- +- +- +-$" "$OUT" "queues: bulk, one job not yet due, no limits"
assert_match "^default +1 +1 +0 +- +- +- +- +-$" "$OUT" "queues: default, one due job"
assert_match "^mail +1 +1 +0 +2 +5/60s per user_id +0 +- +-$" "$OUT" "queues: mail with its limits"
assert_eq 4 "$(printf '%s\n' "$OUT" | wc -l)" "queues: a header and three queues"

run "$JOBVISOR" queues pause mail
assert_rc 0 "queues pause mail"
assert_match "^queue mail paused since [0-9-]+ [0-9:]+ UTC by cli$" "$OUT" "queues pause: says since when and by whom"
assert_eq "t|cli|t" "$(jv_psql "SELECT paused, paused_by, paused_at IS NOT NULL FROM jobvisor.queues WHERE name = 'mail'")" \
	"pause: jobvisor.queues.mail is paused by cli"
at1=$(jv_psql "SELECT paused_at FROM jobvisor.queues WHERE name = 'mail'")
run "$JOBVISOR" queues pause mail
assert_rc 0 "queues pause mail again"
assert_eq "$at1" "$(jv_psql "SELECT paused_at FROM jobvisor.queues WHERE name = 'mail'")" "pausing again keeps since when"
run "$JOBVISOR" queues
assert_match "^mail +1 +1 +0 +2 +5/60s per user_id +0 +paused +since [0-9-]+ [0-9:]+ UTC by cli$" "$OUT" \
	"queues: mail paused, its due job held by the pause"

run "$JOBVISOR" queues --json
assert_rc 0 "queues --json"
if command -v python3 >/dev/null 2>&1; then
	j=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = {q["name"]: q for q in json.load(sys.stdin)}
m = d["mail"]
print(sorted(d), m["pending"], m["due"], m["running"], m["global_concurrency"],
      m["rate_limit"], m["window_starts"], m["paused"], m["paused_by"], m["held_by"],
      d["bulk"]["rate_limit"], d["bulk"]["paused_at"], m["oldest_due_age_s"] >= 0)')
	assert_eq "['bulk', 'default', 'mail'] 1 1 0 2 {'allowed': 5, 'period_seconds': 60, 'partition_by': 'user_id'} 0 True cli paused None None True" \
		"$j" "queues --json: the same numbers"
else
	assert_match '"held_by": "paused"' "$OUT" "queues --json: mail held by the pause"
fi

run "$JOBVISOR" status
assert_rc 0 "status"
assert_match "^queues:$" "$OUT" "status has a queues section"
assert_match "^  NAME +PENDING +RUNNING +HELD BY +PAUSED$" "$OUT" "status: the queues' header"
assert_match "^  mail +1 +0 +paused +since [0-9-]+ [0-9:]+ UTC by cli$" "$OUT" "status: mail paused, with its depth"
assert_match "^  default +1 +0 +- +-$" "$OUT" "status: default not paused"
run "$JOBVISOR" status --json
assert_rc 0 "status --json"
if command -v python3 >/dev/null 2>&1; then
	j=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = {q["name"]: q for q in json.load(sys.stdin)["queues"]}
print(sorted(d), d["mail"])')
	assert_eq "['bulk', 'default', 'mail'] {'name': 'mail', 'pending': 1, 'running': 0, 'paused': True, 'held_by': 'paused'}" \
		"$j" "status --json: the queues"
fi

run "$JOBVISOR" queues resume mail
assert_rc 0 "queues resume mail"
assert_eq "queue mail resumed" "$OUT" "queues resume: says so"
assert_eq "f||" "$(jv_psql "SELECT paused, paused_by, paused_at FROM jobvisor.queues WHERE name = 'mail'")" \
	"resume: jobvisor.queues.mail is no longer paused"
run "$JOBVISOR" queues
assert_match "^mail +1 +1 +0 +2 +5/60s per user_id +0 +- +-$" "$OUT" "queues: mail resumed"

for a in pause resume; do
	run "$JOBVISOR" queues "$a" nope
	assert_rc 1 "queues $a nope (unknown): exit 1"
	assert_match "^jobvisor queues: unknown queue 'nope' \(queues: bulk, default, mail;" "$ERR" \
		"queues $a: the unknown queue is named, with the known ones"
done
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.queues WHERE name = 'nope' OR paused")" \
	"nothing was added or paused by the refusals"
run "$JOBVISOR" queues --json pause mail
assert_rc 1 "queues --json pause: exit 1"

if [ -n "${VALGRIND:-}" ] && [ "${JV_VALGRIND:-1}" != 0 ]; then
	vg()
	{
		run "$VALGRIND" --quiet --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
			--suppressions="$top_srcdir/tests/valgrind.supp" "$JOBVISOR" "$@"
		[ "$RC" = 99 ] && fail "valgrind: jobvisor $*: $ERR"
	}
	for args in "queues" "queues --json" "queues pause bulk" "queues resume bulk" "queues pause nope" \
		"status" "status --json" "enqueue --type noop --queue bulk" "enqueue --type noop --queue nope" \
		"enqueue --type noop --queue Bad"; do
		vg $args
		ok "valgrind: $args is clean (exit $RC)"
	done
fi

# ---------------------------------------------------------------- schedules with a queue
TOKEN="tok-$$-q"
C2=$JV_TMP/sched.yaml
sched_config()
{
	jv_write_config "$1" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
queues:
  mail: {}
  bulk:
${2:-}
schedules:
  - name: to-mail
    cron: "* * * * * *"
    type: noop
    queue: mail
  - name: to-default
    cron: "* * * * * *"
    type: noop
${3:-}
YAML
)"
	# (a reload stores the config's queues with the next heartbeat)
	jv_conf_set "$1" processor.heartbeat_interval_ms 3000
}
sched_config "$C2"
run "$JOBVISOR" schedules -c "$C2"
assert_rc 0 "schedules before serve"
jv_bg "$JOBVISOR" serve -c "$C2"
SPID=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
runs() { jv_psql "SELECT count(*) FROM jobvisor.schedule_runs WHERE schedule = '$1'"; }
wait_for "[ \"\$(runs to-mail)\" -ge 1 ] && [ \"\$(runs to-default)\" -ge 1 ]" 20 "both config schedules run"
assert_eq "to-default|default
to-mail|mail" "$(jv_psql "SELECT name, queue FROM jobvisor.schedules ORDER BY name")" \
	"the config sync writes each schedule's queue"
assert_eq "to-default|default
to-mail|mail" "$(jv_psql "SELECT DISTINCT r.schedule, j.queue FROM jobvisor.schedule_runs r
	JOIN jobvisor.jobs j ON j.id = r.job_id ORDER BY 1")" "each schedule's jobs are in its queue"
run "$JOBVISOR" schedules -c "$C2"
assert_rc 0 "schedules"
assert_match "^  queue     mail$" "$OUT" "schedules shows a schedule's queue"
assert_match "^  queue     default$" "$OUT" "schedules shows the default queue"
run "$JOBVISOR" schedules -c "$C2" --json
assert_match '"queue": "mail"' "$OUT" "schedules --json has the queue"

if command -v curl >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
	jv_api_port "$SERR"
	JV_CALL_AUTH="Authorization: Bearer $TOKEN"
	send() { call "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
	field() { printf '%s' "$BODY" | jq -r "$1"; }
	call GET /api/schedules
	assert_eq 200 "$CODE" "GET /api/schedules: 200"
	assert_eq "default mail" "$(field '[.schedules[].queue] | join(" ")')" "GET shows each schedule's queue"
	send POST /api/schedules '{"name": "api-q", "cron": "0 3 * * *", "type": "noop", "queue": "nope"}'
	assert_eq 400 "$CODE" "POST with an unknown queue: 400"
	assert_match "unknown queue 'nope'" "$(field .error)" "POST: the 400 names the queue"
	send POST /api/schedules '{"name": "api-q", "cron": "0 3 * * *", "type": "noop", "queue": "Bad Q"}'
	assert_eq 400 "$CODE" "POST with a bad queue name: 400"
	assert_match "queue must be 1 to 64 of a-z" "$(field .error)" "POST: the 400 gives the rule"
	send POST /api/schedules '{"name": "api-q", "cron": "0 3 * * *", "type": "noop", "queue": 7}'
	assert_eq 400 "$CODE" "POST with a queue not a string: 400"
	assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.schedules WHERE name = 'api-q'")" "no refused POST added a schedule"
	send POST /api/schedules '{"name": "api-q", "cron": "0 3 * * *", "type": "noop", "queue": "bulk"}'
	assert_eq 201 "$CODE" "POST with queue bulk: 201"
	assert_eq "bulk" "$(field .queue)" "POST: the answer shows the queue"
	send POST /api/schedules '{"name": "api-d", "cron": "0 3 * * *", "type": "noop"}'
	assert_eq "default" "$(field .queue)" "POST without a queue: default"
	send PATCH /api/schedules/api-q '{"queue": "nope"}'
	assert_eq 400 "$CODE" "PATCH to an unknown queue: 400"
	assert_match "unknown queue 'nope'" "$(field .error)" "PATCH: the 400 names the queue"
	assert_eq "bulk" "$(jv_psql "SELECT queue FROM jobvisor.schedules WHERE name = 'api-q'")" "a refused PATCH changes nothing"
	send PATCH /api/schedules/api-q '{"queue": "mail"}'
	assert_eq 200 "$CODE" "PATCH queue mail: 200"
	assert_eq "mail" "$(field .queue)" "PATCH: the answer shows the new queue"
	send PATCH /api/schedules/api-q '{"priority": 2}'
	assert_eq "mail" "$(field .queue)" "PATCH without queue keeps it"
	assert_eq "mail" "$(jv_psql "SELECT queue FROM jobvisor.schedules WHERE name = 'api-q'")" "the table has it"
else
	ok "no curl or jq: the /api/schedules checks are left out"
fi

# A reload that adds a queue and a schedule in it: the scheduler syncs the
# schedules at once, the queue is stored with the next heartbeat; the
# schedule is synced once it is (not left out until the next reload).
sched_config "$C2" "  late: {}" "  - {name: to-late, cron: \"* * * * * *\", type: noop, queue: late}"
kill -HUP "$SPID"
wait_for "[ \"\$(jv_psql \"SELECT queue FROM jobvisor.schedules WHERE name = 'to-late'\")\" = late ]" 30 \
	"after a reload, a schedule in a queue the reload added is synced"
wait_for "[ \"\$(runs to-late)\" -ge 1 ]" 20 "the schedule in the new queue runs"
assert_eq "late" "$(jv_psql "SELECT DISTINCT j.queue FROM jobvisor.schedule_runs r
	JOIN jobvisor.jobs j ON j.id = r.job_id WHERE r.schedule = 'to-late'")" "its jobs are in queue late"
assert_no_match "to-late.*left as it was" "$(cat "$SERR")" "no error for the schedule waiting for its queue"

jv_done

#!/bin/sh
# it_api_roles.sh -- roles and the audit trail of the REST API against a
# running `jobvisor serve` (docs/design.md "Access"): every route of the
# OpenAPI document taken with a viewer token (GET: its normal answer;
# anything else: 403 naming the role needed); an operator cancels but may
# not change schedules; the admin may; api.token is the admin "api.token";
# a wrong token is 401 and leaves no row; every change leaves exactly one
# row of jobvisor.audit_log with the token's name, method, path, target and
# status; GET /api/audit pages and filters, and is the admin's only;
# GET /api/whoami; old rows go with the history's retention; a SIGHUP
# reload takes the new tokens.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

ADMIN_TOK="adm-$$-0123456789abcdef"
VIEW_TOK="view-$$-0123456789abcdef"
OPER_TOK="oper-$$-0123456789abcdef"
ROOT_TOK="root-$$-0123456789abcdef"
jv_db
api_yaml()
{
	cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$ROOT_TOK"
  tokens:
    - { name: dash, token: "$VIEW_TOK", role: viewer }
    - { name: ci.bot, token: "$OPER_TOK", role: operator }
$1
history:
  retention_days: 30
  check_interval_seconds: 1
YAML
}
jv_write_config "$JV_CONF" "$(api_yaml "    - { name: alice, token: \"$ADMIN_TOK\", role: admin }")"
jv_conf_set "$JV_CONF" processor.heartbeat_interval_ms 200 processor.shutdown_grace_seconds 5
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"

as() { JV_CALL_AUTH="Authorization: Bearer $1"; }
field() { printf '%s' "$BODY" | jq -r "$1"; }
rows() { jv_psql "SELECT count(*) FROM jobvisor.audit_log"; }
# the newest row: token|method|path|target|status
last_row() { jv_psql "SELECT token_name || '|' || method || '|' || path || '|' || coalesce(target, '-') || '|' || status FROM jobvisor.audit_log ORDER BY id DESC LIMIT 1"; }
# do METHOD PATH BODY: one change, then exactly one more row (written by
# the writer a moment after the answer)
N=0
change()
{
	_before=$(rows)
	if [ -n "${3:-}" ]; then
		call "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"
	else
		call "$1" "$2"
	fi
	wait_for "[ \$(rows) -ge $((_before + 1)) ]" 10 "$1 $2 ($CODE) left its audit row"
	assert_eq $((_before + 1)) "$(rows)" "$1 $2 left exactly one row"
}

# ------------------------------------------------------------- whoami
as "$VIEW_TOK"
call GET /api/whoami
assert_eq '200 {"name":"dash","role":"viewer"}' "$CODE $BODY" "whoami: the viewer's name and role, never the token"
as "$OPER_TOK"
call GET /api/whoami
assert_eq '{"name":"ci.bot","role":"operator"}' "$BODY" "whoami: the operator"
as "$ROOT_TOK"
call GET /api/whoami
assert_eq '{"name":"api.token","role":"admin"}' "$BODY" "whoami: api.token is the admin named api.token"

# a job to act on, and a schedule
as "$ADMIN_TOK"
change POST /api/jobs '{"type": "noop", "runAt": "2099-01-01T00:00:00Z"}'
assert_eq 201 "$CODE" "admin enqueues"
JOB=$(field .id)
assert_eq "alice|POST|/api/jobs|$JOB|201" "$(last_row)" "the row of an enqueue names the new job"
change POST /api/schedules '{"name": "nightly", "cron": "0 3 * * *", "type": "noop", "enabled": false}'
assert_eq 201 "$CODE" "admin adds a schedule"
assert_eq "alice|POST|/api/schedules|nightly|201" "$(last_row)" "the row names the schedule"

# ------------------------------------------------ viewer: every route
as "$VIEW_TOK"
curl -s "$B/api/openapi.json" -H "Authorization: Bearer $VIEW_TOK" >"$JV_TMP/openapi.json"
# METHOD PATH PUBLIC for every operation of the document
jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[]
	| select(.key | test("^(get|post|put|patch|delete)$"))
	| "\(.key | ascii_upcase) \($p) \(if ((.value.security // []) | map(length == 0) | any) then "public" else "token" end)"' \
	"$JV_TMP/openapi.json" >"$JV_TMP/routes"
NROUTES=$(wc -l <"$JV_TMP/routes")
[ "$NROUTES" -ge 40 ] || fail "the OpenAPI document lists $NROUTES operations, expected 40 or more"
# the operator's routes (docs/design.md "Access"); every other change is the admin's
OPERATOR_ROUTES="POST:/api/jobs POST:/api/jobs/cancel POST:/api/jobs/retry POST:/api/jobs/{id}/cancel
POST:/api/jobs/{id}/retry POST:/api/cron/start POST:/api/cron/stop POST:/api/cron/trigger
POST:/api/cron/reset-stuck-jobs POST:/api/processors/{id}/pause POST:/api/processors/{id}/resume
POST:/api/queues/{name}/pause POST:/api/queues/{name}/resume POST:/api/workflows
POST:/api/workflows/{id}/cancel"
concrete() { printf '%s' "$1" | sed -e "s/{id}/$JOB/; s/{name}/nightly/; s/{file}/app.js/"; }
BEFORE=$(rows)
REFUSED=0
while read -r m p vis; do
	path=$(concrete "$p")
	case "$m $vis" in
	"GET "*)
		[ "$p" = /api/audit ] && continue
		call GET "$path"
		case $CODE in
		200 | 404) ok "viewer: GET $p: $CODE" ;;
		*) check fail "viewer: GET $p answered $CODE: $BODY" ;;
		esac
		;;
	*" public") ;;
	"POST "*) [ "$p" = /api/cron/webhook ] && continue ;; # its own secret, no role
	esac
	case "$m $vis" in
	"GET "* | *" public") ;;
	*)
		need=admin
		case " $(echo $OPERATOR_ROUTES) " in *" $m:$p "*) need=operator ;; esac
		call "$m" "$path" -H 'Content-Type: application/json' --data-binary '{}'
		check assert_eq 403 "$CODE" "viewer: $m $p is refused"
		check assert_match "needs the $need role" "$(field .error)" "viewer: $m $p names the $need role"
		REFUSED=$((REFUSED + 1))
		;;
	esac
done <"$JV_TMP/routes"
[ "$REFUSED" -ge 20 ] || fail "only $REFUSED routes that change something were tried"
wait_for "[ \$(rows) -ge $((BEFORE + REFUSED)) ]" 10 "the viewer's $REFUSED refusals left their rows"
assert_eq "$REFUSED" "$(jv_psql "SELECT count(*) FROM jobvisor.audit_log WHERE id > (SELECT max(id) - $REFUSED FROM jobvisor.audit_log) AND token_name = 'dash' AND status = 403")" \
	"one row per refused change, each with the viewer's name and 403, and none for a GET"
assert_eq "dash|POST|/api/jobs/$JOB/cancel|$JOB|403" \
	"$(jv_psql "SELECT token_name || '|' || method || '|' || path || '|' || target || '|' || status FROM jobvisor.audit_log WHERE path = '/api/jobs/$JOB/cancel'")" \
	"a refused cancel's row names the job"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.schedules WHERE name = 'nightly' AND enabled")" \
	"the viewer's refused PATCH changed nothing"
call GET /api/audit
assert_eq 403 "$CODE" "viewer: GET /api/audit is refused"
assert_match "needs the admin role" "$(field .error)" "... naming the admin role"

# --------------------------------------------------------- operator
as "$OPER_TOK"
change POST "/api/jobs/$JOB/cancel"
assert_eq 200 "$CODE" "operator cancels job $JOB"
assert_eq "ci.bot|POST|/api/jobs/$JOB/cancel|$JOB|200" "$(last_row)" "the cancel's row: who, what, which job, 200"
change POST /api/jobs/retry "{\"ids\": [$JOB, 999999]}"
assert_eq 200 "$CODE" "operator retries in bulk"
assert_eq "ci.bot|POST|/api/jobs/retry|$JOB,999999|200" "$(last_row)" "a bulk row names the ids"
change POST /api/workflows '{"name": "audited", "jobs": [{"key": "a", "type": "noop", "runAt": "2099-01-01T00:00:00Z"}]}'
assert_eq 201 "$CODE" "operator enqueues a workflow ($BODY)"
assert_eq "ci.bot|POST|/api/workflows|$(field .id)|201" "$(last_row)" "its row names the new workflow by id, not by name"
change POST /api/workflows '{"name": "refused", "jobs": []}'
assert_eq "400|ci.bot|POST|/api/workflows|refused|400" "$CODE|$(last_row)" "a refused one's row names it by name"
change POST /api/cron/stop
assert_eq 200 "$CODE" "operator pauses claiming"
change POST /api/cron/start
assert_eq 200 "$CODE" "operator resumes claiming"
change POST /api/schedules '{"name": "x", "cron": "0 3 * * *", "type": "noop"}'
assert_eq 403 "$CODE" "operator may not add a schedule"
assert_match "POST /api/schedules needs the admin role; token 'ci.bot' has the operator role" "$(field .error)" "the 403 says which role is needed and which the token has"
change PATCH /api/schedules/nightly '{"enabled": true}'
assert_eq 403 "$CODE" "operator may not change a schedule"
assert_eq "ci.bot|PATCH|/api/schedules/nightly|nightly|403" "$(last_row)" "a refused change is in the trail"
change DELETE /api/schedules/nightly
assert_eq 403 "$CODE" "operator may not delete a schedule"
change PUT /api/users/bob/limits '{"maxRunning": 1}'
assert_eq 403 "$CODE" "operator may not set a user's limits"
call GET /api/audit
assert_eq 403 "$CODE" "operator: GET /api/audit is refused"

# ------------------------------------------------------------ admin
as "$ADMIN_TOK"
change PATCH /api/schedules/nightly '{"enabled": true}'
assert_eq 200 "$CODE" "admin changes a schedule"
change DELETE /api/schedules/nightly
assert_eq 200 "$CODE" "admin deletes a schedule"
assert_eq "alice|DELETE|/api/schedules/nightly|nightly|200" "$(last_row)" "the delete's row"
change POST /api/schedules '{"name": "bad name!", "cron": "0 3 * * *", "type": "noop"}'
assert_eq 400 "$CODE" "a bad request by the admin: 400"
assert_eq "alice|POST|/api/schedules|bad name!|400" "$(last_row)" "a 400 is in the trail too"
as "$ROOT_TOK"
change PUT /api/users/bob/limits '{"maxRunning": 2}'
assert_eq 201 "$CODE" "api.token is the admin: it sets a user's limits"
assert_eq "api.token|PUT|/api/users/bob/limits|bob|201" "$(last_row)" "api.token's rows say api.token"

# ------------------------------------------------- 401: no token, no row
BEFORE=$(rows)
as "wrong-$$-0123456789abcdef"
call POST "/api/jobs/$JOB/cancel"
assert_eq 401 "$CODE" "a wrong token: 401"
JV_CALL_AUTH=
call DELETE /api/users/bob/limits
assert_eq 401 "$CODE" "no token: 401"
as "$OPER_TOK"
change POST /api/cron/trigger # (a row after them: the writer is past them)
assert_eq "$((BEFORE + 1))" "$(rows)" "requests without a known token leave no row"

# ------------------------------- a change never waits for its audit row
# The table locked by another session: changes are still answered (the
# writer waits, not the request), and their rows arrive once it is free.
BEFORE=$(rows)
PGAPPNAME=jv-audit-lock jv_bg psql -X -q -d "$JV_DB_URL" \
	-c "BEGIN; LOCK TABLE jobvisor.audit_log IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'jv-audit-lock' AND l.relation = 'jobvisor.audit_log'::regclass AND l.granted\")\" = 1 ]" 10 \
	"another session holds the audit table locked"
as "$OPER_TOK"
for i in 1 2 3; do
	CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OPER_TOK" "$B/api/cron/trigger")
	assert_eq 202 "$CODE" "a change is answered while the audit table is locked ($i)"
done
call POST "/api/jobs/$JOB/retry" -m 5 -H 'Content-Type: application/json' --data-binary '{}'
assert_eq 409 "$CODE" "a change on a database worker too (a retry of a pending job: 409)"
jv_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'jv-audit-lock'" >/dev/null
wait_for "[ \$(rows) -ge $((BEFORE + 4)) ]" 20 \
	"the rows written while the table was locked arrive once it is free"
assert_eq "$((BEFORE + 4))" "$(rows)" "... one each"

# ------------------------------------------------------- GET /api/audit
as "$ADMIN_TOK"
TOTAL=$(rows)
call GET '/api/audit?limit=3'
assert_eq 200 "$CODE" "admin reads the trail"
assert_eq 3 "$(field '.entries | length')" "a page of 3"
assert_eq "$(jv_psql "SELECT string_agg(id::text, ' ' ORDER BY id DESC) FROM (SELECT id FROM jobvisor.audit_log ORDER BY id DESC LIMIT 3) x")" \
	"$(field '[.entries[].id] | map(tostring) | join(" ")')" "newest first"
assert_eq "ci.bot POST /api/jobs/$JOB/retry 409" "$(field '.entries[0] | "\(.token) \(.method) \(.path) \(.status)"')" "an entry's fields"
NEXT=$(field .next)
assert_eq "$(field '.entries[2].id | tostring')" "$NEXT" "next is the last id of the page"
SEEN=3
while [ "$NEXT" != null ] && [ "$SEEN" -lt 1000 ]; do
	call GET "/api/audit?limit=7&after=$NEXT"
	[ "$CODE" = 200 ] || fail "a page after $NEXT: $CODE $BODY"
	[ "$(field "[.entries[].id | select(. >= $NEXT)] | length")" = 0 ] || fail "a page after $NEXT has ids not below it"
	SEEN=$((SEEN + $(field '.entries | length')))
	NEXT=$(field .next)
done
assert_eq "$TOTAL" "$SEEN" "the pages together hold every row once"
call GET '/api/audit?token=alice&limit=1000'
assert_eq "$(jv_psql "SELECT count(*) FROM jobvisor.audit_log WHERE token_name = 'alice'")" "$(field '.entries | length')" "token= filters by name"
assert_eq alice "$(field '[.entries[].token] | unique | join(" ")')" "... only alice's"
call GET '/api/audit?from=2099-01-01T00:00:00Z'
assert_eq "200 0" "$CODE $(field '.entries | length')" "from= in the future: none"
call GET '/api/audit?to=2099-01-01T00:00:00Z&limit=1000'
assert_eq "$TOTAL" "$(field '.entries | length')" "to= in the future: all"
call GET '/api/audit?from=yesterday-ish'
assert_eq 400 "$CODE" "from= that is no time: 400"
call GET '/api/audit?limit=0'
assert_eq 400 "$CODE" "limit=0: 400"
call GET '/api/audit?nope=1'
assert_eq 400 "$CODE" "an unknown argument: 400"

# ------------------------------------------- retention of the audit trail
jv_psql "INSERT INTO jobvisor.audit_log (at, token_name, method, path, status) VALUES (now() - interval '31 days', 'old', 'POST', '/api/cron/trigger', 200), (now() - interval '29 days', 'kept', 'POST', '/api/cron/trigger', 200)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT string_agg(token_name, ' ') FROM jobvisor.audit_log WHERE at < now() - interval '1 day'\")\" = kept ]" 15 \
	"retention removed the row older than history.retention_days, kept the younger one"

# ------------------------------------------------------- SIGHUP reload
jv_write_config "$JV_CONF" "$(api_yaml "    - { name: carol, token: \"$ADMIN_TOK\", role: viewer }")"
jv_conf_set "$JV_CONF" processor.heartbeat_interval_ms 200 processor.shutdown_grace_seconds 5
kill -HUP "$SERVE"
wait_for "grep -q 'reloaded:' '$SERR'" 10 "serve reloaded"
jv_api_port "$SERR"
as "$ADMIN_TOK"
wait_for "call GET /api/whoami; [ \"\$BODY\" = '{\"name\":\"carol\",\"role\":\"viewer\"}' ]" 10 \
	"after a reload the token is carol, a viewer"
call POST /api/cron/trigger
assert_eq 403 "$CODE" "... who may no longer trigger"

# api.token alone (no api.tokens): the admin it always was
jv_write_config "$JV_CONF" "$(printf 'api:\n  listen: "127.0.0.1:0"\n  token: "%s"\n' "$ROOT_TOK")"
jv_conf_set "$JV_CONF" processor.heartbeat_interval_ms 200 processor.shutdown_grace_seconds 5
NRELOAD=$(grep -c 'reloaded:' "$SERR")
kill -HUP "$SERVE"
wait_for "[ \$(grep -c 'reloaded:' '$SERR') -gt $NRELOAD ]" 10 "serve reloaded again"
jv_api_port "$SERR"
as "$ADMIN_TOK"
wait_for "call GET /api/whoami; [ \"\$CODE\" = 401 ]" 10 "without api.tokens carol's token is refused (401)"
as "$ROOT_TOK"
call GET /api/whoami
assert_eq '{"name":"api.token","role":"admin"}' "$BODY" "api.token alone: the admin named api.token"
change POST /api/schedules '{"name": "alone", "cron": "0 3 * * *", "type": "noop", "enabled": false}'
assert_eq 201 "$CODE" "api.token alone adds a schedule"
change DELETE /api/schedules/alone
assert_eq "200 api.token|DELETE|/api/schedules/alone|alone|200" "$CODE $(last_row)" "... deletes it, and the trail says api.token"
call GET '/api/audit?token=api.token&limit=1'
assert_eq "200 DELETE" "$CODE $(field '.entries[0].method')" "... and reads the trail"

# purge_audit in bounded batches; none with no retention (0 days: NULL)
N0=$(rows)
assert_eq 0 "$(jv_psql "SELECT jobvisor.purge_audit(NULL, 1000, now() + interval '2 days')")" "no retention: nothing removed"
assert_eq 2 "$(jv_psql "SELECT jobvisor.purge_audit(interval '1 day', 2, now() + interval '2 days')")" "a batch removes at most p_batch rows"
assert_eq "$((N0 - 2))" "$(rows)" "... the oldest two"

# the token is never in the log
check assert_no_match "$VIEW_TOK|$OPER_TOK|$ADMIN_TOK|$ROOT_TOK" "$(cat "$SERR")" "no token in serve's log"
jv_done

#!/bin/sh
# it_limits.sh -- the documented length and size limits at enqueue (README
# "Limits"): a job's type (128 bytes), user (256), unique key (512) and
# payload (1 MiB as payload::text) are refused just past the limit and taken
# at it, alike by a plain INSERT and jobvisor.enqueue() (SQLSTATE 22001, a
# message naming the column and the limit), POST /api/jobs and
# POST /api/schedules (400 naming the field and the limit, never 500), and
# `jobvisor enqueue` (exit 1). The numbers are read from the C headers, so
# the table's trigger is checked against them. A body past api.max_body_bytes
# (on POST /api/jobs: past the bulk limit, 16 MiB) still gets 413, and its
# default admits a payload at the limit.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# limit NAME: the value of `#define NAME ...` in the limits headers
limit()
{
	_def=$(sed -n "s/^#define $1 \\(.*\\)\$/\\1/p" "$top_srcdir/include/jobvisor/plugin.h" \
		"$top_srcdir/core/lib/sizelimits.h" | head -n 1)
	[ -n "$_def" ] || fail "no #define $1 in the limits headers"
	echo $(( $_def ))
}
TYPE_MAX=$(limit JV_TYPE_MAX)
USER_MAX=$(limit JV_USER_MAX)
UKEY_MAX=$(limit JV_UNIQUE_KEY_MAX)
PAYLOAD_MAX=$(limit JV_PAYLOAD_MAX)
assert_eq "128 256 512 1048576" "$TYPE_MAX $USER_MAX $UKEY_MAX $PAYLOAD_MAX" \
	"the limits the README documents are the headers' (update both together)"

TOKEN="tok-$$-l1m1t"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# xs N, ys N: N times "x", "y"; hex N: N random hex digits (that do not
# compress: an 8 KB value of them used to fail on a btree's row size limit)
xs() { head -c "$1" /dev/zero | tr '\0' x; }
ys() { head -c "$1" /dev/zero | tr '\0' y; }
hex() { head -c $(($1 / 2)) /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
HEX8K=$(hex 8192)
# sql_error SQL: psql's error (verbose: with the SQLSTATE); fails if SQL passes
sql_error()
{
	if psql -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$JV_DB_URL" -c "$1" \
		>"$JV_TMP/sql.out" 2>&1; then
		fail "accepted: $(printf '%s' "$1" | cut -c 1-120)"
	fi
	cat "$JV_TMP/sql.out"
}
count() { jv_psql "SELECT count(*) FROM jobvisor.jobs"; }

# ---------------------------------------------------------------- the table
# ins COL N: an INSERT of a job whose COL is N bytes; N = 8192: of hex
# digits that do not compress, as PostgreSQL would compress the value first
# (before, such a value failed on the btree's row size limit)
ins()
{
	_v="repeat('k', $2)"
	[ "$2" != 8192 ] || _v="(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 256) i)"
	if [ "$1" = type ]; then
		echo "INSERT INTO jobvisor.jobs (type) VALUES ($_v)"
	else
		echo "INSERT INTO jobvisor.jobs (type, $1) VALUES ('noop', $_v)"
	fi
}
for c in "type $TYPE_MAX" "user_id $USER_MAX" "unique_key $UKEY_MAX"; do
	set -- $c
	jv_psql "$(ins "$1" "$2")" >/dev/null || fail "INSERT of a $1 of $2 bytes (the limit) refused"
	ok "INSERT: a $1 of $2 bytes (the limit) is taken"
	E=$(sql_error "$(ins "$1" $(($2 + 1)))")
	assert_match "22001.*jobvisor\\.jobs: $1 is too long: $(($2 + 1)) bytes, the limit is $2 bytes" "$E" \
		"INSERT: a $1 of $(($2 + 1)) bytes is refused (22001), naming the limit"
	assert_no_match "kkkkkkkkkk|Failing row" "$E" "the error does not echo the value"
	E=$(sql_error "$(ins "$1" 8192)")
	assert_match "22001.*$1 is too long: 8192 bytes" "$E" "INSERT: an 8 KB $1: 22001, not a btree row size error"
done

# A payload of exactly the limit as payload::text: {"d": "x..."} is 9 bytes
# around the string.
jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', jsonb_build_object('d', repeat('x', $PAYLOAD_MAX - 9)))" >/dev/null ||
	fail "INSERT of a payload of $PAYLOAD_MAX bytes refused"
assert_eq "$PAYLOAD_MAX" "$(jv_psql "SELECT max(octet_length(payload::text)) FROM jobvisor.jobs")" \
	"INSERT: a payload of exactly $PAYLOAD_MAX bytes as text is taken"
E=$(sql_error "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', jsonb_build_object('d', repeat('x', $PAYLOAD_MAX - 8)))")
assert_match "22001.*jobvisor\\.jobs: payload is too large: $((PAYLOAD_MAX + 1)) bytes as JSON text, the limit is $PAYLOAD_MAX bytes" \
	"$E" "INSERT: one byte more is refused, naming the limit"
assert_no_match "xxxxxxxxxx|Failing row" "$E" "the error does not echo the payload"
# What counts is the text PostgreSQL writes: 6 000 bytes of numbers that it
# writes out as 309 digits each.
E=$(sql_error "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', jsonb_build_object('n', jsonb_agg('1e308'::jsonb)) FROM generate_series(1, 4000)")
assert_match "22001.*payload is too large: [0-9]+ bytes as JSON text, the limit is $PAYLOAD_MAX bytes" "$E" \
	"INSERT: a small payload that PostgreSQL writes out larger than the limit is refused"
ID=$(jv_psql "SELECT min(id) FROM jobvisor.jobs")
E=$(sql_error "UPDATE jobvisor.jobs SET payload = jsonb_build_object('d', repeat('x', $PAYLOAD_MAX)) WHERE id = $ID")
assert_match "22001.*payload is too large" "$E" "UPDATE of the payload past the limit is refused"
E=$(sql_error "UPDATE jobvisor.jobs SET user_id = repeat('u', 300) WHERE id = $ID")
assert_match "22001.*user_id is too long: 300 bytes" "$E" "UPDATE of user_id past the limit is refused"
jv_psql "UPDATE jobvisor.jobs SET status = 'cancelled', finished_at = now() WHERE id = $ID" >/dev/null ||
	fail "an UPDATE of other columns was refused"
ok "UPDATEs of other columns (claim, completion, cancel) are not checked"

# jobvisor.enqueue(): the same error, from the same trigger.
E=$(sql_error "SELECT jobvisor.enqueue('$HEX8K')")
assert_match "22001.*type is too long: 8192 bytes, the limit is $TYPE_MAX bytes" "$E" "enqueue(): an 8 KB type"
E=$(sql_error "SELECT jobvisor.enqueue('noop', user_id => '$HEX8K')")
assert_match "22001.*user_id is too long: 8192 bytes, the limit is $USER_MAX bytes" "$E" "enqueue(): an 8 KB user_id"
E=$(sql_error "SELECT jobvisor.enqueue('noop', unique_key => '$HEX8K')")
assert_match "22001.*unique_key is too long: 8192 bytes, the limit is $UKEY_MAX bytes" "$E" "enqueue(): an 8 KB unique_key"
E=$(sql_error "SELECT jobvisor.enqueue('noop', jsonb_build_object('d', repeat('x', $PAYLOAD_MAX)))")
assert_match "22001.*payload is too large: $((PAYLOAD_MAX + 9)) bytes as JSON text, the limit is $PAYLOAD_MAX bytes" \
	"$E" "enqueue(): a payload past the limit"
# Schedules hold a job's template: refused when written, not at each run.
E=$(sql_error "INSERT INTO jobvisor.schedules (name, cron, type) VALUES ('s', '@daily', repeat('t', $((TYPE_MAX + 1))))")
assert_match "22001.*jobvisor\\.schedules: type is too long" "$E" "a schedule's type past the limit is refused"
E=$(sql_error "INSERT INTO jobvisor.schedules (name, cron, type, payload) VALUES ('s', '@daily', 'noop', jsonb_build_object('d', repeat('x', $PAYLOAD_MAX)))")
assert_match "22001.*jobvisor\\.schedules: payload is too large" "$E" "a schedule's payload past the limit is refused"

# ---------------------------------------------------------------- the CLI
run "$JOBVISOR" enqueue -c "$JV_CONF" --type "$(xs $((TYPE_MAX + 1)))"
assert_rc 1 "CLI: a type past the limit: exit 1"
assert_match "invalid --type: too long: $((TYPE_MAX + 1)) bytes, the limit is $TYPE_MAX bytes" "$ERR" "CLI: naming the limit"
for o in "--user $USER_MAX" "--unique-key $UKEY_MAX"; do
	set -- $o
	run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop "$1" "$HEX8K"
	assert_rc 1 "CLI: an 8 KB $1: exit 1"
	assert_match "invalid $1: too long: 8192 bytes, the limit is $2 bytes" "$ERR" "CLI: $1 names the limit"
	run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop "$1" "$(xs "$2")"
	assert_rc 0 "CLI: a $1 of $2 bytes (the limit) is taken"
done
# A command line cannot carry a megabyte; numbers PostgreSQL writes out
# at 309 digits each make a payload past the limit all the same.
NUMS=$(printf '1e308,%.0s' $(seq 4000))
run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop --payload "{\"n\": [${NUMS%,}]}"
assert_rc 1 "CLI: a payload that grows past the limit in the database: exit 1"
assert_match "could not enqueue: jobvisor\\.jobs: payload is too large: [0-9]+ bytes as JSON text, the limit is $PAYLOAD_MAX bytes" \
	"$ERR" "CLI: naming the limit"

# ---------------------------------------------------------------- the API
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
JV_CALL_AUTH="Authorization: Bearer $TOKEN"
call POST /api/cron/stop
assert_eq 200 "$CODE" "claiming paused (the jobs stay pending)"
# post PATH FILE: the body from FILE
post() { call POST "$1" -H 'Content-Type: application/json' --data-binary "@$2"; }
err() { printf '%s' "$BODY" | jq -r .error; }
B0=$(count)
for f in "type $TYPE_MAX" "user $USER_MAX" "uniqueKey $UKEY_MAX"; do
	set -- $f
	for n in $(($2 + 1)) 8192; do
		v=$(ys $n)
		[ $n != 8192 ] || v=$HEX8K
		if [ "$1" = type ]; then
			printf '{"type": "%s"}' "$v" >"$JV_TMP/req.json"
		else
			printf '{"type": "noop", "%s": "%s"}' "$1" "$v" >"$JV_TMP/req.json"
		fi
		post /api/jobs "$JV_TMP/req.json"
		assert_eq 400 "$CODE" "API: a $1 of $n bytes: 400"
		assert_eq "$1 is too long: $n bytes, the limit is $2 bytes" "$(err)" "API: the error names $1 and the limit"
	done
	if [ "$1" = type ]; then
		printf '{"type": "%s"}' "$(ys "$2")" >"$JV_TMP/req.json"
	else
		printf '{"type": "noop", "%s": "%s"}' "$1" "$(ys "$2")" >"$JV_TMP/req.json"
	fi
	post /api/jobs "$JV_TMP/req.json"
	assert_eq 201 "$CODE" "API: a $1 of $2 bytes (the limit): 201"
done
# payload: {"d":"x..."} is 8 bytes around the string as the API writes it,
# 9 as PostgreSQL does.
payload_req() { printf '{"type": "noop", "payload": {"d": "%s"}}' "$(xs "$1")" >"$JV_TMP/req.json"; }
payload_req $((PAYLOAD_MAX - 9))
post /api/jobs "$JV_TMP/req.json"
assert_eq 201 "$CODE" "API: a payload of $PAYLOAD_MAX bytes as text: 201 (api.max_body_bytes admits it by default)"
payload_req $((PAYLOAD_MAX - 8))
post /api/jobs "$JV_TMP/req.json"
assert_eq 400 "$CODE" "API: one byte more in the database: 400"
assert_match "payload is too large: $((PAYLOAD_MAX + 1)) bytes as JSON text, the limit is $PAYLOAD_MAX bytes" "$(err)" \
	"API: naming the limit"
payload_req $((PAYLOAD_MAX - 7))
post /api/jobs "$JV_TMP/req.json"
assert_eq 400 "$CODE" "API: a payload past the limit as sent: 400"
assert_eq "payload is too large: $((PAYLOAD_MAX + 1)) bytes as JSON, the limit is $PAYLOAD_MAX bytes" "$(err)" \
	"API: naming the limit"
printf '{"type": "noop", "payload": {"n": [%s]}}' "${NUMS%,}" >"$JV_TMP/req.json"
post /api/jobs "$JV_TMP/req.json"
assert_eq 400 "$CODE" "API: a small payload PostgreSQL writes out past the limit: 400"
payload_req $((3 * 1024 * 1024))
post /api/schedules "$JV_TMP/req.json"
assert_eq 413 "$CODE" "API: a body past api.max_body_bytes: 413"
# POST /api/jobs takes bulk requests: up to JV_API_BULK_BODY_MAX
post /api/jobs "$JV_TMP/req.json"
assert_eq 400 "$CODE" "API: a 3 MiB body to POST /api/jobs (a bulk route): read, the payload refused"
payload_req $(($(limit JV_API_BULK_BODY_MAX) + 1))
post /api/jobs "$JV_TMP/req.json"
assert_eq 413 "$CODE" "API: a body past the bulk limit: 413"
# schedules: the job template
printf '{"name": "s1", "cron": "@daily", "type": "%s"}' "$HEX8K" >"$JV_TMP/req.json"
post /api/schedules "$JV_TMP/req.json"
assert_eq 400 "$CODE" "API schedules: an 8 KB type: 400"
assert_eq "type is too long: 8192 bytes, the limit is $TYPE_MAX bytes" "$(err)" "API schedules: naming the limit"
printf '{"name": "s1", "cron": "@daily", "type": "noop", "user": "%s"}' "$HEX8K" >"$JV_TMP/req.json"
post /api/schedules "$JV_TMP/req.json"
assert_eq 400 "$CODE" "API schedules: an 8 KB user: 400"
printf '{"name": "s1", "cron": "@daily", "type": "noop", "payload": {"d": "%s"}}' "$(xs "$PAYLOAD_MAX")" >"$JV_TMP/req.json"
post /api/schedules "$JV_TMP/req.json"
assert_eq 400 "$CODE" "API schedules: a payload past the limit: 400"
assert_match "payload is too large: [0-9]+ bytes as JSON, the limit is $PAYLOAD_MAX bytes" "$(err)" "API schedules: naming the limit"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.schedules")" "no schedule was added"
assert_eq $((B0 + 4)) "$(count)" "the API added only the four jobs at the limits"
assert_no_match "internal error|ERROR.*api:" "$(cat "$SERR")" "the API logged no internal error"
jv_done

#!/bin/sh
# it_unique.sh -- unique jobs (sql/007_unique.sql): jobvisor.enqueue's
# unique_key with a configurable unique_states, against a real PostgreSQL.
# 50 concurrent enqueues of one key make exactly one job and all get its id
# (SQL, `jobvisor enqueue`, POST /api/jobs); with succeeded in the states a
# finished job still holds its key; the default states free it when the job
# fails; bad states are refused (SQL 22023, CLI usage error, API 400); the
# CLI says on stderr when it printed an existing job's id.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

N=50
TOKEN="tok-$$-un1q"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# race NAME CMD...: start N copies of CMD at once (each waits for a go file,
# at most 10 s), wait for them all (each killed after 30 s). Copy i writes
# stdout to $JV_TMP/NAME.i, stderr to $JV_TMP/NAME.i.err.
race()
{
	_rn=$1
	shift
	_pids=
	_i=0
	rm -f "$JV_TMP/go.$_rn"
	while [ $_i -lt $N ]; do
		(
			_t=0
			while [ ! -e "$JV_TMP/go.$_rn" ] && [ $_t -lt 1000 ]; do
				sleep 0.01
				_t=$((_t + 1))
			done
			exec timeout 30 "$@"
		) >"$JV_TMP/$_rn.$_i" 2>"$JV_TMP/$_rn.$_i.err" &
		_pids="$_pids $!"
		_i=$((_i + 1))
	done
	: >"$JV_TMP/go.$_rn"
	_bad=0
	for _p in $_pids; do
		wait "$_p" || _bad=$((_bad + 1))
	done
	[ $_bad -eq 0 ] || fail "$_bad of $N concurrent '$*' failed: $(cat "$JV_TMP/$_rn".*.err | sort -u | head -n 5)"
}
# ids NAME: the distinct outputs of a race, one per line
outs() { cat "$JV_TMP/$1".[0-9] "$JV_TMP/$1".[0-9][0-9] 2>/dev/null; }
ids() { outs "$1" | sort -u; }
count() { jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE unique_key = '$1'"; }
finish() { jv_psql "UPDATE jobvisor.jobs SET status = '$2', finished_at = now() WHERE id = $1" >/dev/null; }
sqlrace() { race "$1" psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "$2"; }
# sql_error SQL: psql's verbose error text (with the SQLSTATE), fails if SQL passes
sql_error()
{
	if psql -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$JV_DB_URL" -c "$1" \
		>"$JV_TMP/sql.out" 2>&1; then
		fail "accepted: $1"
	fi
	cat "$JV_TMP/sql.out"
}

# ---------------------------------------------------------------- SQL
assert_eq 1 "$(jv_psql "SELECT count(*) FROM pg_proc WHERE oid =
	'jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text, text[], text, bigint[], text)'::regprocedure")" \
	"enqueue has unique_states, then queue (015), then depends_on and run_when (017), last"
assert_match "unique_key text DEFAULT NULL::text, unique_states text\[\] DEFAULT '\{pending,running\}'" \
	"$(jv_psql "SELECT pg_get_function_arguments('jobvisor.enqueue'::regproc)")" \
	"unique_states defaults to {pending,running}"

sqlrace s1 "SELECT jobvisor.enqueue('noop', unique_key => 'k1')"
assert_eq 1 "$(ids s1 | wc -l | tr -d ' ')" "$N concurrent enqueue(): all got the same id"
assert_eq 1 "$(count k1)" "$N concurrent enqueue(): exactly one job"
K1=$(ids s1)
assert_eq "$N" "$(outs s1 | grep -c "^$K1\$")" "every one of the $N printed the id"

finish "$K1" succeeded
sqlrace s2 "SELECT jobvisor.enqueue('noop', unique_key => 'k1', unique_states => '{pending,running,succeeded}')"
assert_eq "$K1" "$(ids s2)" "$N concurrent enqueue() with succeeded in the states: the succeeded job's id"
assert_eq 1 "$(count k1)" "... and still one job"
K1B=$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'k1')")
[ "$K1B" != "$K1" ] || fail "the default states: a succeeded job frees its key"
ok "the default states: a succeeded job frees its key"
assert_eq "$K1B" "$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'k1', unique_states => '{pending,running,succeeded}')")" \
	"with succeeded in the states the pending job is preferred to the older succeeded one"

# A key that no job holds yet, every state in the set, all at once.
sqlrace s3 "SELECT jobvisor.enqueue('noop', unique_key => 'k3',
	unique_states => '{cancelled,failed,succeeded,running,pending}')"
assert_eq 1 "$(ids s3 | wc -l | tr -d ' ')" "$N concurrent enqueue() with every state: one id"
assert_eq 1 "$(count k3)" "$N concurrent enqueue() with every state: one job"

F1=$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'kf', unique_states => '{pending,running}')")
jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('p', 'h', 1, 'v')" >/dev/null
jv_psql "UPDATE jobvisor.jobs SET status = 'running', locked_by = (SELECT max(id) FROM jobvisor.processors) WHERE id = $F1" >/dev/null
assert_eq "$F1" "$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'kf', unique_states => '{pending,running}')")" \
	"a running job holds its key"
jv_psql "UPDATE jobvisor.jobs SET status = 'failed', finished_at = now(), locked_by = NULL WHERE id = $F1" >/dev/null
F2=$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'kf', unique_states => '{pending,running}')")
[ -n "$F2" ] && [ "$F2" != "$F1" ] || fail "after the job failed (states pending,running): a second job"
ok "after the job failed (states pending,running): a second job"
assert_eq "2|1" "$(jv_psql "SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM jobvisor.jobs WHERE unique_key = 'kf'")" \
	"two jobs of the key, one pending"
finish "$F2" cancelled
assert_eq "$F2" "$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'kf', unique_states => '{pending,running,failed,cancelled}')")" \
	"failed and cancelled in the states: the newest of them answers"

E=$(sql_error "SELECT jobvisor.enqueue('noop', unique_key => 'kx', unique_states => '{pending,running,done}')")
assert_match "22023" "$E" "an unknown state: SQLSTATE 22023"
assert_match "invalid unique_states element 'done'" "$E" "an unknown state: the message names it"
E=$(sql_error "SELECT jobvisor.enqueue('noop', unique_key => 'kx', unique_states => '{pending,running,NULL}')")
assert_match "22023.*invalid unique_states element NULL" "$E" "a NULL state: 22023"
E=$(sql_error "SELECT jobvisor.enqueue('noop', unique_key => 'kx', unique_states => '{pending}')")
assert_match "22023.*must include pending and running" "$E" "a set without running: 22023"
E=$(sql_error "SELECT jobvisor.enqueue('noop', unique_key => 'kx', unique_states => '{}')")
assert_match "22023.*must include pending and running" "$E" "an empty set: 22023"
assert_eq 0 "$(count kx)" "no refused enqueue made a job"
N0=$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'kn', unique_states => NULL)")
assert_eq "$N0" "$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'kn')")" "NULL unique_states: the default"

# The callers' forms of 001 still work; a plain INSERT too.
assert_match '^[0-9]+$' "$(jv_psql "SELECT jobvisor.enqueue('noop')")" "enqueue(type)"
assert_match '^[0-9]+$' "$(jv_psql "SELECT jobvisor.enqueue('noop', NULL, NULL, NULL, NULL, NULL, NULL, NULL)")" \
	"enqueue with 8 positional arguments"
assert_match '^[0-9]+$' "$(jv_psql "SELECT jobvisor.enqueue('noop', '{}', max_attempts => 2)")" "named arguments"
P=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{}') RETURNING id")
assert_match '^[0-9]+$' "$P" "a plain INSERT enqueues"
P=$(jv_psql "INSERT INTO jobvisor.jobs (type, unique_key) VALUES ('noop', 'kp') RETURNING id")
assert_eq "$P" "$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'kp', unique_states => '{pending,running,succeeded}')")" \
	"enqueue finds a plainly INSERTed holder"
E=$(sql_error "INSERT INTO jobvisor.jobs (type, unique_key) VALUES ('noop', 'kp')")
assert_match "23505.*jobs_unique_key_idx" "$E" "a plain INSERT of a held key: the index refuses it"
assert_match "Index .*jobs_unique_key_all_idx" \
	"$(jv_psql "SET enable_seqscan = off; EXPLAIN SELECT id FROM jobvisor.jobs WHERE unique_key = 'kp' AND status = ANY ('{pending,running,succeeded}')")" \
	"the lookup of a finished holder has an index"

# ---------------------------------------------------------------- CLI
run "$JOBVISOR" enqueue --help
assert_match "--unique-states S" "$OUT" "enqueue --help documents --unique-states"
run "$JOBVISOR" enqueue --type noop --unique-key c1 --unique-states pending,running,succeeded
assert_rc 0 "enqueue --unique-states"
C1=$OUT
assert_match '^[0-9]+$' "$C1" "it prints the id"
assert_eq "" "$ERR" "a new job: nothing on stderr"
run "$JOBVISOR" enqueue --type noop --unique-key c1 --unique-states pending,running,succeeded
assert_rc 0 "again"
assert_eq "$C1" "$OUT" "again: the same id"
assert_eq "existing job $C1 holds unique key c1" "$ERR" "again: stderr names the existing job"
finish "$C1" succeeded
run "$JOBVISOR" enqueue --type noop --unique-key c1 --unique-states succeeded,pending,running,succeeded
assert_eq "$C1|existing job $C1 holds unique key c1" "$OUT|$ERR" "a succeeded job holds the key with succeeded in the states"
run "$JOBVISOR" enqueue --type noop --unique-key c1
assert_rc 0 "the default states"
[ "$OUT" != "$C1" ] && [ -z "$ERR" ] || fail "the default states: a new job, nothing on stderr (got '$OUT', '$ERR')"
ok "the default states: a new job, nothing on stderr"
before=$(jv_psql "SELECT count(*) FROM jobvisor.jobs")
for bad in "pending,running,done|'done' is not one of" "pending,,running|'' is not one of" \
	"pending|must include pending and running" "|'' is not one of"; do
	run "$JOBVISOR" enqueue --type noop --unique-key c2 --unique-states "${bad%%|*}"
	assert_rc 1 "--unique-states '${bad%%|*}': usage error"
	assert_match "invalid --unique-states .*${bad#*|}" "$ERR" "--unique-states '${bad%%|*}': the message"
done
run "$JOBVISOR" enqueue --type noop --unique-states pending,running
assert_rc 1 "--unique-states without --unique-key: usage error"
assert_match "needs --unique-key" "$ERR" "... says so"
assert_eq "$before" "$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "no refused enqueue made a job"

race c3 "$JOBVISOR" enqueue --type noop --unique-key c3 --unique-states pending,running,failed
assert_eq 1 "$(ids c3 | wc -l | tr -d ' ')" "$N concurrent 'jobvisor enqueue': the same id"
assert_eq 1 "$(count c3)" "$N concurrent 'jobvisor enqueue': one job"
C3=$(ids c3)
assert_eq "$((N - 1))" "$(cat "$JV_TMP"/c3.*.err | grep -c "^existing job $C3 holds unique key c3\$")" \
	"all but one said on stderr that the job existed"

# ---------------------------------------------------------------- API
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
AUTH="Authorization: Bearer $TOKEN"
# post JSON: $CODE and $BODY of POST /api/jobs
post()
{
	CODE=$(curl -s -m 10 -X POST -H "$AUTH" -H 'Content-Type: application/json' -o "$JV_TMP/body" \
		-w '%{http_code}' --data-binary "$1" "$B/api/jobs")
	BODY=$(cat "$JV_TMP/body")
}
field() { printf '%s' "$BODY" | jq -r "$1"; }
CODE=$(curl -s -m 10 -X POST -H "$AUTH" -o /dev/null -w '%{http_code}' "$B/api/cron/stop")
assert_eq 200 "$CODE" "claiming paused (the jobs stay pending)"

post '{"type": "noop", "uniqueKey": "a1", "uniqueStates": ["pending", "running", "succeeded"]}'
assert_eq 201 "$CODE" "uniqueStates: 201"
A1=$(field .id)
assert_eq true "$(field .created)" "created"
post '{"type": "noop", "uniqueKey": "a1", "uniqueStates": ["pending", "running", "succeeded"]}'
assert_eq "200|$A1|false" "$CODE|$(field .id)|$(field .created)" "again: 200, the same id, created false"
finish "$A1" succeeded
post '{"type": "noop", "uniqueKey": "a1", "uniqueStates": ["succeeded", "running", "pending"]}'
assert_eq "200|$A1|false" "$CODE|$(field .id)|$(field .created)" "a succeeded job holds the key with succeeded in uniqueStates"
post '{"type": "noop", "uniqueKey": "a1", "uniqueStates": null}'
assert_eq "201|true" "$CODE|$(field .created)" "uniqueStates null: the default, the succeeded job frees the key"

before=$(jv_psql "SELECT count(*) FROM jobvisor.jobs")
for bad in '["pending", "running", "done"]|.done. is not one of' '["pending", "running", 1]|only strings' \
	'"pending"|must be an array' '[]|must be an array' '["pending"]|must include pending and running' \
	'{"a": 1}|must be an array'; do
	post "{\"type\": \"noop\", \"uniqueKey\": \"a2\", \"uniqueStates\": ${bad%%|*}}"
	assert_eq 400 "$CODE" "uniqueStates ${bad%%|*}: 400"
	assert_match "${bad#*|}" "$(field .error)" "uniqueStates ${bad%%|*}: the message"
done
post '{"type": "noop", "uniqueStates": ["pending", "running"]}'
assert_eq 400 "$CODE" "uniqueStates without uniqueKey: 400"
assert_match "uniqueStates needs uniqueKey" "$(field .error)" "... says so"
assert_eq "$before" "$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "no refused POST made a job"

# (--retry: 50 requests share the API's 4 database connections and one key's
# lock, so on a busy machine some may get 503 with Retry-After -- busy, or
# the lock timeout -- which a client retries; what is checked is that every
# answer, first or retried, names the one job.)
race a3 curl -s -m 20 --retry 10 -X POST -H "$AUTH" -H 'Content-Type: application/json' -w ' %{http_code}\n' \
	--data-binary '{"type": "noop", "uniqueKey": "a3", "uniqueStates": ["pending", "running", "succeeded"]}' \
	"$B/api/jobs"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE unique_key = 'a3'")" "$N concurrent POSTs: one job"
# (curl writes a retried answer after the 503 it replaces, when its
# output is not a file it can truncate: each request's last body counts)
assert_eq 1 "$(for _f in "$JV_TMP"/a3.[0-9] "$JV_TMP"/a3.[0-9][0-9]; do
	sed 's/ [0-9]*$//' "$_f" | jq -s -r 'last | .id'
done | sort -u | wc -l | tr -d ' ')" "$N concurrent POSTs: all answered the same id"
assert_eq "$((N - 1)) 200|1 201" "$(outs a3 | sed 's/.* //' | sort | uniq -c | awk '{print $1, $2}' | paste -s -d '|' -)" \
	"$N concurrent POSTs: one 201, the others 200"

jv_done

#!/bin/sh
# it_limits_worker.sh -- nothing over the limits goes into or comes out of a
# worker's frame (JV_FRAME_MAX), so no worker is ever killed for it:
# configs that bound a result above what a frame carries are refused with
# FILE:LINE:COL (http max_response_bytes, sql max_result_bytes,
# history.max_output_bytes); a payload over the limit left from before
# sql/008 fails at claim, for good, naming the limit; a result over
# JV_RESULT_MAX fails the attempt for good, naming the limit (process and
# thread isolation); a 65 MiB error is cut to JV_ERROR_MAX; an http body
# that JSON escaping grows past the result limit is left out of the result
# (body null, body_truncated). The workers are the same processes
# throughout, and none crashed.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found"
command -v pgrep >/dev/null 2>&1 || skip_all "pgrep not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

for _f in "$top_builddir/tests/plugins/.libs/oversize.so" "$top_builddir/tests/plugins/oversize.so" ""; do
	[ -z "$_f" ] && fail "the test plugin oversize.so was not built (make check builds it)"
	if [ -f "$_f" ]; then
		cp "$_f" "$JV_PLUGIN_DIR/oversize.so" && chmod 0644 "$JV_PLUGIN_DIR/oversize.so"
		break
	fi
done
jv_plugin http
jv_plugin sql

# ------------------------------------------------------------ config
# refused NAME 'EXECUTOR OR SECTION YAML' REGEX: check-config says REGEX, with the place
refused()
{
	cat >"$JV_TMP/$1.yaml" <<EOF
database: { url: "postgresql://localhost/none" }
plugins: { dir: "$JV_PLUGIN_DIR" }
$2
EOF
	run "$JOBVISOR" check-config -c "$JV_TMP/$1.yaml"
	assert_rc 1 "config $1: refused"
	assert_match "^$JV_TMP/$1\\.yaml:[0-9]+:[0-9]+: $3" "$ERR" "config $1: FILE:LINE:COL and the reason"
}
taken()
{
	cat >"$JV_TMP/$1.yaml" <<EOF
database: { url: "postgresql://localhost/none" }
plugins: { dir: "$JV_PLUGIN_DIR" }
$2
EOF
	run "$JOBVISOR" check-config -c "$JV_TMP/$1.yaml"
	assert_rc 0 "config $1: taken"
}
refused http256 "executors: { h: { plugin: http, max_response_bytes: 268435456 } }" \
	"executors\\.h\\.max_response_bytes: must be between 0 and 8388608 \\(half of the result limit, 16777216 bytes"
refused http8m1 "executors: { h: { plugin: http, max_response_bytes: 8388609 } }" \
	"executors\\.h\\.max_response_bytes: must be between 0 and 8388608"
taken http8m "executors: { h: { plugin: http, max_response_bytes: 8388608 } }"
refused sql256 "executors: { s: { plugin: sql, queries: { a: \"SELECT 1\" }, max_result_bytes: 268435456 } }" \
	"executors\\.s\\.max_result_bytes: must be between 1024 and 15728640"
taken sql15m "executors: { s: { plugin: sql, queries: { a: \"SELECT 1\" }, max_result_bytes: 15728640 } }"
refused output64m "history: { max_output_bytes: 67108864 }" \
	"history\\.max_output_bytes: 67108864 is out of range \\(0\\.\\.16777216\\)"

# ------------------------------------------------------------ serve
HLOG=$JV_TMP/httpd.log
jv_bg python3 "$top_srcdir/tests/servers/httpd.py" --port-file "$JV_TMP/httpd.port" --log "$HLOG"
wait_for "[ -s '$JV_TMP/httpd.port' ]" 10 "httpd.py listening"
HTTP=http://127.0.0.1:$(cat "$JV_TMP/httpd.port")

jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
  oversize: { plugin: oversize }
  oversize_t: { plugin: oversize, isolation: thread }
  http: { plugin: http, base_url: "$HTTP", allowed_hosts: ["127.0.0.1"], max_response_bytes: 8388608 }
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 2 \
	processor.batch_size 2 \
	processor.heartbeat_interval_ms 500 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 20
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# A job from before the table enforced the limit: inserted with the
# table's triggers off, as sql/008 leaves existing rows alone.
jv_psql "ALTER TABLE jobvisor.jobs DISABLE TRIGGER USER;
	INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', jsonb_build_object('d', repeat('x', 2 * 1024 * 1024)));
	ALTER TABLE jobvisor.jobs ENABLE TRIGGER USER" >/dev/null
OLD=$(jv_psql "SELECT max(id) FROM jobvisor.jobs")
PLEN=$(jv_psql "SELECT octet_length(payload::text) FROM jobvisor.jobs WHERE id = $OLD")

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \$(pgrep -P $S | wc -l) = 2 ]" 10 "the pool has its 2 workers"
W0=$(pgrep -P $S | sort | tr '\n' ' ')

# state ID: status|attempts|executions
state() { jv_psql "SELECT status || '|' || attempts || '|' || (SELECT count(*) FROM jobvisor.job_executions e WHERE e.job_id = j.id) FROM jobvisor.jobs j WHERE id = $1"; }
done_() { [ "$(jv_psql "SELECT status IN ('succeeded', 'failed') FROM jobvisor.jobs WHERE id = $1")" = t ]; }
enqueue() { jv_psql "SELECT jobvisor.enqueue('$1', '$2'::jsonb)"; }

wait_for "done_ $OLD" 30 "the job with a payload over the limit ended"
assert_eq "failed|1|1" "$(state "$OLD")" "it failed at its first attempt, for good, with one execution row"
assert_eq "payload is too large: $PLEN bytes as JSON text, the limit is 1048576 bytes" \
	"$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $OLD")" "the error names the limit"
assert_eq "failed|payload is too large: $PLEN bytes as JSON text, the limit is 1048576 bytes" \
	"$(jv_psql "SELECT outcome || '|' || error FROM jobvisor.job_executions WHERE job_id = $OLD")" \
	"and so does its execution row"

R=$(enqueue oversize '{"result_mb": 20}')
wait_for "done_ $R" 60 "the job with a 20 MiB result ended"
assert_eq "failed|1|1" "$(state "$R")" "a result over the limit fails the attempt, for good"
assert_eq "result is too large: 20971520 bytes as JSON, the limit is 16777216 bytes (plugin oversize succeeded but its result was refused)|" \
	"$(jv_psql "SELECT last_error || '|' || coalesce(result::text, '') FROM jobvisor.jobs WHERE id = $R")" \
	"naming the limit; no result stored"
P=$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $R" | sed -n 's/^pid=//p')
case " $W0 " in *" $P "*) ok "it ran in one of the workers ($P)" ;; *) fail "pid '$P' is not one of the workers $W0" ;; esac

T=$(enqueue oversize_t '{"result_mb": 20}')
wait_for "done_ $T" 60 "the thread job with a 20 MiB result ended"
assert_eq "failed|1|1" "$(state "$T")" "the same on a thread"
assert_match "^result is too large: 20971520 bytes as JSON, the limit is 16777216 bytes" \
	"$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $T")" "naming the limit"

E=$(enqueue oversize '{"error_mb": 65}')
wait_for "done_ $E" 60 "the job with a 65 MiB error ended"
assert_eq "failed|1|1" "$(state "$E")" "a 65 MiB error (past the frame's 64 MiB) fails as the plugin said"
assert_eq "t|t" "$(jv_psql "SELECT last_error ~ '^a+ \\[error truncated: [0-9]+ bytes dropped\\]\$',
	octet_length(last_error) BETWEEN 4000 AND 4096 FROM jobvisor.jobs WHERE id = $E" | tr -d ' ')" \
	"its error is cut to at most 4096 bytes and marked"

H=$(enqueue http '{"path": "/big/3145728?byte=01"}')
wait_for "done_ $H" 60 "the http job with a 3 MiB body of control characters ended"
assert_eq "succeeded|1|1" "$(state "$H")" "escaped past the result limit, the body does not fail the job"
assert_eq "200|null|true" "$(jv_psql "SELECT (result->>'status') || '|' || (result->'body')::text || '|' || (result->>'body_truncated') FROM jobvisor.jobs WHERE id = $H")" \
	"the result keeps the status and marks the body left out"
assert_match "body left out of the result" "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $H")" \
	"the output says so"

assert_eq "$W0" "$(pgrep -P $S | sort | tr '\n' ' ')" "the workers are the same processes: none was killed"
assert_no_match "crashed|corrupt frame|malformed result|idle worker" "$(cat "$SERR")" "no worker crashed or was killed"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'crashed'")" "no crashed attempt"
kill -TERM $S
wait $S || fail "serve did not exit 0"
ok "serve stopped cleanly"
jv_done

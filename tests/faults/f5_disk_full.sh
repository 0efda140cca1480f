#!/bin/sh
# f5_disk_full.sh -- the disk full under a running supervisor.
#
# What jobvisor itself writes to disk while jobs run is its log (stderr):
# it has no temp files, and output capture goes through pipes into memory
# (bounded by max_output_bytes), then into the database. So serve's log is
# put on a 1 MiB tmpfs, with log level debug, and the tmpfs is filled up;
# shell jobs write to the same full file system. Checks: serve keeps
# running and logging nothing is no obstacle (noop jobs all succeed, at
# the usual pace); a job writing to the full disk fails with the reason
# in its output ("No space left on device"), after its attempts; a job
# with 2 MiB of output succeeds, its output truncated in the history
# (capture never touches the disk); SIGHUP still reloads; once space is
# freed the log resumes.
#
# Then the same under a file size limit (RLIMIT_FSIZE) on serve's log.
#
# The tmpfs needs mount(2) (root with CAP_SYS_ADMIN). Without it, /dev/full
# stands in (every write fails with ENOSPC, as on a full disk), and the
# test says so.
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/faults/common.sh"

T0=$(fx_now_ms)
jv_db
jv_plugin shell
D=$JV_TMP/small
mkdir "$D"
if mount -t tmpfs -o size=1m jv-faults "$D" 2>/dev/null; then
	jv_on_exit "umount -l '$D'"
	HOW=tmpfs
	LOG=$D/serve.log
else
	HOW=dev-full
	LOG=/dev/full
	echo "note: mount -t tmpfs is not permitted here; /dev/full stands in for a full disk"
	D=/dev/full.d # a path on no file system: writes below it fail
fi
jv_write_config "$JV_CONF" "$(cat <<'YAML'
  sh: { plugin: shell, allow_shell: true, max_output_bytes: 4096 }
log: { level: debug }
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 20
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

"$JOBVISOR" serve -c "$JV_CONF" 2>>"$LOG" >/dev/null &
S=$!
jv_on_exit "jv_kill_pid $S"
fx_registered $S
if [ "$HOW" = tmpfs ]; then
	dd if=/dev/zero of="$D/fill" bs=4k 2>/dev/null # stops at ENOSPC
	FREE=$(df -k --output=avail "$D" | tail -n 1 | tr -d ' ')
	[ "$FREE" -eq 0 ] || fail "the tmpfs is not full ($FREE kB free)"
	SIZE_FULL=$(stat -c %s "$LOG")
	ok "the 1 MiB tmpfs under serve's log filled up (0 kB free; $SIZE_FULL bytes of log)"
fi
t=$(fx_now_ms)
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 10}' FROM generate_series(1, 200)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 200 ]" 30 \
	"200 jobs succeed while serve's log cannot be written"
NOOP_MS=$(($(fx_now_ms) - t))
FULL=$(jv_psql "INSERT INTO jobvisor.jobs (type, max_attempts, payload)
	VALUES ('sh', 2, jsonb_build_object('shell', 'dd if=/dev/zero of=$D/out.bin bs=4k count=4')) RETURNING id")
BIG=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload)
	VALUES ('sh', '{\"shell\": \"yes | head -c 2097152\"}') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE id IN ($FULL, $BIG) AND status IN ('succeeded', 'failed')\")\" = 2 ]" 20 \
	"the shell jobs finished"
assert_eq "failed|2" "$(jv_psql "SELECT status, attempts FROM jobvisor.jobs WHERE id = $FULL")" \
	"the job writing to the full disk failed after its 2 attempts"
assert_match 'No space left on device|cannot create' "$(jv_psql "SELECT string_agg(coalesce(output, '') || ' ' || coalesce(error, ''), ' ') FROM jobvisor.job_executions WHERE job_id = $FULL")" \
	"its history says why"
assert_eq succeeded "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $BIG")" \
	"a job writing 2 MiB of output succeeds (captured in memory)"
assert_match '"stdout_bytes": 2097152' "$(jv_psql "SELECT result FROM jobvisor.jobs WHERE id = $BIG")" \
	"all 2 MiB were read"
assert_match '"truncated": true' "$(jv_psql "SELECT result FROM jobvisor.jobs WHERE id = $BIG")" \
	"and the kept output truncated at max_output_bytes"
kill -HUP $S
sleep 0.5
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{}' FROM generate_series(1, 20)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE type = 'noop' AND status = 'succeeded'\")\" = 220 ]" 20 \
	"after a SIGHUP, jobs still run"
kill -0 $S || fail "serve died with its log on a full disk"
ok "serve alive"
if [ "$HOW" = tmpfs ]; then
	rm -f "$D/fill"
	kill -TERM $S
	wait $S
	assert_eq 0 $? "serve exits 0"
	assert_match 'processor [0-9]+ stopped' "$(tail -n 5 "$LOG")" "space freed: the log resumes"
	fx_figure log_bytes_when_full "$SIZE_FULL"
else
	kill -TERM $S
	wait $S
	assert_eq 0 $? "serve exits 0"
fi
# --- a file size limit (ulimit -f, systemd's LimitFSIZE=) instead of a
# full disk: past it a write raises SIGXFSZ, which would kill serve at its
# first log line over the limit, with jobs left pending.
( ulimit -f 1 && exec "$JOBVISOR" serve -c "$JV_CONF" 2>"$JV_TMP/limited.log" >/dev/null ) &
S=$!
jv_on_exit "jv_kill_pid $S"
fx_registered $S
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{}' FROM generate_series(1, 100)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'pending'\")\" = 0 ] || ! kill -0 $S" 20 \
	"100 jobs run under a 512-byte log limit, or serve died"
kill -0 $S || { wait $S; fail "serve died (exit $?) when its log reached the file size limit"; }
ok "serve lives on past the file size limit of its log ($(stat -c %s "$JV_TMP/limited.log") bytes kept)"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE type = 'noop' AND status <> 'succeeded'")" "and runs every job"
kill -TERM $S
wait $S
assert_eq 0 $? "serve exits 0"

fx_figure medium "$HOW"
fx_figure noop_200_ms "$NOOP_MS"
fx_figure seconds "$(( ($(fx_now_ms) - T0) / 1000 ))"
jv_done

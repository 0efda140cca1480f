#!/bin/sh
# f1_sigkill.sh -- SIGKILL of a supervisor at random points, 20 times, with
# jobs flowing: two processors run shell jobs of 6 users (per_user_limit 2);
# one of them, picked at random, is killed with SIGKILL -- after a random
# delay, right after a burst of inserts (while claiming), or right after
# one of its jobs ended (while completing) -- and restarted; the other
# rescues what it left. Every job program records its own start and end
# (wall clock, ns) in a file, so the checks do not rest on the database's
# view only:
#   - the killed supervisor's workers and their programs die with it
#     (PR_SET_PDEATHSIG); orphaned grandchildren are counted, not fatal
#   - nothing lost: every job ends succeeded, or failed with its attempts
#     spent; every attempt has its history row
#   - no job ran twice at once (program intervals; a killed program's
#     interval ends when its death was observed) -- guarantee 1
#   - no user ever had more than 2 programs running at once -- guarantee 2
# A dead processor's heartbeat is placed past the stuck horizon instead of
# waiting 5 minutes for it (as it_serve_rescue.sh does).
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/faults/common.sh"

RUNS=${JV_FAULT_RUNS:-20}
T0=$(fx_now_ms)
jv_db
jv_plugin shell
jv_write_config "$JV_CONF" "$(cat <<'YAML'
  sh: { plugin: shell, allow_shell: true, timeout_seconds: 30, pass_env: [FAULT_LOG, FAULT_TAG] }
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.per_user_limit 2 \
	processor.max_concurrent_jobs 6 \
	processor.batch_size 6 \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50 \
	processor.shutdown_grace_seconds 10
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

FAULT_LOG=$JV_TMP/exec.log
KILLS=$JV_TMP/kills.log
: >"$FAULT_LOG"
: >"$KILLS"
export FAULT_LOG

rnd() { echo $(($(od -An -N2 -tu2 /dev/urandom) % $1)); }

# insert N: N more jobs, keys continuing; each program logs S and E lines.
NJOBS=0
insert()
{
	jv_psql "INSERT INTO jobvisor.jobs (type, user_id, max_attempts, payload)
	SELECT 'sh', 'u' || (g % 6), 5, jsonb_build_object('shell', format(
	  'echo \"S j%s u%s \$FAULT_TAG \$(date +%%s%%N)\" >>\"\$FAULT_LOG\"; sleep %s; echo \"E j%s u%s \$FAULT_TAG \$(date +%%s%%N)\" >>\"\$FAULT_LOG\"',
	  g, g % 6, 0.1 + (g * 37 % 40) / 100.0, g, g % 6))
	FROM generate_series($((NJOBS + 1)), $((NJOBS + $1))) g" >/dev/null
	NJOBS=$((NJOBS + $1))
}

TAGN=0
start_serve()
{
	TAGN=$((TAGN + 1))
	jv_bg env FAULT_TAG=t$TAGN "$JOBVISOR" serve -c "$JV_CONF"
	fx_registered "$BG_PID" >/dev/null
}

start_serve
A=$BG_PID
AT=t$TAGN
start_serve
B=$BG_PID
BT=t$TAGN
insert 300
wait_for "[ \$(grep -c '^E' '$FAULT_LOG') -ge 20 ]" 30 "jobs flowing on both processors"

ORPHANS=0
KILLED_PROGRAMS=0
MODES=
for i in $(seq 1 "$RUNS"); do
	if [ "$(rnd 2)" = 0 ]; then V=$A; VT=$AT; else V=$B; VT=$BT; fi
	VID=$(fx_id_of_pid "$V")
	case $((i % 3)) in
	0)
		mode=random
		d=$((100 + $(rnd 1100)))
		sleep "$(echo "$d" | awk '{printf "%.3f", $1 / 1000}')"
		;;
	1)
		mode=claiming
		insert 12
		d=$(rnd 30)
		sleep "$(printf '0.%03d' "$d")"
		;;
	2)
		mode=completing
		n=$(grep -c "^E .* $VT " "$FAULT_LOG")
		wait_for "[ \$(grep -c '^E .* $VT ' '$FAULT_LOG') -gt $n ]" 10 "run $i: a job of $VT ended" >/dev/null
		d=0
		;;
	esac
	MODES="$MODES $mode"
	# The tree as it is now: workers, their programs, the programs' children.
	W=$(pgrep -P "$V" | tr '\n' ' ')
	P=
	for w in $W; do P="$P $(pgrep -P "$w" | tr '\n' ' ')"; done
	G=
	for p in $P; do G="$G $(pgrep -P "$p" | tr '\n' ' ')"; done
	kill -KILL "$V"
	wait "$V" 2>/dev/null
	wait_for "[ \$(fx_alive $W $P) = 0 ]" 5 "run $i ($mode, +${d} ms): $VT killed; its $(echo $W | wc -w) workers and $(echo $P | wc -w) programs died with it" >/dev/null
	echo "$VT $(date +%s%N)" >>"$KILLS"
	KILLED_PROGRAMS=$((KILLED_PROGRAMS + $(echo $P | wc -w)))
	ORPHANS=$((ORPHANS + $(fx_alive $G)))
	echo "run $i: killed $VT (processor $VID, $mode, +${d} ms): $(echo $W | wc -w) workers, $(echo $P | wc -w) programs gone"
	jv_psql "UPDATE jobvisor.processors SET heartbeat_at = now() - interval '6 minutes' WHERE id = $VID" >/dev/null
	start_serve
	if [ "$V" = "$A" ]; then A=$BG_PID; AT=t$TAGN; else B=$BG_PID; BT=t$TAGN; fi
	# Keep work flowing.
	[ "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'pending'")" -ge 40 ] || insert 40
done
ok "$RUNS kills done:$(echo $MODES | tr ' ' '\n' | sort | uniq -c | awk '{printf " %s %s", $1, $2}')"

wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status NOT IN ('succeeded', 'failed')\")\" = 0 ]" 120 \
	"all $NJOBS jobs finished"
kill -TERM "$A" "$B"
wait "$A" || fail "serve $A did not exit 0"
wait "$B" || fail "serve $B did not exit 0"
ok "both survivors stop cleanly"

# --- nothing lost (guarantees 3 and 4)
assert_eq "$NJOBS" "$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "all $NJOBS jobs are there"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'failed' AND attempts < max_attempts")" \
	"no job failed with attempts left"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs j WHERE (SELECT count(DISTINCT attempt) FROM jobvisor.job_executions e WHERE e.job_id = j.id) <> j.attempts")" \
	"every attempt has its history row"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions a JOIN jobvisor.job_executions b
	ON a.job_id = b.job_id AND a.id < b.id
	WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at")" \
	"the database shows no job with overlapping attempts"

# --- the programs' own view
psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" >/dev/null <<EOF || fail "loading the program logs"
CREATE TABLE fl (kind text, k text, u text, tag text, ns bigint);
CREATE TABLE kills (tag text, ns bigint);
\copy fl FROM '$FAULT_LOG' WITH (DELIMITER ' ')
\copy kills FROM '$KILLS' WITH (DELIMITER ' ')
CREATE TABLE iv AS
SELECT s.k, s.u, s.tag, s.ns AS st,
       coalesce((SELECT min(e.ns) FROM fl e WHERE e.kind = 'E' AND e.k = s.k AND e.tag = s.tag AND e.ns >= s.ns),
                (SELECT ns FROM kills c WHERE c.tag = s.tag)) AS en,
       NOT EXISTS (SELECT 1 FROM fl e WHERE e.kind = 'E' AND e.k = s.k AND e.tag = s.tag) AS killed
FROM fl s WHERE s.kind = 'S';
EOF
EXECS=$(jv_psql "SELECT count(*) FROM iv")
KILLED=$(jv_psql "SELECT count(*) FROM iv WHERE killed")
assert_eq 0 "$(jv_psql "SELECT count(*) FROM iv WHERE en IS NULL")" \
	"every program ended, or was running under a killed supervisor ($KILLED were)"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'succeeded'
	AND NOT EXISTS (SELECT 1 FROM fl WHERE kind = 'E' AND k = 'j' || j.id)")" \
	"every succeeded job's program ran to its end"
DUPS=$(jv_psql "SELECT count(*) FROM iv a JOIN iv b ON a.k = b.k AND (a.st, a.tag) < (b.st, b.tag) AND b.st < a.en")
assert_eq 0 "$DUPS" "no job had two programs running at once"
MAXU=$(jv_psql "SELECT max((SELECT count(*) FROM iv b WHERE b.u = a.u AND b.st <= a.st AND b.en > a.st)) FROM iv a")
[ "$MAXU" -le 2 ] || fail "a user had $MAXU programs running at once (per_user_limit 2)"
ok "no user ever had more than 2 programs running (max seen: $MAXU)"
[ "$MAXU" = 2 ] || fail "the limit was never reached: the test shows nothing"

RESCUED=$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'rescued'")
[ "$RESCUED" -ge 1 ] || fail "no attempt was rescued: the kills hit nothing"
ok "$RESCUED attempts rescued"

fx_figure runs "$RUNS"
fx_figure jobs "$NJOBS"
fx_figure succeeded "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'")"
fx_figure failed_attempts_spent "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'failed'")"
fx_figure executions "$EXECS"
fx_figure programs_killed "$KILLED"
fx_figure rescues "$RESCUED"
fx_figure rerun_after_end "$(jv_psql "SELECT count(*) FROM (SELECT k FROM fl WHERE kind = 'E' GROUP BY k HAVING count(*) > 1) d")"
fx_figure orphaned_grandchildren "$ORPHANS"
fx_figure max_per_user "$MAXU"
fx_figure duplicates "$DUPS"
fx_figure seconds "$(( ($(fx_now_ms) - T0) / 1000 ))"
jv_done

#!/bin/sh
# it_complete_dependents.sh -- two processors completing at once jobs whose
# dependents overlap (sql/022_complete_dependents.sql): C waits on A and E,
# F on D and B; processor 1 completes A and D, processor 2 B and E, in one
# complete() each, in two sessions at the same time. Resolved row by row,
# each completion locked the dependents of one finished job at a time, C
# then F for one and F then C for the other: a deadlock, one completion
# failed. A test trigger that sleeps on each resolved edge holds each
# session between its two locks long enough for the other to take its
# first, every time. Both completions must commit, and C and F be pending.
# Three rounds, the processors' batches in either order.
. "${top_srcdir:-.}/tests/lib.sh"

command -v timeout >/dev/null 2>&1 || skip_all "timeout not found"

jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# Every resolved edge waits 0.3 s: the window between a completion's locks.
jv_psql "CREATE FUNCTION public.jv_slow_edge() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM pg_sleep(0.3);
	RETURN NEW;
END \$\$;
CREATE TRIGGER jv_slow_edge BEFORE UPDATE ON jobvisor.job_dependencies
	FOR EACH ROW WHEN (NEW.resolved AND NOT OLD.resolved) EXECUTE FUNCTION public.jv_slow_edge();"
P1=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('p1', 'h', 1, 't') RETURNING id")
P2=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('p2', 'h', 2, 't') RETURNING id")

# complete PROCESSOR ID ID OUT: one complete() of both as succeeded, in a
# session of its own (ON_ERROR_STOP: a failure is a non-zero exit)
complete()
{
	timeout 30 psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "SELECT count(*) FILTER (WHERE applied)
		FROM jobvisor.complete($1, '[{\"id\": $2, \"attempt\": 1, \"outcome\": \"succeeded\"},
		                             {\"id\": $3, \"attempt\": 1, \"outcome\": \"succeeded\"}]')" >"$4" 2>&1
}

for round in 1 2 3; do
	ids=$(jv_psql "SELECT string_agg(jobvisor.enqueue('noop')::text, ' ') FROM generate_series(1, 4)")
	set -- $ids
	A=$1 B=$2 D=$3 E=$4
	C=$(jv_psql "SELECT jobvisor.enqueue('noop', depends_on => ARRAY[$A, $E]::bigint[])")
	F=$(jv_psql "SELECT jobvisor.enqueue('noop', depends_on => ARRAY[$D, $B]::bigint[])")
	jv_psql "UPDATE jobvisor.jobs SET status = 'running', attempts = 1, started_at = now(),
		locked_by = CASE WHEN id IN ($A, $D) THEN $P1 ELSE $P2 END WHERE id IN ($A, $B, $D, $E)"
	assert_eq "waiting waiting" "$(jv_psql "SELECT string_agg(status, ' ' ORDER BY id) FROM jobvisor.jobs WHERE id IN ($C, $F)")" \
		"round $round: C and F wait"
	# (round 2: processor 2 lists its jobs the other way round)
	if [ "$round" = 2 ]; then
		complete "$P1" "$A" "$D" "$JV_TMP/one.out" &
		one=$!
		complete "$P2" "$E" "$B" "$JV_TMP/two.out" &
		two=$!
	else
		complete "$P2" "$B" "$E" "$JV_TMP/two.out" &
		two=$!
		complete "$P1" "$A" "$D" "$JV_TMP/one.out" &
		one=$!
	fi
	rc1=0 rc2=0
	wait "$one" || rc1=$?
	wait "$two" || rc2=$?
	assert_eq "0|2" "$rc1|$(cat "$JV_TMP/one.out")" "round $round: processor 1's completion commits, both applied"
	assert_eq "0|2" "$rc2|$(cat "$JV_TMP/two.out")" "round $round: processor 2's completion commits, both applied"
	assert_eq "pending pending" "$(jv_psql "SELECT string_agg(status || '', ' ' ORDER BY id) FROM jobvisor.jobs WHERE id IN ($C, $F)")" \
		"round $round: C and F pending (each counted both)"
	assert_eq "0 0" "$(jv_psql "SELECT string_agg(waiting_on::text, ' ' ORDER BY id) FROM jobvisor.jobs WHERE id IN ($C, $F)")" \
		"round $round: nothing left to wait on"
	jv_psql "UPDATE jobvisor.jobs SET status = 'cancelled', finished_at = now() WHERE id IN ($C, $F)"
done

jv_done

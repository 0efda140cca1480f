#!/bin/sh
# it_claim.sh -- jobvisor.claim() itself, row by row: priority first, then
# oldest scheduled_at, then id; only due jobs; only the processor's types;
# per_user_limit counted across processors; fair rounds across users; and
# the trailer that says when the next job is due.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
claim() { jv_psql "SELECT coalesce(string_agg(id::text, ',' ORDER BY ord), '') FROM (
	SELECT id, row_number() OVER () AS ord FROM jobvisor.claim($1, $2, $3, '{noop,slow}') WHERE id IS NOT NULL) c"; }
trailer() { jv_psql "SELECT coalesce(next_due_ms::text, 'none') FROM jobvisor.claim($1, $2, $3, '{noop,slow}') WHERE id IS NULL"; }

# priority, then scheduled_at, then id; future and foreign-type jobs wait
jv_psql "INSERT INTO jobvisor.jobs (id, type, priority, scheduled_at) OVERRIDING SYSTEM VALUE VALUES
	(1, 'noop', 0, now() - interval '3 min'),
	(2, 'noop', 5, now() - interval '1 min'),
	(3, 'noop', 5, now() - interval '2 min'),
	(4, 'noop', 0, now() - interval '3 min'),
	(5, 'noop', 9, now() + interval '1 hour'),
	(6, 'other', 9, now() - interval '1 hour'),
	(7, 'slow', -1, now() - interval '1 hour')" >/dev/null
got=$(jv_psql "SELECT string_agg(id::text, ',') FROM (SELECT id FROM jobvisor.claim(1, 10, 0, '{noop,slow}') WHERE id IS NOT NULL ORDER BY id) c")
assert_eq "1,2,3,4,7" "$got" "due jobs of the processor's types are claimed; future and foreign ones wait"
assert_eq "3|2|1|4|7" "$(jv_psql "SELECT string_agg(id::text, '|' ORDER BY priority DESC, scheduled_at, id) FROM jobvisor.jobs WHERE status = 'running'")" \
	"(the expected claim order)"
jv_psql "UPDATE jobvisor.jobs SET status = 'pending', locked_by = NULL, attempts = 0" >/dev/null
assert_eq "3" "$(claim 1 1 0)" "one slot: the highest priority, oldest first"
assert_eq "2" "$(claim 1 1 0)" "then the same priority, younger"
assert_eq "1,4" "$(claim 1 2 0)" "then equal priority and time, by id"
assert_eq "1|1" "$(jv_psql "SELECT attempts, locked_by FROM jobvisor.jobs WHERE id = 1")" "a claim counts the attempt and names the processor"
t=$(trailer 1 5 0)
[ "$t" -gt 3500000 ] && [ "$t" -le 3600000 ] || fail "next due in $t ms, expected about an hour"
ok "a short claim reports when the next job is due (job 5, in about an hour: $t ms)"
jv_psql "DELETE FROM jobvisor.jobs" >/dev/null
assert_eq "none" "$(trailer 1 5 0)" "nothing pending: the trailer says none"

# per_user_limit across processors, and fair rounds
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
	SELECT 'noop', 'big', now() - interval '1 hour' + g * interval '1 s' FROM generate_series(1, 1000) g;
	INSERT INTO jobvisor.jobs (type, user_id) VALUES ('noop', 'small1'), ('noop', 'small2');
	INSERT INTO jobvisor.jobs (type) VALUES ('noop')" >/dev/null
first=$(jv_psql "SELECT string_agg(coalesce(user_id, '-'), ',' ORDER BY user_id NULLS FIRST) FROM jobvisor.claim(1, 4, 2, '{noop}') WHERE id IS NOT NULL")
assert_eq "-,big,small1,small2" "$first" "one round takes every user's first job (the big user's 1 000 do not crowd out the others)"
assert_eq "big" "$(jv_psql "SELECT string_agg(user_id, ',') FROM jobvisor.claim(2, 10, 2, '{noop}') WHERE id IS NOT NULL")" \
	"another processor gets only what the limit leaves: 1 more of big's (limit 2)"
assert_eq "" "$(jv_psql "SELECT coalesce(string_agg(user_id, ','), '') FROM jobvisor.claim(3, 10, 2, '{noop}') WHERE id IS NOT NULL")" \
	"at the limit, nothing more for anyone"
assert_eq "0" "$(trailer 3 10 2)" "jobs due but held back by the limit: next due 0"
assert_eq 2 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE user_id = 'big' AND status = 'running'")" \
	"big has exactly 2 running across processors"
jv_psql "UPDATE jobvisor.jobs SET status = 'succeeded', locked_by = NULL WHERE user_id = 'big' AND status = 'running'" >/dev/null
assert_eq "big,big" "$(jv_psql "SELECT string_agg(user_id, ',') FROM jobvisor.claim(3, 10, 2, '{noop}') WHERE id IS NOT NULL")" \
	"finished jobs free the user's slots"
assert_eq "" "$(jv_psql "SELECT coalesce(string_agg(id::text, ','), '') FROM jobvisor.claim(3, 0, 2, '{noop}') WHERE id IS NOT NULL")" \
	"zero slots claim nothing"
# A row another transaction holds is passed over, never waited for: by the
# fast path (no job with a user pending) and by the fair one.
jv_psql "UPDATE jobvisor.jobs SET status = 'succeeded', locked_by = NULL WHERE status <> 'succeeded';
	INSERT INTO jobvisor.jobs (id, type, scheduled_at) OVERRIDING SYSTEM VALUE VALUES
	(9001, 'noop', now() - interval '2 hours'), (9002, 'noop', now() - interval '1 hour')" >/dev/null
jv_bg psql -X -q -d "$JV_DB_URL" -c "BEGIN; SELECT id FROM jobvisor.jobs WHERE id = 9001 FOR UPDATE; SELECT pg_sleep(60); COMMIT"
holder=$BG_PID
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()\")\" = 1 ]" 10 \
	"the session holding job 9001"
assert_eq "9002" "$(claim 1 10 0)" "fast path: the held job is skipped, the next one claimed at once"
jv_psql "UPDATE jobvisor.jobs SET status = 'pending', locked_by = NULL, attempts = 0 WHERE id = 9002;
	INSERT INTO jobvisor.jobs (type, user_id) VALUES ('noop', 'u1')" >/dev/null
assert_eq "9002,u1" "$(jv_psql "SELECT string_agg(coalesce(user_id, id::text), ',' ORDER BY user_id NULLS FIRST) FROM jobvisor.claim(1, 10, 0, '{noop}') WHERE id IS NOT NULL")" \
	"fair path: the held job is skipped too"
jv_kill_pid "$holder"
jv_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()\")\" = 0 ]" 10 \
	"the holding session to end"
assert_eq "9001" "$(claim 1 10 0)" "once let go, the job is claimed"

jv_done

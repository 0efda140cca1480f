#!/bin/sh
# it_pgbouncer_migrate.sh -- `jobvisor migrate` through a transaction pooler
# leaves no lock behind and never hangs, even with database.pooler left at
# its default (none): PgBouncer in pool_mode=transaction with five server
# connections taken in turn (server_round_robin); migrate from empty, then
# nine more runs, each of which must end within 30 s (a session advisory
# lock stayed on the server connection that took it, the unlock ran on
# another, and every later run waited for it forever); no migration lock in
# pg_locks afterwards; and a run that has to wait for the lock says which
# server process holds it, and goes on once that one is gone.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_pgbouncer_start transaction

# jobvisor goes through PgBouncer; the checks go straight to PostgreSQL.
DIRECT_URL=$JV_DB_URL
JV_DB_URL=$JV_BOUNCER_URL
jv_write_config "$JV_CONF"
JV_DB_URL=$DIRECT_URL

KEY=7669456951150079858 # JV_MIGRATE_LOCK_KEY, "jobvisor" in ASCII

# The migration lock's rows in pg_locks for this test's database (classid:
# the key's high 32 bits, objid: the low ones). Other tests run migrate on
# their own databases of the same cluster at the same time, under the same
# key.
migration_locks()
{
	jv_psql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' ${1:-}
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = ($KEY >> 32) AND objid::bigint = ($KEY & 4294967295)"
}

# Wait (30 s at most) for the migrate run of jv_bg number $2, PID $1, to end
# with status 0.
migrate_ends()
{
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] ||
			fail "migrate run $3 did not end within 30 s (waiting for a lock left behind?): $(cat "$JV_TMP/bg.$2.err")"
		sleep 0.1
	done
	wait "$1"
	_rc=$?
	[ "$_rc" = 0 ] || fail "migrate run $3 exited $_rc: $(cat "$JV_TMP/bg.$2.err")"
}

n=1
while [ $n -le 10 ]; do
	jv_bg "$JOBVISOR" migrate -c "$JV_CONF"
	[ $n = 1 ] && FIRST=$BG_N
	migrate_ends "$BG_PID" "$BG_N" $n
	n=$((n + 1))
done
ok "10 migrate runs through the transaction pooler each ended within 30 s"
assert_match "^applied 001_init" "$(cat "$JV_TMP/bg.$FIRST.out")" "the first run applied the migrations"
LATEST=$(jv_psql 'SELECT max(version) FROM jobvisor.schema_migrations')
assert_eq "schema is up to date (version $LATEST)" "$(cat "$JV_TMP/bg.$BG_N.out")" \
	"the last run found nothing to do"
assert_eq 0 "$(migration_locks)" "no migration lock is left on any server connection"

# Another session holds the lock: migrate waits, says who holds it, and goes
# on once that session is gone.
jv_bg psql -X -q -d "$DIRECT_URL" -c "BEGIN" -c "SELECT pg_advisory_xact_lock($KEY)" -c "SELECT pg_sleep(600)"
wait_for "[ \"\$(migration_locks 'AND granted')\" = 1 ]" 20 "another session holds the migration lock"
HOLDER=$(jv_psql "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND classid::bigint = ($KEY >> 32) AND objid::bigint = ($KEY & 4294967295)")
jv_bg "$JOBVISOR" migrate -c "$JV_CONF"
M=$BG_PID
MN=$BG_N
wait_for "grep -q 'another jobvisor migrate is running on this database (server process $HOLDER ' '$JV_TMP/bg.$MN.err'" 20 \
	"the waiting run names the server process that holds the lock ($HOLDER)"
kill -0 "$M" 2>/dev/null || fail "migrate did not wait for the lock"
ok "it waits while the lock is held"
jv_psql "SELECT pg_terminate_backend($HOLDER)" >/dev/null
migrate_ends "$M" "$MN" 11
ok "once the holder is gone, it ends"
assert_eq 0 "$(migration_locks)" "and leaves no migration lock"

jv_done

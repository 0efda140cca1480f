#!/bin/sh
# it_sql_regress.sh -- the engine's SQL functions, tested the way PostgreSQL
# tests its own: pg_regress runs each tests/sql/sql/NAME.sql (listed in
# tests/sql/schedule) through psql against a freshly migrated database and
# compares the output with tests/sql/expected/NAME.out. The scripts pass
# p_now wherever a function takes it and show times relative to it, so the
# output is the same on every run.
#
# The results (results/NAME.out) and, on a mismatch, regression.diffs are in
# tests/sql/ of the build tree; the diffs are printed into this test's log.
# To accept a deliberate change of behaviour, check the new results/NAME.out
# line by line, then copy it over expected/NAME.out.
. "${top_srcdir:-.}/tests/lib.sh"

# pg_regress comes with the PostgreSQL packages (Debian: postgresql-client-NN,
# under lib/pgxs): the server's own first, then pg_config's, then the newest.
jv_pg_regress()
{
	for _d in ${JV_PG_BIN:+"$JV_PG_BIN/../lib"} "$(pg_config --pkglibdir 2>/dev/null)" \
		$(ls -d /usr/lib/postgresql/*/lib 2>/dev/null | sort -t/ -k5,5nr); do
		if [ -n "$_d" ] && [ -x "$_d/pgxs/src/test/regress/pg_regress" ]; then
			echo "$_d/pgxs/src/test/regress/pg_regress"
			return 0
		fi
	done
	return 1
}

jv_db
PG_REGRESS=$(jv_pg_regress) || {
	[ "${JV_REQUIRE_PG:-0}" = 1 ] &&
		fail "pg_regress not found (lib/pgxs/src/test/regress/pg_regress of PostgreSQL; contrib/deps.sh installs it)"
	skip_all "pg_regress not found"
}
echo "# $PG_REGRESS"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# Where the cluster is, whatever form the URL has (pg_regress takes host,
# port and user, not a URL).
srv=$(jv_psql "SELECT host(inet_server_addr()) || ' ' || inet_server_port() || ' ' || current_user") ||
	fail "cannot reach \$JV_DB_URL"
set -- $srv
[ $# = 3 ] || fail "the cluster of \$JV_DB_URL is not reached over TCP ($srv)"

# Inputs from the source tree (read-only under distcheck), outputs to the
# build tree.
out=$top_builddir/tests/sql
mkdir -p "$out" || fail "cannot create $out"
rm -rf "$out/results" "$out/regression.diffs" "$out/regression.out"
start=$(date +%s)
run "$PG_REGRESS" --use-existing --host="$1" --port="$2" --user="$3" --dbname="$JV_DB_NAME" \
	--bindir= --inputdir="$top_srcdir/tests/sql" --outputdir="$out" \
	--schedule="$top_srcdir/tests/sql/schedule"
echo "# pg_regress took $(($(date +%s) - start)) s"
printf '%s\n' "$OUT"
if [ "$RC" != 0 ]; then
	if [ -s "$out/regression.diffs" ]; then
		echo "---- $out/regression.diffs"
		cat "$out/regression.diffs"
		echo "----"
	fi
	fail "pg_regress: the output differs from tests/sql/expected (exit $RC; the diffs are above)"
fi
ok "pg_regress: every SQL test gives its expected output"
n=$(grep -c '^test:' "$top_srcdir/tests/sql/schedule")
assert_match "All $n tests passed" "$OUT" "pg_regress ran the whole schedule ($n tests)"
jv_done

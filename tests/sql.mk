# tests/sql.mk -- the SQL regression tests, included by the top Makefile.am:
# tests/sql/sql/*.sql run by pg_regress against a migrated database, their
# output compared with tests/sql/expected/*.out (tests/it_sql_regress.sh).
# The results and the diffs go to tests/sql/ in the build tree.
SQL_REGRESS_TESTS = claim complete rescue release enqueue limits workflows
EXTRA_DIST += tests/sql/schedule \
	$(SQL_REGRESS_TESTS:%=tests/sql/sql/%.sql) $(SQL_REGRESS_TESTS:%=tests/sql/expected/%.out)
TESTS += tests/it_sql_regress.sh
dist_check_SCRIPTS += tests/it_sql_regress.sh

clean-local: clean-sql-regress
clean-sql-regress:
	-rm -rf tests/sql/results tests/sql/regression.diffs tests/sql/regression.out
.PHONY: clean-sql-regress

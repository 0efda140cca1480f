# core/sched.mk -- the scheduler's extras, included by the top Makefile.am:
# the `jobvisor schedules` command and the scheduler's integration test
# (3 processors, exactly one job per due run, catch_up after downtime, the
# /api/schedules routes, config sync on SIGHUP).
libjvcore_la_SOURCES += core/cli_schedules.c
TESTS += tests/it_schedules.sh
dist_check_SCRIPTS += tests/it_schedules.sh
EXTRA_DIST += docs/schedules.md

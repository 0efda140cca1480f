# core/sched/sched.mk -- what runs on the scheduler's thread: schedules
# turned into jobs (3 processors, exactly one job per due run, catch_up after
# downtime, config sync on SIGHUP) and the history's retention (the SQL
# function with p_now; serve removing what is old, two processors never at
# once). Above plugin.
libjvcore_la_SOURCES += \
	core/sched/scheduler.c core/sched/scheduler.h \
	core/sched/retention.c core/sched/retention.h
TESTS += tests/it_schedules.sh
dist_check_SCRIPTS += tests/it_schedules.sh
EXTRA_DIST += docs/schedules.md
TESTS += tests/it_retention_sql.sh tests/it_retention.sh
dist_check_SCRIPTS += tests/it_retention_sql.sh tests/it_retention.sh
EXTRA_DIST += docs/retention.md

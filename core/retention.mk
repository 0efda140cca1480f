# core/retention.mk -- history retention, included by the top Makefile.am:
# the purge's C side (it runs on the scheduler's thread), its tests (the SQL
# function with p_now; serve removing what is old, two processors never at
# once) and its design note.
libjvcore_la_SOURCES += core/retention.c core/retention.h
TESTS += tests/it_retention_sql.sh tests/it_retention.sh
dist_check_SCRIPTS += tests/it_retention_sql.sh tests/it_retention.sh
EXTRA_DIST += docs/retention.md

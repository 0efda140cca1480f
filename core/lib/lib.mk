# core/lib/lib.mk -- the bottom room: helpers that depend on no other room
# (errors, memory, logging, clock, text, the database connection, JSON text,
# the size limits, systemd's notify protocol, and the pure parsers of cron
# expressions and time zones). Included by the top Makefile.am.
libjvcore_la_SOURCES += \
	core/lib/error.c core/lib/error.h \
	core/lib/clock.c core/lib/clock.h \
	core/lib/text.c core/lib/text.h \
	core/lib/mem.c core/lib/mem.h \
	core/lib/log.c core/lib/log.h \
	core/lib/redact.c core/lib/redact.h \
	core/lib/db.c core/lib/db.h \
	core/lib/jsontext.c core/lib/jsontext.h \
	core/lib/sizelimits.h \
	core/lib/notify.c core/lib/notify.h \
	core/lib/cron.c core/lib/cron.h \
	core/lib/tz.c core/lib/tz.h

# The cron parser's unit tests and fuzz harness.

check_PROGRAMS += tests/test_cron tests/fuzz_cron
tests_test_cron_SOURCES = tests/test_cron.c tests/unit.h
tests_test_cron_CFLAGS = $(TEST_CFLAGS)
tests_test_cron_LDADD = $(TEST_LDADD) -lpthread
tests_fuzz_cron_SOURCES = tests/fuzz_cron.c
tests_fuzz_cron_CFLAGS = $(TEST_CFLAGS)
tests_fuzz_cron_LDADD = $(TEST_LDADD) -lpthread
TESTS += tests/test_cron tests/fuzz_cron
EXTRA_DIST += contrib/fuzz.sh \
	tests/fuzz/cron/seed01 \
	tests/fuzz/cron/seed02 \
	tests/fuzz/cron/seed03 \
	tests/fuzz/cron/seed04 \
	tests/fuzz/cron/seed05 \
	tests/fuzz/cron/seed06 \
	tests/fuzz/cron/seed07 \
	tests/fuzz/cron/seed08 \
	tests/fuzz/cron/seed09 \
	tests/fuzz/cron/seed10 \
	tests/fuzz/cron/seed11 \
	tests/fuzz/cron/seed12 \
	tests/fuzz/cron/seed13 \
	tests/fuzz/cron/seed14 \
	tests/fuzz/cron/seed15 \
	tests/fuzz/cron/seed16 \
	tests/fuzz/cron/seed17 \
	tests/fuzz/cron/seed18 \
	tests/fuzz/cron/seed19 \
	tests/fuzz/cron/seed20 \
	tests/fuzz/cron/seed21 \
	tests/fuzz/cron/seed22 \
	tests/fuzz/cron/seed23 \
	tests/fuzz/cron/seed24 \
	tests/fuzz/cron/seed25 \
	tests/fuzz/cron/seed26 \
	tests/fuzz/cron/seed27 \
	tests/fuzz/cron/seed28 \
	tests/fuzz/cron/seed29 \
	tests/fuzz/cron/seed30

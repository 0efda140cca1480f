# core/cron.mk -- the cron parser's time zones, tests and fuzz harness.
libjvcore_la_SOURCES += core/tz.c core/tz.h

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

# tests/faults/faults.mk -- the fault-injection suite, included by the top
# Makefile.am: real PostgreSQL, real `jobvisor serve`, real signals; each
# scenario one script that prints what it checked and its figures
# ("figure: NAME = VALUE" lines, tabulated by tests/faults/run.sh).
FAULT_TESTS = \
	tests/faults/f1_sigkill.sh \
	tests/faults/f2_pg_down.sh \
	tests/faults/f3_conn_limit.sh \
	tests/faults/f4_plugins.sh \
	tests/faults/f5_disk_full.sh \
	tests/faults/f6_clock_jump.sh
TESTS += $(FAULT_TESTS)
dist_check_SCRIPTS += $(FAULT_TESTS) tests/faults/common.sh tests/faults/run.sh

# A plugin that misbehaves on request (segfault, leak, fd games, daemon).
check_LTLIBRARIES += tests/faults/faulty.la
tests_faults_faulty_la_SOURCES = tests/faults/faulty.c
tests_faults_faulty_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS_COMMON)

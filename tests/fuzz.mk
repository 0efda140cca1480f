# tests/fuzz.mk -- the fuzz targets' plain builds: each replays its seed
# corpus tests/fuzz/NAME/ and mutations of it for 2 s inside `make check`
# (under valgrind, and in the sanitizer lane). contrib/fuzz.sh builds the
# same sources as libFuzzer targets. fuzz_cron is in core/lib/lib.mk.
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)

check_PROGRAMS += tests/fuzz_config tests/fuzz_exec tests/fuzz_api
# config.c again, with -DJV_FUZZ: KEY_file reads only files beside the config.
tests_fuzz_config_SOURCES = tests/fuzz_config.c tests/fuzz_main.c core/config/config.c
tests_fuzz_config_CPPFLAGS = $(FUZZ_CPPFLAGS) -DJV_FUZZ -DJV_FUZZ_NAME='"config"'
tests_fuzz_config_CFLAGS = $(TEST_CFLAGS)
tests_fuzz_config_LDADD = $(TEST_LDADD) $(YAML_LIBS) $(JANSSON_LIBS) -lpthread

# The executor plugins' sources are compiled into the harness.
tests_fuzz_exec_SOURCES = tests/fuzz_exec.c tests/fuzz_main.c
tests_fuzz_exec_CPPFLAGS = $(FUZZ_CPPFLAGS) -I$(top_srcdir)/plugins -DJV_FUZZ_NAME='"exec"'
tests_fuzz_exec_CFLAGS = $(TEST_CFLAGS) $(CURL_CFLAGS)
tests_fuzz_exec_LDADD = $(TEST_LDADD) $(PLUGIN_COMMON) $(JANSSON_LIBS) $(CURL_LIBS) $(LIBPQ_LIBS) \
	-lpthread

tests_fuzz_api_SOURCES = tests/fuzz_api.c tests/fuzz_main.c
tests_fuzz_api_CPPFLAGS = $(FUZZ_CPPFLAGS) -DJV_FUZZ_NAME='"api"'
tests_fuzz_api_CFLAGS = $(TEST_CFLAGS) $(MHD_CFLAGS)
tests_fuzz_api_LDADD = $(TEST_LDADD) $(MHD_LIBS) $(JANSSON_LIBS) $(LIBPQ_LIBS) $(CURL_LIBS) -lpthread

TESTS += tests/fuzz_config tests/fuzz_exec tests/fuzz_api
# Whole folders: seeds come and go without editing this list.
EXTRA_DIST += tests/fuzz/config tests/fuzz/exec tests/fuzz/api \
	tests/fuzz/config.dict tests/fuzz/exec.dict tests/fuzz/api.dict

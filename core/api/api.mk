# core/api/api.mk -- the REST API, one file per route family, and the bridge
# and statistics it shares with the engine; the OpenAPI document
# (docs/openapi.yaml) embedded in the binary as JSON, its route-coverage
# test, and the files that go with them. Above alert.
libjvcore_la_SOURCES += \
	core/api/api.h core/api/server.c \
	core/api/tls.c core/api/tls.h \
	core/api/bridge.c core/api/bridge.h \
	core/api/stats.c core/api/stats.h \
	core/api/jobs.c \
	core/api/jobspec.c core/api/jobspec.h \
	core/api/processor.c \
	core/api/alerts.c \
	core/api/analytics.c \
	core/api/metrics.c \
	core/api/schedules.c \
	core/api/queues.c \
	core/api/workflows.c \
	core/api/audit.c core/api/audit.h \
	core/api/dashboard.c core/api/web.h

# ---------------------------------------------------------------- OpenAPI
# A build-time tool turns the YAML into a C array holding the JSON text.
# It uses libyaml and jansson, which jobvisor needs anyway.
noinst_PROGRAMS = build-aux/yaml2json
build_aux_yaml2json_SOURCES = build-aux/yaml2json.c
build_aux_yaml2json_CFLAGS = $(AM_CFLAGS) $(YAML_CFLAGS) $(JANSSON_CFLAGS)
build_aux_yaml2json_LDADD = $(YAML_LIBS) $(JANSSON_LIBS)

core/api/openapi_json.c: $(srcdir)/docs/openapi.yaml build-aux/yaml2json$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) core/api && \
	./build-aux/yaml2json$(EXEEXT) $(srcdir)/docs/openapi.yaml jv_openapi_json > $@.tmp && \
	mv $@.tmp $@
nodist_libjvcore_la_SOURCES += core/api/openapi_json.c
BUILT_SOURCES += core/api/openapi_json.c
CLEANFILES += core/api/openapi_json.c core/api/openapi_json.c.tmp
EXTRA_DIST += docs/openapi.yaml

# Every route of every table is documented, and every documented operation
# is served.
check_PROGRAMS += tests/test_openapi
tests_test_openapi_SOURCES = tests/test_openapi.c tests/unit.h
tests_test_openapi_CFLAGS = $(TEST_CFLAGS)
tests_test_openapi_LDADD = $(TEST_LDADD) $(JANSSON_LIBS)
TESTS += tests/test_openapi

# The job object the API and `jobvisor enqueue --file` share (jobspec.c).
check_PROGRAMS += tests/test_jobspec
tests_test_jobspec_SOURCES = tests/test_jobspec.c tests/unit.h
tests_test_jobspec_CFLAGS = $(TEST_CFLAGS)
tests_test_jobspec_LDADD = $(TEST_LDADD) $(JANSSON_LIBS)
TESTS += tests/test_jobspec

# ---------------------------------------------------------------- metrics
# The strict Prometheus text-format checker of tests/it_api_metrics.sh.
EXTRA_DIST += tests/servers/promcheck.py
# The Grafana dashboard and the Prometheus alerting rules over /metrics, and
# the checker of tests/it_observability.sh that their series are exported.
EXTRA_DIST += contrib/grafana/jobvisor.json contrib/prometheus/jobvisor-rules.yml \
	contrib/prometheus/jobvisor-rules.test.yml tests/metricnames.py

# ---------------------------------------------------------------- contrib
# Driving the webhook from an outside clock (cron, systemd timers).
EXTRA_DIST += contrib/cron/README.md contrib/cron/crontab.example \
	contrib/cron/jobvisor-tick.service contrib/cron/jobvisor-tick.timer

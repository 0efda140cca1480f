#!/bin/sh
# it_observability.sh -- the observability kit of contrib/: the alerting
# rules (contrib/prometheus/jobvisor-rules.yml) pass `promtool check rules`
# and their unit tests (jobvisor-rules.test.yml, `promtool test rules`);
# the Grafana dashboard (contrib/grafana/jobvisor.json) is a dashboard
# whose every panel has a query; and every metric name in every panel's
# expr, template query and alerting rule is a series a live `jobvisor
# serve` exports on /metrics after it ran jobs (tests/metricnames.py,
# itself checked first against names that are not there).
# promtool is Debian's prometheus package (contrib/deps.sh installs it);
# without it the test is skipped (exit 77).
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/metricnames.py)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v promtool >/dev/null 2>&1 ||
	skip_all "promtool not found: install Debian's package prometheus (sh contrib/deps.sh does)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

RULES=$top_srcdir/contrib/prometheus/jobvisor-rules.yml
RULES_TEST=$top_srcdir/contrib/prometheus/jobvisor-rules.test.yml
DASH=$top_srcdir/contrib/grafana/jobvisor.json
NAMES=$top_srcdir/tests/metricnames.py

# ------------------------------------------------------------ promtool
run promtool check rules "$RULES"
[ "$RC" = 0 ] || fail "promtool check rules: $OUT $ERR"
assert_match 'SUCCESS: [0-9]+ rules found' "$OUT" "promtool check rules accepts the rules"
run promtool test rules "$RULES_TEST"
[ "$RC" = 0 ] || fail "promtool test rules: $OUT $ERR"
ok "the rules' unit tests pass (promtool test rules)"
for a in JobvisorDatabaseDown JobvisorBacklogAge JobvisorHighFailureRate JobvisorProcessorsMissing \
	JobvisorProcessorStalled; do
	assert_match "alertname: $a\$" "$(cat "$RULES_TEST")" "a unit test covers $a"
done

# ------------------------------------------------------- the dashboard
run python3 - "$DASH" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
assert d.get("title") and d.get("uid") and isinstance(d.get("panels"), list), "not a dashboard"
ids = set()
n = 0
for p in d["panels"]:
    assert p.get("id") not in ids, "panel id %r twice" % p.get("id")
    ids.add(p.get("id"))
    g = p.get("gridPos", {})
    assert all(k in g for k in ("x", "y", "w", "h")), "panel %r: no gridPos" % p.get("title")
    if p["type"] == "row":
        continue
    t = p.get("targets") or []
    assert t and all(x.get("expr") for x in t), "panel %r: no query" % p.get("title")
    assert p.get("datasource", {}).get("uid") == "${datasource}", "panel %r: datasource" % p["title"]
    n += 1
assert n >= 10, "only %d panels" % n
print(n)
PY
[ "$RC" = 0 ] || fail "the dashboard: $ERR"
ok "the dashboard is JSON with $OUT panels, each with a query and the datasource variable"

# ------------------------------------------------ the checker itself
S=$JV_TMP/small.prom
printf '# HELP jobvisor_up Up.\n# TYPE jobvisor_up gauge\njobvisor_up 1\n' >"$S"
printf '%s\n' '{"panels": [{"title": "t", "type": "timeseries", "targets": [{"refId": "A",' \
	'"expr": "sum by (instance) (rate(jobvisor_nope_total{instance=~\"$instance\"}[$__rate_interval])) / jobvisor_up"}]}]}' \
	>"$JV_TMP/bad.json"
run python3 "$NAMES" "$S" "$JV_TMP/bad.json"
assert_rc 1 "metricnames refuses a dashboard with an unknown series"
assert_match "bad.json: panel 't' A: jobvisor_nope_total is not exported" "$OUT" "... naming panel and series"
printf 'groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: absent(jobvisor_up) or jobvisor_gone > 0\n' \
	>"$JV_TMP/bad.yml"
run python3 "$NAMES" "$S" "$JV_TMP/bad.yml"
assert_rc 1 "metricnames refuses a rule with an unknown series"
assert_match "bad.yml: line 5: jobvisor_gone is not exported" "$OUT" "... naming the line"
printf 'groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: |\n          jobvisor_up\n' \
	>"$JV_TMP/block.yml"
run python3 "$NAMES" "$S" "$JV_TMP/block.yml"
[ "$RC" != 0 ] || fail "metricnames accepted an expr it cannot read (a block scalar)"
ok "metricnames refuses an expr written as a block scalar"

# ------------------------------------------------------ a live scrape
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
  quick: { plugin: noop, timeout_seconds: 1 }
api:
  listen: "127.0.0.1:0"
YAML
)"
jv_conf_set "$JV_CONF" processor.heartbeat_interval_ms 300
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
jv_api_port "$JV_TMP/bg.$BG_N.err" 15

# successes, a failure and a timeout, so that every type has its series
jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts) VALUES
	('noop', '{}', 1), ('noop', '{}', 1),
	('noop', '{\"outcome\": \"permanent\", \"error\": \"no\"}', 1),
	('quick', '{\"sleep_ms\": 5000}', 1)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status IN ('succeeded', 'failed')\")\" = 4 ]" 30 \
	"the four jobs ran"
# and one pending far ahead, so that its queue has gauges
jv_psql "INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', now() + interval '1 day')" >/dev/null

M=$JV_TMP/metrics.prom
wait_for "curl -s --max-time 20 '$B/metrics' >'$M' && grep -q '^jobvisor_queue_jobs{' '$M' &&
	grep -q '^jobvisor_attempt_duration_seconds_bucket{type=\"quick\"' '$M'" 30 \
	"a scrape with the queue gauges and both types' histograms"
assert_match '^jobvisor_database_up 1$' "$(cat "$M")" "the scrape has the database's gauges"
run python3 "$NAMES" "$M" "$DASH" "$RULES"
echo "$OUT"
[ "$RC" = 0 ] || fail "a series the dashboard or the rules use is not exported: $OUT $ERR"
assert_match "jobvisor.json: [0-9]+ expressions, [0-9]+ metric names" "$OUT" "the dashboard's metric names are all exported"
assert_match "jobvisor-rules.yml: [0-9]+ expressions, [0-9]+ metric names" "$OUT" "the rules' metric names are all exported"

jv_done

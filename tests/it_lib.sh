#!/bin/sh
# it_lib.sh -- the helpers of tests/lib.sh that other tests rely on to
# check anything at all: jv_conf_set sets a key by its path or fails the
# test (never edits nothing), and check counts a failure and goes on, with
# jv_done exiting 1 at the end. No database.
. "${top_srcdir:-.}/tests/lib.sh"

JV_DB_URL=postgresql://127.0.0.1:1/none
F=$JV_TMP/c.yaml
jv_write_config "$F" "history: { max_output_bytes: 64 }
api:
  listen: \"127.0.0.1:0\"

  token: \"t\" # a comment
alerts:
  - plugin: noop
    url: \"http://127.0.0.1:1/\""
cp "$F" "$JV_TMP/orig.yaml"

# A key that is there: replaced on its own line; one that is not: added at
# the end of its parent's block; a top-level one at the end.
jv_conf_set "$F" \
	processor.stuck_job_timeout_minutes 0.25 \
	processor.heartbeat_interval_ms 200 \
	database.url '"postgresql://127.0.0.1:2/other?connect_timeout=2"' \
	executors.capped '{ plugin: noop, max_attempts: 1 }' \
	api.token '"u"' \
	api.tls_cert /x.pem \
	retention_days 3
assert_eq "--- 3c3
<   url: \"postgresql://127.0.0.1:1/none\"
---
>   url: \"postgresql://127.0.0.1:2/other?connect_timeout=2\"
6c6,7
<   stuck_job_timeout_minutes: 5
---
>   stuck_job_timeout_minutes: 0.25
>   heartbeat_interval_ms: 200
11a13
>   capped: { plugin: noop, max_attempts: 1 }
16c18,19
<   token: \"t\" # a comment
---
>   token: \"u\"
>   tls_cert: /x.pem
20a24
> retention_days: 3" "--- $(diff "$JV_TMP/orig.yaml" "$F")" "jv_conf_set replaces, adds under the parent, adds at the top"
assert_eq 600 "$(stat -c %a "$F")" "the file keeps its mode"

# A block replaced by a scalar loses its lines.
cp "$F" "$JV_TMP/g.yaml"
jv_conf_set "$JV_TMP/g.yaml" api '{ listen: "127.0.0.1:0" }'
assert_eq "api: { listen: \"127.0.0.1:0\" }|alerts:" "$(grep -A1 '^api:' "$JV_TMP/g.yaml" | tr '\n' '|' | sed 's/|$//')" \
	"a block replaced by a flow map"

# Whatever cannot be set fails the test, saying what and where.
conf_set_fails() # KEY.PATH VALUE MESSAGE_REGEX
{
	cp "$F" "$JV_TMP/before.yaml"
	(jv_conf_set "$F" "$1" "$2") >"$JV_TMP/sub.out" 2>"$JV_TMP/sub.err"
	_rc=$?
	check assert_eq 1 "$_rc" "jv_conf_set $1: the test fails" || return 1
	check assert_match "^FAIL: it_lib: jv_conf_set: $F: $3\$" "$(cat "$JV_TMP/sub.err")" "jv_conf_set $1: says why" ||
		return 1
	check assert_eq "" "$(diff "$JV_TMP/before.yaml" "$F")" "jv_conf_set $1: the file is unchanged"
}
conf_set_fails procesor.heartbeat_interval_ms 200 "no procesor: cannot set procesor\\.heartbeat_interval_ms"
conf_set_fails database.nested.key 1 "no database\\.nested: cannot set database\\.nested\\.key"
conf_set_fails executors.noop.timeout_seconds 1 \
	"executors\\.noop is not a block mapping \\(its value is on its line\\): cannot set executors\\.noop\\.timeout_seconds"
conf_set_fails alerts.url 1 "alerts is a sequence, not a mapping: cannot set alerts\\.url"
conf_set_fails 'processor..name' x 'bad key path "processor\.\.name"'
printf 'processor:\n  name: again\n' >>"$F"
conf_set_fails processor.name x "processor\\.name is there 2 times"

# check: a failed check is counted, the test goes on, jv_done exits 1.
cat >"$JV_TMP/soft.sh" <<'SH'
. "$top_srcdir/tests/lib.sh"
check assert_eq 1 2 "first"
check wait_for false 1 "never"
assert_eq 3 3 "third"
jv_done
SH
run env top_srcdir="$top_srcdir" top_builddir="$top_builddir" sh "$JV_TMP/soft.sh"
assert_rc 1 "check: the test exits 1"
assert_match "^ok 1 - third$" "$OUT" "check: the test went on after two failed checks"
assert_match "^1 passed, 2 failed$" "$OUT" "check: jv_done counts both"
assert_match "FAIL: soft: first: expected '1', got '2'" "$ERR" "check: the failure is reported"
jv_done

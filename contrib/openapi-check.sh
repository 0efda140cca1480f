#!/bin/sh
# openapi-check.sh -- docs/openapi.yaml, checked three ways: lint-clean under
# the `recommended` rules of Redocly CLI and under Spectral's `spectral:oas`
# (no error, no warning), and the contract test (contrib/openapi/contract.mjs)
# against a real `jobvisor serve` of BUILD_DIR on a fresh database: every
# operation sent a valid and an invalid request, every answer validated
# against the document.
#
#   sh contrib/openapi-check.sh [BUILD_DIR]     (default build/dev)
#
# Needs node (20 or later) and npm. The tools are pinned in
# contrib/openapi/package-lock.json and installed by `npm ci` into
# contrib/openapi/node_modules (kept between runs; installed again when the
# lock file changes): the only network access. PostgreSQL as for the
# integration tests: $JV_TEST_DATABASE_URL's cluster (contrib/check.sh starts
# one), else a private one through tests/pg.sh. Exits non-zero on any
# finding.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build/dev}" && pwd) || exit 1
tools=$top/contrib/openapi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "openapi-check: node and npm are needed" >&2
	exit 1
fi
case $(node --version) in
v1[0-9].* | v[0-9].*)
	echo "openapi-check: node $(node --version) is too old: the tools need node 20 or later" >&2
	exit 1
	;;
esac
# npm ci once per lock file (its copy in node_modules says which one)
if ! cmp -s "$tools/package-lock.json" "$tools/node_modules/.package-lock.json.ci" 2>/dev/null; then
	(cd "$tools" && npm ci --no-audit --no-fund --ignore-scripts) >&2 || {
		echo "openapi-check: npm ci failed" >&2
		exit 1
	}
	cp "$tools/package-lock.json" "$tools/node_modules/.package-lock.json.ci"
fi

status=0
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
# Redocly: exit 1 on an error; a warning is a finding too
out=$(cd "$tools" && ./node_modules/.bin/redocly lint --config redocly.yaml "$top/docs/openapi.yaml" 2>&1)
rc=$?
if [ $rc -ne 0 ] || printf '%s\n' "$out" | grep -Eq 'You have [0-9]+ warning|Validation failed'; then
	printf '%s\n' "$out"
	echo "openapi-check: redocly lint (recommended): FAILED"
	status=1
else
	echo "openapi-check: redocly lint (recommended): clean"
fi
if (cd "$tools" && ./node_modules/.bin/spectral lint --quiet --fail-severity=hint \
	-r spectral.yaml "$top/docs/openapi.yaml"); then
	echo "openapi-check: spectral lint (spectral:oas): clean"
else
	echo "openapi-check: spectral lint (spectral:oas): FAILED"
	status=1
fi

# ---------------------------------------------------------------- contract
# lib.sh: jv_db, jv_write_config, jv_bg (stopped at exit), jv_api_port
export top_srcdir="$top" top_builddir="$build"
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-Contract"
VIEWER="viewer-$$-Contract"
HOOK="hook-$$-Contract"
jv_db openapi_contract
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  tokens:
    - { name: contract-viewer, token: "$VIEWER", role: viewer }
  webhook_secret: "$HOOK"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
jv_api_port "$JV_TMP/bg.$BG_N.err"

start=$(date +%s)
if JV_CONTRACT_DUMP=${JV_CONTRACT_DUMP:-} JV_API=$B JV_TOKEN=$TOKEN JV_VIEWER=$VIEWER JV_HOOK=$HOOK node "$tools/contract.mjs"; then
	echo "openapi-check: contract test: passed (in $(($(date +%s) - start)) s)"
else
	echo "openapi-check: contract test: FAILED (serve's log: $JV_TMP/bg.$BG_N.err)"
	tail -n 20 "$JV_TMP/bg.$BG_N.err"
	status=1
fi
exit $status

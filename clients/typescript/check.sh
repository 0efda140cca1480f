#!/bin/sh
# check.sh -- the tests of the TypeScript client (@jobvisor/client) against
# a real `jobvisor serve` and PostgreSQL:
#
#   sh clients/typescript/check.sh BUILD_DIR
#   (cd clients/typescript && npm run generate)   after changing docs/openapi.yaml
#
# BUILD_DIR holds a built jobvisor (and its noop plugin). Installs the
# pinned devDependencies (npm ci) when node_modules is missing or older
# than package-lock.json, builds (which fails when src/openapi.ts is stale
# against docs/openapi.yaml, and type-checks src/ and test/ with
# tsc --strict), makes a fresh database (the cluster of
# $JV_TEST_DATABASE_URL, else a private one, as every tests/it_*.sh),
# migrates it, loads contrib/test_helpers.sql, starts serve with the API on
# a free loopback port and runs `node --test` with JV_TS_DB_URL,
# JV_TS_API_URL and JV_TS_TOKEN set. contrib/check.sh runs it as its lane
# "typescript". Exits 77 without node 20 or npm (1 with JV_REQUIRE_NODE=1).
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
[ $# -eq 1 ] && [ -d "$1" ] || {
	echo "usage: sh clients/typescript/check.sh BUILD_DIR" >&2
	exit 2
}
top_builddir=$(cd "$1" && pwd)
export top_srcdir top_builddir
. "$top_srcdir/tests/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

need_node()
{
	[ "${JV_REQUIRE_NODE:-0}" = 1 ] && fail "$1"
	skip_all "$1"
}
command -v node >/dev/null 2>&1 || need_node "node not found (node 20 or later is needed)"
command -v npm >/dev/null 2>&1 || need_node "npm not found"
_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$_major" -ge 20 ] || need_node "node $(node --version) is too old (node 20 or later is needed)"

cd "$here" || fail "cannot enter $here"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund >"$JV_TMP/npm-ci.out" 2>&1 || {
		cat "$JV_TMP/npm-ci.out"
		fail "npm ci"
	}
fi
ok "the pinned devDependencies are installed"
npm run --silent build >"$JV_TMP/build.out" 2>&1 || {
	cat "$JV_TMP/build.out"
	fail "npm run build (src/openapi.ts up to date, tsc --strict over src/ and test/)"
}
ok "npm run build: src/openapi.ts is up to date and tsc --strict passes"
# The example of README.md compiles as it is written (tsc --strict, the
# package imported by its name, as a user's code does).
awk '/^```ts$/ { f = 1; next } /^```$/ { if (f) exit } f' README.md >dist/readme-example.ts
[ -s dist/readme-example.ts ] || fail "no \`\`\`ts example in clients/typescript/README.md"
run npx --no-install tsc --noEmit --strict --target es2022 --module nodenext --moduleResolution nodenext \
	--types node dist/readme-example.ts
assert_rc 0 "the example of README.md compiles under tsc --strict: $OUT"
# A document changed but not regenerated fails the build, naming the fix:
# a copy with one more schema (the document ends with components.schemas).
{ cat "$top_srcdir/docs/openapi.yaml"; echo "    JvDriftProbe: {type: string}"; } >"$JV_TMP/openapi.yaml"
run env JV_OPENAPI_YAML="$JV_TMP/openapi.yaml" node scripts/generate.mjs --check
assert_rc 1 "the build's check fails on a changed docs/openapi.yaml"
assert_match "src/openapi.ts is stale: .*run \`npm run generate\`" "$ERR" "and says to run npm run generate"

TOKEN="tok-$$-ts"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 20
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -f "$top_srcdir/contrib/test_helpers.sql" >/dev/null ||
	fail "contrib/test_helpers.sql does not load"
# twice: it replaces itself
psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -f "$top_srcdir/contrib/test_helpers.sql" >/dev/null ||
	fail "contrib/test_helpers.sql does not load a second time"
ok "contrib/test_helpers.sql loads (twice)"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"

JV_TS_DB_URL=$JV_DB_URL JV_TS_API_URL=$B JV_TS_TOKEN=$TOKEN \
	node --test --test-concurrency=1 dist/test/*.test.js >"$JV_TMP/node-test.out" 2>&1
_rc=$?
cat "$JV_TMP/node-test.out"
[ "$_rc" = 0 ] || {
	echo "--- serve's log (the end)"
	tail -n 30 "$SERR"
	fail "node --test (clients/typescript/test/)"
}
ok "node --test: $(sed -n 's/^# pass //p' "$JV_TMP/node-test.out") tests passed"
jv_done

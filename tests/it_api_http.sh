#!/bin/sh
# it_api_http.sh -- the API's HTTP edges, over real HTTP against a running
# `jobvisor serve`: the Bearer scheme in any case (the token still exact),
# HEAD answered like GET without a body on every GET route, 405 naming
# HEAD, our own 414 and 431 in JSON (and the size past which the HTTP
# library answers those itself), one Cache-Control on the dashboard's files
# so their ETag brings a 304, and a chunked body past api.max_body_bytes
# cut off after about that much, token or not, with serve healthy after.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v python3 >/dev/null 2>&1 || fail "python3 not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-Secr3t"
LIMIT=65536
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  max_body_bytes: $LIMIT
YAML
)"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
AUTH="Authorization: Bearer $TOKEN"

# head PATH [curl args...]: a HEAD request; $CODE and $HDRS.
head_req()
{
	_p=$1
	shift
	CODE=$(curl -s -I --max-time 10 -o /dev/null -D "$JV_TMP/hdrs" -w '%{http_code}' "$@" "$B$_p")
	HDRS=$(cat "$JV_TMP/hdrs")
}

# count NAME: how many header lines named NAME $HDRS has.
count()
{
	printf '%s\n' "$HDRS" | grep -ic "^$1:"
}

# ------------------------------------------------------------- the scheme
for scheme in Bearer bearer BEARER bEaReR; do
	call GET /api/cron/status -H "Authorization: $scheme $TOKEN"
	assert_eq 200 "$CODE" "scheme '$scheme': the token opens status"
done
call GET /api/cron/status -H "Authorization: bearer   $TOKEN"
assert_eq 200 "$CODE" "more than one space after the scheme"
call GET /api/cron/status -H "Authorization: bearer wrong-$TOKEN"
assert_eq 401 "$CODE" "lower-case scheme, wrong token: 401"
assert_match '"error":"wrong token"' "$BODY" "said so"
call GET /api/cron/status -H "Authorization: bearer $TOKEN-"
assert_eq 401 "$CODE" "the token with one more character: 401"
call GET /api/cron/status -H "Authorization: bearer$TOKEN"
assert_eq 401 "$CODE" "no space after the scheme: 401"
assert_match 'missing bearer token' "$BODY" "said so"
call GET /api/cron/status -H "Authorization: basic $TOKEN"
assert_eq 401 "$CODE" "another scheme: 401"

# ------------------------------------------------------------- HEAD
# Every GET route of the document, as HEAD: the status GET has, no body.
call GET /api/openapi.json -H "$AUTH"
assert_eq 200 "$CODE" "the OpenAPI document"
GETS=$(printf '%s' "$BODY" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for path, ops in sorted(doc["paths"].items()):
    if "get" in ops:
        print(path.replace("{id}", "1").replace("{file}", "app.js"))
')
[ -n "$GETS" ] || fail "no GET route in the OpenAPI document"
for p in $GETS; do
	call GET "$p" -H "$AUTH"
	want=$CODE
	head_req "$p" -H "$AUTH"
	assert_eq "$want" "$CODE" "HEAD $p answers as GET does ($want)"
done
head_req /api/cron/health
assert_eq 200 "$CODE" "HEAD health needs no token"
assert_match 'Content-Type: application/json' "$HDRS" "with GET's content type"
head_req /metrics
assert_eq 200 "$CODE" "HEAD /metrics needs no token"
head_req /api/jobs
assert_eq 401 "$CODE" "HEAD /api/jobs without the token: 401, as GET"
head_req /
assert_eq 200 "$CODE" "HEAD / (the dashboard)"
assert_match '^ETag: "[0-9a-f]{16}"' "$HDRS" "with its ETag"
# The answer ends with its headers: nothing follows, whatever Content-Length says.
RAW=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"HEAD /api/cron/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, sep, rest = data.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode(), "body bytes:", len(rest) if sep else "no end of head")
PY
)
assert_eq "HTTP/1.1 200 OK body bytes: 0" "$RAW" "HEAD: the headers and no body"
head_req /api/cron/stop -H "$AUTH"
assert_eq 405 "$CODE" "HEAD on a POST-only route: 405"
assert_match 'Allow: POST' "$HDRS" "Allow: POST"
call POST /api/cron/health
assert_eq 405 "$CODE" "POST on health: 405"
assert_match 'Allow: GET, HEAD' "$HDRS" "Allow names HEAD beside GET"

# ------------------------------------------------------------- JSON errors
pad() { head -c "$1" /dev/zero | tr '\0' "$2"; }
Q="/api/cron/health?x="
call GET "$Q$(pad $((8192 - ${#Q})) a)"
assert_eq 400 "$CODE" "a request target of 8192 bytes is read (400: unknown argument)"
call GET "$Q$(pad $((8193 - ${#Q})) a)"
assert_eq 414 "$CODE" "a request target of 8193 bytes: 414"
assert_match 'Content-Type: application/json' "$HDRS" "as JSON"
assert_eq '{"error":"the request target (path and query) is longer than 8192 bytes"}' "$BODY" \
	"saying the limit"
call GET /api/cron/health -H "X-Pad: $(pad 20000 b)"
assert_eq 431 "$CODE" "a head of 20 000 bytes: 431"
assert_match 'Content-Type: application/json' "$HDRS" "as JSON"
assert_eq '{"error":"the request line and headers are larger than 16384 bytes"}' "$BODY" \
	"saying the limit"
call POST /api/cron/stop -H "X-Pad: $(pad 20000 b)" -H "$AUTH" -d '{}'
assert_eq 431 "$CODE" "before the token and the body are looked at"
call GET /api/cron/status -H "$AUTH"
assert_match '"paused":false' "$BODY" "so nothing was paused"
# Past what libmicrohttpd holds per connection (32 KiB), it answers itself
# (documented in README): the status is right, the body is its own.
call GET /api/cron/health -H "X-Pad: $(pad 40000 c)"
assert_eq 431 "$CODE" "a head of 40 000 bytes: 431 from the HTTP library"
call GET "$Q$(pad 40000 a)"
assert_eq 414 "$CODE" "a request target of 40 000 bytes: 414 from the HTTP library"

# ------------------------------------------------------------- caching
for p in / /ui/app.js /ui/app.css; do
	call GET "$p"
	assert_eq 200 "$CODE" "GET $p"
	assert_eq 1 "$(count Cache-Control)" "$p: one Cache-Control header"
	assert_match '^Cache-Control: no-cache' "$HDRS" "$p: no-cache (revalidate by ETag)"
	assert_eq 1 "$(count X-Content-Type-Options)" "$p: one X-Content-Type-Options"
	ETAG=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' "$JV_TMP/hdrs")
	: >"$JV_TMP/body" # (curl writes no file for an empty body)
	call GET "$p" -H "If-None-Match: $ETAG"
	assert_eq 304 "$CODE" "$p with If-None-Match: 304"
	assert_eq 1 "$(count Cache-Control)" "$p: one Cache-Control on the 304 too"
	assert_eq "" "$BODY" "and no body"
done
call GET / -H "If-None-Match: \"0000000000000000\", W/$ETAG"
assert_eq 200 "$CODE" "another file's ETag (a weak one) does not match /"
ETAG=$(call GET /; sed -n 's/^ETag: \(.*\)\r$/\1/p' "$JV_TMP/hdrs")
call GET / -H "If-None-Match: \"0000000000000000\", W/$ETAG"
assert_eq 304 "$CODE" "a list holding the ETag, weak: 304"
call GET / -H "If-None-Match: *"
assert_eq 304 "$CODE" "If-None-Match: *: 304"
call GET /api/cron/status -H "$AUTH"
assert_eq 1 "$(count Cache-Control)" "an API answer: one Cache-Control"
assert_match '^Cache-Control: no-store' "$HDRS" "no-store"

# ------------------------------------------------------------- chunked bodies
call POST /api/cron/trigger -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary '{}'
assert_eq 202 "$CODE" "a small chunked body is read"
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVE/status"; }
HWM0=$(hwm)
# 256 MiB without a token, as fast as loopback takes it: cut after about
# LIMIT bytes (what the kernel's socket buffers take in meanwhile aside).
TOTAL=268435456
T0=$(date +%s)
R=$(head -c $TOTAL /dev/zero | curl -s -o /dev/null --max-time 60 -w '%{http_code} %{size_upload}' \
	-H 'Transfer-Encoding: chunked' -H 'Expect:' -H 'Content-Type: application/json' \
	--data-binary @- "$B/api/cron/stop")
T1=$(date +%s)
set -- $R
echo "# chunked upload: status $1, $2 bytes sent, $((T1 - T0)) s"
assert_eq 000 "$1" "past api.max_body_bytes the connection is closed, without an answer"
[ "$2" -lt $((TOTAL / 8)) ] || fail "$2 of $TOTAL bytes were taken in: it read on past the limit"
ok "the upload stopped after $2 of $TOTAL bytes"
kill -0 "$SERVE" || fail "serve died"
call GET /api/cron/health
assert_eq 200 "$CODE" "serve is healthy after it"
call GET /api/cron/status -H "$AUTH"
assert_match '"paused":false' "$BODY" "and the cut request did nothing"
HWM1=$(hwm)
[ $((HWM1 - HWM0)) -lt 65536 ] || fail "serve's peak memory grew by $((HWM1 - HWM0)) kB"
ok "serve's peak memory grew by $((HWM1 - HWM0)) kB"

kill -TERM "$SERVE"
wait "$SERVE"
RC=$?
assert_rc 0 "serve stops on SIGTERM, exit 0"
jv_done

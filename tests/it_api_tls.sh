#!/bin/sh
# it_api_tls.sh -- the API over HTTPS (api.tls_cert_file, api.tls_key_file)
# against a running `jobvisor serve`, with self-signed certificates made
# here by the openssl command: every kind of route answers over https
# (an API route with the token, health, /metrics, the dashboard), plain
# HTTP to the port gets no answer, a client without the CA refuses the
# certificate; after a renewed pair and SIGHUP the new CA is trusted and the
# old one refused, on the same port (the listening socket is kept); a bad
# certificate at a reload refuses it with one error naming the file and the
# old pair keeps serving; a request in progress at a reload is finished
# and answered before the old server stops; check-config and serve's start refuse a half
# configuration (FILE:LINE:COL), a missing file, garbage PEM, a key others
# may read, and a key that is not the certificate's, naming the file; an
# expired certificate is taken with a warning.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v openssl >/dev/null 2>&1 || fail "openssl not found (contrib/deps.sh installs it)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# mkcert NAME: a self-signed certificate for 127.0.0.1 in $JV_TMP/NAME.crt
# and its key in $JV_TMP/NAME.key (mode 0600).
mkcert()
{
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$JV_TMP/$1.key" -out "$JV_TMP/$1.crt" 2>"$JV_TMP/openssl.err") ||
		fail "openssl could not make a certificate: $(cat "$JV_TMP/openssl.err")"
}

TOKEN="tls-$$-Secr3t"
AUTH="Authorization: Bearer $TOKEN"
mkcert one
mkcert two
mkdir -p "$JV_TMP/live"
cp -p "$JV_TMP/one.crt" "$JV_TMP/live/cert.pem"
cp -p "$JV_TMP/one.key" "$JV_TMP/live/key.pem"

jv_db
# (the key by a path relative to the config's folder)
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  tls_cert_file: "$JV_TMP/live/cert.pem"
  tls_key_file: "$(realpath --relative-to="$(dirname "$JV_CONF")" "$JV_TMP/live/key.pem")"
YAML
)"
run "$JOBVISOR" check-config -c "$JV_CONF"
assert_rc 0 "check-config accepts the certificate and its key"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
S=https://127.0.0.1:$PORT
assert_match "api: HTTPS only, with the certificate in $JV_TMP/live/cert.pem" "$(cat "$SERR")" \
	"serve says it serves HTTPS, and with which certificate"

# get URL [curl args...]: $CODE (000 when there was no answer) and curl's
# exit status in $CURL_RC.
get()
{
	_u=$1
	shift
	CURL_RC=0
	CODE=$(curl -s --max-time 10 -o "$JV_TMP/body" -w '%{http_code}' "$@" "$_u") || CURL_RC=$?
}

# ------------------------------------------------------------- over https
get "$S/api/cron/status" --cacert "$JV_TMP/one.crt" -H "$AUTH"
check assert_eq 200 "$CODE" "an API route over https with the token"
get "$S/api/cron/status" --cacert "$JV_TMP/one.crt"
check assert_eq 401 "$CODE" "the token is still required over https"
get "$S/api/cron/health" --cacert "$JV_TMP/one.crt"
check assert_eq 200 "$CODE" "health over https"
get "$S/metrics" --cacert "$JV_TMP/one.crt"
check assert_eq 200 "$CODE" "/metrics over https"
check assert_match '^jobvisor_' "$(cat "$JV_TMP/body")" "/metrics' text over https"
get "$S/" --cacert "$JV_TMP/one.crt"
check assert_eq 200 "$CODE" "the dashboard over https"

get "http://127.0.0.1:$PORT/api/cron/health"
check assert_eq 000 "$CODE" "plain http to the https port gets no answer"
get "$S/api/cron/health"
check assert_eq 60 "$CURL_RC" "a client without the CA refuses the certificate (curl exit 60)"

# ------------------------------------------------- a renewed pair, SIGHUP
# Replaced as a renewal does: each file renamed into place.
cp -p "$JV_TMP/two.crt" "$JV_TMP/live/cert.new" && mv "$JV_TMP/live/cert.new" "$JV_TMP/live/cert.pem"
cp -p "$JV_TMP/two.key" "$JV_TMP/live/key.new" && mv "$JV_TMP/live/key.new" "$JV_TMP/live/key.pem"
kill -HUP "$SERVE"
wait_for "grep -q 'reloaded:' '$SERR'" 15 "serve reloads"
get "$S/api/cron/status" --cacert "$JV_TMP/two.crt" -H "$AUTH"
check assert_eq 200 "$CODE" "after the reload the new certificate is served"
get "$S/api/cron/status" --cacert "$JV_TMP/one.crt" -H "$AUTH"
check assert_eq 60 "$CURL_RC" "after the reload the old CA no longer verifies"
check assert_eq 2 "$(grep -c "api: listening on 127.0.0.1:$PORT (" "$SERR")" \
	"the API listens again on the same port (api.listen has port 0: the socket was kept)"

# ------------------------------------ a request in progress at a reload
# A job whose body is still coming when serve reloads: the old server
# finishes it before it stops (its client gets the answer), and the reload
# says it waited. curl streams the body from a FIFO and says when the
# server has its headers (100 Continue).
mkfifo "$JV_TMP/body.fifo"
jv_bg sh -c "exec curl -sv --max-time 30 --cacert '$JV_TMP/two.crt' -H '$AUTH' \
	-H 'Content-Type: application/json' -X POST -T - -o /dev/null -w '%{http_code}' \
	'$S/api/jobs' <'$JV_TMP/body.fifo'"
SLOW_OUT=$JV_TMP/bg.$BG_N.out
SLOW_ERR=$JV_TMP/bg.$BG_N.err
exec 3>"$JV_TMP/body.fifo"
printf '{"type": "noop",' >&3
wait_for "grep -q '100 Continue' '$SLOW_ERR'" 10 "the server has the request's headers"
kill -HUP "$SERVE"
wait_for "grep -q 'api: finishing 1 requests in progress before the reload' '$SERR'" 10 \
	"the reload waits for the request in progress"
printf ' "payload": {"at": "reload"}}' >&3
exec 3>&-
wait_for "[ \"\$(grep -c 'reloaded:' '$SERR')\" = 2 ]" 15 "serve reloads"
wait_for "[ -s '$SLOW_OUT' ]" 15 "the request in progress is answered"
check assert_eq 201 "$(cat "$SLOW_OUT")" "the job sent during the reload is taken (201)"
check assert_eq 1 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE payload->>'at' = 'reload'")" \
	"and is in the table"
check assert_eq 0 "$(grep -c 'cut by the reload' "$SERR")" "no request was cut"

# ---------------------------------------- a bad certificate at a reload
cp -p "$JV_TMP/live/cert.pem" "$JV_TMP/good.crt"
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' \
	>"$JV_TMP/live/cert.new" && mv "$JV_TMP/live/cert.new" "$JV_TMP/live/cert.pem"
kill -HUP "$SERVE"
wait_for "grep -q 'reload refused' '$SERR'" 15 "serve refuses the reload"
check assert_eq 1 "$(grep -c "api.tls_cert_file: '$JV_TMP/live/cert.pem' holds no PEM certificate" "$SERR")" \
	"one error names the bad certificate file"
get "$S/api/cron/status" --cacert "$JV_TMP/two.crt" -H "$AUTH"
check assert_eq 200 "$CODE" "after a refused reload the running certificate still serves"
kill -0 "$SERVE" 2>/dev/null || fail "serve died at the refused reload"

# serve stops cleanly after all of it (sanitizer builds: no report, no leak)
kill -TERM "$SERVE"
SERVE_RC=0
wait "$SERVE" || SERVE_RC=$?
check assert_eq 0 "$SERVE_RC" "serve exits 0 at SIGTERM"
check assert_no_match 'AddressSanitizer|LeakSanitizer|runtime error' "$(cat "$SERR")" \
	"no sanitizer report"

# ------------------------------------------------- configuration errors
# conf_with EXTRA_API_YAML: $JV_TMP/bad.yaml, an api: section with the token
# and EXTRA_API_YAML.
conf_with()
{
	jv_write_config "$JV_TMP/bad.yaml" "$(printf 'api:\n  listen: "127.0.0.1:0"\n  token: "%s"\n%s\n' "$TOKEN" "$1")"
}
# refused WHAT REGEX: check-config and serve's start both exit 1 with one
# line matching REGEX.
refused()
{
	run "$JOBVISOR" check-config -c "$JV_TMP/bad.yaml"
	check assert_rc 1 "check-config refuses $1"
	check assert_match "$2" "$ERR" "check-config names it: $1"
	check assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "check-config's error is one line: $1"
	run "$JOBVISOR" serve -c "$JV_TMP/bad.yaml"
	check assert_rc 1 "serve refuses to start with $1"
	check assert_match "$2" "$ERR" "serve names it: $1"
}

conf_with "  tls_cert_file: \"$JV_TMP/one.crt\""
refused "a certificate without a key" \
	"$JV_TMP/bad.yaml:[0-9]+:[0-9]+: api.tls_cert_file is set but api.tls_key_file is not"
conf_with "  tls_key_file: \"$JV_TMP/one.key\""
refused "a key without a certificate" \
	"$JV_TMP/bad.yaml:[0-9]+:[0-9]+: api.tls_key_file is set but api.tls_cert_file is not"
conf_with "$(printf '  tls_cert_file: "%s"\n  tls_key_file: "%s"' "$JV_TMP/none.crt" "$JV_TMP/one.key")"
refused "a missing certificate file" \
	"$JV_TMP/bad.yaml:[0-9]+:[0-9]+: api.tls_cert_file: cannot read '$JV_TMP/none.crt': No such file"
echo "garbage" >"$JV_TMP/garbage.pem"
chmod 600 "$JV_TMP/garbage.pem"
conf_with "$(printf '  tls_cert_file: "%s"\n  tls_key_file: "%s"' "$JV_TMP/garbage.pem" "$JV_TMP/one.key")"
refused "a certificate file of garbage" \
	"api.tls_cert_file: '$JV_TMP/garbage.pem' holds no PEM certificate"
conf_with "$(printf '  tls_cert_file: "%s"\n  tls_key_file: "%s"' "$JV_TMP/one.crt" "$JV_TMP/garbage.pem")"
refused "a key file of garbage" \
	"api.tls_key_file: '$JV_TMP/garbage.pem' holds no unencrypted PEM private key"
conf_with "$(printf '  tls_cert_file: "%s"\n  tls_key_file: "%s"' "$JV_TMP/one.crt" "$JV_TMP/two.key")"
refused "a key of another certificate" \
	"api.tls_key_file: the key in '$JV_TMP/two.key' does not belong to the certificate in '$JV_TMP/one.crt'"
# An expired certificate is served (a renewal may be late), with a warning.
if command -v faketime >/dev/null 2>&1; then
	(umask 077 && faketime '2020-01-01 00:00:00' openssl req -x509 -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
		-keyout "$JV_TMP/old.key" -out "$JV_TMP/old.crt" 2>"$JV_TMP/openssl.err") ||
		fail "openssl could not make a certificate: $(cat "$JV_TMP/openssl.err")"
	conf_with "$(printf '  tls_cert_file: "%s"\n  tls_key_file: "%s"' "$JV_TMP/old.crt" "$JV_TMP/old.key")"
	run "$JOBVISOR" check-config -c "$JV_TMP/bad.yaml"
	check assert_rc 0 "check-config takes an expired certificate"
	check assert_match "warning: api.tls_cert_file: the certificate in '$JV_TMP/old.crt' expired on 2020-01-02" \
		"$ERR" "and warns that it expired, and when"
fi
cp "$JV_TMP/one.key" "$JV_TMP/open.key"
chmod 644 "$JV_TMP/open.key"
conf_with "$(printf '  tls_cert_file: "%s"\n  tls_key_file: "%s"' "$JV_TMP/one.crt" "$JV_TMP/open.key")"
refused "a key others may read" \
	"api.tls_key_file: '$JV_TMP/open.key' is accessible to others \(mode 0644\)"

jv_done

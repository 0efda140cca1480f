#!/bin/sh
# it_configure_deps.sh -- a missing dependency at configure time gets one
# clear line naming it (and the Debian package), for each of them. A
# pkg-config wrapper hides one module at a time.
. "${top_srcdir:-.}/tests/lib.sh"

[ -x "$top_srcdir/configure" ] || skip_all "no configure script in $top_srcdir"
real=$(command -v pkg-config) || skip_all "no pkg-config"
cat >"$JV_TMP/pkg-config" <<EOF
#!/bin/sh
for a in "\$@"; do
	case "\$a" in "\$JV_HIDE"|"\$JV_HIDE "*) exit 1 ;; esac
done
exec "$real" "\$@"
EOF
chmod +x "$JV_TMP/pkg-config"

for dep in libpq:libpq-dev yaml-0.1:libyaml-dev jansson:libjansson-dev libcurl:libcurl4-openssl-dev \
	libmicrohttpd:libmicrohttpd-dev gnutls:libgnutls28-dev cunit:libcunit1-dev libcrypto:libssl-dev; do
	mod=${dep%%:*}
	pkg=${dep#*:}
	mkdir -p "$JV_TMP/b-$mod"
	(cd "$JV_TMP/b-$mod" && JV_HIDE=$mod PKG_CONFIG="$JV_TMP/pkg-config" \
		"$top_srcdir/configure" >"$JV_TMP/out" 2>"$JV_TMP/err")
	rc=$?
	[ $rc -ne 0 ] || fail "configure succeeded without $mod"
	line=$(grep 'error:' "$JV_TMP/err")
	assert_match "error: missing dependency: $mod \\(pkg-config module '$mod' not found\\)\\. On Debian: apt-get install $pkg\$" \
		"$line" "without $mod: configure says so in one line, naming $pkg"
	assert_eq 1 "$(grep -c 'error:' "$JV_TMP/err")" "one error line for $mod"
done
jv_done

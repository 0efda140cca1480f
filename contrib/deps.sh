#!/bin/sh
# deps.sh -- install the Debian packages jobvisor needs to build and test,
# only those missing. Sourced or run by check.sh, quickstart.sh and bench.sh.
set -e
JV_DEB_PACKAGES="gcc make autoconf automake libtool pkg-config
 libpq-dev libyaml-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev libcunit1-dev libssl-dev
 postgresql postgresql-contrib pgbouncer valgrind procps python3 curl openssl tzdata man-db groff-base systemd
 clang libclang-rt-14-dev clang-tidy cppcheck bear
 chromium chromium-driver fonts-dejavu-core faketime prometheus
 dpkg-dev debhelper dh-autoreconf lintian fakeroot"
# node 20 or later and npm, for clients/typescript (check.sh's lane
# typescript): Debian's packages when there are none; a node already here
# (say from nodesource, whose nodejs carries npm) is kept.
command -v node >/dev/null 2>&1 || JV_DEB_PACKAGES="$JV_DEB_PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || JV_DEB_PACKAGES="$JV_DEB_PACKAGES npm"

missing=""
for p in $JV_DEB_PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		SUDO=sudo
	else
		SUDO=
	fi
	# Installing PostgreSQL must not create and start a system cluster:
	# jobvisor's scripts run private clusters of their own.
	case "$missing" in
	*postgresql*)
		if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
			$SUDO mkdir -p /etc/postgresql-common
			echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
		fi
		;;
	esac
	# Nor must installing PgBouncer start (or enable) a system service on
	# port 6432: the tests run private ones; nor Prometheus (wanted for
	# promtool only) one on port 9090. (policy-rc.d says "no" to starting
	# any service during this install; one there already is kept.)
	policy=
	case "$missing" in
	*pgbouncer* | *prometheus*)
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
			$SUDO chmod 0755 /usr/sbin/policy-rc.d
			policy=/usr/sbin/policy-rc.d
		fi
		;;
	esac
	$SUDO apt-get update -qq
	rc=0
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing || rc=$?
	if [ -n "$policy" ]; then
		$SUDO rm -f "$policy"
		! command -v systemctl >/dev/null 2>&1 || $SUDO systemctl disable --quiet pgbouncer 2>/dev/null || :
		! command -v systemctl >/dev/null 2>&1 || $SUDO systemctl disable --quiet prometheus 2>/dev/null || :
	fi
	[ "$rc" = 0 ] || exit "$rc"
fi

# contrib/deb.mk -- the Debian packages (debian/), included by the top
# Makefile.am. `make deb` builds jobvisor_*.deb and jobvisor-plugin-dev_*.deb
# into this build folder from a clean export of the tree (`make distdir`
# into a temporary folder): whatever else lies in the source tree (build
# folders, editor files) is never packaged. Options go to
# dpkg-buildpackage through JV_DEB_FLAGS (e.g. -j2) and DEB_BUILD_OPTIONS
# (e.g. nocheck noddebs) from the environment. contrib/check.sh's deb lane
# builds, checks, installs and purges them.

JV_DEBIAN_FILES = debian/changelog debian/control debian/copyright debian/rules \
	debian/source/format debian/jobvisor.install debian/jobvisor-plugin-dev.install \
	debian/jobvisor.postinst debian/jobvisor.postrm debian/jobvisor.env
EXTRA_DIST += $(JV_DEBIAN_FILES) contrib/deb-check.sh
CLEANFILES += jobvisor_*.deb jobvisor-plugin-dev_*.deb jobvisor*.ddeb \
	jobvisor_*.changes jobvisor_*.buildinfo
JV_DEB_FLAGS =

.PHONY: deb
deb:
	@command -v dpkg-buildpackage >/dev/null || { \
	  echo "make deb: dpkg-buildpackage not found (apt-get install dpkg-dev debhelper; contrib/deps.sh does)" >&2; exit 1; }
	@v=$$(dpkg-parsechangelog -l $(srcdir)/debian/changelog -S Version) && \
	if [ "$${v%-*}" != "$(PACKAGE_VERSION)" ]; then \
	  echo "make deb: debian/changelog is at $$v, configure.ac at $(PACKAGE_VERSION): add a changelog entry (dch -v $(PACKAGE_VERSION)-1)" >&2; exit 1; \
	fi
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/jobvisor-deb.XXXXXX") || exit 1; \
	trap 'rm -rf "$$tmp"' EXIT; \
	src="$$tmp/$(PACKAGE)-$(VERSION)"; \
	$(MAKE) $(AM_MAKEFLAGS) distdir distdir="$$src" >/dev/null && \
	rm -f jobvisor_*.deb jobvisor-plugin-dev_*.deb jobvisor*.ddeb jobvisor_*.changes jobvisor_*.buildinfo && \
	(cd "$$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b $(JV_DEB_FLAGS)) && \
	for f in "$$tmp"/*.deb "$$tmp"/*.ddeb "$$tmp"/*.changes "$$tmp"/*.buildinfo; do \
	  [ ! -e "$$f" ] || mv "$$f" . || exit 1; \
	done && \
	ls -1 jobvisor*.deb

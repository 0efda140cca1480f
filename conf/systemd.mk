# conf/systemd.mk -- systemd integration, included by the top Makefile.am:
# the notify protocol and root handling of `jobvisor serve`, the unit file
# (made from conf/jobvisor.service.in with the install paths), the
# sysusers.d entry for its account, and their integration test.

EXTRA_DIST += conf/jobvisor.service.in conf/sysusers.d/jobvisor.conf tests/servers/notifyd.py
CLEANFILES += conf/jobvisor.service

# Made at build time, not by configure: bindir and sysconfdir are only
# final once make has expanded ${prefix}.
conf/jobvisor.service: $(srcdir)/conf/jobvisor.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) conf && \
	sed -e 's|@bindir[@]|$(bindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/conf/jobvisor.service.in > $@.tmp && mv $@.tmp $@

if JV_SYSTEMD_UNIT
systemdsystemunit_DATA = conf/jobvisor.service
# PREFIX/lib/sysusers.d, as systemd lays it out (make sysusersdir=DIR moves it).
sysusersdir = $(prefix)/lib/sysusers.d
dist_sysusers_DATA = conf/sysusers.d/jobvisor.conf
else
noinst_DATA = conf/jobvisor.service
endif

TESTS += tests/it_systemd.sh
dist_check_SCRIPTS += tests/it_systemd.sh

# Where the unit and the sysusers.d entry go, for tests/it_systemd.sh.
.PHONY: jv-print-systemd-dirs
jv-print-systemd-dirs:
	@echo "systemdsystemunitdir=$(systemdsystemunitdir)"
	@echo "sysusersdir=$(sysusersdir)"

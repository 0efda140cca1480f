# man/man.mk -- the manual pages and the rest of the install layout,
# included by the top Makefile.am:
#   $(mandir)/man1/jobvisor.1, man5/jobvisor.yaml.5, man3/jobvisor-plugin.3
#   $(docdir)/examples/jobvisor.yaml       the shipped config, always current
#   $(sysconfdir)/jobvisor/jobvisor.yaml   the same, only when none is there
#   $(pkgdatadir)/sql/NNN_*.sql            the migrations, for a DBA to read
# and their tests (tests/it_man.sh, tests/it_install.sh).

# ---------------------------------------------------------------- man pages
# The pages name the installed paths (the -c default, the plugin folder),
# which are only final at make time, so each page is made from its .in.
JV_MAN_PAGES = man/jobvisor.1 man/jobvisor.yaml.5 man/jobvisor-plugin.3
nodist_man_MANS = $(JV_MAN_PAGES)
EXTRA_DIST += man/jobvisor.1.in man/jobvisor.yaml.5.in man/jobvisor-plugin.3.in
CLEANFILES += $(JV_MAN_PAGES) $(JV_MAN_PAGES:=.tmp)

# A path is set with a break point after each slash (\:) and no hyphen
# in any of its parts (\%; the .in files write their tails the same way),
# so that a long --prefix fits an 80 column terminal without a warning and
# still reads as the path it is.
jv_man_path = \\%$(subst /,/\\:\\%,$(1))
jv_man_subst = sed \
	-e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
	-e 's|@sysconfdir[@]|$(call jv_man_path,$(sysconfdir))|g' \
	-e 's|@plugindir[@]|$(call jv_man_path,$(plugindir))|g' \
	-e 's|@pkgdatadir[@]|$(call jv_man_path,$(pkgdatadir))|g' \
	-e 's|@docdir[@]|$(call jv_man_path,$(docdir))|g' \
	-e 's|@includedir[@]|$(call jv_man_path,$(includedir))|g' \
	-e 's|@libdir[@]|$(call jv_man_path,$(libdir))|g'

man/jobvisor.1: $(srcdir)/man/jobvisor.1.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(jv_man_subst) $(srcdir)/man/jobvisor.1.in > $@.tmp && mv $@.tmp $@
man/jobvisor.yaml.5: $(srcdir)/man/jobvisor.yaml.5.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(jv_man_subst) $(srcdir)/man/jobvisor.yaml.5.in > $@.tmp && mv $@.tmp $@
man/jobvisor-plugin.3: $(srcdir)/man/jobvisor-plugin.3.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(jv_man_subst) $(srcdir)/man/jobvisor-plugin.3.in > $@.tmp && mv $@.tmp $@

# ---------------------------------------------------------------- examples, migrations
jvexampledir = $(docdir)/examples
dist_jvexample_DATA = conf/jobvisor.yaml

# The binary applies them itself (`jobvisor migrate`); these are for reading.
jvsqldir = $(pkgdatadir)/sql
dist_jvsql_DATA = $(SQL_FILES)

# ---------------------------------------------------------------- the config
# $(sysconfdir)/jobvisor/jobvisor.yaml is the -c default (JV_SYSCONFDIR).
# It is the admin's file: installed only when there is none, and removed
# by uninstall only while it is still byte for byte the shipped one.
jv_conf_dir = $(DESTDIR)$(sysconfdir)/jobvisor
jv_conf = $(jv_conf_dir)/jobvisor.yaml

# Hooked in by prerequisite only, so another fragment may hook its own
# recipe on install-data-local and uninstall-local too.
install-data-local: jv-install-config
uninstall-local: jv-uninstall-config
.PHONY: jv-install-config jv-uninstall-config

jv-install-config:
	@if test -e "$(jv_conf)" || test -h "$(jv_conf)"; then \
	  echo "keeping $(jv_conf) (an existing config is never overwritten; the new one is in $(DESTDIR)$(jvexampledir))"; \
	else \
	  echo " $(MKDIR_P) '$(jv_conf_dir)'"; \
	  $(MKDIR_P) "$(jv_conf_dir)" || exit 1; \
	  echo " $(INSTALL_DATA) conf/jobvisor.yaml '$(jv_conf)'"; \
	  $(INSTALL_DATA) "$(srcdir)/conf/jobvisor.yaml" "$(jv_conf)" || exit 1; \
	fi

jv-uninstall-config:
	@if cmp -s "$(srcdir)/conf/jobvisor.yaml" "$(jv_conf)"; then \
	  echo " rm -f '$(jv_conf)'"; \
	  rm -f "$(jv_conf)"; \
	elif test -e "$(jv_conf)"; then \
	  echo "keeping $(jv_conf): it differs from the shipped config"; \
	fi

# ---------------------------------------------------------------- tests
TESTS += tests/it_man.sh tests/it_install.sh
dist_check_SCRIPTS += tests/it_man.sh tests/it_install.sh

# The installation folders, fully expanded, for tests/it_install.sh.
jv-print-dirs:
	@for v in 'prefix=$(prefix)' 'bindir=$(bindir)' 'sysconfdir=$(sysconfdir)' \
	  'docdir=$(docdir)' 'mandir=$(mandir)' 'includedir=$(includedir)' 'libdir=$(libdir)' \
	  'plugindir=$(plugindir)' 'pkgdatadir=$(pkgdatadir)' 'version=$(PACKAGE_VERSION)' \
	  'sql_files=$(SQL_FILES)' 'plugins=$(plugin_LTLIBRARIES)'; do echo "$$v"; done
.PHONY: jv-print-dirs

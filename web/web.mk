# web/web.mk -- the dashboard, included by the top Makefile.am: its files
# embedded in the binary at build time, and its browser test.

WEB_FILES = web/index.html web/app.js web/app.css
EXTRA_DIST += $(WEB_FILES) web/embed.sh web/README.md

core/api/web_assets.c: $(addprefix $(srcdir)/,$(WEB_FILES)) $(srcdir)/web/embed.sh
	$(AM_V_GEN)$(MKDIR_P) core/api && \
	$(SHELL) $(srcdir)/web/embed.sh $(addprefix $(srcdir)/,$(WEB_FILES)) > $@.tmp && mv $@.tmp $@
nodist_libjvcore_la_SOURCES += core/api/web_assets.c
BUILT_SOURCES += core/api/web_assets.c
CLEANFILES += core/api/web_assets.c core/api/web_assets.c.tmp

# Debian's chromium, driven through chromedriver's WebDriver protocol by a
# small Python script (standard library only).
TESTS += tests/it_dashboard.sh
dist_check_SCRIPTS += tests/it_dashboard.sh
EXTRA_DIST += tests/dashboard.py

clean-local: clean-dashboard-out
clean-dashboard-out:
	-rm -rf tests/it_dashboard.out
.PHONY: clean-dashboard-out

# Static analysis (contrib/lint.sh): shipped, since check.sh calls it, and
# `make lint` runs it on this build tree.
EXTRA_DIST += .clang-tidy contrib/lint.sh contrib/cppcheck.supp

.PHONY: lint
lint: all
	$(SHELL) $(srcdir)/contrib/lint.sh $(abs_top_builddir)

# core/config/config.mk -- YAML to a typed configuration, and what it
# implies for the process (its file descriptor budget). Above lib.
libjvcore_la_SOURCES += \
	core/config/config.c core/config/config.h \
	core/config/fdlimit.c core/config/fdlimit.h

# core/plugin/plugin.mk -- loading plugins (.so) from the plugin folder and
# the host table they are given. Above config.
libjvcore_la_SOURCES += \
	core/plugin/loader.c core/plugin/loader.h \
	core/plugin/host.c core/plugin/host.h

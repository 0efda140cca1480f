# core/alert/alert.mk -- alert events, their text, and the alerter thread
# that watches the database and sends to the sinks. Above sched.
libjvcore_la_SOURCES += \
	core/alert/alert.c core/alert/alert.h \
	core/alert/alerter.c

# core/cli/cli.mk -- the commands (one file each) and main(). The top room.
libjvcore_la_SOURCES += \
	core/cli/cli.h \
	core/cli/serve.c \
	core/cli/common.c \
	core/cli/migrate.c \
	core/cli/enqueue.c \
	core/cli/enqueue_file.c \
	core/cli/workflow.c \
	core/cli/status.c \
	core/cli/check_config.c \
	core/cli/test_alert.c \
	core/cli/schedules.c \
	core/cli/queues.c

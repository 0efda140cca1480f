# core/engine/engine.mk -- the serve loop, its worker processes and their
# protocol, the engine's SQL calls (store), the schema's migrations and
# settling the process's privileges. Above api.
libjvcore_la_SOURCES += \
	core/engine/serve.c core/engine/serve.h core/engine/serve_int.h \
	core/engine/loop.c core/engine/chan.c core/engine/link.c \
	core/engine/claim.c core/engine/flow.c core/engine/dispatch.c core/engine/complete.c \
	core/engine/fence.c core/engine/control.c core/engine/progress.c core/engine/deps.c \
	core/engine/attempt.c core/engine/attempt.h \
	core/engine/worker.c core/engine/worker.h \
	core/engine/proto.c core/engine/proto.h \
	core/engine/store.c core/engine/store.h \
	core/engine/migrate.c core/engine/migrate.h \
	core/engine/privs.c core/engine/privs.h

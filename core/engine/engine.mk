# core/engine/engine.mk -- the serve loop, its worker processes and their
# protocol, the engine's SQL calls (store), the schema's migrations and
# settling the process's privileges. Above api.
libjvcore_la_SOURCES += \
	core/engine/serve.c core/engine/serve.h \
	core/engine/worker.c core/engine/worker.h \
	core/engine/proto.c core/engine/proto.h \
	core/engine/store.c core/engine/store.h \
	core/engine/migrate.c core/engine/migrate.h \
	core/engine/privs.c core/engine/privs.h

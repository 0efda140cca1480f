/*
 * fdlimit.h -- the file descriptors of `jobvisor serve`: how many its
 * configuration keeps for itself, raising the soft RLIMIT_NOFILE to fit,
 * and what is left for the API's connections.
 *
 * Every descriptor serve has comes from one budget, RLIMIT_NOFILE. The
 * API's connections are the only part that outsiders decide, so they get
 * what the rest leaves: a worker that cannot be started because idle HTTP
 * clients hold every descriptor costs a job, an idle connection refused
 * costs nothing. The reserve, per configuration:
 *
 *   JV_FD_BASE                    stdio, the signalfd and eventfds, the
 *                                 engine's two database connections, the
 *                                 scheduler's and the alert watcher's,
 *                                 the listening socket, the log, the
 *                                 libraries' own
 *   + JV_FD_PER_JOB per processor.max_concurrent_jobs
 *                                 a worker's socket, or a job run in a
 *                                 thread (its pipes, its sockets)
 *   + JV_FD_PER_EXECUTOR per executor instance
 *                                 the plugin's own (a pool of database
 *                                 connections, a connection cache)
 *   + JV_FD_PER_SINK per alert sink
 *   + api.db_connections + 1 (the audit writer) + 2 per api.threads (its epoll
 *                                 set and wake-up)
 */
#ifndef JV_FDLIMIT_H
#define JV_FDLIMIT_H

#include <stddef.h>
#include <sys/resource.h>

struct jv_config;

#define JV_FD_BASE 64
#define JV_FD_PER_JOB 8
#define JV_FD_PER_EXECUTOR 16
#define JV_FD_PER_SINK 4
/* The API's connection cap when api.max_connections is not set, and the
 * least it may be. */
#define JV_API_MAX_CONNECTIONS 1024
#define JV_API_MIN_CONNECTIONS 16

/* Descriptors cfg keeps beside the API's connections (see above). */
long jv_fd_reserve(const struct jv_config *cfg);

/* What cfg would like as the descriptor limit: the reserve, plus the API's
 * connections (api.max_connections, or JV_API_MAX_CONNECTIONS) when it has
 * an api: section. */
long jv_fd_wanted(const struct jv_config *cfg);

/*
 * The API's connection cap under a limit of nofile descriptors:
 * api.max_connections when set, else JV_API_MAX_CONNECTIONS or what the
 * reserve leaves, whichever is less. Returns -1 with a one-line reason in
 * err when that is below JV_API_MIN_CONNECTIONS, or below the explicit
 * api.max_connections.
 */
long jv_fd_api_cap(const struct jv_config *cfg, long nofile, char *err, size_t errlen);

/* The soft RLIMIT_NOFILE now (a large value when unlimited). */
long jv_fd_limit(void);

/*
 * Raise the soft RLIMIT_NOFILE to jv_fd_wanted(cfg), within the hard limit;
 * never lowers it. *before gets the limits found, for the worker processes
 * to go back to (programs that jobs start expect the usual soft limit).
 * Returns the soft limit now.
 */
long jv_fd_raise(const struct jv_config *cfg, struct rlimit *before);

#endif

/* fdlimit.c -- the descriptor budget of `jobvisor serve` (fdlimit.h). */
#include "config/fdlimit.h"

#include "config/config.h"

#include <limits.h>
#include <stdio.h>

long jv_fd_reserve(const struct jv_config *cfg)
{
	long n = JV_FD_BASE;
	n += (long)JV_FD_PER_JOB * cfg->processor.max_concurrent_jobs;
	n += (long)JV_FD_PER_EXECUTOR * (long)cfg->n_executors;
	n += (long)JV_FD_PER_SINK * (long)cfg->n_alerts;
	if (cfg->api.enabled)
		n += cfg->api.db_connections + 1 + 2L * cfg->api.threads; /* (+1: the audit writer) */
	return n;
}

long jv_fd_wanted(const struct jv_config *cfg)
{
	long n = jv_fd_reserve(cfg);
	if (cfg->api.enabled)
		n += cfg->api.max_connections > 0 ? cfg->api.max_connections
						  : JV_API_MAX_CONNECTIONS;
	return n;
}

long jv_fd_api_cap(const struct jv_config *cfg, long nofile, char *err, size_t errlen)
{
	long reserve = jv_fd_reserve(cfg);
	long left = nofile - reserve;
	long want = cfg->api.max_connections;
	if (want > 0 && want > left) {
		snprintf(err, errlen,
			 "api.max_connections %ld does not fit: the descriptor limit (RLIMIT_NOFILE) "
			 "is %ld and %ld are kept for workers, database connections and plugins; "
			 "raise the limit (LimitNOFILE= in the unit, ulimit -n) or lower "
			 "api.max_connections",
			 want, nofile, reserve);
		return -1;
	}
	if (want > 0)
		return want;
	if (left < JV_API_MIN_CONNECTIONS) {
		snprintf(err, errlen,
			 "the descriptor limit (RLIMIT_NOFILE) is %ld: %ld are kept for workers, "
			 "database connections and plugins, which leaves the API fewer than %d "
			 "connections; raise the limit (LimitNOFILE= in the unit, ulimit -n) or "
			 "lower processor.max_concurrent_jobs",
			 nofile, reserve, JV_API_MIN_CONNECTIONS);
		return -1;
	}
	return left < JV_API_MAX_CONNECTIONS ? left : JV_API_MAX_CONNECTIONS;
}

static long as_long(rlim_t v)
{
	return v == RLIM_INFINITY || v > (rlim_t)LONG_MAX ? LONG_MAX : (long)v;
}

long jv_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	return as_long(rl.rlim_cur);
}

long jv_fd_raise(const struct jv_config *cfg, struct rlimit *before)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		before->rlim_cur = before->rlim_max = 1024;
		return 1024;
	}
	*before = rl;
	rlim_t want = (rlim_t)jv_fd_wanted(cfg);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		int room = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want;
		rl.rlim_cur = room ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = before->rlim_cur;
	}
	return as_long(rl.rlim_cur);
}

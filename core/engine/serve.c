/*
 * serve.c -- `jobvisor serve`: start-up, reload and shutdown.
 *
 * One thread owns everything here: two database connections, the worker
 * pool and the signals. It sleeps in poll() on the signalfd, both database
 * sockets, every worker's socket and the thread pool's eventfd.
 *
 * The database work is asynchronous, on two connections, so it never stalls
 * the loop and runs on two PostgreSQL backends at once:
 *   - the claim connection LISTENs on jobvisor_jobs and has at most one
 *     claim in flight; a claim is sent when there are free slots and reason
 *     to think work is due (a notification, a full last batch, the next due
 *     time the last claim reported, a completion that freed a user's slot,
 *     or the poll interval as a fallback). A burst of notifications costs
 *     one claim, not one per insert.
 *   - the completion connection has at most one completion in flight,
 *     carrying every attempt that finished since the last one was sent; the
 *     longer a round trip takes, the bigger the next batch. Heartbeat and
 *     rescue run on it between completions.
 *
 * max_concurrent_jobs + prefetch bounds what the database shows running for
 * this processor: jobs executing, jobs claimed ahead and waiting for a slot
 * (prefetch, 0 by default), and finished ones not yet recorded. With
 * batch_size below that, one batch is recorded while the next is claimed and
 * run, on the two connections at once.
 *
 * With database.pooler: transaction the two connections go through the
 * pooler and use no session state; LISTEN then runs on a third connection
 * to database.listen_url, or, without one, new jobs are found by polling and
 * cancel and pause requests by control_poll() every poll interval.
 *
 * Nothing here waits on the network: connecting (PQconnectStartParams,
 * PQconnectPoll) and every query are asynchronous, on connections in
 * non-blocking mode, and every query has a deadline (answer_deadline_ms): an
 * answer overdue counts as a lost connection, as does a connect that does
 * not finish in time. The database going away stops claiming, never
 * running: jobs in flight go on, their results wait in memory, and the loop
 * reconnects (backoff with jitter, from a few hundred ms up to
 * JV_RECONNECT_MAX_MS) and catches up; a completion that was in flight is
 * sent again (fencing makes a repeat harmless).
 *
 * Self-fencing (fence_check): a processor whose heartbeat has not been
 * confirmed for the rescue horizon minus a margin stops its running jobs
 * before any other processor may rescue them, and claims nothing until a
 * heartbeat is confirmed again. See README, "How serve works".
 *
 * The parts of the loop live in the files serve_int.h lists.
 */
#include "autoconf.h"

#include "alert/alert.h"
#include "api/api.h"
#include "api/bridge.h"
#include "api/tls.h"
#include "config/config.h"
#include "config/fdlimit.h"
#include "engine/migrate.h"
#include "engine/privs.h"
#include "engine/serve.h"
#include "engine/serve_int.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/notify.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "sched/scheduler.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

static enum jv_level level_of(const char *s)
{
	if (!s)
		return JV_INFO;
	if (!strcmp(s, "error"))
		return JV_ERROR;
	if (!strcmp(s, "warning"))
		return JV_WARNING;
	if (!strcmp(s, "debug"))
		return JV_DEBUG;
	return JV_INFO;
}

static void apply_log_config(const struct jv_config *cfg)
{
	jv_log_setup(level_of(cfg->log.level),
		     cfg->log.format && !strcmp(cfg->log.format, "json") ? JV_LOG_JSON : JV_LOG_TEXT);
}

/* The text[] literal of the configured job types, for the claim. */
static char *types_literal(const struct jv_config *cfg)
{
	struct jv_buf b = {0};
	jv_buf_puts(&b, "{");
	for (size_t i = 0; i < cfg->n_executors; i++) {
		if (i)
			jv_buf_puts(&b, ",");
		jv_buf_puts(&b, "\"");
		for (const char *p = cfg->executors[i].name; *p; p++) {
			if (*p == '"' || *p == '\\')
				jv_buf_puts(&b, "\\");
			jv_buf_append(&b, p, 1);
		}
		jv_buf_puts(&b, "\"");
	}
	jv_buf_puts(&b, "}");
	return jv_buf_steal(&b);
}

/* Load config, plugins and instances from path, and the API's TLS pair
 * (NULL without TLS or API): read and checked once, here, and the API
 * serves this very pair (services_start), so a file replaced between the
 * check and the start cannot slip in unchecked. On error logs it and
 * returns non-zero, leaving the outputs untouched. */
static int load_all(const char *path, struct jv_config **cfgp, struct jv_plugins **plugp,
		    struct jv_runtime **rtp, struct jv_api_tls **tlsp)
{
	char err[1024];
	struct jv_config *cfg;
	if (jv_config_load(path, &cfg, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		return JV_ECONFIG;
	}
	/* Before any plugin, worker or thread: what the config reads from the
	 * environment leaves it (at a reload this only warns). */
	jv_config_env_seal(cfg);
	/* A certificate or key that would not do refuses the start, or the
	 * reload: the running API keeps its pair. */
	struct jv_api_tls *tls = NULL;
	if (cfg->api.enabled && jv_api_tls_load(cfg, &tls, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		jv_config_free(cfg);
		return JV_ECONFIG;
	}
	struct jv_plugins *plugins;
	if (jv_plugins_load_dir(cfg->plugins.dir, &plugins, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		jv_api_tls_free(tls);
		jv_config_free(cfg);
		return JV_EPLUGIN;
	}
	struct jv_runtime *rt;
	if (jv_runtime_create(cfg, plugins, &rt, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		jv_plugins_free(plugins);
		jv_api_tls_free(tls);
		jv_config_free(cfg);
		return JV_ECONFIG;
	}
	*cfgp = cfg;
	*plugp = plugins;
	*rtp = rt;
	*tlsp = tls;
	return 0;
}

static int any_thread_executor(const struct jv_config *cfg)
{
	for (size_t i = 0; i < cfg->n_executors; i++)
		if (cfg->executors[i].isolation == JV_ISOLATION_THREAD)
			return 1;
	return 0;
}

/* The thread pool's size for `isolation: thread` executors. */
int sv_thread_count(const struct jv_config *cfg)
{
	int n = cfg->processor.threads;
	if (n <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		n = (int)(cores > 0 ? cores : 1) * 4;
	}
	return n < cfg->processor.max_concurrent_jobs ? n : cfg->processor.max_concurrent_jobs;
}

/* Worker processes are needed only for executors that run in them. */
static int process_workers(const struct jv_config *cfg)
{
	for (size_t i = 0; i < cfg->n_executors; i++)
		if (cfg->executors[i].isolation == JV_ISOLATION_PROCESS)
			return cfg->processor.max_concurrent_jobs;
	return 0;
}

/* In each new worker process: let go of what belongs to the supervisor. */
static void child_setup(void *arg)
{
	struct serve *s = arg;
	if (s->lc.conn && PQsocket(s->lc.conn) >= 0)
		close(PQsocket(s->lc.conn));
	if (s->cc.conn && PQsocket(s->cc.conn) >= 0)
		close(PQsocket(s->cc.conn));
	if (s->nc.conn && PQsocket(s->nc.conn) >= 0)
		close(PQsocket(s->nc.conn));
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tp)
		close(jv_tpool_fd(s->tp));
	for (const struct old_gen *g = s->old; g; g = g->next)
		close(jv_tpool_fd(g->tp));
	/* The descriptor limit serve found: what serve raised it to is for its
	 * own connections, and the programs jobs start expect the usual one. */
	setrlimit(RLIMIT_NOFILE, &s->nofile_before);
}

/* Wait for its threads (their results into s->done, for the caller's
 * sv_finished()), then free the generation. */
void sv_old_gen_free(struct old_gen *g, struct serve *s)
{
	jv_tpool_free(g->tp, &s->done);
	jv_runtime_free(g->rt);
	jv_plugins_free(g->plugins);
	jv_config_free(g->cfg);
	free(g);
}

/* At shutdown: every old generation, after its running jobs (told to stop
 * first when cancel). */
static void old_gens_free(struct serve *s, int cancel)
{
	while (s->old) {
		struct old_gen *g = s->old;
		s->old = g->next;
		if (cancel)
			jv_tpool_cancel_all(g->tp);
		sv_old_gen_free(g, s);
	}
}

/* At exit, once everything is recorded: the processor row says stopped. */
static void send_stopped(struct serve *s, uint64_t now)
{
	char err[512];
	if (jv_store_stopped_send(s->cc.conn, s->id, err, sizeof err) != 0) {
		if (!sv_check_lost(s, s->cc.conn, "marking the processor stopped", err))
			jv_log(JV_ERROR, "could not mark processor stopped: %s", err);
		return;
	}
	s->drain.stop_sent = 1; /* (a heartbeat after it would say running again) */
	sv_chan_sent(s, &s->cc, Q_STOPPED, now);
}

/*
 * Raise the soft descriptor limit to what the configuration wants (its
 * reserve for workers, database connections and plugins, plus the API's
 * connections; fdlimit.h), within the hard limit, and say how it stands.
 * The API takes what the reserve leaves (jv_api_start). At start, the limit
 * found is kept for the worker processes (child_setup).
 */
static void check_descriptors(struct serve *s, int at_start)
{
	struct rlimit found;
	long now = jv_fd_raise(s->cfg, &found);
	if (at_start)
		s->nofile_before = found;
	long reserve = jv_fd_reserve(s->cfg);
	if (now < reserve)
		jv_log(JV_WARNING,
		       "the descriptor limit (RLIMIT_NOFILE) is %ld, below the %ld this "
		       "configuration keeps for workers, database connections and plugins: "
		       "workers may fail to start (jobs then wait); raise it (LimitNOFILE= in "
		       "the unit, ulimit -n) or lower processor.max_concurrent_jobs",
		       now, reserve);
	else if (found.rlim_cur != RLIM_INFINITY && now > (long)found.rlim_cur)
		jv_log(JV_INFO, "descriptor limit raised from %ld to %ld (%ld kept for workers, "
		       "database connections and plugins)", (long)found.rlim_cur, now, reserve);
	else
		jv_debug("descriptor limit %ld (%ld kept for workers, database connections and "
			 "plugins)", now, reserve);
}

/* Take cfg, plugins and rt as the running configuration (what ran before
 * is the caller's to keep or free): the job types to claim, the log's
 * set-up, the limits the API may retune. */
static void gen_adopt(struct serve *s, struct jv_config *cfg, struct jv_plugins *plugins,
		      struct jv_runtime *rt)
{
	free(s->types);
	s->cfg = cfg;
	s->plugins = plugins;
	s->rt = rt;
	s->types = types_literal(cfg);
	sv_flow_adopt(s);
	apply_log_config(cfg);
	s->tune.batch_size = cfg->processor.batch_size;
	s->tune.max_concurrent = cfg->processor.max_concurrent_jobs;
	s->tune.prefetch = cfg->processor.prefetch;
}

/* The worker processes for the running configuration: as many as it wants,
 * started now (those of a configuration replaced finish their job first).
 * Returns the number running. */
static int workers_start(struct serve *s)
{
	jv_pool_resize(&s->pool, process_workers(s->cfg));
	s->pool.rt = s->rt;
	s->pool.max_jobs = s->cfg->processor.worker_max_jobs;
	return jv_pool_fill(&s->pool);
}

/*
 * What runs in threads for the running configuration: the API, the thread
 * pool for `isolation: thread`, alert delivery, the scheduler. Only after
 * workers_start(): a fork copies a lock another thread holds, and a worker
 * could then hang on it for good (glibc's malloc guards itself across fork;
 * not every allocator does, ASan's does not). The API first: at start-up
 * an API that cannot start is fatal (JV_ECONFIG, nothing else started
 * here); at a reload it stays off until the next one. listen_fd: the
 * API's listening socket kept across a reload, or -1.
 */
static int services_start(struct serve *s, int at_start, int listen_fd)
{
	struct jv_api_tls *tls = s->tls;
	s->tls = NULL;
	if (s->cfg->api.enabled) {
		char err[1024];
		s->api = jv_api_start_on(s->cfg, s->bridge, listen_fd, tls, err, sizeof err);
		if (!s->api && at_start) {
			jv_log(JV_ERROR, "%s", err);
			return JV_ECONFIG;
		}
		if (!s->api)
			jv_log(JV_ERROR, "%s; the API stays off until the next reload", err);
	} else {
		jv_api_tls_free(tls);
	}
	if (any_thread_executor(s->cfg))
		s->tp = jv_tpool_new(s->rt, sv_thread_count(s->cfg));
	s->alerter = jv_alerter_start(s->cfg, s->rt, s->id, s->label);
	s->sched = jv_scheduler_start(s->cfg, s->id);
	return 0;
}

/* The API and the scheduler stop (both read the configuration). The thread
 * pool and the alerter are the caller's: a reload lets thread jobs finish
 * on the old configuration and gives the alerter a second, shutdown five. */
static void services_stop(struct serve *s)
{
	jv_api_stop(s->api); /* (it answered 503 to health while draining) */
	s->api = NULL;
	jv_scheduler_stop(s->sched);
	s->sched = NULL;
}

/* At a reload: the thread pool takes no more jobs (those queued go back to
 * pending via the completion). Running ones finish on the old instances, in
 * the background: returns the generation that keeps them (to be filled in
 * with the old configuration), or NULL when none runs. */
static struct old_gen *threads_retire(struct serve *s)
{
	if (!s->tp)
		return NULL;
	struct old_gen *g = NULL;
	size_t from = s->done.n;
	jv_tpool_stop(s->tp, &s->done);
	sv_finished(s, from);
	if (jv_tpool_inflight(s->tp) > 0) {
		g = jv_calloc(1, sizeof *g);
		g->tp = s->tp;
		jv_log(JV_INFO, "%d thread jobs finish under the previous configuration",
		       jv_tpool_inflight(s->tp));
	} else {
		from = s->done.n;
		jv_tpool_free(s->tp, &s->done);
		sv_finished(s, from);
	}
	s->tp = NULL;
	return g;
}

/* At a reload: worker processes of the old configuration finish their job,
 * then make room for new ones; idle ones go at once. */
static void workers_retire(struct serve *s)
{
	for (int i = 0; i < s->pool.n; i++)
		s->pool.w[i].retire = 1;
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].pid > 0 && !s->pool.w[i].busy) {
			size_t from = s->done.n;
			jv_pool_kill(&s->pool, i, JV_OUTCOME_RELEASED, &s->done);
			sv_finished(s, from);
		}
}

static int db_settings_differ(const struct jv_config *a, const struct jv_config *b)
{
	return strcmp(a->database.url, b->database.url) != 0 ||
	       a->database.pooler != b->database.pooler ||
	       strcmp(a->database.listen_url ? a->database.listen_url : "",
		      b->database.listen_url ? b->database.listen_url : "") != 0;
}

/* SIGHUP: the configuration at config_path replaces the running one, or is
 * refused (logged) and the running one stays. Jobs go on running. */
void sv_reload(struct serve *s)
{
	struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_runtime *rt;
	struct jv_api_tls *tls;
	jv_log(JV_INFO, "SIGHUP: reloading %s", s->config_path);
	if (load_all(s->config_path, &cfg, &plugins, &rt, &tls) != 0) {
		jv_log(JV_ERROR, "reload refused; the running configuration stays");
		return;
	}
	struct old_gen *g = threads_retire(s);
	int db_changed = db_settings_differ(cfg, s->cfg);
	workers_retire(s);
	/* The alerter uses the old sinks: deliver what it can, then swap. The
	 * API reads the old config: it stops too, and starts again below (with
	 * the certificate and key load_all just read and checked) -- on the
	 * same listening socket when api.listen stays: the port never closes,
	 * nobody else can take it, and connections made meanwhile wait in its
	 * backlog. */
	jv_alerter_stop(s->alerter, 1000);
	s->alerter = NULL;
	int listen_fd = -1;
	if (s->api && cfg->api.enabled && !strcmp(cfg->api.listen, s->cfg->api.listen)) {
		listen_fd = jv_api_stop_keep_listen(s->api);
		s->api = NULL;
	}
	services_stop(s);
	if (g) {
		g->rt = s->rt;
		g->plugins = s->plugins;
		g->cfg = s->cfg;
		g->next = s->old;
		s->old = g;
	} else {
		jv_runtime_free(s->rt);
		jv_plugins_free(s->plugins);
		jv_config_free(s->cfg);
	}
	gen_adopt(s, cfg, plugins, rt);
	s->tls = tls;
	check_descriptors(s, 0);
	workers_start(s);
	services_start(s, 0, listen_fd);
	if (db_changed) {
		/* As after a lost connection: what was in flight is sent again,
		 * release_unheld() runs on the new connections. */
		jv_log(JV_INFO, "database settings changed: reconnecting");
		sv_link_reset(s);
		s->lc.first_host = s->cc.first_host = s->nc.first_host = 0;
		sv_listen_mode(s);
	}
	s->claim.want = 1;
	jv_log(JV_INFO, "reloaded: %zu executors, max_concurrent_jobs %d, batch_size %d",
	       cfg->n_executors, cfg->processor.max_concurrent_jobs, cfg->processor.batch_size);
}

/* Root or not (privs.h), once the config and plugins are loaded and
 * before anything connects or forks. */
static int settle_privileges(struct serve *s)
{
	char err[512];
	if (jv_privs_settle(s->cfg, err, sizeof err) == 0)
		return 0;
	jv_log(JV_ERROR, "%s", err);
	jv_api_tls_free(s->tls);
	jv_runtime_free(s->rt);
	jv_plugins_free(s->plugins);
	jv_config_free(s->cfg);
	free(s->types);
	sv_flow_free(s);
	return JV_ESTATE;
}

/* At the end of the grace period, tell what still runs in worker processes
 * to stop (as at a deadline: their executors may kill what they started),
 * and cancel in-process runs; release_all() follows JV_KILL_GRACE_MS later. */
static void release_begin(struct serve *s)
{
	jv_pool_release_begin(&s->pool);
	if (s->tp)
		jv_tpool_cancel_all(s->tp);
	for (const struct old_gen *g = s->old; g; g = g->next)
		jv_tpool_cancel_all(g->tp);
	s->drain.state = DRAIN_RELEASING;
}

/* Kill what still runs after that; it goes back to pending without counting
 * the attempt. */
static void release_all(struct serve *s)
{
	for (int i = 0; i < s->pool.n; i++)
		if (s->pool.w[i].busy) {
			size_t from = s->done.n;
			jv_pool_kill(&s->pool, i, JV_OUTCOME_RELEASED, &s->done);
			sv_finished(s, from);
		}
	if (s->tp) {
		jv_tpool_cancel_all(s->tp);
		jv_tpool_free(s->tp, &s->done);
		s->tp = NULL;
	}
	old_gens_free(s, 1);
	s->inflight = 0;
	s->drain.state = DRAIN_RELEASED;
}

/*
 * Stopping (SIGTERM/SIGINT): running jobs get the grace period, then are
 * told to stop and, JV_KILL_GRACE_MS later, released. Once nothing runs,
 * what finished is recorded and the processor row marked stopped, all
 * through the loop (the database's answers do not hold up anything else);
 * with the database away, that is tried for 10 s more. Returns 1 when the
 * loop is done.
 */
int sv_drain_step(struct serve *s, uint64_t now)
{
	if (s->inflight > 0 && now >= s->drain.deadline && s->drain.state < DRAIN_RELEASING) {
		jv_log(JV_WARNING, "grace period over: stopping %d running jobs", s->inflight);
		release_begin(s);
	}
	if (s->inflight > 0 && s->drain.state == DRAIN_RELEASING &&
	    now >= s->drain.deadline + JV_KILL_GRACE_MS) {
		jv_log(JV_WARNING, "releasing %d running jobs", s->inflight);
		release_all(s);
	}
	if (s->inflight > 0 || s->claim.n_queued > 0)
		return 0;
	if (!s->drain.exit_deadline) {
		uint64_t at = s->drain.deadline + 10000;
		s->drain.exit_deadline = at > now + 10000 ? at : now + 10000;
	}
	if (s->drain.stopped_recorded)
		return 1;
	if (now >= s->drain.exit_deadline)
		return 1; /* finish() says what is left */
	if (sv_connected(s) && !s->link.recovering && s->done.n == 0 && s->cc.q == Q_NONE &&
	    s->lc.q == Q_NONE && (!sv_uses_nc(s) || s->nc.q == Q_NONE) && now >= s->drain.stop_retry_at)
		send_stopped(s, now);
	return 0;
}

/* At exit: say what could not be recorded (it will be rescued). */
static int finish(struct serve *s)
{
	sv_requeue_batch(s);
	if (s->done.n > 0) {
		jv_log(JV_ERROR,
		       "could not record %zu finished jobs before exit (%s); they will be rescued",
		       s->done.n, s->link.why[0] ? s->link.why : "no answer in time");
		return JV_EDB;
	}
	if (!s->drain.stopped_recorded) {
		jv_log(JV_ERROR, "could not mark processor stopped (%s)",
		       s->link.why[0] ? s->link.why : "no answer in time");
		return JV_EDB;
	}
	return 0;
}

/* Not dumpable: jobs run as our account, and one could otherwise attach to
 * us or a worker (ptrace, /proc/PID/mem, environ, maps) and read the parsed
 * config with its secrets. Workers inherit it across fork(); a job's own
 * program is dumpable again after its exec. (The kernel already does this
 * when we switched to `user:`; under systemd's User= we are exec'ed as that
 * account and must ask.) */
static void make_undumpable(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		jv_log(JV_WARNING, "cannot make the process non-dumpable: %s; a job of the same "
		       "account could read this process's memory", strerror(errno));
}

/* Signals arrive through a signalfd; blocked before any thread. */
static void signals_setup(struct serve *s)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Under a file size limit (RLIMIT_FSIZE, systemd's LimitFSIZE=) a log
	 * line past the limit would kill the supervisor with SIGXFSZ; ignored,
	 * the write fails with EFBIG and the line is lost, like on a full disk. */
	signal(SIGXFSZ, SIG_IGN);
	s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Connect (waiting: nothing runs yet), check the schema and register the
 * processor. Returns 0 or JV_EXIT_USER (logged). */
static int db_register(struct serve *s)
{
	char err[1024];
	s->lc.name = "claim";
	s->cc.name = "completion";
	s->nc.name = "listen";
	if (sv_db_open(s, err, sizeof err) != 0 || jv_schema_check(s->cc.conn, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "%s", err);
		return JV_EXIT_USER;
	}
	/* Registering is the first heartbeat: its row's heartbeat_at is its
	 * transaction's start, after this. */
	s->hb.confirmed_sent = jv_now_ms();
	s->hb.declared_stuck_ms = s->cfg->processor.stuck_job_timeout_ms;
	if (jv_store_register(s->cc.conn, s->cfg->processor.name, s->hostname, (int)getpid(),
			      PACKAGE_VERSION, s->hb.declared_stuck_ms, &s->id, err, sizeof err) != 0) {
		jv_log(JV_ERROR, "could not register the processor: %s (hint: run `jobvisor migrate`)",
		       err);
		return JV_EXIT_USER;
	}
	/* The limits of the queues this config names hold for every
	 * processor: stored before the first claim (and after a reload, on
	 * the next heartbeat). */
	if (s->flow.sync) {
		const char *params[] = {s->flow.sync};
		if (jv_db_exec(s->cc.conn, "SELECT jobvisor.sync_queues($1::jsonb)", 1, params, err,
			       sizeof err) != 0) {
			jv_log(JV_ERROR, "could not store the queues of the config: %s", err);
			return JV_EXIT_USER;
		}
		s->flow.sync_due = 0;
	}
	s->label = jv_asprintf("%s (id %" PRId64 ", host %s, pid %d)", s->cfg->processor.name,
			       s->id, s->hostname, (int)getpid());
	s->started_unix_ms = jv_unix_ms();
	s->hb.last_unix_ms = s->started_unix_ms; /* registering was the first */
	s->started_mono_ms = s->hb.last_mono_ms = jv_now_ms();
	return 0;
}

/* Start-up, once the configuration is loaded and the process settled:
 * register, fork the workers, start the threads (services_start), say so.
 * Returns JV_EXIT_OK, or the exit status (logged). */
static int serve_start(struct serve *s)
{
	int status = db_register(s);
	if (status != 0)
		return status;
	s->bridge = jv_bridge_new();
	if (!s->bridge) {
		jv_log(JV_ERROR, "cannot make an eventfd: %s", strerror(errno));
		return JV_EXIT_INTERNAL;
	}
	sv_publish(s);
	/* The workers are forked before any thread exists (services_start). */
	jv_pool_init(&s->pool, s->rt, process_workers(s->cfg), s->cfg->processor.worker_max_jobs,
		     child_setup, s);
	s->pool.on_progress = sv_progress_note;
	s->pool.on_deps_ask = sv_deps_ask;
	s->pool.cb_arg = s;
	int started = workers_start(s);
	if (services_start(s, 1, -1) != 0) {
		char err[512];
		jv_pool_shutdown(&s->pool, 1000);
		if (jv_store_stopped(s->cc.conn, s->id, err, sizeof err) != 0)
			jv_log(JV_ERROR, "could not mark processor stopped: %s", err);
		return JV_EXIT_USER;
	}
	jv_log(JV_INFO,
	       "processor %" PRId64 " (%s on %s, pid %d) started: %zu executors, %d workers, "
	       "batch %d, max %d concurrent, %d per user",
	       s->id, s->cfg->processor.name, s->hostname, (int)getpid(), s->cfg->n_executors,
	       started, s->cfg->processor.batch_size, s->cfg->processor.max_concurrent_jobs,
	       s->cfg->processor.per_user_limit);
	char dbhost[300], lhost[300];
	jv_log(JV_INFO, "database: %s%s%s, pooler %s", sv_chan_host(&s->cc, dbhost, sizeof dbhost),
	       sv_uses_nc(s) ? "; LISTEN on " : "",
	       sv_uses_nc(s) ? sv_chan_host(&s->nc, lhost, sizeof lhost) : "",
	       s->cfg->database.pooler == JV_POOLER_TRANSACTION ? "transaction" : "none");
	sv_db_nonblocking(s);
	sv_listen_mode(s);
	struct jv_event ev = {.kind = JV_EV_PROCESSOR_STARTED, .subject = s->label};
	jv_alerter_raise(s->alerter, &ev);
	s->claim.want = 1;
	uint64_t now = jv_now_ms();
	s->hb.next = now + (uint64_t)s->cfg->processor.heartbeat_interval_ms;
	s->claim.next_poll = now + (uint64_t)s->cfg->processor.poll_interval_ms;
	return JV_EXIT_OK;
}

/* After the loop: the API and scheduler stop, the workers and threads end
 * (their results recorded if the database lets us), the alerts go out.
 * Returns the exit status. */
static int serve_stop(struct serve *s)
{
	int status = JV_EXIT_OK;
	services_stop(s);
	jv_pool_shutdown(&s->pool, 1000);
	if (s->tp) {
		jv_tpool_free(s->tp, &s->done);
		s->tp = NULL;
	}
	old_gens_free(s, 0);
	if (finish(s) != 0)
		status = JV_EXIT_INTERNAL;
	struct jv_event ev = {.kind = JV_EV_PROCESSOR_STOPPED, .subject = s->label};
	jv_alerter_raise(s->alerter, &ev);
	jv_alerter_stop(s->alerter, 5000);
	s->alerter = NULL;
	jv_log(JV_INFO,
	       "processor %" PRId64 " stopped: %" PRIu64 " jobs claimed in %" PRIu64
	       " claim queries, %" PRIu64 " recorded in %" PRIu64 " round trips, %" PRIu64
	       " late results ignored",
	       s->id, s->count.claimed, s->count.claim_queries, s->count.completed,
	       s->count.complete_queries, s->count.stale);
	return status;
}

/* Everything serve still holds, whatever point it got to. */
static void serve_free(struct serve *s)
{
	jv_api_stop(s->api);
	jv_api_tls_free(s->tls); /* (when the start broke off before the API) */
	jv_bridge_free(s->bridge);
	free(s->cmp.drop);
	free(s->label);
	for (size_t i = 0; i < s->claim.n_queued; i++) /* (only when the loop broke off) */
		jv_claimed_free(&s->claim.queue[i]);
	free(s->claim.queue);
	sv_requeue_batch(s);
	jv_done_list_free(&s->done);
	sv_close_chan(s, &s->lc);
	sv_close_chan(s, &s->cc);
	sv_close_chan(s, &s->nc);
	sv_progress_free(s);
	sv_deps_free(s);
	free(s->fence.ids);
	if (s->sfd >= 0)
		close(s->sfd);
	jv_runtime_free(s->rt);
	jv_plugins_free(s->plugins);
	jv_config_free(s->cfg);
	free(s->types);
	sv_flow_free(s);
}

int jv_serve(const char *config_path)
{
	struct serve sv;
	struct serve *s = &sv;
	memset(s, 0, sizeof *s);
	s->sfd = -1;
	s->config_path = config_path;
	jv_notify_init(); /* first: no child may inherit $NOTIFY_SOCKET */
	struct jv_config *cfg;
	struct jv_plugins *plugins;
	struct jv_runtime *rt;
	if (load_all(s->config_path, &cfg, &plugins, &rt, &s->tls) != 0)
		return JV_EXIT_USER;
	gen_adopt(s, cfg, plugins, rt);
	if (settle_privileges(s) != 0)
		return JV_EXIT_USER;
	make_undumpable();
	check_descriptors(s, 1);
	if (gethostname(s->hostname, sizeof s->hostname - 1) != 0)
		snprintf(s->hostname, sizeof s->hostname, "unknown");
	signals_setup(s);
	int status = serve_start(s);
	if (status == JV_EXIT_OK) {
		sv_notify_state(s, 1); /* READY=1: registered, workers forked, API up */
		sv_run_loop(s);
		status = serve_stop(s);
	}
	serve_free(s);
	return status;
}

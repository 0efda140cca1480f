/* worker.c -- pre-forked worker processes and the in-process thread pool. */
#include "engine/worker.h"

#include "config/config.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "plugin/host.h"
#include "plugin/loader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void jv_done_free(struct jv_done *d)
{
	free(d->error);
	free(d->output);
	free(d->result);
	jv_attempt_free(&d->at);
	memset(d, 0, sizeof *d);
}

void jv_done_list_push(struct jv_done_list *l, const struct jv_done *d)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->items = jv_realloc(l->items, l->cap * sizeof *l->items);
	}
	l->items[l->n++] = *d;
}

void jv_done_list_move(struct jv_done_list *to, struct jv_done_list *from)
{
	for (size_t i = 0; i < from->n; i++)
		jv_done_list_push(to, &from->items[i]);
	free(from->items);
	*from = (struct jv_done_list){0};
}

void jv_done_list_free(struct jv_done_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		jv_done_free(&l->items[i]);
	free(l->items);
	*l = (struct jv_done_list){0};
}

/* ------------------------------------------------------------ worker side */

static struct jv_run *volatile current_run;

static void on_cancel_signal(int sig)
{
	(void)sig;
	struct jv_run *r = current_run;
	if (r)
		jv_run_cancel(r);
}

/* Map a plugin status to how the attempt ended. */
static enum jv_outcome end_of_status(int status)
{
	switch (status) {
	case JV_SUCCESS: return JV_OUTCOME_SUCCEEDED;
	case JV_RETRY: return JV_OUTCOME_RETRYABLE;
	default: return JV_OUTCOME_PERMANENT;
	}
}

/*
 * What a job left behind. A worker is a child subreaper (set in spawn()):
 * a process the job started that outlived its parent -- a daemon that
 * double-forked out of the program's process group, a grandchild whose
 * parent exited -- is re-parented to the worker instead of to init.
 * Between two jobs a worker has no children of its own (plugins are
 * created in the supervisor, before the fork), so every child it has once
 * execute() returned is left over from that job.
 *
 * Up to max child pids from /proc/self/task/TID/children of every thread
 * (CONFIG_PROC_CHILDREN; without it the list is empty and nothing is swept).
 */
static int list_children(pid_t *pids, int max)
{
	int n = 0;
	char path[300], buf[4096];
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	struct dirent *e;
	/* cppcheck-suppress readdirCalled ; one DIR per call: readdir_r is the deprecated one */
	while (n < max && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
		int cfd = open(path, O_RDONLY | O_CLOEXEC);
		if (cfd < 0)
			continue;
		ssize_t len = read(cfd, buf, sizeof buf - 1);
		close(cfd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "PID PID ... ": a number not followed by its space was cut
		 * by the buffer (the rest is for the next round). A listed pid
		 * is our child, so it cannot be reused before we reap it. */
		for (char *q = buf, *end; n < max; q = end) {
			long v = strtol(q, &end, 10);
			if (end == q || *end != ' ')
				break;
			if (v > 0)
				pids[n++] = (pid_t)v;
		}
	}
	closedir(d);
	return n;
}

/*
 * Kill and reap every process the job left behind (its process group too,
 * when it leads one), round after round, as killing one re-parents its own
 * children to the worker. Returns how many were killed; their pids and
 * names, as far as they fit, in note.
 */
static int sweep_leftovers(struct jv_buf *note)
{
	enum { MAX = 256, ROUNDS = 32 };
	pid_t pids[MAX];
	int total = 0;
	for (int round = 0; round < ROUNDS; round++) {
		/* One system call answers the usual case: no child at all. */
		siginfo_t si;
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD)
			break;
		int n = list_children(pids, MAX);
		if (n == 0)
			break;
		for (int i = 0; i < n; i++) {
			if (note->len < 200) {
				char path[64], comm[32] = "";
				snprintf(path, sizeof path, "/proc/%d/comm", (int)pids[i]);
				int cfd = open(path, O_RDONLY | O_CLOEXEC);
				if (cfd >= 0) {
					ssize_t len = read(cfd, comm, sizeof comm - 1);
					close(cfd);
					comm[len > 0 ? len : 0] = '\0';
					comm[strcspn(comm, "\n")] = '\0';
				}
				/* The job chose that name: nothing of it may forge a log line. */
				for (char *c = comm; *c; c++)
					if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\')
						*c = '?';
				jv_buf_printf(note, "%s%d (%s)", (total + i) > 0 ? ", " : "", (int)pids[i],
					      comm[0] ? comm : "?");
			}
			if (getpgid(pids[i]) == pids[i])
				kill(-pids[i], SIGKILL);
			kill(pids[i], SIGKILL);
		}
		for (int i = 0; i < n; i++)
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
		total += n;
	}
	return total;
}

/* How a run in this worker reaches the supervisor (ABI 1.2): over the
 * worker's socket, as JV_MSG_PROGRESS and JV_MSG_DEPS_ASK frames. */
struct worker_link {
	int fd;
	struct jv_frame_reader *rd; /* the worker's one reader */
	int64_t id;
	int32_t attempt;
};

static void wl_progress(void *arg, struct jv_run *run, int percent, const char *note)
{
	(void)run;
	struct worker_link *wl = arg;
	struct jv_buf b = {0};
	struct jv_msg_aux m = {JV_MSG_PROGRESS, wl->id, wl->attempt, percent, note};
	jv_msg_aux_encode(&b, &m);
	/* (a supervisor gone is seen when the result is written) */
	(void)jv_write_all(wl->fd, b.data, b.len);
	jv_buf_free(&b);
}

/* Ask for the dependencies' results and wait for the answer, no longer
 * than the run may: until its deadline or its cancellation (SIGUSR1 ends
 * the poll). The answer of an earlier ask given up on is skipped here and
 * in jv_worker_main. */
static int wl_dependency_results(void *arg, struct jv_run *run, char **json)
{
	struct worker_link *wl = arg;
	struct jv_buf b = {0};
	struct jv_msg_aux ask = {JV_MSG_DEPS_ASK, wl->id, wl->attempt, 0, NULL};
	jv_msg_aux_encode(&b, &ask);
	int rc = jv_write_all(wl->fd, b.data, b.len);
	jv_buf_free(&b);
	if (rc != 0)
		return JV_HOST_EUNAVAIL;
	for (;;) {
		char *body;
		size_t len;
		int r = jv_frame_next(wl->rd, &body, &len);
		if (r < 0)
			_exit(3);
		if (r == 1) {
			struct jv_msg_aux m;
			if (jv_msg_aux_decode(body, len, &m) != 0 || m.type != JV_MSG_DEPS)
				_exit(3); /* nothing else comes while a job runs */
			if (m.id != wl->id || m.attempt != wl->attempt)
				continue; /* an answer given up on */
			if (m.value != 0)
				return m.value;
			*json = jv_strdup(m.text ? m.text : "{}");
			return 0;
		}
		if (atomic_load(&run->cancelled))
			return JV_HOST_EUNAVAIL;
		int64_t left = jv_run_remaining_ms(run);
		if (left == 0)
			return JV_HOST_EUNAVAIL;
		struct pollfd pfd = {wl->fd, POLLIN, 0};
		int pr = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (pr < 0 && errno != EINTR)
			return JV_HOST_EUNAVAIL;
		if (pr > 0) {
			int n = jv_frame_read(wl->rd, wl->fd);
			if (n == 0 || n == JV_EIO)
				return JV_HOST_EUNAVAIL; /* the supervisor is gone */
		}
	}
}

static const struct jv_run_link worker_run_link = {wl_progress, wl_dependency_results};

void jv_worker_main(struct jv_runtime *rt, int fd)
{
	struct jv_buf note = {0};
	struct jv_frame_reader rd = {0};
	struct jv_buf out = {0};
	struct jv_buf frame = {0}; /* the job's frame: its strings live there */
	for (;;) {
		char *body;
		size_t len;
		int r = jv_frame_next(&rd, &body, &len);
		if (r < 0)
			_exit(3);
		if (r == 0) {
			int n = jv_frame_read(&rd, fd);
			if (n == 0)
				_exit(0); /* the supervisor closed our socket */
			if (n == JV_EIO)
				_exit(3);
			continue;
		}
		if (jv_msg_type(body, len) == JV_MSG_DEPS)
			continue; /* the late answer to an ask given up on */
		/* A copy: the run may read more frames (dependency_results). */
		jv_buf_reset(&frame);
		jv_buf_append(&frame, body, len);
		struct jv_msg_job m;
		if (jv_msg_job_decode(frame.data, len, &m) != 0 || m.executor < 0 ||
		    (size_t)m.executor >= rt->n_executors)
			_exit(3);
		struct jv_instance *inst = rt->executors[m.executor];
		struct jv_job job = {
			.struct_size = sizeof job,
			.id = m.id,
			.type = m.type,
			.user_id = m.user_id,
			.payload = m.payload,
			.payload_len = strlen(m.payload),
			.attempt = m.attempt,
			.max_attempts = m.max_attempts,
			.timeout_ms = m.timeout_ms,
		};
		struct jv_run run;
		jv_run_init(&run, m.timeout_ms, (size_t)m.max_output);
		struct worker_link wl = {fd, &rd, m.id, m.attempt};
		jv_run_link(&run, &worker_run_link, &wl);
		uint64_t t0 = now_us();
		current_run = &run;
		int status = jv_instance_execute(inst, &job, &run);
		current_run = NULL;
		jv_run_flush_progress(&run); /* the last word, before the result */
		/* gave up at the deadline: a timeout */
		int timed_out = status != JV_SUCCESS && m.timeout_ms > 0 &&
				jv_run_remaining_ms(&run) == 0;
		const char *output = jv_run_output(&run);
		char *with_note = NULL;
		jv_buf_reset(&note);
		int left = sweep_leftovers(&note);
		if (left > 0) {
			with_note = jv_asprintf("%s%sjobvisor: killed %d process%s the job left behind: %s\n",
						output, output[0] && output[strlen(output) - 1] != '\n' ? "\n" : "",
						left, left == 1 ? "" : "es", note.data);
			output = with_note;
		}
		struct jv_msg_result res = {
			.id = m.id,
			.attempt = m.attempt,
			.status = status,
			.timed_out = timed_out,
			.retry_in_ms = run.retry_in_ms,
			.duration_us = (int64_t)(now_us() - t0),
			.error = run.error,
			.output = output[0] ? output : NULL,
			.output_len = strlen(output),
			.result = run.result,
			.left_behind = left > 0 ? note.data : NULL,
		};
		jv_buf_reset(&out);
		jv_msg_result_encode(&out, &res);
		jv_run_free(&run);
		free(with_note);
		if (jv_write_all(fd, out.data, out.len) != 0)
			_exit(3);
	}
}

/* ------------------------------------------------------------ supervisor side */

void jv_pool_init(struct jv_pool *p, struct jv_runtime *rt, int n, int max_jobs,
		  void (*child_setup)(void *), void *child_arg)
{
	memset(p, 0, sizeof *p);
	p->rt = rt;
	p->n = n;
	p->target = n;
	p->max_jobs = max_jobs;
	p->child_setup = child_setup;
	p->child_arg = child_arg;
	p->w = jv_calloc((size_t)n, sizeof *p->w);
	for (int i = 0; i < n; i++)
		p->w[i].fd = -1;
}

/* One pass of close_cloexec_fds() over the listing dir: collect (up to
 * 1024), then close, so the listing does not change while it is read.
 * Returns the number closed. */
static int close_cloexec_pass(int dir, int keep)
{
	int found[1024];
	int n = 0;
	char buf[4096];
	long got;
	lseek(dir, 0, SEEK_SET);
	while (n < 1024 && (got = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
		for (long off = 0; off < got && n < 1024;) {
			struct linux_dirent64 {
				/* cppcheck-suppress unusedStructMember ; the kernel's layout */
				uint64_t d_ino;
				/* cppcheck-suppress unusedStructMember ; the kernel's layout */
				int64_t d_off;
				unsigned short d_reclen;
				/* cppcheck-suppress unusedStructMember ; the kernel's layout */
				unsigned char d_type;
				char d_name[];
			} *e = (void *)(buf + off);
			int fd = 0, digits = 0;
			for (const char *c = e->d_name; *c >= '0' && *c <= '9'; c++, digits++)
				fd = fd * 10 + (*c - '0');
			int fl = digits > 0 && fd > 2 && fd != keep && fd != dir ? fcntl(fd, F_GETFD)
										 : -1;
			if (fl >= 0 && (fl & FD_CLOEXEC))
				found[n++] = fd;
			off += e->d_reclen;
		}
	}
	for (int k = 0; k < n; k++)
		close(found[k]);
	return n;
}

/*
 * In a new worker: close every descriptor marked close-on-exec but keep,
 * as an exec would. The supervisor's threads may be running an in-process
 * job (a shell job's pipes, a database socket) at the fork; a worker that
 * kept such a copy could hold a pipe open for good. Descriptors a plugin
 * opened without FD_CLOEXEC in create() stay. Only async-signal-safe calls:
 * the supervisor is multithreaded. With more than 1024 to close (an API
 * with many clients) the listing is read again until none is left: a
 * client's socket kept in a worker would outlive its connection.
 */
static void close_cloexec_fds(int keep)
{
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		for (int fd = 3; fd < 4096; fd++) {
			int fl = fd == keep ? -1 : fcntl(fd, F_GETFD);
			if (fl >= 0 && (fl & FD_CLOEXEC))
				close(fd);
		}
		return;
	}
	while (close_cloexec_pass(dir, keep) == 1024)
		;
	close(dir);
}

/* Starting a worker failed in call (socketpair, fork) with errno e: back
 * off, and say so once per shortage, not at every try. */
static int start_failed(struct jv_pool *p, const char *call, int e)
{
	uint64_t now = jv_now_ms();
	snprintf(p->why, sizeof p->why, "%s: %s", call, strerror(e));
	p->backoff_ms = p->backoff_ms ? 2 * p->backoff_ms : 100;
	if (p->backoff_ms > JV_POOL_RETRY_MAX_MS)
		p->backoff_ms = JV_POOL_RETRY_MAX_MS;
	p->retry_at_ms = now + p->backoff_ms;
	if (p->n_failed++ == 0 && (p->warned_at_ms == 0 || now >= p->warned_at_ms + 60000)) {
		jv_log(JV_WARNING,
		       "worker: cannot start a worker process: %s; trying again every %d s at "
		       "most (jobs wait meanwhile, their attempts not counted)",
		       p->why, JV_POOL_RETRY_MAX_MS / 1000);
		p->warned = 1;
		p->warned_at_ms = now;
	} else {
		jv_debug("worker: cannot start a worker process: %s (%u failed tries)", p->why,
			 p->n_failed);
	}
	return JV_EIO;
}

/* A worker started: the shortage, if any, is over. */
static void start_ok(struct jv_pool *p)
{
	if (p->n_failed > 0 && p->warned)
		jv_log(JV_INFO, "worker: worker processes start again, after %u failed tries (%s)",
		       p->n_failed, p->why);
	p->n_failed = 0;
	p->warned = 0;
	p->backoff_ms = 0;
	p->retry_at_ms = 0;
}

const char *jv_pool_short(const struct jv_pool *p) { return p->n_failed > 0 ? p->why : NULL; }

static int spawn(struct jv_pool *p, int i)
{
	struct jv_worker *w = &p->w[i];
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return start_failed(p, "socketpair", errno);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return start_failed(p, "fork", e);
	}
	if (pid == 0) {
		close(sv[0]);
		for (int j = 0; j < p->n; j++)
			if (p->w[j].fd >= 0)
				close(p->w[j].fd);
		if (p->child_setup)
			p->child_setup(p->child_arg);
		close_cloexec_fds(sv[1]);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_CHILD_SUBREAPER, 1); /* see sweep_leftovers() */
		if (getppid() != parent)
			_exit(0);
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGCHLD, &sa, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		sa.sa_handler = on_cancel_signal;
		sigaction(SIGUSR1, &sa, NULL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		jv_worker_main(p->rt, sv[1]);
	}
	close(sv[1]);
	setpgid(pid, pid); /* also done in the child: whichever runs first */
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	jv_debug("worker %d started", (int)pid);
	start_ok(p);
	w->pid = pid;
	w->fd = sv[0];
	w->busy = 0;
	w->jobs_done = 0;
	w->retire = 0;
	w->killed = -1;
	jv_frame_reader_free(&w->rd);
	return 0;
}

void jv_pool_resize(struct jv_pool *p, int n)
{
	if (n > p->n) {
		p->w = jv_realloc(p->w, (size_t)n * sizeof *p->w);
		memset(p->w + p->n, 0, (size_t)(n - p->n) * sizeof *p->w);
		for (int i = p->n; i < n; i++)
			p->w[i].fd = -1;
		p->n = n;
	}
	p->target = n;
	for (int i = n; i < p->n; i++)
		p->w[i].retire = 1;
}

int jv_pool_fill(struct jv_pool *p)
{
	int running = 0, missing = 0;
	int may_start = p->retry_at_ms == 0 || jv_now_ms() >= p->retry_at_ms;
	for (int i = 0; i < p->target; i++) {
		missing += p->w[i].pid == 0;
		if (p->w[i].pid == 0 && (!may_start || spawn(p, i) != 0)) {
			may_start = 0; /* one failure: the rest would fail alike */
			continue;
		}
		running++;
	}
	if (!missing && p->n_failed > 0) {
		/* none is missing any more (the pool shrank): no shortage */
		p->n_failed = 0;
		p->warned = 0;
		p->backoff_ms = 0;
		p->retry_at_ms = 0;
	}
	return running;
}

int jv_pool_idle(const struct jv_pool *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->w[i].pid > 0 && !p->w[i].busy && !p->w[i].retire)
			return i;
	return -1;
}

/* Write a frame to a non-blocking socket, waiting (bounded) while it is full. */
static int send_frame(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = {fd, POLLOUT, 0};
				if (poll(&pfd, 1, 5000) <= 0)
					return JV_EIO;
				continue;
			}
			return JV_EIO;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int jv_pool_send(struct jv_pool *p, int i, struct jv_attempt *a, const char *payload,
		 int32_t max_output)
{
	struct jv_worker *w = &p->w[i];
	/* the wire message is built from the attempt; its strings are a's */
	struct jv_msg_job m = {
		.id = a->id,
		.attempt = a->attempt,
		.max_attempts = a->max_attempts,
		.timeout_ms = a->timeout_ms,
		.max_output = max_output,
		.executor = a->executor,
		.type = a->type,
		.user_id = a->user_id,
		.payload = payload,
	};
	struct jv_buf b = {0};
	jv_msg_job_encode(&b, &m);
	int rc = send_frame(w->fd, b.data, b.len);
	jv_buf_free(&b);
	if (rc != 0)
		return rc;
	w->busy = 1;
	jv_attempt_free(&w->at);
	w->at = *a;
	*a = (struct jv_attempt){0};
	w->started_ms = jv_now_ms();
	w->deadline_ms = w->at.timeout_ms > 0 ? w->started_ms + (uint64_t)w->at.timeout_ms : 0;
	w->killed = -1;
	w->overdue = 0;
	w->releasing = 0;
	return 0;
}

/* Describe a wait status for the crash message. */
static char *describe_exit(int status)
{
	if (WIFSIGNALED(status))
		return jv_asprintf("worker died from signal %d (%s)", WTERMSIG(status),
				   strsignal(WTERMSIG(status)));
	if (WIFEXITED(status))
		return jv_asprintf("worker exited with status %d", WEXITSTATUS(status));
	return jv_strdup("worker vanished");
}

/* The worker's socket closed: reap it, end its job, free the slot. */
static void reap(struct jv_pool *p, int i, struct jv_done_list *out)
{
	struct jv_worker *w = &p->w[i];
	int status = 0;
	pid_t r;
	do {
		r = waitpid(w->pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	/* Whatever it started in its process group goes with it. */
	kill(-w->pid, SIGKILL);
	if (w->busy) {
		struct jv_done d = {0};
		d.at = w->at; /* the attempt moves into its end */
		w->at = (struct jv_attempt){0};
		d.retry_in_ms = -1;
		d.duration_ms = (int64_t)(jv_now_ms() - w->started_ms);
		if (w->killed >= 0) {
			d.outcome = (enum jv_outcome)w->killed;
			if (d.outcome == JV_OUTCOME_TIMED_OUT)
				d.error = jv_asprintf("timed out after %lld ms; worker killed",
						      (long long)d.duration_ms);
			else if (d.outcome == JV_OUTCOME_CANCELLED)
				d.error = jv_strdup("cancelled; worker killed");
			else if (d.outcome == JV_OUTCOME_FENCED)
				d.error = jv_strdup("stopped by self-fencing; worker killed");
			else
				d.error = jv_strdup("stopped at shutdown; worker killed");
		} else {
			d.outcome = JV_OUTCOME_CRASHED;
			d.error = describe_exit(status);
			jv_log(JV_WARNING, "job %lld attempt %d crashed: %s (pid %d)",
			       (long long)d.at.id, d.at.attempt, d.error, (int)w->pid);
		}
		jv_done_list_push(out, &d);
	} else if (!w->retire && w->killed < 0) {
		char *why = describe_exit(status);
		jv_log(JV_WARNING, "idle worker %d: %s", (int)w->pid, why);
		free(why);
	}
	close(w->fd);
	jv_frame_reader_free(&w->rd);
	w->fd = -1;
	w->pid = 0;
	w->busy = 0;
}

/* What worker w's result m means for its attempt: the outcome as the
 * engine records it (a failure while releasing is released, one past the
 * deadline timed out) and copies of what m holds. Takes w's attempt (w->at
 * is left zeroed). */
static struct jv_done done_of(struct jv_worker *w, const struct jv_msg_result *m)
{
	struct jv_done d = {0};
	d.at = w->at;
	w->at = (struct jv_attempt){0};
	d.outcome = m->timed_out ? JV_OUTCOME_TIMED_OUT : end_of_status(m->status);
	d.retry_in_ms = m->retry_in_ms;
	d.duration_ms = m->duration_us / 1000;
	if (d.outcome != JV_OUTCOME_SUCCEEDED && w->releasing) {
		/* stopped because we are shutting down: not its fault */
		d.outcome = JV_OUTCOME_RELEASED;
		d.error = jv_asprintf("stopped at shutdown%s%s", m->error ? ": " : "",
				      m->error ? m->error : "");
	} else if (d.outcome != JV_OUTCOME_SUCCEEDED &&
	           (w->overdue || d.outcome == JV_OUTCOME_TIMED_OUT)) {
		/* It stopped because its time was up (told by us, or by
		 * its own clock, which starts a little before ours): a
		 * timeout, with what the executor said about it. */
		d.outcome = JV_OUTCOME_TIMED_OUT;
		d.error = jv_asprintf("timed out after %lld ms; the executor stopped%s%s",
				      (long long)(jv_now_ms() - w->started_ms),
				      m->error ? ": " : "", m->error ? m->error : "");
	} else {
		d.error = jv_strdup(m->error);
	}
	d.output = m->output ? jv_strndup(m->output, m->output_len) : NULL;
	d.result = jv_strdup(m->result);
	return d;
}

void jv_pool_on_readable(struct jv_pool *p, int i, struct jv_done_list *out)
{
	struct jv_worker *w = &p->w[i];
	if (w->pid == 0)
		return;
	int eof = 0;
	for (;;) {
		int r = jv_frame_read(&w->rd, w->fd);
		if (r == -1)
			break; /* drained */
		if (r == 0 || r == JV_EIO) {
			eof = 1; /* results read before the end still count */
			break;
		}
	}
	char *body;
	size_t len;
	int fr;
	while ((fr = jv_frame_next(&w->rd, &body, &len)) == 1) {
		int t = jv_msg_type(body, len);
		if (t == JV_MSG_PROGRESS || t == JV_MSG_DEPS_ASK) {
			struct jv_msg_aux a;
			if (jv_msg_aux_decode(body, len, &a) != 0) {
				fr = JV_EINVAL;
				break;
			}
			/* (only about the attempt it runs; anything else is stale) */
			if (!w->busy || a.id != w->at.id || a.attempt != w->at.attempt)
				continue;
			if (t == JV_MSG_PROGRESS && p->on_progress && a.value >= 0 && a.value <= 100)
				p->on_progress(p->cb_arg, a.id, a.attempt, a.value, a.text);
			else if (t == JV_MSG_DEPS_ASK && p->on_deps_ask)
				p->on_deps_ask(p->cb_arg, i, a.id, a.attempt);
			else if (t == JV_MSG_DEPS_ASK)
				jv_pool_answer_deps(p, i, a.id, a.attempt, JV_HOST_ENOENT, NULL);
			continue;
		}
		struct jv_msg_result m;
		if (jv_msg_result_decode(body, len, &m) != 0 || !w->busy || m.id != w->at.id) {
			jv_log(JV_ERROR, "worker %d sent a malformed result; killing it", (int)w->pid);
			kill(-w->pid, SIGKILL);
			kill(w->pid, SIGKILL);
			reap(p, i, out);
			return;
		}
		if (m.left_behind)
			jv_log(JV_WARNING, "job %lld left processes behind; worker %d killed them: %s",
			       (long long)m.id, (int)w->pid, m.left_behind);
		struct jv_done d = done_of(w, &m);
		jv_done_list_push(out, &d);
		w->busy = 0;
		w->jobs_done++;
		if (p->max_jobs > 0 && w->jobs_done >= (unsigned)p->max_jobs)
			w->retire = 1;
	}
	if (fr < 0) {
		jv_log(JV_ERROR, "worker %d sent a corrupt frame; killing it", (int)w->pid);
		kill(-w->pid, SIGKILL);
		kill(w->pid, SIGKILL);
		reap(p, i, out);
		return;
	}
	if (eof) {
		reap(p, i, out);
		return;
	}
	/* Retired workers are replaced once idle: closing the socket ends them. */
	if (w->retire && !w->busy) {
		close(w->fd);
		w->fd = -1;
		int status;
		while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
			;
		jv_frame_reader_free(&w->rd);
		w->pid = 0;
	}
}

void jv_pool_answer_deps(struct jv_pool *p, int i, int64_t id, int32_t attempt, int rc,
			 const char *json)
{
	if (i < 0 || i >= p->n)
		return;
	struct jv_worker *w = &p->w[i];
	if (w->pid <= 0 || w->fd < 0 || !w->busy || w->at.id != id || w->at.attempt != attempt)
		return;
	struct jv_buf b = {0};
	struct jv_msg_aux m = {JV_MSG_DEPS, id, attempt, rc, rc == 0 ? json : NULL};
	jv_msg_aux_encode(&b, &m);
	/* (a worker that cannot take it is seen gone when its socket is read) */
	if (send_frame(w->fd, b.data, b.len) != 0)
		jv_log(JV_WARNING, "could not answer worker %d (job %lld) with the results of its "
		       "dependencies", (int)w->pid, (long long)id);
	jv_buf_free(&b);
}

void jv_pool_kill(struct jv_pool *p, int i, enum jv_outcome why, struct jv_done_list *out)
{
	struct jv_worker *w = &p->w[i];
	if (w->pid == 0)
		return;
	w->killed = (int)why;
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	reap(p, i, out);
}

uint64_t jv_pool_check_deadlines(struct jv_pool *p, uint64_t now_ms, struct jv_done_list *out)
{
	uint64_t next = 0;
	for (int i = 0; i < p->n; i++) {
		struct jv_worker *w = &p->w[i];
		if (!w->busy || w->deadline_ms == 0)
			continue;
		uint64_t due = w->deadline_ms;
		if (due <= now_ms && !w->overdue) {
			/* The executor gets a moment to stop what it started
			 * (a shell job's process group, say) and return. */
			w->overdue = 1;
			kill(w->pid, SIGUSR1);
			jv_debug("job %lld attempt %d reached its deadline; told worker %d to stop",
				 (long long)w->at.id, w->at.attempt, (int)w->pid);
		}
		if (w->overdue)
			due = w->deadline_ms + JV_KILL_GRACE_MS;
		if (due <= now_ms) {
			jv_log(JV_WARNING, "job %lld attempt %d timed out after %llu ms; killing worker %d",
			       (long long)w->at.id, w->at.attempt,
			       (unsigned long long)(now_ms - w->started_ms), (int)w->pid);
			jv_pool_kill(p, i, JV_OUTCOME_TIMED_OUT, out);
			continue;
		}
		if (next == 0 || due < next)
			next = due;
	}
	return next;
}

void jv_pool_release_begin(struct jv_pool *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->w[i].pid > 0 && p->w[i].busy) {
			p->w[i].releasing = 1;
			kill(p->w[i].pid, SIGUSR1);
		}
}

int jv_pool_cancel_job(struct jv_pool *p, int64_t job_id, uint64_t now_ms)
{
	for (int i = 0; i < p->n; i++) {
		struct jv_worker *w = &p->w[i];
		if (w->pid <= 0 || !w->busy || w->at.id != job_id)
			continue;
		/* as at a deadline: told now, killed JV_KILL_GRACE_MS later */
		w->overdue = 1;
		w->deadline_ms = now_ms;
		kill(w->pid, SIGUSR1);
		return 1;
	}
	return 0;
}

void jv_pool_cancel(struct jv_pool *p, int i)
{
	if (p->w[i].pid > 0 && p->w[i].busy)
		kill(p->w[i].pid, SIGUSR1);
}

void jv_pool_shutdown(struct jv_pool *p, int wait_ms)
{
	for (int i = 0; i < p->n; i++)
		if (p->w[i].fd >= 0) {
			close(p->w[i].fd);
			p->w[i].fd = -1;
		}
	uint64_t until = jv_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	for (;;) {
		int left = 0;
		for (int i = 0; i < p->n; i++) {
			if (p->w[i].pid <= 0)
				continue;
			int status;
			pid_t r = waitpid(p->w[i].pid, &status, WNOHANG);
			if (r == p->w[i].pid || (r < 0 && errno == ECHILD))
				p->w[i].pid = 0;
			else
				left++;
		}
		if (!left)
			break;
		if (jv_now_ms() >= until) {
			for (int i = 0; i < p->n; i++)
				if (p->w[i].pid > 0) {
					kill(-p->w[i].pid, SIGKILL);
					kill(p->w[i].pid, SIGKILL);
					while (waitpid(p->w[i].pid, NULL, 0) < 0 && errno == EINTR)
						;
					p->w[i].pid = 0;
				}
			break;
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < p->n; i++) {
		jv_frame_reader_free(&p->w[i].rd);
		jv_attempt_free(&p->w[i].at);
	}
	free(p->w);
	p->w = NULL;
	p->n = 0;
}

/* ------------------------------------------------------------ thread pool */

/* Where a thread job's ask for its dependencies' results stands. */
enum deps_state { DEPS_NONE = 0, DEPS_ASKED, DEPS_TAKEN, DEPS_ANSWERED };

struct tjob {
	struct tjob *next;
	struct jv_attempt at; /* owned until it moves into the run's jv_done */
	char *payload;
	int32_t max_output;
	struct jv_run run;
	int cancel_asked;    /* cancelled while queued: its run starts cancelled */
	/* ABI 1.2, under the pool's lock: */
	struct jv_tpool *tp;
	int progress;        /* the latest not yet taken by the engine, -1: none */
	char *progress_note;
	enum deps_state deps;
	int deps_rc;
	char *deps_json;     /* DEPS_ANSWERED: the answer, the run's to take */
};

struct tctx {
	struct jv_tpool *tp;
	int slot;
};

struct jv_tpool {
	struct jv_runtime *rt;
	struct tctx *ctx;         /* one per thread, owned here */
	pthread_t *threads;
	int n;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tjob *head, *tail; /* queued */
	struct tjob **running;    /* one slot per thread, for cancellation */
	struct jv_done_list done; /* finished, not yet collected */
	int inflight;
	int stopping;
	int efd;
	pthread_cond_t answered; /* a dependency ask was answered */
};

/* Wake the engine (its collect step takes what is new). Under lock. */
static void tp_wake(struct jv_tpool *tp)
{
	uint64_t one = 1;
	ssize_t w = write(tp->efd, &one, sizeof one);
	(void)w;
}

static void tl_progress(void *arg, struct jv_run *run, int percent, const char *note)
{
	(void)run;
	struct tjob *j = arg;
	pthread_mutex_lock(&j->tp->lock);
	int was = j->progress >= 0;
	j->progress = percent;
	free(j->progress_note);
	j->progress_note = note ? jv_strdup(note) : NULL;
	if (!was)
		tp_wake(j->tp);
	pthread_mutex_unlock(&j->tp->lock);
}

/* As wl_dependency_results, for a thread: the engine takes the ask in its
 * collect step and answers through jv_tpool_answer_deps(). */
static int tl_dependency_results(void *arg, struct jv_run *run, char **json)
{
	struct tjob *j = arg;
	struct jv_tpool *tp = j->tp;
	int rc = JV_HOST_EUNAVAIL;
	pthread_mutex_lock(&tp->lock);
	j->deps = DEPS_ASKED;
	tp_wake(tp);
	for (;;) {
		if (j->deps == DEPS_ANSWERED) {
			rc = j->deps_rc;
			if (rc == 0)
				*json = j->deps_json ? j->deps_json : jv_strdup("{}");
			else
				free(j->deps_json);
			j->deps_json = NULL;
			break;
		}
		int64_t left = jv_run_remaining_ms(run);
		if (atomic_load(&run->cancelled) || left == 0)
			break;
		/* a cancellation does not signal: look again at least every 100 ms */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ms = left < 100 ? left : 100;
		until.tv_nsec += (long)ms * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&tp->answered, &tp->lock, &until);
	}
	j->deps = DEPS_NONE; /* an answer still to come is not wanted */
	pthread_mutex_unlock(&tp->lock);
	return rc;
}

static const struct jv_run_link thread_run_link = {tl_progress, tl_dependency_results};

void jv_tpool_take(struct jv_tpool *tp, struct jv_pool *cb)
{
	pthread_mutex_lock(&tp->lock);
	for (int i = 0; i < tp->n; i++) {
		struct tjob *j = tp->running[i];
		if (!j)
			continue;
		if (j->progress >= 0) {
			if (cb->on_progress)
				cb->on_progress(cb->cb_arg, j->at.id, j->at.attempt, j->progress,
						j->progress_note);
			j->progress = -1;
			free(j->progress_note);
			j->progress_note = NULL;
		}
		if (j->deps == DEPS_ASKED) {
			j->deps = DEPS_TAKEN;
			if (cb->on_deps_ask) {
				cb->on_deps_ask(cb->cb_arg, -1, j->at.id, j->at.attempt);
			} else {
				j->deps = DEPS_ANSWERED;
				j->deps_rc = JV_HOST_ENOENT;
				pthread_cond_broadcast(&tp->answered);
			}
		}
	}
	pthread_mutex_unlock(&tp->lock);
}

void jv_tpool_answer_deps(struct jv_tpool *tp, int64_t id, int32_t attempt, int rc,
			  const char *json)
{
	pthread_mutex_lock(&tp->lock);
	for (int i = 0; i < tp->n; i++) {
		struct tjob *j = tp->running[i];
		if (!j || j->at.id != id || j->at.attempt != attempt || j->deps != DEPS_TAKEN)
			continue;
		j->deps = DEPS_ANSWERED;
		j->deps_rc = rc;
		j->deps_json = rc == 0 && json ? jv_strdup(json) : NULL;
		pthread_cond_broadcast(&tp->answered);
	}
	pthread_mutex_unlock(&tp->lock);
}


static void *thread_main(void *arg)
{
	struct tctx *ctx = arg;
	struct jv_tpool *tp = ctx->tp;
	int slot = ctx->slot;
	pthread_mutex_lock(&tp->lock);
	for (;;) {
		while (!tp->head && !tp->stopping)
			pthread_cond_wait(&tp->cond, &tp->lock);
		if (!tp->head)
			break;
		struct tjob *j = tp->head;
		tp->head = j->next;
		if (!tp->head)
			tp->tail = NULL;
		jv_run_init(&j->run, j->at.timeout_ms, (size_t)j->max_output);
		jv_run_link(&j->run, &thread_run_link, j);
		if (j->cancel_asked)
			jv_run_cancel(&j->run);
		tp->running[slot] = j;
		pthread_mutex_unlock(&tp->lock);

		struct jv_instance *inst = tp->rt->executors[j->at.executor];
		struct jv_job job = {
			.struct_size = sizeof job,
			.id = j->at.id,
			.type = j->at.type,
			.user_id = j->at.user_id,
			.payload = j->payload,
			.payload_len = strlen(j->payload),
			.attempt = j->at.attempt,
			.max_attempts = j->at.max_attempts,
			.timeout_ms = j->at.timeout_ms,
		};
		uint64_t t0 = now_us();
		int status = jv_instance_execute(inst, &job, &j->run);
		jv_run_flush_progress(&j->run);
		struct jv_done d = {0};
		d.at = j->at; /* the attempt moves into its end */
		j->at = (struct jv_attempt){0};
		d.outcome = end_of_status(status);
		d.retry_in_ms = j->run.retry_in_ms;
		d.duration_ms = (int64_t)((now_us() - t0) / 1000);
		if (status != JV_SUCCESS && d.at.timeout_ms > 0 &&
		    jv_run_remaining_ms(&j->run) <= 0) {
			/* Past its deadline: a thread cannot be killed, so the limit
			 * is the executor's to honour (host->remaining_ms); what it
			 * gave up on is recorded as a timeout all the same. */
			d.outcome = JV_OUTCOME_TIMED_OUT;
			d.error = jv_asprintf("timed out: ran %lld ms, limit %d ms (thread isolation: "
					      "the executor stopped at its deadline)%s%s",
					      (long long)d.duration_ms, d.at.timeout_ms,
					      j->run.error ? ": " : "", j->run.error ? j->run.error : "");
		} else {
			d.error = jv_strdup(j->run.error);
		}
		const char *output = jv_run_output(&j->run);
		d.output = output[0] ? jv_strdup(output) : NULL;
		d.result = jv_strdup(j->run.result);
		jv_run_free(&j->run);
		free(j->payload);

		pthread_mutex_lock(&tp->lock);
		tp->running[slot] = NULL;
		free(j->progress_note);
		free(j->deps_json);
		free(j);
		int was_empty = tp->done.n == 0;
		jv_done_list_push(&tp->done, &d);
		tp->inflight--;
		if (was_empty) {
			uint64_t one = 1;
			ssize_t w = write(tp->efd, &one, sizeof one);
			(void)w;
		}
	}
	pthread_mutex_unlock(&tp->lock);
	return NULL;
}

struct jv_tpool *jv_tpool_new(struct jv_runtime *rt, int n)
{
	struct jv_tpool *tp = jv_calloc(1, sizeof *tp);
	tp->rt = rt;
	tp->n = n;
	tp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (tp->efd < 0) {
		free(tp);
		return NULL;
	}
	pthread_mutex_init(&tp->lock, NULL);
	pthread_cond_init(&tp->cond, NULL);
	pthread_cond_init(&tp->answered, NULL);
	tp->threads = jv_calloc((size_t)n, sizeof *tp->threads);
	tp->running = jv_calloc((size_t)n, sizeof *tp->running);
	/* Start with every signal blocked: only the main thread takes them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	tp->ctx = jv_calloc((size_t)n, sizeof *tp->ctx);
	for (int i = 0; i < n; i++) {
		tp->ctx[i].tp = tp;
		tp->ctx[i].slot = i;
		if (pthread_create(&tp->threads[i], NULL, thread_main, &tp->ctx[i]) != 0) {
			tp->n = i;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return tp;
}

int jv_tpool_fd(const struct jv_tpool *tp) { return tp->efd; }

void jv_tpool_submit(struct jv_tpool *tp, struct jv_attempt *a, const char *payload,
		     int32_t max_output)
{
	struct tjob *j = jv_calloc(1, sizeof *j);
	j->tp = tp;
	j->progress = -1;
	j->at = *a;
	*a = (struct jv_attempt){0};
	j->payload = jv_strdup(payload);
	j->max_output = max_output;
	/* (its run, with the deadline, starts when a thread takes it) */
	pthread_mutex_lock(&tp->lock);
	if (tp->tail)
		tp->tail->next = j;
	else
		tp->head = j;
	tp->tail = j;
	tp->inflight++;
	pthread_cond_signal(&tp->cond);
	pthread_mutex_unlock(&tp->lock);
}

void jv_tpool_collect(struct jv_tpool *tp, struct jv_done_list *out)
{
	uint64_t v;
	ssize_t r = read(tp->efd, &v, sizeof v);
	(void)r;
	pthread_mutex_lock(&tp->lock);
	for (size_t i = 0; i < tp->done.n; i++)
		jv_done_list_push(out, &tp->done.items[i]);
	tp->done.n = 0;
	pthread_mutex_unlock(&tp->lock);
}

void jv_tpool_cancel_all(struct jv_tpool *tp)
{
	pthread_mutex_lock(&tp->lock);
	for (int i = 0; i < tp->n; i++)
		if (tp->running[i])
			jv_run_cancel(&tp->running[i]->run);
	pthread_mutex_unlock(&tp->lock);
}

int jv_tpool_cancel_job(struct jv_tpool *tp, int64_t job_id)
{
	int found = 0;
	pthread_mutex_lock(&tp->lock);
	for (int i = 0; i < tp->n; i++)
		if (tp->running[i] && tp->running[i]->at.id == job_id) {
			jv_run_cancel(&tp->running[i]->run);
			found = 1;
		}
	for (struct tjob *j = tp->head; j && !found; j = j->next)
		if (j->at.id == job_id) {
			j->cancel_asked = 1;
			found = 1;
		}
	pthread_mutex_unlock(&tp->lock);
	return found;
}

void jv_tpool_ids(struct jv_tpool *tp, struct jv_buf *b)
{
	pthread_mutex_lock(&tp->lock);
	for (struct tjob *j = tp->head; j; j = j->next)
		jv_buf_printf(b, "%lld,", (long long)j->at.id);
	for (int i = 0; i < tp->n; i++)
		if (tp->running[i])
			jv_buf_printf(b, "%lld,", (long long)tp->running[i]->at.id);
	pthread_mutex_unlock(&tp->lock);
}

int jv_tpool_inflight(struct jv_tpool *tp)
{
	pthread_mutex_lock(&tp->lock);
	int n = tp->inflight;
	pthread_mutex_unlock(&tp->lock);
	return n;
}

/* Queued jobs that never started go back, attempt not counted; under lock. */
static void unqueue_locked(struct jv_tpool *tp, const char *why, struct jv_done_list *out)
{
	while (tp->head) {
		struct tjob *j = tp->head;
		tp->head = j->next;
		struct jv_done d = {0};
		d.at = j->at; /* the attempt moves into its end */
		d.outcome = JV_OUTCOME_RELEASED;
		d.retry_in_ms = -1;
		d.error = jv_strdup(why);
		jv_done_list_push(out, &d);
		jv_run_free(&j->run);
		free(j->payload);
		free(j);
		tp->inflight--;
	}
	tp->tail = NULL;
}

void jv_tpool_unqueue(struct jv_tpool *tp, const char *why, struct jv_done_list *out)
{
	pthread_mutex_lock(&tp->lock);
	unqueue_locked(tp, why, out);
	pthread_mutex_unlock(&tp->lock);
}

void jv_tpool_stop(struct jv_tpool *tp, struct jv_done_list *out)
{
	pthread_mutex_lock(&tp->lock);
	unqueue_locked(tp, "released at shutdown before it started", out);
	tp->stopping = 1;
	pthread_cond_broadcast(&tp->cond);
	pthread_mutex_unlock(&tp->lock);
}

void jv_tpool_free(struct jv_tpool *tp, struct jv_done_list *out)
{
	if (!tp)
		return;
	jv_tpool_stop(tp, out);
	for (int i = 0; i < tp->n; i++)
		pthread_join(tp->threads[i], NULL);
	for (size_t i = 0; i < tp->done.n; i++)
		jv_done_list_push(out, &tp->done.items[i]);
	free(tp->done.items);
	free(tp->ctx);
	free(tp->threads);
	free(tp->running);
	close(tp->efd);
	pthread_mutex_destroy(&tp->lock);
	pthread_cond_destroy(&tp->cond);
	pthread_cond_destroy(&tp->answered);
	free(tp);
}

/*
 * faulty.c -- an executor that misbehaves on request, for the fault
 * injection suite (tests/faults/f4_plugins.sh). Built by `make check`,
 * never installed. The payload is a JSON object; its "do" key says what
 * to do (read with strstr: this plugin links against nothing but libc):
 *   {"do": "pid"}              output "pid=P" (which worker ran it)
 *   {"do": "segv"}             dereference NULL
 *   {"do": "leak", "mb": N}    allocate and touch N MiB, never free them;
 *                              output "pid=P rss_kb=R" (the worker's RSS
 *                              after the allocation, from /proc/self/statm)
 *   {"do": "closefds"}         close fds 0, 1 and 2, then succeed
 *   {"do": "fullfds"}          point fds 1 and 2 at /dev/full, write to them
 *   {"do": "write"}            write to stdout and stderr, log through the
 *                              host, output "pid=P"
 *   {"do": "daemon", "file": PATH}
 *                              double fork with setsid; the grandchild
 *                              writes its pid to PATH and sleeps 120 s;
 *                              the job succeeds once PATH holds the pid
 *                              (as a daemon's start script returns once
 *                              the daemon is up), at most 5 s
 */
#include "../plugins/common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *fy_leaked; /* the last leak, so the compiler keeps the rest */

struct fy {
	const struct jv_host *host;
	struct jv_instance *inst;
};

static int fy_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	struct fy *f = calloc(1, sizeof *f);
	if (!f)
		return JV_HOST_ENOMEM;
	f->host = host;
	f->inst = inst;
	*state = f;
	return 0;
}

static void fy_destroy(void *state) { free(state); }

/* The string value of "key": "..." in the payload, into buf. */
static int fy_str(const char *payload, const char *key, char *buf, size_t len)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": \"", key);
	const char *p = strstr(payload, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	const char *q = strchr(p, '"');
	if (!q || (size_t)(q - p) >= len)
		return -1;
	memcpy(buf, p, (size_t)(q - p));
	buf[q - p] = '\0';
	return 0;
}

static long fy_int(const char *payload, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	const char *p = strstr(payload, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : 0;
}

static long fy_rss_kb(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Output "pid=P", and " rss_kb=R" when rss_kb >= 0. */
static void fy_out(const struct jv_host *h, struct jv_run *run, long rss_kb)
{
	char buf[128];
	int n = rss_kb >= 0 ? snprintf(buf, sizeof buf, "pid=%ld rss_kb=%ld", (long)getpid(), rss_kb)
			    : snprintf(buf, sizeof buf, "pid=%ld", (long)getpid());
	h->output(run, buf, (size_t)n);
}

static int fy_daemon(const struct jv_host *h, struct jv_run *run, const char *payload)
{
	char path[512];
	if (fy_str(payload, "file", path, sizeof path) != 0) {
		h->error(run, "faulty: daemon needs payload.file");
		return JV_FAIL;
	}
	pid_t c = fork();
	if (c < 0) {
		h->error(run, "faulty: fork failed");
		return JV_FAIL;
	}
	if (c == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		for (int fd = 0; fd < 1024; fd++)
			close(fd);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			char b[32];
			int n = snprintf(b, sizeof b, "%d\n", (int)getpid());
			if (write(fd, b, (size_t)n) != n)
				_exit(1);
			close(fd);
		}
		struct timespec ts = {120, 0};
		nanosleep(&ts, NULL);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	for (int i = 0; i < 500; i++) {
		struct stat st;
		if (stat(path, &st) == 0 && st.st_size > 0)
			return JV_SUCCESS;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	h->error(run, "faulty: the daemon did not write %s within 5 s", path);
	return JV_FAIL;
}

static int fy_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct fy *f = state;
	const struct jv_host *h = f->host;
	char what[32];
	if (fy_str(job->payload, "do", what, sizeof what) != 0) {
		h->error(run, "faulty: payload.do missing");
		return JV_FAIL;
	}
	if (!strcmp(what, "pid")) {
		fy_out(h, run, -1);
		return JV_SUCCESS;
	}
	if (!strcmp(what, "segv")) {
		volatile int *volatile nowhere = NULL;
		*nowhere = 1;
		return JV_SUCCESS;
	}
	if (!strcmp(what, "leak")) {
		size_t n = (size_t)fy_int(job->payload, "mb") << 20;
		char *p = malloc(n);
		if (!p) {
			h->error(run, "faulty: malloc failed");
			return JV_FAIL;
		}
		memset(p, 0x5a, n);
		fy_leaked = p;
		fy_out(h, run, fy_rss_kb());
		return JV_SUCCESS;
	}
	if (!strcmp(what, "closefds")) {
		close(0);
		close(1);
		close(2);
		return JV_SUCCESS;
	}
	if (!strcmp(what, "fullfds")) {
		int fd = open("/dev/full", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		fprintf(stdout, "into /dev/full\n");
		fflush(stdout);
		fprintf(stderr, "into /dev/full\n");
		return JV_SUCCESS;
	}
	if (!strcmp(what, "write")) {
		fprintf(stdout, "faulty: to stdout\n");
		fflush(stdout);
		fprintf(stderr, "faulty: to stderr\n");
		h->log(f->inst, JV_LOG_INFO, "faulty: through the host");
		fy_out(h, run, -1);
		return JV_SUCCESS;
	}
	if (!strcmp(what, "daemon"))
		return fy_daemon(h, run, job->payload);
	h->error(run, "faulty: unknown payload.do '%s'", what);
	return JV_FAIL;
}

static const struct jv_plugin faulty = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "faulty",
	.version = "1.0",
	.description = "misbehaves on request (fault injection tests)",
	.create = fy_create,
	.destroy = fy_destroy,
	.execute = fy_execute,
};

JV_PLUGIN_ENTRY(faulty)

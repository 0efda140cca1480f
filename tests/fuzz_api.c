/*
 * fuzz_api.c -- the REST API on arbitrary bytes from a client.
 *
 * Real servers (jv_api_start, libmicrohttpd) listen on 127.0.0.1, each
 * on a port of its own; each input is sent as it is over a new
 * TCP connection, the writing side is shut, and the answer is read to its
 * end. So libmicrohttpd parses the request line, headers, chunked bodies
 * and query arguments as in production, and our side runs for real: route
 * matching with {id} captures, the bearer token and its constant-time
 * compare, CORS preflights, the body cap, JSON bodies with duplicate and
 * unknown keys, query checks (jv_api_only_query, jv_api_parse_int), and
 * every handler up to where it needs the database. Two servers with two
 * configs (see confs below): one with an engine bridge, one without (its
 * engine routes answer 503). database.url names a socket that does not
 * exist, so each database use fails at once and must answer 503. A 500
 * answer is taken for a bug and aborts.
 *
 * Why a socket rather than calling the dispatcher: handlers read query
 * arguments and headers through libmicrohttpd's connection, so there is no
 * request without one; and the socket also checks that what we answer is
 * something libmicrohttpd sends. It costs a connection per input (several
 * thousand inputs a second still).
 *
 * With -DJV_LIBFUZZER it is a libFuzzer target (contrib/fuzz.sh); without,
 * tests/fuzz_main.c replays tests/fuzz/api/ and mutations of it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "api/api.h"
#include "api/bridge.h"
#include "config/config.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs of even size go to server 0: CORS, the webhook, and a bridge with
 * a published engine view (as if the engine ran; nothing takes the
 * requests but the harness, which drops them). Odd-sized ones go to
 * server 1: no bridge (engine routes answer 503), health and metrics
 * behind the token, no CORS, no webhook secret. */
static const char *const confs[2] = {
	"database:\n"
	"  url: postgresql:///none?host=/nonexistent/jv-fuzz\n"
	"executors:\n"
	"  noop: { plugin: noop }\n"
	"  reports: { plugin: shell }\n"
	"schedules:\n"
	"  - { name: nightly, cron: '0 3 * * *', type: noop }\n"
	"api:\n"
	"  listen: 127.0.0.1:0\n"
	"  token: s3cret-token\n"
	"  webhook_secret: hook-secret\n"
	"  cors_origin: https://dash.example.com\n"
	"  dashboard_url: https://dash.example.com/jobs\n"
	"  max_body_bytes: 1024\n"
	"  threads: 2\n"
	"  db_connections: 1\n",
	"database:\n"
	"  url: postgresql:///none?host=/nonexistent/jv-fuzz\n"
	"executors:\n"
	"  noop: { plugin: noop }\n"
	"api:\n"
	"  listen: 127.0.0.1:0\n"
	"  token: s3cret-token\n"
	"  health_requires_token: true\n"
	"  metrics_requires_token: true\n"
	"  max_body_bytes: 1024\n"
	"  threads: 2\n"
	"  db_connections: 2\n",
};

static struct jv_config *cfg[2];
static struct jv_api *api[2];
static struct jv_bridge *bridge;
static int port[2];

static void quiet(enum jv_level level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static void stop(void)
{
	for (int i = 0; i < 2; i++) {
		jv_api_stop(api[i]);
		jv_config_free(cfg[i]);
	}
	jv_bridge_free(bridge);
}

static void setup(void)
{
	if (api[0])
		return;
	char err[1024];
	signal(SIGPIPE, SIG_IGN);
	jv_log_capture(quiet, NULL);
	bridge = jv_bridge_new();
	struct jv_engine_view v = {.processor_id = 1, .name = "fuzz", .hostname = "localhost",
				   .pid = (int)getpid(), .started_unix_ms = 1764374400000,
				   .last_heartbeat_unix_ms = 1764374401000, .db_connected = 1,
				   .batch_size = 20, .max_concurrent = 10, .batch_size_limit = 100,
				   .max_concurrent_limit = 50, .workers_total = 10, .workers_busy = 3,
				   .inflight = 3, .claimed = 42, .completed = 39};
	if (!bridge) {
		perror("fuzz_api: jv_bridge_new");
		abort();
	}
	jv_bridge_publish(bridge, &v);
	for (int i = 0; i < 2; i++) {
		if (jv_config_load_string("fuzz.yaml", confs[i], &cfg[i], err, sizeof err) != 0) {
			fprintf(stderr, "fuzz_api: %s\n", err);
			abort();
		}
		api[i] = jv_api_start(cfg[i], i == 0 ? bridge : NULL, err, sizeof err);
		if (!api[i]) {
			fprintf(stderr, "fuzz_api: %s\n", err);
			abort();
		}
		port[i] = jv_api_port(api[i]);
	}
	atexit(stop);
}

/* Wait up to 25 s for fd to be ready for events: a stalled server is a
 * bug, but a loaded machine (a leak check stops every thread) may take
 * seconds; libFuzzer's own -timeout=30 comes after. */
static int wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;
	while ((rc = poll(&p, 1, 25000)) < 0 && errno == EINTR)
		;
	if (rc == 0) {
		fprintf(stderr, "fuzz_api: the server did not answer within 25 s\n");
		abort();
	}
	return rc;
}

/* The server's end of our connection fd: the socket whose peer is our
 * own address (accepted just after our connect, so its number is near). */
static int server_end(int fd)
{
	struct sockaddr_in me, peer;
	socklen_t len = sizeof me;
	if (getsockname(fd, (struct sockaddr *)&me, &len) != 0)
		return -1;
	for (int s = 3; s < fd + 16; s++) {
		len = sizeof peer;
		if (s != fd && getpeername(s, (struct sockaddr *)&peer, &len) == 0 &&
		    peer.sin_family == AF_INET && peer.sin_port == me.sin_port &&
		    peer.sin_addr.s_addr == me.sin_addr.s_addr)
			return s;
	}
	return -1;
}

/*
 * Shut our writing side once the server has read all we sent. libmicrohttpd
 * (epoll, edge-triggered) misses an end of stream that comes together with
 * the last bytes: it would then wait for its 30 s connection timeout. Such
 * a client costs a connection slot for 30 s, nothing more; the harness
 * needs the answer now, so it waits until the server's receive queue is
 * empty, or the server answered or closed already (at most 2 s).
 */
static void shut_when_read(int fd)
{
	int seen = 0;
	for (int i = 0; i < 20000; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 0) > 0)
			break; /* an answer, or the end: no need to wait */
		int s = server_end(fd), queued = 0;
		if (s >= 0 && ioctl(s, FIONREAD, &queued) == 0 && queued == 0)
			break;
		if (s >= 0)
			seen = 1;
		else if (seen || i > 500)
			break; /* closed, or never accepted within 50 ms */
		usleep(100);
	}
	shutdown(fd, SHUT_WR);
}

/*
 * The bytes to send: the input, except that a header "Content-Length: *"
 * gets the length of what follows the first blank line. A fuzzer that
 * changes a body cannot also keep a length in step; with this, the seeds
 * keep their bodies valid under mutation, while inputs with a number are
 * sent as they are. The caller frees *out.
 */
static size_t fill_length(const uint8_t *data, size_t size, char **out)
{
	static const char cl[] = "\r\nContent-Length: *\r\n";
	char *s = malloc(size + 24);
	if (!s)
		abort();
	memcpy(s, data, size);
	*out = s;
	char *end = memmem(s, size, "\r\n\r\n", 4);
	char *star = end ? memmem(s, (size_t)(end - s) + 2, cl, sizeof cl - 1) : NULL;
	if (!star)
		return size;
	star += sizeof cl - 4; /* at the '*' */
	char num[24];
	int n = snprintf(num, sizeof num, "%zu", size - (size_t)(end + 4 - s));
	memmove(star + n, star + 1, size - (size_t)(star + 1 - s));
	memcpy(star, num, (size_t)n);
	return size - 1 + (size_t)n;
}

/* connect(), finishing it when a signal (libFuzzer's timer) interrupts:
 * the connection then goes on, and is ready once fd is writable. */
static int connect_fd(int fd, const struct sockaddr_in *sa)
{
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
		return 0;
	if (errno != EINTR)
		return -1;
	wait_fd(fd, POLLOUT);
	int e = 0;
	socklen_t len = sizeof e;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		return -1;
	errno = e;
	return e ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t isize)
{
	if (isize > 16 * 1024)
		return 0;
	setup();
	char *req;
	size_t size = fill_length(input, isize, &req);
	const char *data = req;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_port = htons((uint16_t)port[isize % 2]);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect_fd(fd, &sa) != 0) {
		perror("fuzz_api: connect");
		abort();
	}
	/* Send, reading what comes meanwhile so neither side blocks. */
	char head[64];
	size_t hlen = 0, sent = 0;
	int eof = 0;
	if (size == 0)
		shut_when_read(fd);
	while (!eof) {
		short ev = POLLIN | (sent < size ? POLLOUT : 0);
		struct pollfd p = {.fd = fd, .events = ev};
		wait_fd(fd, ev);
		poll(&p, 1, 0);
		if (sent < size && (p.revents & POLLOUT)) {
			ssize_t w = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (w < 0 && errno != EINTR && errno != EAGAIN)
				sent = size; /* the server hung up: read its answer */
			else if (w > 0)
				sent += (size_t)w;
			if (sent == size)
				shut_when_read(fd);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[4096];
			ssize_t r = recv(fd, buf, sizeof buf, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				eof = 1;
				break;
			}
			size_t room = sizeof head - 1 - hlen;
			size_t take = (size_t)r < room ? (size_t)r : room;
			memcpy(head + hlen, buf, take);
			hlen += take;
		}
	}
	close(fd);
	free(req);
	head[hlen] = '\0';
	/* Drop what the handlers asked of the engine, as its loop would take it. */
	struct jv_bridge_requests rq;
	jv_bridge_take(bridge, &rq);
	free(rq.cancel);
	/* Our answers never say 500: no database and no engine are 503. */
	if (!strncmp(head, "HTTP/1.", 7) && !strncmp(head + 8, " 500", 4)) {
		fprintf(stderr, "fuzz_api: the server answered %.40s\n", head);
		abort();
	}
	return 0;
}

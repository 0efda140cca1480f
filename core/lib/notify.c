/*
 * notify.c -- systemd's notification protocol, spoken directly.
 *
 * Why not libsystemd's sd_notify(): it would be a new build dependency for
 * about sixty lines, and the protocol is small, stable and documented in
 * sd_notify(3): one datagram of newline-separated KEY=VALUE assignments to
 * the AF_UNIX socket $NOTIFY_SOCKET names ("/path", or "@name" for the
 * abstract namespace). The receiver learns our pid from the socket's
 * credentials, which NotifyAccess=main checks.
 */
#include "autoconf.h"

#include "lib/notify.h"

#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct {
	struct sockaddr_un addr;
	socklen_t addrlen;       /* 0: no socket, nothing is sent */
	uint64_t watchdog_ms;    /* between pings; 0: no watchdog */
	uint64_t next_ping;
	char status[256];        /* the last STATUS= sent */
} nt;

/* The socket's address from $NOTIFY_SOCKET; 0, or -1 when unusable. */
static int parse_address(const char *name)
{
	size_t len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof nt.addr.sun_path)
		return -1;
	memset(&nt.addr, 0, sizeof nt.addr);
	nt.addr.sun_family = AF_UNIX;
	memcpy(nt.addr.sun_path, name, len);
	if (name[0] == '@')
		nt.addr.sun_path[0] = '\0'; /* abstract: no terminating NUL counts */
	else
		len++;
	nt.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	return 0;
}

/* WATCHDOG_USEC=N (and WATCHDOG_PID, when set, naming us): ping every N/2. */
static void parse_watchdog(const char *usec, const char *pid)
{
	if (!usec)
		return;
	char *end;
	errno = 0;
	unsigned long long us = strtoull(usec, &end, 10);
	if (errno || end == usec || *end || us == 0) {
		jv_log(JV_WARNING, "systemd: ignoring WATCHDOG_USEC='%s' (not a positive number)",
		       usec);
		return;
	}
	if (pid && strtoll(pid, NULL, 10) != (long long)getpid())
		return; /* meant for another process */
	nt.watchdog_ms = us / 2000 > 0 ? us / 2000 : 1;
}

void jv_notify_init(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	if (sock && parse_address(sock) != 0) {
		jv_log(JV_WARNING,
		       "systemd: ignoring NOTIFY_SOCKET='%s' (want /path or @name, "
		       "under %zu bytes)",
		       sock, sizeof nt.addr.sun_path);
		nt.addrlen = 0;
	}
	if (nt.addrlen)
		parse_watchdog(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"));
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int jv_notify_enabled(void) { return nt.addrlen != 0; }

/* A fresh socket per message: nothing stays open for workers to inherit,
 * and a message is rare (at most a few per second). */
static int send_text(const char *msg, size_t len)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return jv_error(JV_EIO, "systemd: socket: %s", strerror(errno));
	ssize_t n = sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&nt.addr,
			   nt.addrlen);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len) {
		jv_log(JV_DEBUG, "systemd: cannot notify: %s", n < 0 ? strerror(e) : "short send");
		return JV_EIO;
	}
	return 0;
}

int jv_notify(const char *fmt, ...)
{
	if (!nt.addrlen)
		return 0;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return JV_EINVAL;
	return send_text(msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* status as one line into nt.status (a newline would start a new key). */
static const char *keep_status(const char *status)
{
	snprintf(nt.status, sizeof nt.status, "%s", status ? status : "");
	for (char *p = nt.status; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return nt.status;
}

int jv_notify_ready(const char *status)
{
	if (!nt.addrlen)
		return 0;
	return jv_notify("READY=1\nMAINPID=%d\nSTATUS=%s", (int)getpid(), keep_status(status));
}

int jv_notify_reloading(void)
{
	if (!nt.addrlen)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* The watchdog keeps running while we reload, and a reload stops the
	 * loop for a while (thread-run jobs finish first): give it a whole
	 * interval from here. */
	const char *ping = nt.watchdog_ms ? "\nWATCHDOG=1" : "";
	nt.next_ping = 0;
	return jv_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration%s",
			 (unsigned long long)ts.tv_sec * 1000000ull +
				 (unsigned long long)ts.tv_nsec / 1000ull,
			 ping);
}

int jv_notify_stopping(const char *status)
{
	if (!nt.addrlen)
		return 0;
	return jv_notify("STOPPING=1\nSTATUS=%s", keep_status(status));
}

int jv_notify_status(const char *status)
{
	if (!nt.addrlen || !strcmp(nt.status, status ? status : ""))
		return 0;
	return jv_notify("STATUS=%s", keep_status(status));
}

uint64_t jv_notify_watchdog(uint64_t now_ms)
{
	if (!nt.addrlen || !nt.watchdog_ms)
		return 0;
	if (now_ms >= nt.next_ping) {
		jv_notify("WATCHDOG=1");
		nt.next_ping = now_ms + nt.watchdog_ms;
	}
	return nt.next_ping;
}

/*
 * notify.h -- telling systemd how `jobvisor serve` is doing (sd_notify(3)).
 *
 * The protocol is spoken directly, without libsystemd: each message is one
 * datagram of "KEY=VALUE" lines sent to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket). Without that
 * variable every function here quietly does nothing, so serve runs the same
 * from a shell.
 */
#ifndef JV_NOTIFY_H
#define JV_NOTIFY_H

#include <stdint.h>

/*
 * Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then remove them
 * from the environment: nothing started later (workers, the commands jobs
 * run) may speak for the service. Call once, first thing, before any child
 * or thread exists. A socket name that cannot be used is logged and ignored.
 */
void jv_notify_init(void);

/* 1 when there is a socket to notify, else 0. */
int jv_notify_enabled(void);

/* Send one message, "KEY=VALUE" lines. Returns 0 (also without a socket),
 * or JV_EIO when the datagram could not be sent (logged at debug level:
 * the service runs on either way). */
int jv_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* READY=1 with MAINPID= and STATUS=status (a single line; may be NULL).
 * Also what ends a reload. */
int jv_notify_ready(const char *status);

/* RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, as systemd wants),
 * and a watchdog ping when there is a watchdog. */
int jv_notify_reloading(void);

/* STOPPING=1 with STATUS=status (may be NULL). */
int jv_notify_stopping(const char *status);

/* STATUS=status, sent only when it differs from the last one sent. */
int jv_notify_status(const char *status);

/*
 * The watchdog: when $WATCHDOG_USEC asked for keep-alives (and
 * $WATCHDOG_PID, if set, is our pid), send WATCHDOG=1 when one is due at
 * now_ms (jv_now_ms()) -- every WATCHDOG_USEC/2 -- and return when the next
 * one is due. Returns 0 when there is no watchdog. Call it from the main
 * loop only, so that a stuck loop stops the pings.
 */
uint64_t jv_notify_watchdog(uint64_t now_ms);

#endif

#!/usr/bin/env python3
"""slowclients.py -- clients that hold connections to an HTTP server, for
the API's connection tests.

    slowclients.py --port PORT --source 127.0.0.2 -n 80 [--trickle 1] [--hold 30]

Opens N connections to 127.0.0.1:PORT from the local address SOURCE (any
of 127/8 is loopback), then keeps them: idle, sending nothing, or with
--trickle S, a request line and then one byte of a header every S seconds,
never ending the headers. Prints "open N" once all are connected, then
"closed K T" each time the server has closed K of them in all, T seconds
after "open". With --reconnect, each one closed is opened again at once,
as an attacker would (no "closed" lines then, only the count at the end).
Ends when all are closed, or after --hold seconds; prints "end K T" last.
Every line is flushed at once.
"""
import argparse
import select
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", default="127.0.0.1")
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--trickle", type=float, default=0)
    ap.add_argument("--hold", type=float, default=30)
    ap.add_argument("--reconnect", action="store_true")
    a = ap.parse_args()

    def connect():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((a.source, 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", a.port))
        s.setblocking(False)
        if a.trickle:
            s.send(b"GET /api/cron/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        return s

    socks = [connect() for _ in range(a.n)]
    start = time.monotonic()
    print("open", len(socks), flush=True)

    alive = set(socks)
    closed = 0
    next_byte = start + a.trickle if a.trickle else None
    by_fd = {s.fileno(): s for s in socks}
    while alive and time.monotonic() - start < a.hold:
        p = select.poll()
        for s in alive:
            p.register(s, select.POLLIN)
        r = [by_fd[fd] for fd, _ in p.poll(50)]
        gone = []
        for s in r:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # an answer (a refusal) would come before the end
                gone.append(s)
        if next_byte is not None and time.monotonic() >= next_byte:
            for s in alive:
                if s in gone:
                    continue
                try:
                    s.send(b"a")
                except OSError:
                    gone.append(s)
            next_byte += a.trickle
        for s in set(gone):
            alive.discard(s)
            del by_fd[s.fileno()]
            s.close()
            if a.reconnect:
                try:
                    n = connect()
                except OSError:
                    continue
                alive.add(n)
                by_fd[n.fileno()] = n
        if gone:
            closed += len(set(gone))
            if not a.reconnect:
                print("closed %d %.2f" % (closed, time.monotonic() - start), flush=True)
    print("end %d %.2f" % (closed, time.monotonic() - start), flush=True)
    for s in alive:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""tcpproxy.py -- a TCP proxy for tests that can be told to cut the link
silently, as a cut cable, a stuck NAT or a paused VM does.

Python 3 standard library only. Listens on 127.0.0.1, on a port the kernel
picks, writes that port to --port-file once listening (atomically, through
a rename), and forwards every connection to --target HOST:PORT, both ways.

Signals (tests send them by PID):
  SIGUSR1   blackhole: stop forwarding, in both directions, and stop
            accepting. Nothing is closed: every socket stays open, the
            kernel keeps acknowledging what arrives (so TCP keepalives and
            tcp_user_timeout see a live peer), and new connections complete
            their handshake in the listen backlog and then hear nothing.
  SIGUSR2   heal: every connection of before is closed without forwarding
            what it had buffered (the link was dead; nothing sent into it
            arrives late), connections waiting in the backlog are closed
            likewise, and new ones are forwarded again.
  SIGTERM   exit.

Each event is one line on standard output ("forward N", "blackhole N",
"heal N": N connections open), flushed at once.
"""
import argparse
import os
import selectors
import signal
import socket
import sys


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Proxy:
    def __init__(self, target):
        self.target = target
        self.sel = selectors.DefaultSelector()
        self.peer = {}  # socket -> the other end
        self.out = {}  # socket -> bytes waiting to be written to it
        self.blackholed = False

    def watch(self, s):
        events = selectors.EVENT_READ
        if self.out.get(s):
            events |= selectors.EVENT_WRITE
        try:
            self.sel.modify(s, events)
        except KeyError:
            self.sel.register(s, events)

    def close_pair(self, s):
        for x in (s, self.peer.get(s)):
            if x is None or x not in self.peer:
                continue
            if x in self.sel.get_map():
                self.sel.unregister(x)
            x.close()
            self.peer.pop(x, None)
            self.out.pop(x, None)

    def accept(self, listener):
        try:
            c, _ = listener.accept()
        except BlockingIOError:
            return
        try:
            u = socket.create_connection(self.target, timeout=5)
        except OSError:
            c.close()
            return
        for x in (c, u):
            x.setblocking(False)
            self.out[x] = b""
        self.peer[c] = u
        self.peer[u] = c
        self.watch(c)
        self.watch(u)

    def readable(self, s):
        try:
            data = s.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close_pair(s)
            return
        p = self.peer[s]
        self.out[p] += data
        self.writable(p)

    def writable(self, s):
        buf = self.out.get(s)
        if buf:
            try:
                n = s.send(buf)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self.close_pair(s)
                return
            self.out[s] = buf[n:]
        self.watch(s)

    def blackhole(self, listener):
        self.blackholed = True
        for s in list(self.sel.get_map().values()):
            if s.fileobj is not self.wakeup:
                self.sel.unregister(s.fileobj)
        say("blackhole %d" % (len(self.peer) // 2))

    def heal(self, listener):
        n = len(self.peer) // 2
        for s in self.peer:  # (none is registered: blackhole() took them out)
            s.close()
        self.peer.clear()
        self.out.clear()
        while True:  # the backlog: connections made into the dead link
            try:
                c, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            c.close()
        self.blackholed = False
        self.sel.register(listener, selectors.EVENT_READ)
        say("heal %d" % n)

    def run(self, listener):
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        signal.set_wakeup_fd(w)
        self.wakeup = os.fdopen(r, "rb", buffering=0)
        pending = []
        signal.signal(signal.SIGUSR1, lambda *_: pending.append("blackhole"))
        signal.signal(signal.SIGUSR2, lambda *_: pending.append("heal"))
        signal.signal(signal.SIGTERM, lambda *_: pending.append("exit"))
        self.sel.register(self.wakeup, selectors.EVENT_READ)
        self.sel.register(listener, selectors.EVENT_READ)
        say("forward 0")
        while True:
            for key, mask in self.sel.select():
                if key.fileobj is self.wakeup:
                    try:
                        self.wakeup.read()
                    except BlockingIOError:
                        pass
                elif key.fileobj is listener:
                    self.accept(listener)
                elif key.fileobj in self.peer:
                    if mask & selectors.EVENT_READ:
                        self.readable(key.fileobj)
                    if mask & selectors.EVENT_WRITE and key.fileobj in self.peer:
                        self.writable(key.fileobj)
            while pending:
                what = pending.pop(0)
                if what == "exit":
                    return
                if what == "blackhole" and not self.blackholed:
                    self.blackhole(listener)
                elif what == "heal" and self.blackholed:
                    self.heal(listener)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % listener.getsockname()[1])
    os.rename(tmp, a.port_file)
    Proxy((host, int(port))).run(listener)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""notifyd.py -- the receiving end of systemd's notify protocol, for tests.

Python 3 standard library only. Binds an AF_UNIX datagram socket, as systemd
does for a Type=notify service: --socket PATH, or --socket @NAME for an
abstract one. Once bound it writes --ready-file (atomically, through a
rename). Every datagram becomes one JSON line in --log:

    {"t": 12345.678901, "pid": 4242, "uid": 0,
     "raw": "READY=1\\nSTATUS=...", "msg": {"READY": "1", "STATUS": "..."}}

"t" is the time of receipt on CLOCK_MONOTONIC in seconds (the clock of
MONOTONIC_USEC=); "pid" and "uid" are the sender's, from the kernel
(SO_PASSCRED), which is what NotifyAccess=main checks.

--stop-on-ready: at the first READY=1, send SIGSTOP to its sender before
the line is logged, so that a test can look at the sender's state as it was
when it said it was ready (the test sends SIGCONT).

Stop it with SIGTERM (tests stop it by PID).
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--stop-on-ready", action="store_true")
    a = ap.parse_args()

    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = "\0" + a.socket[1:] if a.socket.startswith("@") else a.socket
    s.bind(addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    tmp = a.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, a.ready_file)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stopped = False
    ucred = struct.Struct("iII")
    with open(a.log, "a") as log:
        while True:
            data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(ucred.size))
            t = time.monotonic()
            pid = uid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid, uid, _ = ucred.unpack(payload[: ucred.size])
            raw = data.decode("utf-8", "replace")
            msg = {}
            for line in raw.split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    msg[k] = v
            if a.stop_on_ready and not stopped and msg.get("READY") == "1" and pid:
                os.kill(pid, signal.SIGSTOP)
                stopped = True
            log.write(json.dumps({"t": t, "pid": pid, "uid": uid, "raw": raw, "msg": msg}) + "\n")
            log.flush()


if __name__ == "__main__":
    main()

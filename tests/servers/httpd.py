#!/usr/bin/env python3
"""httpd.py -- a small real HTTP server for jobvisor's integration tests.

Python 3 standard library only. Listens on 127.0.0.1, on a port the kernel
picks, writes that port to --port-file once listening (atomically, through a
rename), and appends every request to --log as one JSON line:

    {"time": 1700000000.123, "method": "POST", "path": "/echo?x=1",
     "headers": {"content-type": "application/json", ...},   # lower-case names
     "body": "<text, invalid UTF-8 replaced>", "json": <parsed body or null>}

The line is written when the request has been read, before it is answered
(so a request to /hang is logged too).

Routes (any method unless said otherwise):
  /status/NNN             answer NNN, body {"status": NNN}; query parameters:
                          retry_after=V  (a Retry-After: V header)
                          body=TEXT      (this body, text/plain, instead)
                          location=URL   (a Location header)
  /slow/MS                wait MS milliseconds, then 200 {"slept_ms": MS}
  /big/BYTES              200, text/plain, BYTES bytes of "x"; with byte=HH,
                          of the byte with that hex value instead
  /echo                   200, the request as JSON (method, path, headers,
                          body, json)
  /flaky/KEY/N            500 for the first N requests with this KEY, then
                          200 {"key": KEY, "request": I}
  /redirect/NNN?to=URL    answer NNN (default 302) with Location: URL
  /badutf8                200, text/plain, a body that is not valid UTF-8
  /hang                   read the request, never answer (until stopped)
  anything else           200 {"ok": true}, or what the mode says (below)

Mode, for a webhook catcher (alerts): --mode MODE, or a --control FILE read
at every request (its content wins while the file exists), where MODE is
  ok       answer 200 {"ok": true} (default)
  NNN      answer status NNN to every request outside the routes above
  hang     never answer those requests
  only-post:NNN / only-post:hang   the same, but only for POST requests
Retry-After can be added with a second word: "429 3" answers 429 with
Retry-After: 3.

Stop it with SIGTERM or SIGINT (tests stop it by PID).
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

STOP = threading.Event()
LOG_LOCK = threading.Lock()
FLAKY_LOCK = threading.Lock()
FLAKY = {}
ARGS = None


def current_mode():
    if ARGS.control:
        try:
            with open(ARGS.control, encoding="utf-8") as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            pass
    return ARGS.mode


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jv-httpd/1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        if ARGS.verbose:
            sys.stderr.write("httpd: " + (fmt % args) + "\n")

    # ------------------------------------------------------------ reading
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def record(self, body):
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": text,
            "json": parsed,
        }
        with LOG_LOCK:
            with open(ARGS.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
        return entry

    # ------------------------------------------------------------ writing
    def send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def hang(self):
        STOP.wait()
        self.close_connection = True

    # ------------------------------------------------------------ routes
    def handle_any(self):
        body = self.read_body()
        entry = self.record(body)
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        route = parts[0] if parts else ""

        if route == "status" and len(parts) == 2 and parts[1].isdigit():
            status = int(parts[1])
            extra = {}
            if "retry_after" in q:
                extra["Retry-After"] = q["retry_after"]
            if "location" in q:
                extra["Location"] = q["location"]
            if "body" in q:
                return self.send(status, q["body"], "text/plain; charset=utf-8", extra)
            return self.send(status, {"status": status}, headers=extra)
        if route == "slow" and len(parts) == 2 and parts[1].isdigit():
            ms = int(parts[1])
            if STOP.wait(ms / 1000.0):
                return None
            return self.send(200, {"slept_ms": ms})
        if route == "big" and len(parts) == 2 and parts[1].isdigit():
            n = int(parts[1])
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                chunk = bytes([int(q.get("byte", "78"), 16) & 0xFF]) * 65536
                while n > 0 and self.command != "HEAD":
                    self.wfile.write(chunk[: min(n, len(chunk))])
                    n -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return None
        if route == "echo":
            return self.send(200, {k: entry[k] for k in ("method", "path", "headers", "body", "json")})
        if route == "flaky" and len(parts) == 3 and parts[2].isdigit():
            with FLAKY_LOCK:
                FLAKY[parts[1]] = i = FLAKY.get(parts[1], 0) + 1
            if i <= int(parts[2]):
                return self.send(500, "flaky: request %d of %s fails" % (i, parts[2]), "text/plain")
            return self.send(200, {"key": parts[1], "request": i})
        if route == "redirect":
            status = int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else 302
            return self.send(status, b"", "text/plain", {"Location": q.get("to", "/echo")})
        if route == "badutf8":
            return self.send(200, b"ok \xff\xfe bad \xc3", "text/plain")
        if route == "hang":
            return self.hang()

        mode = current_mode().split()
        what = mode[0] if mode else "ok"
        if what.startswith("only-post:"):
            what = what[len("only-post:"):] if self.command == "POST" else "ok"
        if what == "hang":
            return self.hang()
        if what.isdigit():
            extra = {"Retry-After": mode[1]} if len(mode) > 1 else {}
            return self.send(int(what), {"status": int(what)}, headers=extra)
        return self.send(200, {"ok": True})

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any


def main():
    global ARGS
    ap = argparse.ArgumentParser(description="HTTP test server for jobvisor")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--control", help="file whose content, when present, sets the mode")
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(signum, frame):
        STOP.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    open(ARGS.log, "a").close()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, ARGS.port_file)
    server.serve_forever(poll_interval=0.1)
    server.server_close()


if __name__ == "__main__":
    main()

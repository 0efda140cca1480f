#!/usr/bin/env python3
"""smtpd.py -- a small real SMTP server for jobvisor's tests (standard
library only: socketserver, not the deprecated smtpd module).

    smtpd.py --port-file F --log F [--user U --password P]
             [--mechanisms "PLAIN LOGIN"] [--reject-rcpt ADDR]...
             [--tempfail N] [--hang]

Listens on 127.0.0.1 on a port the kernel picks, writes the port to
--port-file once listening, and appends every message it accepts to --log
as one JSON line:

    {"from": envelope sender, "rcpt": [envelope recipients],
     "auth": the authenticated user or null, "helo": the EHLO/HELO name,
     "data": the message as received after dot-unstuffing (CRLF kept),
     "headers": [[name, decoded value], ...] (email package, default policy),
     "raw_headers": [[name, value as sent], ...],
     "body": the decoded text body, "bare_lf": true when a line ends in a
     bare LF, "max_line": the longest line in bytes (without its end)}

Speaks EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT; with --user
and --password also AUTH PLAIN and AUTH LOGIN (advertised in EHLO; MAIL
without AUTH is then refused with 530, wrong credentials with 535).
STARTTLS is not offered (the tests have no certificates).

Misbehaving on purpose:
  --reject-rcpt ADDR  550 for RCPT TO that address (repeatable)
  --tempfail N        451 for the first N DATA commands, then accept
  --hang              accept connections and never say anything
"""
import argparse
import base64
import binascii
import email
import email.policy
import json
import os
import re
import socketserver
import sys
import threading

ARGS = None
LOCK = threading.Lock()
STATE = {"tempfail_left": 0}


def log_message(entry):
    with LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def parse_message(raw):
    """The headers and body of raw (bytes) through the email package."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = [[k, str(v)] for k, v in msg.items()]
    raw_msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    raw_headers = [[k, v] for k, v in raw_msg.items()]
    try:
        body = msg.get_content() if not msg.is_multipart() else None
    except (KeyError, LookupError, ValueError) as e:
        body = "<undecodable: %s>" % e
    return headers, raw_headers, body


class Handler(socketserver.StreamRequestHandler):
    timeout = 60

    def reply(self, text):
        self.wfile.write(text.encode("utf-8") + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            raise EOFError
        return line

    def reset(self):
        self.mail_from = None
        self.rcpt = []

    def handle(self):
        if ARGS.hang:
            # say nothing; read until the client gives up
            try:
                while self.rfile.read(1):
                    pass
            except OSError:
                pass
            return
        self.helo = None
        self.auth_user = None
        self.reset()
        try:
            self.reply("220 smtpd.py test server ready")
            while True:
                line = self.readline().rstrip(b"\r\n").decode("utf-8", "replace")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                fn = getattr(self, "smtp_" + verb, None)
                if fn is None:
                    self.reply("500 5.5.2 command not recognized")
                    continue
                if fn(arg.strip()) == "quit":
                    return
        except (EOFError, ConnectionError, OSError):
            return

    def smtp_EHLO(self, arg):
        self.helo = arg
        self.reset()
        lines = ["smtpd.py greets " + (arg or "you"), "8BITMIME", "SIZE 10485760"]
        if ARGS.user is not None:
            lines.append("AUTH " + ARGS.mechanisms)
        lines.append("HELP")
        for i, l in enumerate(lines):
            self.reply(("250 " if i == len(lines) - 1 else "250-") + l)

    def smtp_HELO(self, arg):
        self.helo = arg
        self.reset()
        self.reply("250 smtpd.py")

    def smtp_NOOP(self, arg):
        self.reply("250 2.0.0 ok")

    def smtp_RSET(self, arg):
        self.reset()
        self.reply("250 2.0.0 ok")

    def smtp_QUIT(self, arg):
        self.reply("221 2.0.0 bye")
        return "quit"

    def smtp_HELP(self, arg):
        self.reply("214 see RFC 5321")

    def check_login(self, user, password):
        if ARGS.user is not None and user == ARGS.user and password == ARGS.password:
            self.auth_user = user
            self.reply("235 2.7.0 authentication successful")
        else:
            self.reply("535 5.7.8 authentication credentials invalid")

    def b64(self, text):
        try:
            return base64.b64decode(text.strip(), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None

    def smtp_AUTH(self, arg):
        if ARGS.user is None:
            self.reply("502 5.5.1 AUTH not available")
            return
        if self.auth_user is not None:
            self.reply("503 5.5.1 already authenticated")
            return
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if mech not in ARGS.mechanisms.upper().split():
            self.reply("504 5.5.4 mechanism not supported")
            return
        if mech == "PLAIN":
            if not initial:
                self.reply("334 ")
                initial = self.readline().rstrip(b"\r\n").decode("ascii", "replace")
            if initial == "*":
                self.reply("501 5.0.0 authentication cancelled")
                return
            dec = self.b64(initial)
            parts = dec.split("\0") if dec is not None else []
            if len(parts) != 3:
                self.reply("501 5.5.2 cannot decode AUTH PLAIN response")
                return
            self.check_login(parts[1], parts[2])
        elif mech == "LOGIN":
            if initial:
                user = self.b64(initial)
            else:
                self.reply("334 " + base64.b64encode(b"Username:").decode())
                user = self.b64(self.readline().rstrip(b"\r\n").decode("ascii", "replace"))
            self.reply("334 " + base64.b64encode(b"Password:").decode())
            password = self.b64(self.readline().rstrip(b"\r\n").decode("ascii", "replace"))
            if user is None or password is None:
                self.reply("501 5.5.2 cannot decode AUTH LOGIN response")
                return
            self.check_login(user, password)

    def smtp_MAIL(self, arg):
        m = re.match(r"(?i)FROM:\s*<([^>]*)>", arg)
        if not m:
            self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
            return
        if self.helo is None:
            self.reply("503 5.5.1 say EHLO first")
            return
        if ARGS.user is not None and self.auth_user is None:
            self.reply("530 5.7.0 authentication required")
            return
        self.mail_from = m.group(1)
        self.rcpt = []
        self.reply("250 2.1.0 sender ok")

    def smtp_RCPT(self, arg):
        m = re.match(r"(?i)TO:\s*<([^>]*)>", arg)
        if not m:
            self.reply("501 5.5.4 syntax: RCPT TO:<address>")
            return
        if self.mail_from is None:
            self.reply("503 5.5.1 need MAIL first")
            return
        addr = m.group(1)
        if addr.lower() in [a.lower() for a in ARGS.reject_rcpt]:
            self.reply("550 5.1.1 <%s>: recipient rejected (no such user here)" % addr)
            return
        self.rcpt.append(addr)
        self.reply("250 2.1.5 recipient ok")

    def smtp_DATA(self, arg):
        if self.mail_from is None or not self.rcpt:
            self.reply("503 5.5.1 need MAIL and RCPT first")
            return
        with LOCK:
            fail = STATE["tempfail_left"] > 0
            if fail:
                STATE["tempfail_left"] -= 1
        if fail:
            self.reply("451 4.3.0 temporary failure, try again later")
            return
        self.reply("354 end data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            line = self.readline()
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]  # dot-unstuffing
            lines.append(line)
        raw = b"".join(lines)
        headers, raw_headers, body = parse_message(raw)
        bare_lf = any(not l.endswith(b"\r\n") for l in lines)
        max_line = max((len(l.rstrip(b"\r\n")) for l in lines), default=0)
        log_message({
            "from": self.mail_from,
            "rcpt": self.rcpt,
            "auth": self.auth_user,
            "helo": self.helo,
            "data": raw.decode("utf-8", "replace"),
            "headers": headers,
            "raw_headers": raw_headers,
            "body": body,
            "bare_lf": bare_lf,
            "max_line": max_line,
        })
        self.reply("250 2.0.0 message accepted")
        self.reset()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    p = argparse.ArgumentParser(description="a small SMTP server for tests")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--mechanisms", default="PLAIN LOGIN")
    p.add_argument("--reject-rcpt", action="append", default=[])
    p.add_argument("--tempfail", type=int, default=0)
    p.add_argument("--hang", action="store_true")
    ARGS = p.parse_args()
    if (ARGS.user is None) != (ARGS.password is None):
        p.error("--user and --password go together")
    STATE["tempfail_left"] = ARGS.tempfail
    open(ARGS.log, "a").close()
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""burst.py -- N HTTP requests, C at a time, for the API tests.

    burst.py --base http://127.0.0.1:PORT --token T -n 1000 -c 200 \
             GET:/api/cron/health GET:/api/cron/status POST:/api/cron/trigger ...

Requests cycle through the given METHOD:PATH list, each on its own
connection (as independent clients would), with the bearer token. With
--sources K (a base on 127.0.0.1), client i connects from 127.0.0.(1 + i % K):
independent clients come from several addresses, and the API caps the
connections of one address (api.max_connections_per_address). Prints
one line per status code seen, "CODE COUNT", sorted; a request that got no
answer (refused, reset, timed out after 60 s) counts as "000". Exits 0.
"""
import argparse
import http.client
import threading
from collections import Counter
from urllib.parse import urlsplit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("-c", type=int, default=100)
    ap.add_argument("--sources", type=int, default=1)
    ap.add_argument("routes", nargs="+")
    a = ap.parse_args()
    u = urlsplit(a.base)
    routes = [r.split(":", 1) for r in a.routes]
    counts = Counter()
    lock = threading.Lock()
    next_i = [0]

    def worker(source):
        while True:
            with lock:
                i = next_i[0]
                if i >= a.n:
                    return
                next_i[0] += 1
            method, path = routes[i % len(routes)]
            code = "000"
            try:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60,
                                                  source_address=source)
                headers = {"Authorization": "Bearer " + a.token} if a.token else {}
                conn.request(method, path, body=b"" if method == "POST" else None,
                             headers=headers)
                r = conn.getresponse()
                r.read()
                code = "%03d" % r.status
                conn.close()
            except OSError:
                pass
            with lock:
                counts[code] += 1

    def source(i):
        return ("127.0.0.%d" % (1 + i % a.sources), 0) if a.sources > 1 else None

    threads = [threading.Thread(target=worker, args=(source(i),)) for i in range(a.c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for code in sorted(counts):
        print(code, counts[code])


if __name__ == "__main__":
    main()

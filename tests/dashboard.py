#!/usr/bin/env python3
"""dashboard.py -- drive the dashboard in Debian's chromium (headless),
through chromedriver's WebDriver protocol, with the standard library only.

    dashboard.py --url http://127.0.0.1:PORT --token T --db URL --out DIR
                 --failed-job ID --error TEXT --output-job ID --output TEXT
                 --stuck-minutes N --queue NAME --queue-limits TEXT

Checks what the rendered page shows against the database (read with psql),
performs actions (retry, cancel with its confirmation, pause and resume a
processor and a queue) and checks their effect in the database, saves screenshots into
DIR, and checks from chromium's own network log that no request of the page
went anywhere but the server it was loaded from. Prints "ok - ..." per
check; the first failed check prints "FAIL: ..." and exits 1. Every wait is
bounded. chromedriver and chromium are stopped by process group at exit.
"""
import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ELEM = "element-6066-11e4-a52e-4f735466cecf"
PASSED = 0


def ok(msg):
    global PASSED
    PASSED += 1
    print("ok - " + msg, flush=True)


DRIVER = None


def fail(msg):
    print("FAIL: " + msg, flush=True)
    if DRIVER:  # what the page said, for the log
        try:
            print("page: " + str(DRIVER.js("return [location.href, document.getElementById('banner')"
                                           ".textContent, document.getElementById('toast').textContent,"
                                           " document.getElementById('login-error').textContent]")))
            for e in DRIVER.logs("browser"):
                print("console: %s %s" % (e.get("level"), e.get("message")))
        except Exception as e:  # noqa: BLE001 -- failing anyway
            print("(no page state: %s)" % e)
    raise SystemExit(1)


def check(cond, msg, detail=""):
    if not cond:
        fail(msg + (": " + str(detail) if detail != "" else ""))
    ok(msg)


class Driver:
    """A WebDriver session on a chromedriver we start and stop."""

    def __init__(self, workdir):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = open(os.path.join(workdir, "chromedriver.log"), "w")
        self.proc = subprocess.Popen(
            ["chromedriver", "--port=%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 20
        while True:
            try:
                if self.call("GET", "/status")["ready"]:
                    break
            except (OSError, urllib.error.URLError, KeyError):
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                fail("chromedriver did not start (see chromedriver.log)")
            time.sleep(0.1)
        profile = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-dev-shm-usage",
                         "--no-first-run", "--user-data-dir=" + profile,
                         "--window-size=1280,900", "--lang=en-US"],
            },
            "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
        }}}
        r = self.call("POST", "/session", caps, timeout=60)
        self.sid = r["sessionId"]

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return json.loads(res.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s: %s" % (method, path, e.read()[:500])) from None

    def s(self, method, path, body=None, timeout=30):
        return self.call(method, "/session/%s%s" % (self.sid, path), body, timeout)

    def get(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEM]

    def click(self, css):
        """Click the element, first scrolled to the middle of the window:
        WebDriver scrolls it just into view, at the bottom of the window.
        (The page's toast, fixed at the bottom, lets clicks through.) A list the page
        redraws (every few seconds) between finding the element and clicking
        it leaves a stale reference: then it is found again (at most 5 times)."""
        for attempt in range(5):
            try:
                e = self.find(css)
                self.js("arguments[0].scrollIntoView({block: 'center'})", {ELEM: e})
                self.s("POST", "/element/%s/click" % e, {})
                return
            except RuntimeError as err:
                if "stale element" not in str(err) or attempt == 4:
                    raise

    def type(self, css, text):
        """Replace the field's value with text, typed key by key."""
        e = self.find(css)
        self.s("POST", "/element/%s/clear" % e, {})
        self.s("POST", "/element/%s/value" % e, {"text": text})

    def size(self, w, h):
        self.s("POST", "/window/rect", {"width": w, "height": h})

    def cdp(self, cmd, params):
        return self.s("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params})

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def logs(self, kind):
        return self.s("POST", "/se/log", {"type": kind})

    def quit(self):
        try:
            self.s("DELETE", "", timeout=10)
        except Exception:  # noqa: BLE001 -- stopping anyway
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


def wait(what, fn, timeout=20.0):
    """Poll fn() every 0.2 s until it returns a true value; fail after timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
        except RuntimeError as e:  # a WebDriver error (element not there yet)
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    fail("%s (waited %.0f s; last: %r)" % (what, timeout, last))
    return None


def main():
    ap = argparse.ArgumentParser()
    for a in ("url", "token", "db", "out", "failed-job", "error", "output-job", "output",
              "stuck-minutes", "queue", "queue-limits", "workflow", "workflow-1000", "wf-error",
              "bulk-error", "viewer-token"):
        ap.add_argument("--" + a, required=True)
    o = ap.parse_args()
    os.makedirs(o.out, exist_ok=True)

    def sql(q):
        r = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", o.db, "-c", q],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            fail("psql: " + r.stderr.strip())
        return r.stdout.strip()

    # The page's own headers: a policy that allows this origin only.
    with urllib.request.urlopen(o.url + "/", timeout=10) as res:
        csp = res.headers.get("Content-Security-Policy", "")
        page = res.read().decode()
    check("default-src 'none'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp,
          "GET / carries a Content-Security-Policy that allows only this origin", csp)
    check("http" not in page.replace("http-equiv", ""), "the page's HTML names no other origin")

    global DRIVER
    d = DRIVER = Driver(o.out)
    try:
        run_browser(d, o, sql)
    finally:
        d.quit()
    print("%d browser checks passed" % PASSED)


def unnamed_controls(d):
    """The visible form controls without an accessible name."""
    return d.js("""
        var bad = [];
        document.querySelectorAll('input, select, button').forEach(function (e) {
            if (e.closest('[hidden]') || e.closest('dialog')) return;
            var name = e.getAttribute('aria-label') || (e.labels && e.labels.length && e.labels[0].textContent)
                || (e.tagName === 'BUTTON' && e.textContent.trim());
            if (!name) bad.push(e.outerHTML.slice(0, 80));
        });
        return bad;""")


def confirm(d, what, keep_first=None):
    """Answer the page's confirmation dialog: Keep first when keep_first
    (a function that must then hold), then open it again with what() and
    confirm. Returns the dialog's text."""
    if keep_first:
        what()
        wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
        d.click("#confirm-no")
        wait("the confirmation closes", lambda: not d.js("return document.getElementById('confirm').open"))
        keep_first()
    what()
    wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
    text = d.js("return document.getElementById('confirm-text').textContent")
    d.click("#confirm-yes")
    return text


def go(d, hash):
    """Go to hash, the view's old nodes marked stale first (a new route
    draws new ones), so a wait cannot read the view before it."""
    if d.js("return location.hash") != hash:
        d.js("var f = document.getElementById('view').firstElementChild; if (f) f.setAttribute('data-stale', '1');"
             "location.hash = arguments[0]", hash)


def workflows_and_search(d, o, sql):
    """Issue 19 on the page: the workflow graph, the job search, bulk
    actions, progress bars."""
    wf = int(o.workflow)
    steps = dict(tuple(line.split("|")) for line in sql(
        "SELECT workflow_key, id || ',' || status FROM jobvisor.jobs WHERE workflow_id = %d" % wf).split("\n"))
    ids = {k: int(v.split(",")[0]) for k, v in steps.items()}
    status = {k: v.split(",")[1] for k, v in steps.items()}

    # The workflows list links to the workflow; its page draws one node per
    # step, coloured by its state, and one edge per dependency.
    go(d, "#/workflows")
    row = wait("the workflows list shows workflow %d" % wf, lambda: d.js(
        "var r = document.querySelector('#workflows-body tr[data-workflow=\"%d\"]'); return r && r.textContent" % wf))
    check("dash-flow" in row and "running" in row, "the workflows list shows its name and status", row)
    d.click('#workflows-body tr[data-workflow="%d"] a' % wf)
    wait("the workflow page draws its graph", lambda: d.js(
        "return location.hash === '#/workflows/%d' && document.querySelectorAll('#dag a.step').length > 0" % wf))
    nodes = d.js("return Array.prototype.map.call(document.querySelectorAll('#dag a.step'), function (a) {"
                 " return [a.getAttribute('data-key'), +a.getAttribute('data-job'), a.getAttribute('data-status'),"
                 " a.getAttribute('class'), getComputedStyle(a.querySelector('rect')).fill]; })")
    check(sorted(n[0] for n in nodes) == sorted(ids), "the graph has one node per step (%d)" % len(ids), nodes)
    for key, job, st, cls, _ in nodes:
        if job != ids[key] or st != status[key] or ("st-" + st) not in cls.split():
            fail("node %s: job %s, state %s, class %s; the database has job %d, %s"
                 % (key, job, st, cls, ids[key], status[key]))
    fills = {n[2]: n[4] for n in nodes}
    check(len(set(fills.values())) == len(fills),
          "each step carries its state as class st-STATE, and each state its own colour", fills)
    edges = d.js("return Array.prototype.map.call(document.querySelectorAll('#dag path.edge'), function (p) {"
                 " return p.getAttribute('data-from') + '>' + p.getAttribute('data-to'); }).sort()")
    db_edges = sql("SELECT string_agg(p.workflow_key || '>' || c.workflow_key, ',' ORDER BY 1) FROM"
                   " jobvisor.job_dependencies e JOIN jobvisor.jobs c ON c.id = e.job_id"
                   " JOIN jobvisor.jobs p ON p.id = e.depends_on WHERE c.workflow_id = %d" % wf)
    check(",".join(sorted(edges)) == ",".join(sorted(db_edges.split(","))),
          "one edge per dependency (%s)" % ",".join(edges))
    layers = d.js("var x = {}; document.querySelectorAll('#dag a.step').forEach(function (a) {"
                  " x[a.getAttribute('data-key')] = +a.querySelector('rect').getAttribute('x'); }); return x")
    check(layers["a"] < layers["b"] == layers["c"] < layers["d"] and layers["e"] == layers["d"],
          "layers by dependency depth, left to right", layers)
    label = d.js("return document.querySelector('#dag a.step[data-key=\"c\"]').getAttribute('aria-label')")
    check("running" in label and "42 %" in label, "the running step's label says its progress", label)
    check(d.js("return document.getElementById('wf-status').textContent") == "running",
          "the workflow's status is running")
    check(unnamed_controls(d) == [], "every control of the workflow page has a name", unnamed_controls(d))
    d.screenshot(os.path.join(o.out, "workflow.png"))
    d.size(390, 844)
    wide = wait("the phone layout settles", lambda: d.js(
        "return window.innerWidth < 500 ? [document.documentElement.scrollWidth, window.innerWidth] : null"))
    check(wide[0] <= wide[1] + 1, "at a phone's width the workflow page does not overflow sideways (%d <= %d)" % tuple(wide))
    d.screenshot(os.path.join(o.out, "workflow-phone.png"))
    d.size(1280, 900)

    # A click on a step opens its job.
    d.click('#dag a.step[data-key="b"]')
    text = wait("the job page of step b", lambda: d.js(
        "var e = document.getElementById('job-error'); return location.hash === '#/jobs/%d' && e && e.textContent"
        % ids["b"]))
    check(o.wf_error in text and d.js(
        "var a = document.getElementById('job-workflow'); return a && a.getAttribute('href')") == "#/workflows/%d" % wf,
        "a click on step b opens job %d, with its error and a link back to the workflow" % ids["b"])
    go(d, "#/jobs/%d" % ids["d"])
    text = wait("the job page of step d", lambda: d.js(
        "var e = document.getElementById('job-error'); return e && e.textContent"))
    deps = d.js("var e = document.getElementById('job-deps'); return e && e.textContent")
    check("(%d)" % ids["b"] in text and sorted((deps or "").split(", ")) == sorted(["#%d" % ids["b"], "#%d" % ids["c"]]),
          "step d says which dependency cancelled it (%s), and lists its dependencies (%s)" % (text, deps))

    # Progress: a bar in the list of running jobs and on the job's page.
    c = ids["c"]
    go(d, "#/jobs?status=running")
    bar = wait("the running step shows a progress bar", lambda: d.js(
        "var r = document.querySelector('#jobs-body tr[data-job=\"%d\"] .progress');"
        " return r && [r.querySelector('progress').value, r.textContent]" % c))
    check(bar[0] == 42 and "42 %" in bar[1] and "half way" in bar[1],
          "the jobs list shows job %d's progress: a bar at 42 %% with its note" % c, bar)
    go(d, "#/jobs/%d" % c)
    bar = wait("the job page shows its progress", lambda: d.js(
        "var p = document.querySelector('#job-progress progress'); return p && [p.value, p.getAttribute('aria-label')]"))
    check(bar[0] == 42 and bar[1], "the job page shows the progress bar, labelled", bar)

    # The search: by type, by error text, by id, by status, by time; each
    # in the URL, so a search can be shared.
    def shown():
        """The jobs listed by a view drawn since go(), once loaded."""
        return d.js("var f = document.getElementById('view').firstElementChild;"
                    "return f && !f.hasAttribute('data-stale') && document.getElementById('jobs-shown') ?"
                    " Array.prototype.map.call(document.querySelectorAll('#jobs-body tr[data-job]'),"
                    " function (r) { return +r.getAttribute('data-job'); }) : null")

    def search(fields, what):
        go(d, "#/jobs")
        wait("the jobs list", lambda: shown() is not None)
        for k, v in fields.items():
            d.type("#f-" + k, v)
        d.js("document.getElementById('view').firstElementChild.setAttribute('data-stale', '1')")
        d.click("form.filters button[type=submit]")
        return wait(what, shown)

    slow = sorted(int(x) for x in sql("SELECT id FROM jobvisor.jobs WHERE type = 'slow'").split())
    rows = search({"type": "slow"}, "the search by type")
    check(sorted(rows) == slow and "type=slow" in d.js("return location.hash"),
          "a search by type shows the two jobs of type slow only (%s), in the URL" % rows)
    rows = search({"q": o.bulk_error[:-3]}, "the search by error text")
    check(sorted(rows) == slow and "q=" in d.js("return location.hash"),
          "a search by part of their error text finds the same two", rows)
    d.screenshot(os.path.join(o.out, "jobs-search.png"))
    rows = search({"id": str(ids["d"])}, "the search by id")
    check(rows == [ids["d"]], "a search by id shows that job", rows)
    go(d, "#/jobs?status=waiting")
    wait("the waiting jobs", shown)
    waiting = int(sql("SELECT count(*) FROM jobvisor.jobs WHERE status = 'waiting'"))
    rows = shown()
    listed = sql("SELECT string_agg(DISTINCT status, ',') FROM jobvisor.jobs WHERE id IN (%s)" % ",".join(map(str, rows)))
    check(len(rows) == min(50, waiting) and listed == "waiting"
          and d.js("return document.getElementById('f-status').value") == "waiting",
          "status=waiting lists waiting jobs only, a page of %d (%d in the database)" % (len(rows), waiting))
    go(d, "#/jobs?status=waiting&workflow=%d" % wf)
    rows = wait("the waiting steps of workflow %d" % wf, shown)
    check(rows == [ids["e"]], "status=waiting and workflow=%d: its step e only" % wf, rows)
    t = sql("SELECT to_char(max(created_at) AT TIME ZONE 'UTC' + interval '1 second',"
            " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM jobvisor.jobs WHERE type = 'slow'")
    # A shared address opens the same search, its fields filled in.
    d.js("document.getElementById('view').firstElementChild.setAttribute('data-stale', '1')")
    d.get(o.url + "/#/jobs?type=slow&to=" + t)
    wait("the shared search opens", lambda: shown() and d.js(
        "return document.getElementById('f-to').value !== ''"))
    check(sorted(shown()) == slow and d.js("return document.getElementById('f-type').value") == "slow",
          "an address with type and to= opens that search: the two jobs, fields filled in")
    go(d, "#/jobs?type=slow&from=" + t)
    wait("a search from after they were made", lambda: shown() is not None and d.js(
        "var e = document.querySelector('#jobs-body .empty'); return e && e.textContent === 'No jobs match.'"))
    ok("from= after their creation: no jobs match")

    # Bulk retry of the two: select all on the page, Retry asks first; Keep
    # changes nothing, Retry runs each again; the toast counts them.
    go(d, "#/jobs?type=slow")
    wait("the two slow jobs listed", lambda: sorted(shown() or []) == slow)
    check(d.js("return document.getElementById('bulk-retry').disabled"), "bulk actions wait for a selection")
    d.click("#sel-all")
    wait("both selected", lambda: d.js("return document.getElementById('bulk-count').textContent") == "2 selected")
    check(d.js("return Array.prototype.every.call(document.querySelectorAll('#jobs-body input.sel'),"
               " function (c) { return c.checked; })"), "select all checks every row on the page")
    check(unnamed_controls(d) == [], "every control of the jobs list has a name", unnamed_controls(d))
    runs = "SELECT count(*) FROM jobvisor.job_executions WHERE job_id IN (%s)" % ",".join(map(str, slow))

    def kept():
        check(int(sql(runs)) == 2, "Keep leaves both jobs alone")
    text = confirm(d, lambda: d.click("#bulk-retry"), kept)
    check("#%d, #%d" % tuple(slow) in text, "the confirmation names both jobs", text)
    toast = wait("the bulk retry's toast", lambda: (lambda t: "Retry:" in t and t)(
        d.js("return document.getElementById('toast').textContent")))
    check(toast == "Retry: 2 changed, 0 unchanged.", "the toast counts what changed", toast)
    # A toast over a button must not take its click (it once took Pause's).
    hit = d.js("var t = document.getElementById('toast'), r = t.getBoundingClientRect();"
               "var e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
               "return r.width > 0 && e !== null && !t.contains(e)")
    check(hit, "a click where the toast shows goes to the page under it")
    wait("both jobs run again", lambda: int(sql(runs)) == 4, timeout=30)
    ok("bulk retry ran jobs %s again (4 executions now)" % slow)

    # Bulk cancel of the waiting step e.
    go(d, "#/jobs?id=%d" % ids["e"])
    wait("job e listed", lambda: shown() == [ids["e"]])
    d.click("#sel-%d" % ids["e"])
    confirm(d, lambda: d.click("#bulk-cancel"))
    wait("the bulk cancel's toast", lambda: "Cancel: 1 changed, 0 unchanged" in d.js(
        "return document.getElementById('toast').textContent"))
    wait("step e is cancelled", lambda: sql("SELECT status FROM jobvisor.jobs WHERE id = %d" % ids["e"]) == "cancelled")
    ok("bulk cancel, confirmed, cancelled the waiting step e")

    # The workflow's Cancel asks first, then cancels its unfinished step c.
    go(d, "#/workflows/%d" % wf)
    wait("the workflow page with Cancel", lambda: d.js("return document.getElementById('wf-cancel') !== null"))

    def still():
        check(sql("SELECT status FROM jobvisor.jobs WHERE id = %d" % c) == "running", "Keep leaves the workflow running")
    confirm(d, lambda: d.click("#wf-cancel"), still)
    wait("step c is cancelled", lambda: sql("SELECT status FROM jobvisor.jobs WHERE id = %d" % c) == "cancelled")
    toast = wait("the workflow cancel's toast", lambda: (lambda t: "Workflow" in t and t)(
        d.js("return document.getElementById('toast').textContent")))
    check(toast == "Workflow #%d: 1 step cancelled." % wf, "cancelling the workflow cancelled its running step", toast)
    wait("the page shows the workflow failed, step c cancelled", lambda: d.js(
        "var a = document.querySelector('#dag a.step[data-key=\"c\"]');"
        "return document.getElementById('wf-status').textContent === 'failed' && a"
        " && a.getAttribute('data-status') === 'cancelled' && !document.getElementById('wf-cancel')"), timeout=15)
    ok("the workflow shows failed (b failed), c cancelled, no Cancel any more")

    # 1 000 steps: drawn in bounded time, the page stays responsive.
    big = int(o.workflow_1000)
    n = int(sql("SELECT count(*) FROM jobvisor.jobs WHERE workflow_id = %d" % big))
    t0 = time.time()
    go(d, "#/workflows/%d" % big)
    wait("the 1 000-step graph", lambda: d.js("return document.querySelectorAll('#dag a.step').length") == n,
         timeout=30)
    took = time.time() - t0
    ok("the graph of %d steps drawn in %.2f s (from the route to its last node, the API's answer included)" % (n, took))
    box = d.js("var r = document.getElementById('dag-wrap'); return [r.clientHeight, r.scrollWidth,"
               " r.scrollHeight, window.innerHeight]")
    check(box[0] <= 0.7 * box[3] + 2, "it scrolls in a box of at most 70 %% of the window's height %s" % box)
    d.screenshot(os.path.join(o.out, "workflow-1000.png"))
    go(d, "#/")
    waiting = sql("SELECT count(*) FROM jobvisor.jobs WHERE status = 'waiting'")
    wait("the overview counts %s waiting jobs" % waiting, lambda: d.js(
        "var n = document.querySelector('#count-waiting .n'); return n && n.getAttribute('data-count')") == waiting)
    ok("the overview counts the waiting jobs (%s)" % waiting)
    wait("the overview lists the failed job again", lambda: d.js(
        "return document.querySelector('#failures tr[data-job=\"%s\"] button') !== null" % o.failed_job))


def run_browser(d, o, sql):
    failed_job = int(o.failed_job)
    d.get(o.url + "/")
    wait("the sign-in form shows", lambda: d.js(
        "return !document.getElementById('login').hidden && document.activeElement.id === 'token'"))
    ok("without a token the sign-in form shows, focused")

    # A wrong token is refused, and said so.
    d.type("#token", "wrong-" + o.token)
    d.click("#login-form button[type=submit]")
    msg = wait("a wrong token is refused", lambda: d.js(
        "return document.getElementById('login-error').textContent"))
    check("refused" in msg and d.js("return document.getElementById('view').hidden"),
          "a wrong token is refused with a message, nothing shown", msg)

    d.type("#token", o.token)
    d.click("#login-form button[type=submit]")
    wait("the overview loads", lambda: d.js("return document.body.getAttribute('data-loaded')"))
    ok("the right token opens the overview")
    where = d.js("return location.href")
    check(o.token not in where and o.token not in d.js("return document.cookie"),
          "the token is in no URL and no cookie", where)
    check(d.js("return sessionStorage.getItem('jobvisor.token')") == o.token
          and d.js("return localStorage.length") == 0,
          "the token is kept in sessionStorage only")

    # Counts against the database: failed is stable, succeeded grows while
    # jobs flow, so it must lie between two readings around the page's.
    wait("the failed count matches the database", lambda: d.js(
        "return document.querySelector('#count-failed .n').getAttribute('data-count')")
        == sql("SELECT count(*) FROM jobvisor.jobs WHERE status = 'failed'"), timeout=15)
    ok("the failed count matches the database (%s)" % sql(
        "SELECT count(*) FROM jobvisor.jobs WHERE status = 'failed'"))
    lo = int(sql("SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'"))
    d.js("location.hash = '#/?r=1'")  # a fresh render
    wait("the overview reloads", lambda: d.js(
        "return document.querySelector('#count-succeeded .n') !== null && "
        "document.body.getAttribute('data-loaded') !== null"))
    wait("counts render", lambda: d.js("return document.querySelector('#count-succeeded .n')"))
    shown = int(wait("the succeeded count shows", lambda: d.js(
        "var n = document.querySelector('#count-succeeded .n'); return n && n.getAttribute('data-count')")))
    hi = int(sql("SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'"))
    check(lo <= shown <= hi and shown > 0, "the succeeded count is the database's (%d <= %d <= %d)"
          % (lo, shown, hi))

    # Charts: SVG bars whose values add up to what the history holds.
    bars = wait("the throughput chart has bars", lambda: d.js(
        "var s = 0, b = 0; document.querySelectorAll('#throughput svg rect.bar-ok')"
        ".forEach(function (r) { s += +r.getAttribute('data-value'); });"
        "document.querySelectorAll('#throughput svg rect.bar-bad')"
        ".forEach(function (r) { b += +r.getAttribute('data-value'); });"
        "return s > 0 && b > 0 ? [s, b] : null"))
    ok_hist = int(sql("SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'succeeded'"))
    bad_hist = int(sql("SELECT count(*) FROM jobvisor.job_executions"
                       " WHERE outcome IN ('failed', 'timed_out', 'crashed')"))
    check(0 < bars[0] <= ok_hist and bars[1] == bad_hist,
          "the per-minute chart shows %d succeeded (history: %d) and %d failed (history: %d)"
          % (bars[0], ok_hist, bars[1], bad_hist))
    check(d.js("return document.querySelectorAll('#throughput-day svg rect.bar-ok').length") >= 1,
          "the per-hour chart of the last day has bars")
    check(d.js("return document.querySelector('#throughput svg').getAttribute('role') === 'img' && "
               "/finished/.test(document.querySelector('#throughput svg').getAttribute('aria-label'))"),
          "charts are labelled images for screen readers")
    p50 = d.js("var r = document.querySelector('#durations svg rect.bar-p50');"
               "return r && r.querySelector('title').textContent")
    check(p50 and p50.startswith("noop p50"), "the duration chart has p50/p95 bars by type", p50)

    # The failed job's error, running jobs, processors, schedules, alerts.
    row = wait("the failed job is listed", lambda: d.js(
        "var r = document.querySelector('#failures tr[data-job=\"%d\"]'); return r && r.textContent"
        % failed_job))
    check(o.error in row, "recent failures show the failed job's error", row)
    wait("a running job is listed with its processor", lambda: d.js(
        "var r = document.querySelector('#running tbody tr'); return r && /s$/.test("
        "r.cells[4].textContent) && r.cells[3].textContent !== '–'"), timeout=20)
    ok("running jobs show their processor and elapsed time")
    proc = d.js("var r = document.querySelector('#processors tbody tr');"
                "return r && [r.getAttribute('data-processor'), r.textContent]")
    check(proc and "running" in proc[1], "processors show their state and heartbeat age", proc)
    sched = d.js("var r = document.querySelector('#schedules tr[data-schedule=\"nightly\"]');"
                 "return r && r.querySelectorAll('time').length")
    check(sched == 2, "schedules show their next runs", sched)
    alert = d.js("var r = document.querySelector('#alerts tbody tr'); return r && r.textContent")
    check(alert and "job_failed" in alert, "recent alerts are listed", alert)

    # Accessibility: every control has a name; landmarks are there.
    unnamed = unnamed_controls(d)
    check(unnamed == [], "every visible control has an accessible name", unnamed)
    check(d.js("return !!document.querySelector('main') && !!document.querySelector('nav[aria-label]')"),
          "the page has main and labelled navigation landmarks")

    # Screenshots: laptop (the whole page), dark scheme, phone width.
    d.size(1280, min(3000, 100 + d.js("return document.documentElement.scrollHeight")))
    png = d.screenshot(os.path.join(o.out, "overview.png"))
    check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000,
          "screenshot saved: %s (%d bytes)" % (os.path.join(o.out, "overview.png"), len(png)))
    light = d.js("return getComputedStyle(document.body).backgroundColor")
    d.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    dark = d.js("return getComputedStyle(document.body).backgroundColor")
    check(light != dark, "the colours follow the system's dark setting (%s -> %s)" % (light, dark))
    d.screenshot(os.path.join(o.out, "overview-dark.png"))
    d.size(1280, 900)
    d.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    d.size(390, 844)
    wide = wait("the phone layout settles", lambda: d.js(
        "return window.innerWidth < 500 ? [document.documentElement.scrollWidth, window.innerWidth] : null"))
    check(wide[0] <= wide[1] + 1, "at a phone's width nothing overflows sideways (%d <= %d)" % tuple(wide))
    d.screenshot(os.path.join(o.out, "overview-phone.png"))
    d.size(1280, 900)

    workflows_and_search(d, o, sql)

    # Retry the failed job from the page: the database sees a new attempt.
    before = int(sql("SELECT count(*) FROM jobvisor.job_executions WHERE job_id = %d" % failed_job))
    d.click('#failures tr[data-job="%d"] button[data-action=retry]' % failed_job)
    wait("the retry is confirmed on the page", lambda: "will run again" in d.js(
        "return document.getElementById('toast').textContent"))
    wait("the retried job runs again", lambda: int(sql(
        "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = %d" % failed_job)) == before + 1
        and sql("SELECT status FROM jobvisor.jobs WHERE id = %d" % failed_job) == "failed", timeout=30)
    ok("Retry ran job %d again: %d executions now, failed again as its payload says"
       % (failed_job, before + 1))

    # Cancel asks first: "Keep" changes nothing, "Cancel job" cancels.
    run_id = wait("a running job to cancel", lambda: d.js(
        "var r = document.querySelector('#running tbody tr a'); return r && r.textContent.slice(1)"))
    run_id = int(run_id)
    d.js("location.hash = '#/jobs/%d'" % run_id)
    wait("the job page loads", lambda: d.js(
        "return document.querySelector('#job-body button.danger') !== null"))
    d.click("#job-body button.danger")
    wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
    d.click("#confirm-no")
    check(not d.js("return document.getElementById('confirm').open")
          and sql("SELECT status FROM jobvisor.jobs WHERE id = %d" % run_id) in ("running", "succeeded"),
          "cancelling asks first, and Keep leaves job %d alone" % run_id)
    if sql("SELECT status FROM jobvisor.jobs WHERE id = %d" % run_id) == "running":
        d.click("#job-body button.danger")
        wait("the confirmation opens again", lambda: d.js("return document.getElementById('confirm').open"))
        d.click("#confirm-yes")
        wait("the job is cancelled", lambda: sql(
            "SELECT status FROM jobvisor.jobs WHERE id = %d" % run_id) == "cancelled")
        ok("confirming cancels job %d in the database" % run_id)

    # A job page: payload, result, every execution with its output.
    d.js("location.hash = '#/jobs/%s'" % o.output_job)
    wait("the job page shows its output", lambda: d.js(
        "var p = document.querySelector('#job-body pre.output'); return p && p.textContent") == o.output)
    check('"output"' in d.js("return document.getElementById('payload').textContent")
          and d.js("return document.getElementById('result') !== null"),
          "the job page shows payload, result and the execution's output")
    d.js("location.hash = '#/jobs/%d'" % failed_job)
    execs = wait("the failed job's executions", lambda: d.js(
        "var r = document.querySelectorAll('#job-body tr[data-attempt]'); return r.length >= 2 && r.length"))
    check(execs == 2 and o.error in d.js("return document.getElementById('job-body').textContent"),
          "the failed job's page lists both attempts with their error")
    d.screenshot(os.path.join(o.out, "job.png"))

    # Pause and resume a processor from the page.
    d.js("location.hash = '#/'")
    pid = int(proc[0])
    wait("the processors panel", lambda: d.js(
        "return document.querySelector('#processors tr[data-processor=\"%d\"] button') !== null" % pid))
    d.click('#processors tr[data-processor="%d"] button' % pid)
    wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
    d.click("#confirm-yes")
    wait("the processor is paused", lambda: sql(
        "SELECT state FROM jobvisor.processors WHERE id = %d" % pid) == "paused")
    ok("Pause, confirmed, paused processor %d (its heartbeat says so)" % pid)
    wait("the page shows Resume", lambda: d.js(
        "var b = document.querySelector('#processors tr[data-processor=\"%d\"] button');"
        "return b && b.textContent === 'Resume'" % pid), timeout=15)
    d.click('#processors tr[data-processor="%d"] button' % pid)
    wait("the processor runs again", lambda: sql(
        "SELECT state FROM jobvisor.processors WHERE id = %d" % pid) == "running")
    ok("Resume set processor %d running again" % pid)

    # The queues table; pause and resume a queue from the page (each asks
    # first): the table's switch, as the API shows it.
    def api_queue(name):
        req = urllib.request.Request(o.url + "/api/queues",
                                     headers={"Authorization": "Bearer " + o.token})
        with urllib.request.urlopen(req, timeout=10) as res:
            return [q for q in json.load(res)["queues"] if q["name"] == name][0]

    qrow = '#queues tr[data-queue="%s"]' % o.queue
    text = wait("the queues table lists queue %s" % o.queue, lambda: d.js(
        "var r = document.querySelector('%s'); return r && r.textContent" % qrow))
    check(o.queue_limits in text and "Pause" in text,
          "the queues table shows the queue's limits and a Pause button", text)
    heads = d.js("return Array.prototype.map.call(document.querySelectorAll('#queues th'),"
                 " function (h) { return h.textContent; }).join('|')")
    check(heads == "Queue|Pending|Due|Running|Limits|Window starts|Held by|Oldest due|",
          "with depth, running, limits, window starts, held by", heads)
    check(d.js("return document.querySelector('#queues tr[data-queue=\"default\"]') !== null"),
          "and the default queue")
    d.click(qrow + " button")
    wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
    d.click("#confirm-no")
    check(sql("SELECT paused FROM jobvisor.queues WHERE name = '%s'" % o.queue) == "f",
          "keeping it pauses nothing")
    d.click(qrow + " button")
    wait("the confirmation opens again", lambda: d.js("return document.getElementById('confirm').open"))
    d.click("#confirm-yes")
    wait("the queue is paused", lambda: sql(
        "SELECT paused FROM jobvisor.queues WHERE name = '%s'" % o.queue) == "t")
    q = api_queue(o.queue)
    check(q["paused"] and q["pausedBy"] == "api", "GET /api/queues shows it paused by the API", q)
    wait("the page shows it paused, with Resume", lambda: d.js(
        "var r = document.querySelector('%s'); return r && /paused/.test(r.cells[0].textContent)"
        " && r.querySelector('button').textContent === 'Resume'" % qrow), timeout=15)
    d.click(qrow + " button")
    wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
    d.click("#confirm-yes")
    wait("the queue is resumed", lambda: sql(
        "SELECT paused FROM jobvisor.queues WHERE name = '%s'" % o.queue) == "f")
    check(not api_queue(o.queue)["paused"], "GET /api/queues shows it running again")
    ok("queue %s paused and resumed from the page, each confirmed" % o.queue)
    text = wait("the users at their limit are listed", lambda: d.js(
        "var r = document.querySelector('#users-at-limit tr[data-user=\"capped\"]');"
        " return r && r.textContent"))
    check(text.startswith("capped (own limits)") and text.endswith("0011"),
          "user capped: 0 running of a limit of 0, 1 pending, weight 1", text)

    # Pause and resume a schedule; reset stuck jobs (asks first).
    d.js("location.hash = '#/schedules'")
    btn = '#schedules-body tr[data-schedule="nightly"] button'
    wait("the schedules page", lambda: d.js("var b = document.querySelector('%s'); return b && b.textContent === 'Pause'" % btn))
    d.click(btn)
    wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
    d.click("#confirm-yes")
    wait("the schedule is paused", lambda: sql(
        "SELECT enabled FROM jobvisor.schedules WHERE name = 'nightly'") == "f")
    wait("the page shows Resume", lambda: d.js(
        "var b = document.querySelector('%s'); return b && b.textContent === 'Resume'" % btn))
    d.click(btn)
    wait("the schedule is resumed", lambda: sql(
        "SELECT enabled FROM jobvisor.schedules WHERE name = 'nightly'") == "t")
    ok("a schedule paused (confirmed) and resumed from the page")
    d.js("location.hash = '#/'")
    wait("the overview", lambda: d.js("return document.querySelector('#counts button') !== null"))
    d.click("#counts button")
    wait("the confirmation opens", lambda: d.js("return document.getElementById('confirm').open"))
    span = "for %s minutes" % o.stuck_minutes
    text = d.js("return document.getElementById('confirm-text').textContent")
    check(span in text, "the confirmation names the configured stuck_job_timeout_minutes", text)
    d.click("#confirm-yes")
    wait("stuck jobs are reset", lambda: "Stuck jobs reset" in d.js(
        "return document.getElementById('toast').textContent"))
    text = d.js("return document.getElementById('toast').textContent")
    check("(silent %s)" % span in text,
          "the API was sent the configured horizon (its answer says so)", text)
    ok("Reset stuck jobs asks first, then calls the API")

    # The jobs list pages through the table.
    d.js("location.hash = '#/jobs?status=succeeded'")
    wait("the jobs list", lambda: d.js(
        "return document.querySelectorAll('#jobs-body tr[data-job]').length === 50"))
    first = d.js("return document.querySelector('#jobs-body tr[data-job]').getAttribute('data-job')")
    d.js("Array.prototype.find.call(document.querySelectorAll('#jobs-body nav a'),"
         " function (a) { return a.textContent === 'Next page'; }).click()")
    wait("the next page", lambda: d.js(
        "var r = document.querySelector('#jobs-body tr[data-job]');"
        "return r && +r.getAttribute('data-job') < %s" % first))
    ok("the jobs list shows 50 a page and pages on by id")

    # Nothing the page did left this host, and the console is clean.
    urls = []
    for entry in d.logs("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    # Anything that could reach a network (http, https, ws, ftp, ...) must
    # be ours; chromium's own chrome:// pages (its new-tab page before the
    # first navigation) and data: URLs never leave the process.
    local = ("chrome:", "chrome-extension:", "data:", "about:", "blob:")
    net = [u for u in urls if not u.startswith(local)]
    outside = [u for u in net if not u.startswith(o.url + "/")]
    check(len(net) > 20 and not outside,
          "all %d network requests went to %s, none elsewhere (%d chromium-internal)"
          % (len(net), o.url, len(urls) - len(net)), outside)
    entries = d.js("return performance.getEntries().map(function (e) { return e.name; })")
    check(all(e.startswith(o.url) or e.startswith("data:") or "://" not in e for e in entries),
          "the page's own resource timing agrees", [e for e in entries if not e.startswith(o.url)])
    # (the wrong token's 401 at sign-in is the one expected error)
    severe = [e["message"] for e in d.logs("browser")
              if e.get("level") == "SEVERE" and "status of 401" not in e["message"]]
    check(not severe, "the browser console has no errors", severe)
    roles(d, o)


def roles(d, o):
    """Who is signed in, and what the role may do: api.token is the admin
    named api.token, with the Audit page; a viewer sees no action at all."""
    go(d, "#/")
    wait("the header names the admin", lambda: d.js(
        "return document.getElementById('who').textContent") == "api.token (admin)")
    ok("the header names the token signed in and its role, never the token")
    check(not d.js("return document.getElementById('nav-audit').hidden"), "the admin has the Audit page")
    go(d, "#/audit")
    wait("the audit trail lists the changes made above", lambda: d.js(
        "return document.querySelectorAll('#audit-body tr[data-audit]').length") > 0)
    ok("the Audit page lists the changes made through the page")
    d.click("#logout")
    d.type("#token", o.viewer_token)
    d.click("#login-form button[type=submit]")
    wait("the viewer signs in", lambda: d.js(
        "return document.getElementById('who').textContent") == "dash-viewer (viewer)")
    go(d, "#/")
    # (reset stuck jobs, and pause on the running processor at least)
    n = wait("the overview's actions are drawn", lambda: d.js(
        "var n = document.querySelectorAll('#view button[data-needs]').length; return n >= 2 && n"))
    check(d.js("return Array.prototype.every.call(document.querySelectorAll('#view button[data-needs]'),"
               " function (b) { return b.hidden && b.disabled && b.offsetParent === null; })"),
          "a viewer sees none of the overview's %d actions" % n)
    check(d.js("return document.getElementById('nav-audit').hidden"), "a viewer has no Audit page")


if __name__ == "__main__":
    main()

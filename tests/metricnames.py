#!/usr/bin/env python3
"""metricnames.py -- check that dashboards and rules use only series a scrape has.

    metricnames.py SCRAPE FILE...

SCRAPE is a /metrics exposition (text format). Each FILE is a Grafana
dashboard (.json: every panel's targets[].expr, rows' nested panels too, and
the template variables' queries) or a Prometheus rules file (.yml/.yaml:
every `expr:` line; an expr written as a block scalar is refused, so none
goes unchecked). Every metric name in every expression must be a series
name of SCRAPE (histograms: NAME_bucket, NAME_sum, NAME_count as exposed).
Prints "FILE: N expressions, M metric names" per file and the exposed names
no file uses; exits 1 after one line per unknown name ("FILE: WHERE: NAME"),
or when a file has no expression at all. Python 3 standard library only.
"""

import json
import re
import sys

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan", "atan2",
            # aggregations, which may stand before by (...) instead of (
            "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk",
            "bottomk", "quantile", "count_values"}
NAME_RE = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr):
    """The metric names of a PromQL expression (or a Grafana variable query)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    e = re.sub(r"\$\{\w+(?::\w+)?\}|\$\w+", "", e)                       # variables
    e = re.sub(r"\{[^}]*\}", "", e)                                      # matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                                     # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", e)
    # label_values(METRIC, LABEL) of a Grafana variable: LABEL is no metric
    e = re.sub(r"\blabel_values\s*\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)", r"\1", e)
    names = set()
    for m in NAME_RE.finditer(e):
        if m.group(2):  # a function call
            continue
        if m.group(1).lower() in KEYWORDS:
            continue
        names.add(m.group(1))
    return names


def dashboard_exprs(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(("panel %r %s" % (p.get("title"), t.get("refId")), t["expr"]))
            walk(p.get("panels", []))

    walk(d.get("panels", []))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if q:
                out.append(("variable %r" % v.get("name"), q))
    return out


def rules_exprs(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"\s*(?:-\s*)?expr:\s*(.*?)\s*$", line)
            if not m:
                continue
            if not m.group(1) or m.group(1)[0] in "|>":
                raise SystemExit("%s:%d: write expr on one line (a block scalar is not checked)"
                                 % (path, n))
            e = m.group(1)
            if e[0] in "\"'":
                e = e[1:-1]
            out.append(("line %d" % n, e))
    return out


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: metricnames.py SCRAPE FILE...\n")
        return 2
    exposed = set()
    with open(argv[1], encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                exposed.add(re.match(r"[^{\s]+", line).group(0))
    bad = 0
    used = set()
    for path in argv[2:]:
        exprs = dashboard_exprs(path) if path.endswith(".json") else rules_exprs(path)
        names = set()
        for where, e in exprs:
            for name in sorted(metric_names(e)):
                names.add(name)
                if name not in exposed:
                    print("%s: %s: %s is not exported by /metrics" % (path, where, name))
                    bad += 1
        if not exprs:
            print("%s: no expression found" % path)
            bad += 1
        used |= names
        print("%s: %d expressions, %d metric names" % (path, len(exprs), len(names)))
    unused = sorted(exposed - used)
    if unused:
        print("exported, used by none of these files: " + " ".join(unused))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

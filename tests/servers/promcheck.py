#!/usr/bin/env python3
"""promcheck.py -- a strict checker of the Prometheus text format (0.0.4).

    promcheck.py [FILE]        (standard input when FILE is absent or -)

Exits 0 when the exposition is valid, else 1 after printing one line per
violation ("LINE: message"). Stricter than Prometheus itself where that
catches our mistakes:

  - every family has exactly one TYPE and one HELP line, both before its
    first sample, and its samples are contiguous;
  - metric and label names match [a-zA-Z_:][a-zA-Z0-9_:]* / [a-zA-Z_][a-zA-Z0-9_]*,
    label names are not repeated in a sample, label values use only the
    escapes \\\\, \\" and \\n;
  - values are floats (+Inf, -Inf, NaN allowed), timestamps integers;
  - no series appears twice;
  - counters end with _total and are >= 0;
  - histograms: _bucket samples with an le label, le increasing and ending at
    +Inf for each series, cumulative counts non-decreasing,
    _bucket{le="+Inf"} == _count, and _sum present; no le outside _bucket;
  - the text ends with a newline; no blank-but-whitespace lines.
Python 3 standard library only.
"""

import math
import re
import sys

METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Bad(Exception):
    pass


def parse_value(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
        raise Bad("value %r is not a float" % text)
    return float(text)


def parse_labels(s, i):
    """Parse {a="b",...} from s[i] == '{'; returns (labels list, index after '}')."""
    labels = []
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL_RE.match(s, i)
        if not m:
            raise Bad("bad label name at column %d" % (i + 1))
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise Bad("expected =\" after label %s" % name)
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise Bad("unterminated value of label %s" % name)
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt == "\\":
                    val.append("\\")
                elif nxt == '"':
                    val.append('"')
                elif nxt == "n":
                    val.append("\n")
                else:
                    raise Bad("bad escape \\%s in label %s" % (nxt, name))
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise Bad("raw newline in label %s" % name)
            else:
                val.append(c)
                i += 1
        if name in [n for n, _ in labels]:
            raise Bad("label %s repeated" % name)
        labels.append((name, "".join(val)))
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        raise Bad("expected , or } after label %s" % name)


def parse_sample(line):
    m = METRIC_RE.match(line)
    if not m:
        raise Bad("bad metric name")
    name = m.group(0)
    i = m.end()
    labels = []
    if i < len(line) and line[i] == "{":
        labels, i = parse_labels(line, i)
    if i >= len(line) or line[i] != " ":
        raise Bad("expected one space before the value")
    rest = line[i + 1:].split(" ")
    if not 1 <= len(rest) <= 2 or "" in rest:
        raise Bad("expected a value and an optional timestamp, separated by one space")
    value = parse_value(rest[0])
    if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
        raise Bad("timestamp %r is not an integer" % rest[1])
    return name, labels, value


def family_of(name, types):
    """The declared family a sample name belongs to, or None."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                return base
    return None


def check(text):
    errors = []
    types, helps = {}, {}
    seen_series = set()
    done_families = set()  # families whose samples are over
    current = None
    # histogram series: (family, labels without le) -> data
    hist = {}

    if text and not text.endswith("\n"):
        errors.append("end: the text does not end with a newline")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for no, line in enumerate(lines, 1):
        try:
            if line == "":
                continue
            if line.strip() == "" or line != line.lstrip():
                raise Bad("leading or only whitespace")
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                    if len(parts) < 3 or not METRIC_RE.fullmatch(parts[2]):
                        raise Bad("bad metric name in %s" % parts[1])
                    fam = parts[2]
                    if fam in done_families or (fam == current and parts[1] == "TYPE" and fam in types):
                        raise Bad("%s for %s after its samples" % (parts[1], fam))
                    if parts[1] == "HELP":
                        if fam in helps:
                            raise Bad("second HELP for %s" % fam)
                        helps[fam] = parts[3] if len(parts) > 3 else ""
                        if re.search(r"\\[^\\n]", helps[fam]):
                            raise Bad("bad escape in HELP of %s" % fam)
                    else:
                        if fam in types:
                            raise Bad("second TYPE for %s" % fam)
                        if len(parts) != 4 or parts[3] not in TYPES:
                            raise Bad("bad TYPE line for %s" % fam)
                        types[fam] = parts[3]
                        if parts[3] == "counter" and not fam.endswith("_total"):
                            raise Bad("counter %s does not end with _total" % fam)
                    if current is not None and current != fam:
                        done_families.add(current)
                        current = None
                continue
            name, labels, value = parse_sample(line)
            fam = family_of(name, types)
            if fam is None:
                raise Bad("sample %s before (or without) the TYPE line of its family" % name)
            if fam not in helps:
                raise Bad("sample %s before (or without) the HELP line of its family" % name)
            if fam in done_families:
                raise Bad("samples of %s are not together" % fam)
            if current is not None and current != fam:
                done_families.add(current)
            current = fam
            key = (name, tuple(sorted(labels)))
            if key in seen_series:
                raise Bad("duplicate series %s%s" % (name, dict(labels)))
            seen_series.add(key)
            kind = types[fam]
            names = [n for n, _ in labels]
            if kind == "counter" and not (value >= 0):
                raise Bad("counter %s is negative or NaN" % name)
            if kind == "histogram":
                rest = tuple(sorted((n, v) for n, v in labels if n != "le"))
                h = hist.setdefault((fam, rest), {"les": [], "counts": [], "sum": None,
                                                  "count": None, "line": no})
                if name == fam + "_bucket":
                    if "le" not in names:
                        raise Bad("bucket without le")
                    le = parse_value(dict(labels)["le"])
                    if math.isnan(le):
                        raise Bad("le is NaN")
                    if h["les"] and le <= h["les"][-1]:
                        raise Bad("le %s does not increase" % dict(labels)["le"])
                    if h["les"] and h["les"][-1] == math.inf:
                        raise Bad("bucket after le=\"+Inf\"")
                    if h["counts"] and value < h["counts"][-1]:
                        raise Bad("bucket count decreases")
                    if value < 0 or math.isnan(value):
                        raise Bad("bucket count negative or NaN")
                    h["les"].append(le)
                    h["counts"].append(value)
                elif "le" in names:
                    raise Bad("le label outside _bucket")
                elif name == fam + "_sum":
                    h["sum"] = value
                elif name == fam + "_count":
                    h["count"] = value
                else:
                    raise Bad("histogram %s has a plain sample" % fam)
            elif kind == "summary":
                if name == fam and "quantile" not in names:
                    raise Bad("summary sample without quantile")
        except Bad as e:
            errors.append("%d: %s: %s" % (no, e, line))
    for (fam, rest), h in hist.items():
        where = "%d: histogram %s%s" % (h["line"], fam, dict(rest))
        if not h["les"]:
            errors.append(where + ": no _bucket")
            continue
        if h["les"][-1] != math.inf:
            errors.append(where + ": buckets do not end at le=\"+Inf\"")
        if h["count"] is None:
            errors.append(where + ": no _count")
        elif h["les"][-1] == math.inf and h["counts"][-1] != h["count"]:
            errors.append(where + ": _bucket{le=\"+Inf\"} %g != _count %g"
                          % (h["counts"][-1], h["count"]))
        if h["sum"] is None:
            errors.append(where + ": no _sum")
    for fam in types:
        if fam not in helps:
            errors.append("end: %s has a TYPE but no HELP" % fam)
    for fam in helps:
        if fam not in types:
            errors.append("end: %s has a HELP but no TYPE" % fam)
    return errors


def main():
    if len(sys.argv) > 2:
        print("usage: promcheck.py [FILE]", file=sys.stderr)
        return 2
    if len(sys.argv) == 2 and sys.argv[1] != "-":
        with open(sys.argv[1], encoding="utf-8") as f:
            text = f.read()
    else:
        text = sys.stdin.read()
    errors = check(text)
    for e in errors:
        print("promcheck: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

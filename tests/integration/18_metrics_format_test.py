"""18: the whole /metrics body of a running server is valid Prometheus text
exposition format 0.0.4: checked line by line against the format's grammar
(strict: escaping, one HELP/TYPE per family, a family's lines together,
histogram buckets cumulative with _count equal to the +Inf bucket), and read
by Debian's python3-prometheus-client where it is installed.

Label values that need escaping come from database names (", \\ and UTF-8
are allowed; control characters are refused). Bridge and Modbus device names
cannot hold such characters (1..128 of A-Z a-z 0-9 _ - .), so they are
checked here only for their label; the escaping itself is unit-tested in
src/base/prometheus_text_test.cc."""
import json
import math
import re
import unittest

from liandu_server import Server, free_port

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # python3-prometheus-client (scripts/setup.sh installs it)
    text_string_to_metric_families = None

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'(?:[^"\\\n]|\\[\\"n])*'
VALUE = r"(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)"
HELP_RE = re.compile(rf"# HELP ({NAME}) ((?:[^\\\n]|\\[\\n])*)")
TYPE_RE = re.compile(rf"# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)")
SAMPLE_RE = re.compile(
    rf'({NAME})(?:\{{((?:{LABEL_NAME}="{LABEL_VALUE}")(?:,{LABEL_NAME}="{LABEL_VALUE}")*)?\}})? ({VALUE})(?: -?\d+)?')
LABEL_RE = re.compile(rf'({LABEL_NAME})="({LABEL_VALUE})"')
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def unescape(s):
    return re.sub(r'\\([\\"n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


def check_exposition(text):
    """Returns {family: (type, [(sample name, labels, value)])}; raises
    AssertionError naming the line that breaks the format."""
    families = {}
    current = None  # the family the next samples may belong to
    helped = set()
    if text and not text.endswith("\n"):
        raise AssertionError("the body does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        if line.startswith("#"):
            m = HELP_RE.fullmatch(line)
            if m:
                name = m.group(1)
                if name in helped:
                    raise AssertionError(f"second HELP for {name}: {where}")
                if name in families and current != name:
                    raise AssertionError(f"HELP after the family's lines: {where}")
                helped.add(name)
                current = name
                continue
            m = TYPE_RE.fullmatch(line)
            if m:
                name, typ = m.groups()
                if name in families:
                    raise AssertionError(f"second TYPE for {name}: {where}")
                families[name] = (typ, [])
                current = name
                continue
            if line.startswith("# HELP") or line.startswith("# TYPE"):
                raise AssertionError(f"malformed header: {where}")
            continue  # other comments are allowed
        if line == "":
            raise AssertionError(f"empty line: {where}")
        m = SAMPLE_RE.fullmatch(line)
        if not m:
            raise AssertionError(f"not a sample line: {where}")
        name, labels_text, value = m.groups()
        if current is None or current not in families:
            raise AssertionError(f"sample outside a typed family: {where}")
        typ, samples = families[current]
        if name not in (current + s for s in SUFFIXES.get(typ, ("",))):
            raise AssertionError(f"sample of {name} in family {current} ({typ}): {where}")
        labels = {}
        for lm in LABEL_RE.finditer(labels_text or ""):
            if lm.group(1) in labels:
                raise AssertionError(f"label {lm.group(1)} twice: {where}")
            labels[lm.group(1)] = unescape(lm.group(2))
        samples.append((name, labels, float(value)))
    for name, (typ, samples) in families.items():
        if typ == "histogram":
            check_histogram(name, samples)
    return families


def check_histogram(name, samples):
    series = {}
    for sname, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if sname == name + "_bucket":
            if "le" not in labels:
                raise AssertionError(f"{sname} without le")
            s["buckets"].append((float(labels["le"]), value))
        elif sname == name + "_count":
            s["count"] = value
        else:
            s["sum"] = value
    for key, s in series.items():
        les = [le for le, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        if not les or les[-1] != math.inf:
            raise AssertionError(f"{name}{key}: no le=\"+Inf\" bucket last")
        if les != sorted(les) or counts != sorted(counts):
            raise AssertionError(f"{name}{key}: buckets not in order or not cumulative: {s['buckets']}")
        if s["count"] != counts[-1] or s["sum"] is None:
            raise AssertionError(f"{name}{key}: _count {s['count']} is not the +Inf bucket {counts[-1]}")


class CheckerIsStrict(unittest.TestCase):
    """The checker itself refuses what the format forbids."""

    GOOD = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n"

    def test_accepts_good_text(self):
        fams = check_exposition(self.GOOD)
        self.assertEqual(fams["a_total"][1], [("a_total", {"x": 'q"\\\n'}, 1.0)])

    def test_rejects_broken_text(self):
        bad = {
            "unescaped quote": '# TYPE a gauge\na{x="q"q"} 1\n',
            "unescaped backslash": '# TYPE a gauge\na{x="q\\q"} 1\n',
            "repeated TYPE": "# TYPE a gauge\na 1\n# TYPE a gauge\na 2\n",
            "repeated HELP": "# HELP a A.\n# HELP a A.\n# TYPE a gauge\na 1\n",
            "family split": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n",
            "untyped sample": "a 1\n",
            "bad value": "# TYPE a gauge\na inf\n",
            "help with bad escape": "# HELP a x\\y\n# TYPE a gauge\na 1\n",
            "count is not +Inf": ('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n'
                                  "h_sum 1\nh_count 3\n"),
            "not cumulative": ('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
                               "h_sum 1\nh_count 1\n"),
            "no newline at end": "# TYPE a gauge\na 1",
        }
        for what, text in bad.items():
            with self.subTest(what):
                with self.assertRaises(AssertionError):
                    check_exposition(text)


class MetricsFormat(unittest.TestCase):
    WEIRD_DB = 'we"ird\\db Zürich'

    def setUp(self):
        self.srv = Server().start()

    def tearDown(self):
        self.srv.cleanup()

    def post(self, path, body):
        return self.srv.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})

    def test_whole_body_parses_strictly(self):
        quoted = self.WEIRD_DB.replace("\\", "\\\\").replace('"', '\\"')
        for q in ("CREATE DATABASE plant", f'CREATE DATABASE "{quoted}"'):
            r = self.srv.query(q)
            self.assertEqual(r.status, 200, r.body)
            self.assertNotIn("error", r.body)
        for db in ("plant", self.WEIRD_DB):
            self.assertEqual(self.srv.write(db, "m,host=a v=1 1\nm,host=b v=2 2").status, 204)
        self.assertEqual(self.srv.query("SELECT * FROM m", db="plant").status, 200)
        # A bridge and a Modbus device, each to a port nothing listens on:
        # their families are written with a sample each.
        labelled = {}
        r = self.post("/api/v1/bridges", {"name": "site-b.1", "database": "plant", "host": "127.0.0.1",
                                          "port": free_port(), "subscribe": [{"filter": "r/#", "qos": 1}]})
        if r.status != 404:  # built without libmosquitto
            self.assertEqual(r.status, 201, r.body)
            labelled["liandu_bridge_connected"] = ("bridge", "site-b.1")
        r = self.post("/api/v1/modbus/devices", {
            "name": "plc_1-a", "database": "plant", "host": "127.0.0.1", "port": free_port(), "unit_id": 1,
            "interval_ms": 200, "measurement": "plc",
            "registers": [{"field": "x", "table": "holding_register", "address": 1}]})
        if r.status != 404:  # built without libmodbus
            self.assertEqual(r.status, 201, r.body)
            labelled["liandu_modbus_up"] = ("device", "plc_1-a")

        r = self.srv.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        families = check_exposition(r.body)

        typ, series = families["liandu_series"]
        self.assertEqual(typ, "gauge")
        # plant may hold the Modbus device's modbus_status series too.
        dbs = {s[1]["database"]: s[2] for s in series}
        self.assertEqual(set(dbs), {"plant", self.WEIRD_DB})
        self.assertEqual(dbs[self.WEIRD_DB], 2.0)
        for name, (label, value) in labelled.items():
            self.assertIn(value, [s[1].get(label) for s in families[name][1]], name)
        for name in ("liandu_write_duration_seconds", "liandu_query_duration_seconds",
                     "liandu_wal_fsync_duration_seconds"):
            self.assertEqual(families[name][0], "histogram")
        self.assertEqual(families["liandu_points_written_total"][0], "counter")

        if text_string_to_metric_families is None:
            self.skipTest("python3-prometheus-client not installed: checked by the line checker only")
        parsed = list(text_string_to_metric_families(r.body))
        # The client's parser yields a family per group of lines: a family
        # split or a sample outside one would show up as a second entry.
        names = [f.name for f in parsed]
        self.assertEqual(len(names), len(set(names)), names)
        self.assertNotIn("untyped", {f.type for f in parsed})
        self.assertEqual(len(parsed), len(families))
        by_name = {f.name: f for f in parsed}
        dbs = {s.labels["database"]: s.value for s in by_name["liandu_series"].samples}
        self.assertEqual(set(dbs), {"plant", self.WEIRD_DB})
        self.assertEqual(dbs[self.WEIRD_DB], 2.0)
        # Counters come back without _total (OpenMetrics naming).
        self.assertEqual(by_name["liandu_points_written"].type, "counter")
        self.assertGreaterEqual(by_name["liandu_points_written"].samples[0].value, 4.0)


if __name__ == "__main__":
    unittest.main()

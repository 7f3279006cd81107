"""16: device twins end to end. The simulated plant (`liandu simulate`, one
machine, fast, with frequent set-point drifts) reports its set points; a twin
holds the nominal ones as desired. A drift is written to `twin_drift` and
published on MQTT, the scrap rate it causes fires a rule whose webhook (first
delivery forced to fail) gets exactly one successful delivery per transition,
and the rule's MQTT action reaches a mosquitto_sub subscriber."""
import http.server
import json
import os
import subprocess
import threading
import time
import unittest

from liandu_server import ADMIN_TOKEN, BINARY, Server

MACHINE = "site1-line1-m01"
SIM_ARGS = ["--sites", "1", "--lines", "1", "--machines", "1", "--seed", "42"]


class Receiver(http.server.BaseHTTPRequestHandler):
    lock = threading.Lock()
    deliveries = []  # successful ones
    attempts = 0
    fail_next = 1  # the first delivery attempt fails

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls = type(self)
        with cls.lock:
            cls.attempts += 1
            failing = cls.fail_next > 0
            if failing:
                cls.fail_next -= 1
            else:
                cls.deliveries.append(json.loads(body))
        self.send_response(500 if failing else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Subscriber:
    """mosquitto_sub on the server's MQTT port; collects (topic, payload)."""

    def __init__(self, port, topics):
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-u", "admin", "-P", ADMIN_TOKEN,
                "-q", "1", "-v", "-i", "twin-test-sub"]
        for t in topics:
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.messages = []
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            with self.lock:
                self.messages.append((topic, payload))

    def received(self):
        with self.lock:
            return list(self.messages)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


class Twins(unittest.TestCase):
    def setUp(self):
        self.hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=self.hook.serve_forever, daemon=True).start()
        self.srv = Server().start()
        self.sim = None
        self.sub = None

    def tearDown(self):
        if self.sim is not None and self.sim.poll() is None:
            self.sim.terminate()
            self.sim.wait(timeout=10)
        if self.sim is not None:
            self.sim.stderr.close()
        if self.sub is not None:
            self.sub.stop()
        self.srv.cleanup()
        self.hook.shutdown()
        self.hook.server_close()

    def simulate(self, *args, wait=True):
        cmd = [BINARY, "simulate", "--url", self.srv.url(), "--token", ADMIN_TOKEN] + SIM_ARGS + list(args)
        if wait:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def rows(self, q, db="plant"):
        r = self.srv.query(q, db=db).json()["results"][0]
        if "series" not in r:
            return []
        return [dict(zip(r["series"][0]["columns"], v)) for v in r["series"][0]["values"]]

    def wait(self, get, ok, timeout=60, what=""):
        deadline = time.time() + timeout
        value = get()
        while not ok(value) and time.time() < deadline:
            time.sleep(0.2)
            value = get()
        self.assertTrue(ok(value), f"{what}: {value}")
        return value

    def test_drift_alerts_webhook_and_mqtt(self):
        srv = self.srv
        # The nominal set points: the same seed gives the same machine, and its
        # first report is nominal (no drift yet).
        self.simulate("--db", "probe", "--backfill", "10s", "--duration", "10")
        first = self.rows("SELECT * FROM setpoints ORDER BY time ASC LIMIT 1", db="probe")
        self.assertEqual(len(first), 1, first)
        nominal = {k: first[0][k] for k in ("feed_rate_sp", "spindle_speed_sp", "temperature_sp")}

        srv.query("CREATE DATABASE plant")
        twin = {"device": MACHINE, "desired": nominal, "tolerance": {"feed_rate_sp": 10}}
        r = srv.request("PUT", "/api/v1/twins?db=plant", json.dumps(twin))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(sorted(r.json()["pending"]), sorted(nominal))
        # bad bodies, auth and permissions
        r = srv.request("PUT", "/api/v1/twins?db=plant", json.dumps({"device": "x", "desired": {"a": None}}))
        self.assertEqual(r.status, 400)
        self.assertIn("desired.a", r.json()["error"])
        self.assertEqual(srv.request("GET", "/api/v1/twins?db=plant", auth=False).status, 401)
        self.assertEqual(srv.request("GET", "/api/v1/twins").status, 400)
        reader = srv.request("POST", "/api/v1/tokens",
                             json.dumps({"description": "reader", "permissions": {"plant": "read"}}),
                             {"Content-Type": "application/json"}).json()["token"]
        self.assertEqual(srv.request("GET", "/api/v1/twins?db=plant", token=reader).status, 200)
        self.assertEqual(srv.request("PUT", "/api/v1/twins?db=plant", json.dumps(twin), token=reader).status, 403)
        self.assertEqual(srv.request("DELETE", "/api/v1/twins/nope?db=plant").status, 404)

        hook_url = f"http://127.0.0.1:{self.hook.server_port}/hook"
        r = srv.request("POST", "/api/v1/webhooks", json.dumps({"name": "ops", "url": hook_url}))
        self.assertEqual(r.status, 201, r.body)
        rules = [
            {"id": "scrap-high", "measurement": "machine", "group_by": ["machine"],
             "when": {"type": "threshold", "field": "scrap_rate", "op": ">", "value": 0.15, "clear": 0.08},
             "actions": [{"type": "webhook", "receiver": "ops"},
                         {"type": "mqtt", "topic": "alerts/plant/scrap", "qos": 1}]},
            {"id": "twin-drift", "measurement": "twin_drift", "group_by": ["device"],
             "when": {"type": "threshold", "field": "drifted", "op": "==", "value": 1},
             "actions": [{"type": "webhook", "receiver": "ops"},
                         {"type": "mqtt", "topic": "alerts/plant/twin", "qos": 1}]},
        ]
        for rule in rules:
            r = srv.request("POST", "/api/v1/rules?db=plant", json.dumps(rule))
            self.assertEqual(r.status, 201, r.body)

        self.sub = Subscriber(srv.mqtt_port, ["liandu/plant/twins/#", "alerts/plant/#"])
        time.sleep(0.5)  # let the subscription settle before anything is published

        # 10 simulated minutes per second; a drift starts about every 20 running
        # minutes and lasts about an hour.
        self.sim = self.simulate("--db", "plant", "--speed", "600", "--drift-per-hour", "3",
                                 "--drift-mean", "3600", wait=False)

        drift = self.wait(lambda: self.rows("SELECT drifted, params, count FROM twin_drift"),
                          lambda v: any(x["drifted"] is False for x in v), what="twin drift start and resolve")
        self.assertTrue(drift[0]["drifted"])
        self.assertEqual(drift[0]["params"], "feed_rate_sp")
        self.assertEqual(drift[0]["count"], 1)
        # One event per change of the drift state: drifted and resolved alternate.
        states = [x["drifted"] for x in drift]
        self.assertTrue(all(a != b for a, b in zip(states, states[1:])), states)

        t = srv.request("GET", f"/api/v1/twins/{MACHINE}?db=plant")
        self.assertEqual(t.status, 200, t.body)
        self.assertEqual(sorted(t.json()["reported"]), sorted(nominal))
        self.assertEqual(t.json()["pending"], [])
        listed = srv.request("GET", "/api/v1/twins?db=plant").json()["twins"]
        self.assertEqual([x["device"] for x in listed], [MACHINE])

        def scrap_states():
            return [x["state"] for x in self.rows("SELECT state FROM alerts WHERE rule_id = 'scrap-high'")]

        self.wait(scrap_states, lambda s: "firing" in s and "resolved" in s, timeout=90,
                  what="scrap-rate alert fires and resolves")
        self.sim.terminate()
        self.sim.wait(timeout=10)

        # Every transition of both rules is delivered exactly once, despite the
        # forced failure of the first attempt (retried after 1 s).
        alerts = self.rows("SELECT alert_id, rule_id, state FROM alerts")
        expected = sorted((a["rule_id"], a["alert_id"], a["state"]) for a in alerts)

        def delivered():
            with Receiver.lock:
                return sorted((d["rule_id"], d["alert_id"], d["state"]) for d in Receiver.deliveries)

        self.wait(delivered, lambda d: d == expected, timeout=30, what=f"deliveries of {expected}")
        time.sleep(1.5)
        self.assertEqual(delivered(), expected, "no duplicate deliveries")
        with Receiver.lock:
            self.assertEqual(Receiver.fail_next, 0)
            self.assertEqual(Receiver.attempts, len(expected) + 1, "one forced failure, then one per transition")
        self.assertIn(("scrap-high", "firing"), {(r, s) for r, _, s in expected})
        self.assertIn(("twin-drift", "firing"), {(r, s) for r, _, s in expected})

        # MQTT: the rule action messages and the twin drift events.
        def by_topic():
            out = {}
            for topic, payload in self.sub.received():
                out.setdefault(topic, []).append(json.loads(payload))
            return out

        msgs = self.wait(by_topic, lambda m: "alerts/plant/scrap" in m and "alerts/plant/twin" in m
                         and f"liandu/plant/twins/{MACHINE}/drift" in m, timeout=15, what="MQTT messages")
        self.assertIn("firing", [m["state"] for m in msgs["alerts/plant/scrap"]])
        self.assertEqual(msgs["alerts/plant/scrap"][0]["rule_id"], "scrap-high")
        twin_msgs = msgs[f"liandu/plant/twins/{MACHINE}/drift"]
        self.assertTrue(twin_msgs[0]["drifted"])
        self.assertEqual(twin_msgs[0]["params"], ["feed_rate_sp"])
        self.assertEqual(twin_msgs[0]["desired"]["feed_rate_sp"], nominal["feed_rate_sp"])
        self.assertEqual(len(twin_msgs), len(self.rows("SELECT drifted FROM twin_drift")))

        # The twin survives a restart with its desired and reported values.
        before = srv.request("GET", f"/api/v1/twins/{MACHINE}?db=plant").json()
        srv.stop()
        srv.start(port=srv.port)
        after = srv.request("GET", f"/api/v1/twins/{MACHINE}?db=plant").json()
        self.assertEqual(after["desired"], before["desired"])
        self.assertEqual(after["reported"], before["reported"])
        self.assertEqual(after["drift"], before["drift"])
        self.assertEqual(srv.request("DELETE", f"/api/v1/twins/{MACHINE}?db=plant").status, 204)
        self.assertEqual(srv.request("GET", f"/api/v1/twins/{MACHINE}?db=plant").status, 404)


if __name__ == "__main__":
    unittest.main()

"""11: rules and alerts end to end: a threshold rule fires on durable points, the
alert lifecycle is written to the `alerts` series, and a webhook receiver gets
exactly one delivery per transition, including after a forced failure."""
import hashlib
import hmac
import http.server
import json
import os
import socket
import threading
import time
import unittest

from liandu_server import Server, temp_dir


class Receiver(http.server.BaseHTTPRequestHandler):
    deliveries = []
    attempts = 0
    fail_next = 1  # the first delivery attempt fails
    signatures_ok = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls = type(self)
        cls.attempts += 1
        if cls.fail_next > 0:
            cls.fail_next -= 1
            self.send_response(500)
            self.end_headers()
            return
        want = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        cls.signatures_ok = cls.signatures_ok and self.headers.get("X-Liandu-Signature") == want
        cls.deliveries.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"


def silent_receiver():
    """A TCP server on a free loopback port that accepts connections and
    never reads or answers. Returns (port, close)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()

    def close():
        listener.close()
        for conn in held:
            conn.close()

    return listener.getsockname()[1], close


class Rules(unittest.TestCase):
    def test_threshold_rule_lifecycle_and_webhook(self):
        hook = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        srv = Server().start()
        try:
            srv.query("CREATE DATABASE r")
            rule = {"id": "oven-hot", "name": "Oven too hot", "measurement": "oven", "group_by": ["machine"],
                    "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80, "clear": 75},
                    "actions": [{"type": "webhook", "receiver": "ops"}]}
            # A rule names a receiver the tenant's admin set up; it must exist.
            r = srv.request("POST", "/api/v1/rules?db=r", json.dumps(rule))
            self.assertEqual(r.status, 400, r.body)
            self.assertIn('actions[0].receiver: no webhook receiver "ops"', r.json()["error"])
            r = srv.request("POST", "/api/v1/webhooks", json.dumps(
                {"name": "ops", "url": f"http://127.0.0.1:{hook.server_port}/hook", "secret": "s3cret"}))
            self.assertEqual(r.status, 201, r.body)
            r = srv.request("POST", "/api/v1/rules?db=r", json.dumps(rule))
            self.assertEqual(r.status, 201, r.body)
            bad = srv.request("POST", "/api/v1/rules?db=r", json.dumps({"id": "x", "measurement": "m",
                                                                        "when": {"type": "threshold"}}))
            self.assertEqual(bad.status, 400)
            self.assertIn("when", bad.json()["error"])

            now = time.time_ns()
            # hovering between clear and fire does not flap
            body = "\n".join(f"oven,machine=m1 temp={v} {now + i}" for i, v in enumerate([70, 85, 78, 82, 79]))
            self.assertEqual(srv.write("r", body).status, 204)
            alerts = self.wait(lambda: srv.request("GET", "/api/v1/alerts?db=r").json()["alerts"],
                               lambda a: a and a[0]["state"] == "firing")
            self.assertEqual(alerts[0]["group"], {"machine": "m1"})

            ack = srv.request("POST", "/api/v1/alerts/ack?db=r",
                              json.dumps({"rule_id": "oven-hot", "group": {"machine": "m1"}, "comment": "on it"}))
            self.assertEqual(ack.status, 204, ack.body)
            self.assertEqual(srv.write("r", f"oven,machine=m1 temp=70 {time.time_ns()}").status, 204)
            self.wait(lambda: srv.request("GET", "/api/v1/alerts?db=r").json()["alerts"], lambda a: not a)

            rows = self.wait(lambda: srv.query("SELECT state FROM alerts", db="r").json()["results"][0]
                             .get("series", [{}])[0].get("values", []), lambda v: len(v) >= 3)
            states = [v[1] for v in rows]
            self.assertEqual(states, ["firing", "acknowledged", "resolved"])

            deliveries = self.wait(lambda: list(Receiver.deliveries), lambda d: len(d) >= 3, timeout=30)
            # In order: the transitions after a failed delivery wait for its retry.
            self.assertEqual([d["state"] for d in deliveries], ["firing", "acknowledged", "resolved"])
            self.assertEqual(Receiver.attempts, 4, "one forced failure, then one delivery per transition")
            self.assertTrue(Receiver.signatures_ok, "every delivery carries the HMAC of its body")
            time.sleep(1.5)
            self.assertEqual(len(Receiver.deliveries), 3, "no duplicate deliveries")
            # The receiver's own delivery state, the forced failure included.
            delivery = srv.request("GET", "/api/v1/webhooks").json()["webhooks"][0]["delivery"]
            self.assertEqual({k: delivery[k] for k in ("attempts", "delivered", "failed", "queued")},
                             {"attempts": 4, "delivered": 3, "failed": 0, "queued": 0}, delivery)
            self.assertEqual(delivery["last_error"], f"HTTP 500 from http://127.0.0.1:{hook.server_port}")
            self.assertRegex(delivery["last_error_time"], RFC3339)

            # rules survive a restart
            srv.stop()
            srv.start(port=srv.port)
            r = srv.request("GET", "/api/v1/rules?db=r").json()
            self.assertEqual([x["id"] for x in r["rules"]], ["oven-hot"])
        finally:
            srv.cleanup()
            hook.shutdown()

    def test_silent_webhook_receiver_does_not_delay_other_rules(self):
        # Deliveries have threads of their own, each step of an attempt bounded
        # by --webhook-timeout-ms. They used to run on the rules thread with a
        # 120 s timeout: one silent receiver stopped every rule's evaluation.
        # Then on one delivery thread: a silent receiver held up every other
        # receiver's deliveries for as long as its attempts took.
        port, close_receiver = silent_receiver()

        class Healthy(Receiver):
            deliveries = []
            attempts = 0
            fail_next = 1  # the first attempt fails: later transitions must wait for its retry

        healthy = http.server.HTTPServer(("127.0.0.1", 0), Healthy)
        threading.Thread(target=healthy.serve_forever, daemon=True).start()
        srv = Server(["--webhook-timeout-ms", "6000"])
        try:
            srv.start()
            srv.query("CREATE DATABASE s")
            for name, url, secret in [("silent", f"http://127.0.0.1:{port}/hook", ""),
                                      ("ok", f"http://127.0.0.1:{healthy.server_port}/hook", "s3cret")]:
                r = srv.request("POST", "/api/v1/webhooks", json.dumps({"name": name, "url": url, "secret": secret}))
                self.assertEqual(r.status, 201, r.body)
            for rule in [{"id": "hot", "measurement": "oven", "actions": [{"type": "webhook", "receiver": "silent"}],
                          "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80}},
                         {"id": "pressure", "measurement": "press", "actions": [{"type": "webhook", "receiver": "ok"}],
                          "when": {"type": "threshold", "field": "bar", "op": ">", "value": 5}}]:
                r = srv.request("POST", "/api/v1/rules?db=s", json.dumps(rule))
                self.assertEqual(r.status, 201, r.body)
            alerts = lambda: {a["rule_id"]: a["state"] for a in srv.request("GET", "/api/v1/alerts?db=s").json()["alerts"]}
            receivers = lambda: {w["name"]: w["delivery"] for w in srv.request("GET", "/api/v1/webhooks").json()["webhooks"]}
            self.assertEqual(srv.write("s", f"oven temp=90 {time.time_ns()}").status, 204)
            self.wait(alerts, lambda a: a.get("hot") == "firing")
            # The first delivery attempt is now waiting on the silent receiver.
            time.sleep(0.3)
            started = time.time()
            self.assertEqual(srv.write("s", f"press bar=9 {time.time_ns()}").status, 204)
            self.wait(alerts, lambda a: a.get("pressure") == "firing", timeout=1.5)
            ack = srv.request("POST", "/api/v1/alerts/ack?db=s", json.dumps({"rule_id": "pressure", "group": {}}))
            self.assertEqual(ack.status, 204, ack.body)
            self.assertEqual(srv.write("s", f"press bar=1 {time.time_ns()}").status, 204)
            # The healthy receiver gets its three transitions, in order, its
            # forced failure retried after 1 s, well within one timeout of the
            # silent receiver's attempt, which is still waiting.
            deliveries = self.wait(lambda: list(Healthy.deliveries), lambda d: len(d) >= 3, timeout=3)
            took = time.time() - started
            self.assertLess(took, 3, "the healthy receiver waited for the silent one")
            self.assertEqual([(d["rule_id"], d["state"]) for d in deliveries],
                             [("pressure", "firing"), ("pressure", "acknowledged"), ("pressure", "resolved")])
            self.assertEqual(Healthy.attempts, 4, "one forced failure, then one delivery per transition")
            self.assertTrue(Healthy.signatures_ok)
            # (The server counts a delivery once the receiver's answer is in.)
            state = self.wait(receivers, lambda r: r["ok"]["delivered"] == 3, timeout=2)
            self.assertEqual({k: state["ok"][k] for k in ("attempts", "delivered", "failed", "rejected", "queued")},
                             {"attempts": 4, "delivered": 3, "failed": 0, "rejected": 0, "queued": 0}, state["ok"])
            self.assertEqual((state["silent"]["last_error"], state["silent"]["queued"]), (None, 1), state["silent"])
            # The silent receiver's attempt ends, failed, after the timeout, and is retried.
            timed_out = f"POST http://127.0.0.1:{port}: timed out after 6000 ms"
            self.wait(srv.output, lambda log: f'webhook receiver "silent" (database s): {timed_out}' in log)
            # ... and shows in the receiver's delivery state.
            delivery = self.wait(lambda: receivers()["silent"], lambda d: d["last_error"] is not None)
            self.assertEqual(delivery["last_error"], timed_out)
            self.assertRegex(delivery["last_error_time"], RFC3339)
            self.assertEqual((delivery["delivered"], delivery["failed"]), (0, 0), delivery)
            self.assertGreaterEqual(delivery["attempts"], 1, delivery)
            # Stopping does not wait out the retry in progress for longer than the timeout.
            stopping = time.time()
            srv.stop()
            self.assertLess(time.time() - stopping, 8)
        finally:
            srv.cleanup()
            close_receiver()
            healthy.shutdown()
            healthy.server_close()

    def test_rules_from_file_at_start(self):
        # --rules (also `rules = "..."` in the config file) adds rules at start;
        # a bad entry stops the start with a message naming file and entry.
        good = {"database": "f", "id": "hot", "measurement": "oven", "group_by": ["machine"],
                "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80}}
        srv = Server()
        try:
            path = os.path.join(temp_dir("liandu-rules-"), "rules.json")
            with open(path, "w") as f:
                json.dump([good, {"database": "f", "id": "broken", "measurement": "oven",
                                  "when": {"type": "threshold", "field": "temp"}}], f)
            srv.extra_args = ["--rules", path]
            with self.assertRaises(RuntimeError) as failed:
                srv.start()
            self.assertIn("--rules", str(failed.exception))
            self.assertIn("entry 1", str(failed.exception))
            with open(path, "w") as f:
                json.dump([good], f)
            srv.start()
            srv.query("CREATE DATABASE f")  # rules may name a database made later
            r = srv.request("GET", "/api/v1/rules?db=f")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual([x["id"] for x in r.json()["rules"]], ["hot"])
            # An alert opened under the file's rule stays open across a restart
            # that applies the same file again (not "rule replaced").
            self.assertEqual(srv.write("f", f"oven,machine=m1 temp=90 {time.time_ns()}").status, 204)
            self.wait(lambda: srv.request("GET", "/api/v1/alerts?db=f").json()["alerts"],
                      lambda a: a and a[0]["state"] == "firing")
            srv.stop()
            srv.start(port=srv.port)
            alerts = srv.request("GET", "/api/v1/alerts?db=f").json()["alerts"]
            self.assertEqual([a["state"] for a in alerts], ["firing"])
            states = [v[1] for v in srv.query("SELECT state FROM alerts", db="f").json()["results"][0]
                      .get("series", [{}])[0].get("values", [])]
            self.assertEqual(states, ["firing"])
        finally:
            srv.cleanup()
            if os.path.exists(path):
                os.remove(path)

    def test_webhook_receivers_api_and_file(self):
        # Receivers are the tenant admin's: rules name them, so whoever may
        # write rules cannot make the server POST to any address.
        srv = Server()
        path = os.path.join(temp_dir("liandu-webhooks-"), "webhooks.json")
        try:
            with open(path, "w") as f:
                json.dump([{"name": "ops", "url": "http://127.0.0.1:9/a"},
                           {"name": "bad name", "url": "http://127.0.0.1:9/b"}], f)
            srv.extra_args = ["--webhooks", path]
            with self.assertRaises(RuntimeError) as failed:
                srv.start()
            self.assertIn("--webhooks", str(failed.exception))
            self.assertIn("entry 1", str(failed.exception))
            with open(path, "w") as f:
                json.dump([{"name": "ops", "url": "http://127.0.0.1:9/a", "secret": "k"}], f)
            srv.start()
            srv.query("CREATE DATABASE w")
            listed = srv.request("GET", "/api/v1/webhooks").json()["webhooks"]
            self.assertEqual([(w["name"], w["url"], w["signed"]) for w in listed],
                             [("ops", "http://127.0.0.1:9/a", True)])
            self.assertNotIn("secret", listed[0])

            r = srv.request("POST", "/api/v1/webhooks", json.dumps({"name": "audit", "url": "http://10.1.2.3:8080/x"}))
            self.assertEqual(r.status, 201, r.body)
            self.assertRegex(r.json()["secret"], "^[0-9a-f]{64}$")  # generated, shown once
            for body, says in [({"name": "x", "url": "https:///h"}, "https://host"),
                               ({"name": "x", "url": "file:///etc/passwd"}, "http://host"),
                               ({"name": "x"}, "url is required"),
                               ({"name": "x", "url": "http://h", "colour": 1}, "colour: unknown member")]:
                r = srv.request("POST", "/api/v1/webhooks", json.dumps(body))
                self.assertEqual(r.status, 400, body)
                self.assertIn(says, r.json()["error"])
            writer = srv.request("POST", "/api/v1/tokens", json.dumps(
                {"description": "writer", "permissions": {"w": "all"}})).json()["token"]
            self.assertEqual(srv.request("GET", "/api/v1/webhooks", token=writer).status, 403)
            self.assertEqual(srv.request("POST", "/api/v1/webhooks", json.dumps(
                {"name": "mine", "url": "http://169.254.169.254/"}), token=writer).status, 403)
            # A rule may not carry its own URL.
            rule = {"id": "r1", "measurement": "m", "when": {"type": "absence", "for": "10s"},
                    "actions": [{"type": "webhook", "url": "http://169.254.169.254/"}]}
            r = srv.request("POST", "/api/v1/rules?db=w", json.dumps(rule), token=writer)
            self.assertEqual(r.status, 400, r.body)
            self.assertIn('"receiver"', r.json()["error"])
            rule["actions"] = [{"type": "webhook", "receiver": "audit"}]
            self.assertEqual(srv.request("POST", "/api/v1/rules?db=w", json.dumps(rule), token=writer).status, 201)

            self.assertEqual(srv.request("DELETE", "/api/v1/webhooks/audit").status, 204)
            self.assertEqual(srv.request("DELETE", "/api/v1/webhooks/audit").status, 404)
            # Receivers survive a restart (they live in the catalog).
            srv.stop()
            srv.start(port=srv.port)
            self.assertEqual([w["name"] for w in srv.request("GET", "/api/v1/webhooks").json()["webhooks"]], ["ops"])
        finally:
            srv.cleanup()

    def wait(self, get, ok, timeout=15):
        deadline = time.time() + timeout
        value = get()
        while not ok(value) and time.time() < deadline:
            time.sleep(0.2)
            value = get()
        self.assertTrue(ok(value), value)
        return value


if __name__ == "__main__":
    unittest.main()

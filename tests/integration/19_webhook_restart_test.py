"""19: webhook deliveries survive a crash. An alert fired while its receiver is
down is kept in the data folder (rules/webhooks.log); after liandu is killed
with SIGKILL and started again on the same folder, with the receiver up, the
receiver gets the alert exactly once, as it was made before the crash. A
delivery whose attempt is in flight at the kill (the receiver has it, liandu
not yet its answer) is made again after the restart, with the same
X-Liandu-Delivery-Id, so the receiver can drop the repeat."""
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import unittest

from liandu_server import Server, free_port, temp_dir, wait_until


class Hook(http.server.BaseHTTPRequestHandler):
    deliveries = []  # (body bytes, signature header, delivery id header)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).deliveries.append((body, self.headers.get("X-Liandu-Signature"),
                                      self.headers.get("X-Liandu-Delivery-Id")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def metrics(srv):
    text = srv.request("GET", "/metrics").body
    return {m[0]: int(m[1]) for m in re.findall(r"^(liandu_webhook_\w+) (\d+)$", text, re.M)}


class WebhookRestart(unittest.TestCase):
    def test_alert_queued_for_a_down_receiver_is_delivered_once_after_sigkill(self):
        hook_port = free_port()  # nothing listens there yet: the receiver is down
        srv = Server(["--webhook-threads", "2"], data_dir=temp_dir("liandu-it-webhook-restart-"))
        hook = None
        try:
            srv.start()
            self.assertEqual(srv.query("CREATE DATABASE w").status, 200)
            r = srv.request("POST", "/api/v1/webhooks", json.dumps(
                {"name": "ops", "url": f"http://127.0.0.1:{hook_port}/hook", "secret": "s3cret"}))
            self.assertEqual(r.status, 201, r.body)
            rule = {"id": "oven-hot", "name": "Oven too hot", "measurement": "oven", "group_by": ["machine"],
                    "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80},
                    "actions": [{"type": "webhook", "receiver": "ops"}]}
            r = srv.request("POST", "/api/v1/rules?db=w", json.dumps(rule))
            self.assertEqual(r.status, 201, r.body)
            t0 = time.time_ns()
            self.assertEqual(srv.write("w", f"oven,machine=m1 temp=91.5 {t0}").status, 204)

            # The alert as written when it fired, and its delivery failing.
            def alert_rows():
                res = srv.query("SELECT * FROM alerts", db="w", epoch="ns").json()["results"][0]
                series = res.get("series", [])
                return [dict(zip(series[0]["columns"], v)) for v in series[0]["values"]] if series else []
            rows = wait_until(alert_rows, lambda rows: len(rows) == 1)
            self.assertEqual(len(rows), 1, rows)
            fired = rows[0]
            receiver = lambda: srv.request("GET", "/api/v1/webhooks").json()["webhooks"][0]["delivery"]
            delivery = wait_until(receiver, lambda d: d["attempts"] >= 1)
            self.assertGreaterEqual(delivery["attempts"], 1, delivery)
            self.assertEqual((delivery["delivered"], delivery["queued"]), (0, 1), delivery)

            srv.kill9()
            hook = http.server.HTTPServer(("127.0.0.1", hook_port), Hook)
            threading.Thread(target=hook.serve_forever, daemon=True).start()
            srv.start()

            got = wait_until(lambda: list(Hook.deliveries), lambda d: len(d) >= 1, timeout=30)
            self.assertEqual(len(got), 1, srv.output())
            time.sleep(2)  # a second delivery would come at once
            self.assertEqual(len(Hook.deliveries), 1, "delivered exactly once")
            body, signature, delivery_id = Hook.deliveries[0]
            self.assertEqual(signature, "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest())
            self.assertRegex(delivery_id or "", r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            alert = json.loads(body)
            self.assertEqual({k: alert[k] for k in ("rule_id", "rule_name", "group", "state", "previous", "value",
                                                    "time")},
                             {"rule_id": "oven-hot", "rule_name": "Oven too hot", "group": {"machine": "m1"},
                              "state": "firing", "previous": "inactive", "value": 91.5, "time": t0})
            # The same event as the point written when it fired.
            self.assertEqual({k: alert[k] for k in ("alert_id", "message", "started")},
                             {k: fired[k] for k in ("alert_id", "message", "started")})
            self.assertIn("1 deliveries restored", srv.output())
            m = wait_until(lambda: metrics(srv), lambda m: m.get("liandu_webhook_delivered_total") == 1)
            self.assertEqual({k: m.get(k) for k in ("liandu_webhook_restored_total", "liandu_webhook_delivered_total",
                                                    "liandu_webhook_queued")},
                             {"liandu_webhook_restored_total": 1, "liandu_webhook_delivered_total": 1,
                              "liandu_webhook_queued": 0}, m)

            # Delivered: the next start has nothing to make again.
            srv.stop()
            srv.start()
            time.sleep(1.5)
            self.assertEqual(len(Hook.deliveries), 1)
            self.assertEqual(metrics(srv).get("liandu_webhook_restored_total"), 0)
        finally:
            srv.cleanup()
            if hook is not None:
                hook.shutdown()
                hook.server_close()


class HoldingHook(http.server.BaseHTTPRequestHandler):
    """Holds the first delivery unanswered until `release` is set (a receiver
    that took the POST and had not answered when liandu was killed), then
    accepts every delivery."""
    deliveries = []  # (body bytes, delivery id header)
    received = threading.Event()
    release = threading.Event()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls = type(self)
        cls.deliveries.append((body, self.headers.get("X-Liandu-Delivery-Id")))
        if len(cls.deliveries) == 1:
            cls.received.set()
            cls.release.wait(30)
        try:
            self.send_response(204)
            self.end_headers()
        except OSError:
            pass  # the killed server's connection is gone

    def log_message(self, *args):
        pass


class WebhookInFlightAtKill(unittest.TestCase):
    def test_delivery_in_flight_at_sigkill_is_made_again_with_the_same_delivery_id(self):
        hook = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), HoldingHook)
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        srv = Server([], data_dir=temp_dir("liandu-it-webhook-in-flight-"))
        try:
            srv.start()
            self.assertEqual(srv.query("CREATE DATABASE w").status, 200)
            r = srv.request("POST", "/api/v1/webhooks", json.dumps(
                {"name": "ops", "url": f"http://127.0.0.1:{hook.server_port}/hook"}))
            self.assertEqual(r.status, 201, r.body)
            for rid, m in (("oven-hot", "oven"), ("probe", "probe")):
                rule = {"id": rid, "measurement": m, "group_by": ["machine"],
                        "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80},
                        "actions": [{"type": "webhook", "receiver": "ops"}]}
                r = srv.request("POST", "/api/v1/rules?db=w", json.dumps(rule))
                self.assertEqual(r.status, 201, r.body)
            self.assertEqual(srv.write("w", "oven,machine=m1 temp=91").status, 204)
            self.assertTrue(HoldingHook.received.wait(20), srv.output())
            srv.kill9()  # the receiver has the delivery; liandu never got its answer
            HoldingHook.release.set()

            srv.start()
            # Behind the repeat in the receiver's queue: once it arrives, the
            # repeat has come.
            self.assertEqual(srv.write("w", "probe,machine=m1 temp=99").status, 204)
            got = wait_until(lambda: list(HoldingHook.deliveries), lambda d: len(d) >= 3, timeout=30)
            self.assertEqual(len(got), 3, srv.output())
            (first, first_id), (again, again_id), (probe, probe_id) = got
            self.assertEqual(json.loads(first)["rule_id"], "oven-hot")
            # At least once: the same bytes again, and the same delivery id,
            # so a receiver that drops repeats by id sees one.
            self.assertEqual(again, first)
            self.assertIsNotNone(first_id)
            self.assertEqual(again_id, first_id)
            self.assertEqual(json.loads(probe)["rule_id"], "probe")
            self.assertIsNotNone(probe_id)
            self.assertNotEqual(probe_id, first_id)
        finally:
            srv.cleanup()
            HoldingHook.release.set()
            hook.shutdown()
            hook.server_close()


if __name__ == "__main__":
    unittest.main()

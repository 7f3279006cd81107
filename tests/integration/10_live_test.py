"""10: WebSocket /api/v1/live with a browser-grade client, filters, auth and a slow consumer."""
import base64
import json
import os
import shutil
import socket
import subprocess
import time
import unittest
import urllib.parse

from liandu_server import ADMIN_TOKEN, Server

HERE = os.path.dirname(os.path.abspath(__file__))


def node_client(url, count, timeout_ms=20000):
    return subprocess.Popen(["node", "--experimental-websocket", os.path.join(HERE, "live_client.mjs"), url,
                             str(count), str(timeout_ms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_line(proc, want, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.strip() == want:
            return True
        if not line and proc.poll() is not None:
            return False
    return False


@unittest.skipUnless(shutil.which("node"), "node needed for the WebSocket client")
class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        cls.srv.query("CREATE DATABASE live")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def ws_url(self, query):
        return f"ws://127.0.0.1:{self.srv.port}/api/v1/live?{query}"

    def messages_for(self, query, body, count):
        """Subscribes with `query`, writes `body`, returns the JSON messages
        the client got before it had `count`."""
        p = node_client(self.ws_url(query), count)
        self.assertTrue(wait_for_line(p, "open"), p.stderr.read() if p.poll() is not None else "")
        time.sleep(0.2)
        self.assertEqual(self.srv.write("live", body).status, 204)
        out, _ = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, out)
        return [json.loads(l) for l in out.splitlines() if l.startswith("{")]

    def test_subscriber_receives_matching_points(self):
        body = ("machine,line=l1,site=s1 temp=61.5,state=\"running\" 1000\n"
                "machine,line=l2,site=s1 temp=50 1001\n"
                "other,line=l1 v=1i 1002\n"
                "machine,line=l1,site=s2 temp=62 1003\n")
        msgs = self.messages_for(f"db=live&measurement=machine&tag.line=l1&token={ADMIN_TOKEN}", body, 2)
        self.assertEqual(msgs[0], {"database": "live", "measurement": "machine",
                                   "tags": {"line": "l1", "site": "s1"},
                                   "fields": {"temp": 61.5, "state": "running"}, "time": 1000})
        self.assertEqual(msgs[1]["time"], 1003)
        self.assertEqual(len(msgs), 2)

    def test_influxql_subscription_filters_and_selects(self):
        q = urllib.parse.quote("SELECT temp FROM /^mach/ WHERE (line = 'l1' OR site = 's2') AND temp > 60")
        body = ("machine,line=l1,site=s1 temp=61.5,state=\"running\" 2000\n"
                "machine,line=l1,site=s1 temp=59 2001\n"
                "machine,line=l2,site=s1 temp=70 2002\n"
                "oven,line=l1 temp=99 2003\n"
                "machinery,line=l9,site=s2 temp=65,rpm=3i 2004\n")
        msgs = self.messages_for(f"db=live&q={q}&token={ADMIN_TOKEN}", body, 2)
        self.assertEqual([(m["measurement"], m["time"], m["fields"]) for m in msgs],
                         [("machine", 2000, {"temp": 61.5}), ("machinery", 2004, {"temp": 65})])

    def test_influxql_subscription_with_aggregate_is_400(self):
        q = urllib.parse.quote("SELECT mean(temp) FROM machine")
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall((f"GET /api/v1/live?db=live&q={q}&token={ADMIN_TOKEN} HTTP/1.1\r\nHost: x\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        s.settimeout(5)
        reply = b""
        while b"}" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
        self.assertIn(b"mean", reply)

    def test_unauthorised_upgrade_is_refused(self):
        p = node_client(self.ws_url("db=live"), 1, 5000)
        out, _ = p.communicate(timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("open", out.splitlines())

    def test_slow_consumer_is_bounded_and_ingest_goes_on(self):
        # A raw client that completes the handshake and then never reads.
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /api/v1/live?db=live&token={ADMIN_TOKEN} HTTP/1.1\r\nHost: x\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        s.settimeout(5)
        self.assertIn(b"101", s.recv(1024).split(b"\r\n")[0])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        start = time.time()
        for batch in range(40):
            body = "\n".join(f"flood,id={i % 10} v={i}i,pad=\"{'x' * 200}\" {batch * 1000 + i}"
                             for i in range(500))
            self.assertEqual(self.srv.write("live", body).status, 204)
        elapsed = time.time() - start
        self.assertLess(elapsed, 60)
        metrics = self.srv.request("GET", "/metrics").body
        dropped = [l for l in metrics.splitlines() if l.startswith("liandu_live_dropped_total")]
        self.assertTrue(dropped and int(dropped[0].split()[1]) > 0, dropped)
        s.close()


if __name__ == "__main__":
    unittest.main()

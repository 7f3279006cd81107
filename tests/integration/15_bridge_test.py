"""15: MQTT bridges from `liandu serve` to a real Debian mosquitto broker:
bridges over REST and --bridges, remote messages stored through the mapping
rules and republished on Liandu's broker, local messages forwarded out with a
prefix, no echo loops, reconnect after the remote broker restarts, masked
password, 0600 bridges file, metrics, config errors naming the key."""
import json
import os
import signal
import stat
import subprocess
import threading
import time
import unittest

from liandu_server import ADMIN_TOKEN, Server, free_port, temp_dir

MOSQUITTO = "/usr/sbin/mosquitto"
PASSWORD = "remote-secret-pw"

RULE = {
    "name": "remote-temp",
    "topic": "remote/{machine}/temp",
    "database": "plant",
    "measurement": "temp",
    "format": "value",
}


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got or time.time() > deadline:
            return got
        time.sleep(0.1)


class Mosquitto:
    """The remote broker: Debian's mosquitto on a loopback port, stopped by PID."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = temp_dir("liandu-bridge-mosq-")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        os.chmod(self.dir, 0o755)
        os.chmod(self.conf, 0o644)
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        ok = wait_for(lambda: self.proc.poll() is not None or subprocess.run(
            ["mosquitto_pub", "-p", str(self.port), "-t", "probe", "-m", "", "-q", "0"],
            capture_output=True, timeout=10).returncode == 0, timeout=10)
        if not ok or self.proc.poll() is not None:
            raise RuntimeError("mosquitto did not start on port %d" % self.port)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        self.log.close()


class Sub:
    """mosquitto_sub in the background; lines it prints are collected."""

    def __init__(self, port, topic, user=None, password=None):
        # Line-buffered: mosquitto_sub's stdio would hold lines back in a pipe.
        args = ["stdbuf", "-oL", "mosquitto_sub", "-d", "-v", "-p", str(port), "-t", topic, "-q", "1"]
        if user:
            args += ["-u", user, "-P", password]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not wait_for(lambda: any(l.startswith("Subscribed") for l in self.lines), timeout=15):
            self.stop()
            raise RuntimeError("mosquitto_sub did not subscribe: %r" % self.lines)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, line):
        return wait_for(lambda: line in self.lines)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait()
        self.reader.join(timeout=5)
        self.proc.stdout.close()


def pub(port, topic, message, user=None, password=None):
    args = ["mosquitto_pub", "-p", str(port), "-t", topic, "-m", message, "-q", "1"]
    if user:
        args += ["-u", user, "-P", password]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


@unittest.skipUnless(os.path.exists(MOSQUITTO), "needs Debian's mosquitto")
class Bridge(unittest.TestCase):
    def setUp(self):
        self.remote = Mosquitto().start()
        self.srv = Server().start()
        self.assertEqual(self.srv.query("CREATE DATABASE plant").status, 200)
        r = self.post("/api/v1/mqtt/mappings", RULE)
        self.assertEqual(r.status, 201, r.body)

    def tearDown(self):
        self.srv.cleanup()
        self.remote.kill()

    def post(self, path, body):
        return self.srv.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})

    def bridge(self, **over):
        b = {
            "name": "site-b",
            "database": "plant",
            "host": "127.0.0.1",
            "port": self.remote.port,
            "username": "liandu",
            "password": PASSWORD,
            "keepalive_s": 5,
            "subscribe": [{"filter": "remote/#", "qos": 1}],
            "forward": [{"filter": "cmd/#", "qos": 1, "remote_prefix": "site-a/"},
                        {"filter": "remote/#", "qos": 1}],
        }
        b.update(over)
        return b

    def get(self, name="site-b"):
        r = self.srv.request("GET", "/api/v1/bridges")
        self.assertEqual(r.status, 200, r.body)
        for e in r.json():
            if e["name"] == name:
                return e
        return None

    def wait_status(self, want, name="site-b"):
        got = wait_for(lambda: (self.get(name) or {}).get("status") == want, timeout=30)
        self.assertTrue(got, "bridge %s never %s: %s\n%s" % (name, want, self.get(name), self.srv.output()))

    def temps(self, machine):
        r = self.srv.query(f"SELECT value FROM temp WHERE machine = '{machine}'", db="plant")
        self.assertEqual(r.status, 200, r.body)
        series = r.json()["results"][0].get("series", [])
        return [v[1] for s in series for v in s["values"]]

    def local_creds(self):
        return {"user": "device", "password": ADMIN_TOKEN}

    def test_messages_flow_both_ways_and_survive_a_remote_restart(self):
        r = self.post("/api/v1/bridges", self.bridge())
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")

        # Inbound: stored through the mapping rule and seen by a local subscriber.
        local_sub = Sub(self.srv.mqtt_port, "remote/#", **self.local_creds())
        try:
            pub(self.remote.port, "remote/m1/temp", "21.5")
            self.assertTrue(wait_for(lambda: self.temps("m1") == [21.5]), self.temps("m1"))
            self.assertTrue(local_sub.saw("remote/m1/temp 21.5"), local_sub.lines)
        finally:
            local_sub.stop()

        # Outbound: a local publish on a forward topic reaches the remote broker
        # under the prefix.
        remote_sub = Sub(self.remote.port, "#")
        try:
            pub(self.srv.mqtt_port, "cmd/m1/start", "go", **self.local_creds())
            self.assertTrue(remote_sub.saw("site-a/cmd/m1/start go"), remote_sub.lines)
            # No loop: a local publish on remote/m2/temp is stored once locally,
            # forwarded, and its copy coming back over the subscription is
            # dropped. The marker published after it arrives later on the same
            # connection, so once it is stored an echo would have been too.
            pub(self.srv.mqtt_port, "remote/m2/temp", "5", **self.local_creds())
            self.assertTrue(remote_sub.saw("remote/m2/temp 5"), remote_sub.lines)
            pub(self.remote.port, "remote/marker/temp", "1")
            self.assertTrue(wait_for(lambda: self.temps("marker") == [1]), self.temps("marker"))
            self.assertEqual(self.temps("m2"), [5])
        finally:
            remote_sub.stop()

        metrics = self.srv.request("GET", "/metrics").body
        self.assertIn('liandu_bridge_connected{bridge="site-b"} 1', metrics)
        self.assertIn('liandu_bridge_messages_in_total{bridge="site-b"} 2', metrics)
        self.assertIn('liandu_bridge_messages_out_total{bridge="site-b"} 2', metrics)

        # The remote broker dies: the bridge reports it and retries.
        port = self.remote.port
        self.remote.kill()
        self.assertTrue(wait_for(lambda: self.get()["status"] in ("error", "connecting") and
                                 self.get()["last_error"] != "", timeout=30), self.get())
        self.assertIn('liandu_bridge_connected{bridge="site-b"} 0', self.srv.request("GET", "/metrics").body)
        # It comes back on the same port: the bridge reconnects, subscribes
        # again, and ingest continues.
        self.remote = Mosquitto(port).start()
        self.wait_status("connected")
        self.assertEqual(self.get()["last_error"], "")

        def stored_after_restart():
            pub(self.remote.port, "remote/m1/temp", "22.5")
            return wait_for(lambda: 22.5 in self.temps("m1"), timeout=2)
        # The SUBSCRIBE may land just after CONNACK: publish until it is seen.
        self.assertTrue(wait_for(stored_after_restart, timeout=20), self.temps("m1"))

    def test_password_is_masked_and_kept_private(self):
        r = self.post("/api/v1/bridges", self.bridge())
        self.assertEqual(r.status, 201, r.body)
        listed = self.srv.request("GET", "/api/v1/bridges")
        self.assertNotIn(PASSWORD, listed.body)
        entry = self.get()
        self.assertEqual(entry["password"], "********")
        self.assertIn(entry["status"], ("connecting", "connected", "error"))
        path = os.path.join(self.srv.data_dir, "bridges.json")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            self.assertIn(PASSWORD, f.read())
        # Posting back what GET showed keeps the password (the mask is not one).
        entry["keepalive_s"] = 10
        r = self.post("/api/v1/bridges", entry)
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        with open(path) as f:
            saved = json.load(f)
        self.assertEqual(saved[0]["password"], PASSWORD)
        self.assertEqual(saved[0]["keepalive_s"], 10)
        # DELETE stops it and forgets it.
        self.assertEqual(self.srv.request("DELETE", "/api/v1/bridges/site-b").status, 204)
        self.assertIsNone(self.get())
        self.assertNotIn('bridge="site-b"', self.srv.request("GET", "/metrics").body)
        self.assertEqual(self.srv.request("DELETE", "/api/v1/bridges/site-b").status, 404)

    def test_bad_config_is_400_naming_the_key(self):
        cases = [
            ({"port": 0}, '"port"'),
            ({"subscribe": [{"filter": "a/#/b"}]}, '"subscribe[0].filter"'),
            ({"forward": [{"filter": "cmd/#", "qos": 3}]}, '"forward[0].qos"'),
            ({"keepalive_s": "60"}, '"keepalive_s"'),
            ({"hots": "x"}, '"hots"'),
        ]
        for over, key in cases:
            r = self.post("/api/v1/bridges", self.bridge(**over))
            self.assertEqual(r.status, 400, (over, r.body))
            self.assertIn(key, r.json()["error"])
            self.assertIn("bridge site-b", r.json()["error"])
        self.assertIsNone(self.get())

    def test_bridges_file_at_start(self):
        path = os.path.join(temp_dir("liandu-bridges-"), "bridges.json")
        with open(path, "w") as f:
            json.dump([self.bridge(name="from-file")], f)
        srv = Server(["--bridges", path]).start()
        try:
            srv.query("CREATE DATABASE plant")
            r = srv.request("GET", "/api/v1/bridges")
            self.assertEqual([e["name"] for e in r.json()], ["from-file"])
            self.assertTrue(wait_for(lambda: srv.request("GET", "/api/v1/bridges").json()[0]["status"] ==
                                     "connected"), srv.request("GET", "/api/v1/bridges").body)
        finally:
            srv.cleanup()
        with open(path, "w") as f:
            json.dump([self.bridge(name="bad", port=70000)], f)
        bad = Server(["--bridges", path])
        with self.assertRaises(RuntimeError) as ctx:
            bad.start()
        bad.cleanup()
        self.assertIn('"port"', str(ctx.exception))


if __name__ == "__main__":
    unittest.main()

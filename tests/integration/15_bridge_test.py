"""15: MQTT bridges from `liandu serve` to a real Debian mosquitto broker:
bridges over REST and --bridges, remote messages stored through the mapping
rules and republished on Liandu's broker, local messages forwarded out with a
prefix, no echo loops, reconnect after the remote broker restarts, masked
password, 0600 bridges file, metrics, config errors naming the key; kill -9
of Liandu while a persistent bridge session takes messages in (none lost, with
one connection and with four in a share group); "connections": 4, every
message stored exactly once; "connections" lowered from 4 to 2 (over REST,
and in the --bridges file while Liandu was down): the sessions left behind
are drained and ended, every message stored exactly once; TLS to
the remote broker (certificates made with openssl at test time): client
certificate, a CA that does not match, a name that does not match; an
encrypted client key with its passphrase file (right, wrong, changed while
running), a broker certificate revoked by a CRL, a pre-shared key (TLS-PSK)."""
import json
import os
import signal
import stat
import subprocess
import threading
import time
import unittest

from certs import LOOPBACK_NAMES, encrypt_key, issue, make_ca, revoke
from liandu_server import ADMIN_TOKEN, Server, free_port, temp_dir

MOSQUITTO = "/usr/sbin/mosquitto"
PASSWORD = "remote-secret-pw"
KEY_PASSPHRASE = "key-passphrase-never-shown"
# A leading zero byte: the bridge and mosquitto's psk_file must agree on it.
PSK = "005ec2e7c0ffee5ec2e7c0ffee5ec2e7"
PSK_IDENTITY = "liandu-site-a"

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
    """The remote broker: Debian's mosquitto on a loopback port, stopped by PID.
    `conf` adds lines to the listener (its TLS settings); `client_tls` are the
    mosquitto_pub/sub options that reach it then."""

    def __init__(self, port=None, conf="", client_tls=()):
        self.port = port or free_port()
        self.dir = temp_dir("liandu-bridge-mosq-")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.client_tls = list(client_tls)
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{conf}")
        os.chmod(self.dir, 0o755)
        os.chmod(self.conf, 0o644)
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        ok = wait_for(lambda: self.proc.poll() is not None or subprocess.run(
            ["mosquitto_pub", "-p", str(self.port), "-t", "probe", "-m", "", "-q", "0"] + self.client_tls,
            capture_output=True, timeout=10).returncode == 0, timeout=10)
        if not ok or self.proc.poll() is not None:
            with open(os.path.join(self.dir, "mosquitto.log"), errors="replace") as f:
                raise RuntimeError("mosquitto did not start on port %d:\n%s" % (self.port, f.read()))
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        self.log.close()


class Sub:
    """mosquitto_sub in the background; lines it prints are collected."""

    def __init__(self, port, topic, user=None, password=None, tls=()):
        # Line-buffered: mosquitto_sub's stdio would hold lines back in a pipe.
        args = ["stdbuf", "-oL", "mosquitto_sub", "-d", "-v", "-p", str(port), "-t", topic, "-q", "1"] + list(tls)
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


def pub(port, topic, message, user=None, password=None, tls=()):
    args = ["mosquitto_pub", "-p", str(port), "-t", topic, "-m", message, "-q", "1"] + list(tls)
    if user:
        args += ["-u", user, "-P", password]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


class BridgeApi:
    """A running `liandu serve` (self.srv) with database plant and RULE, and
    a remote broker (self.remote); helpers over /api/v1/bridges."""

    def start_server(self):
        self.srv = Server().start()
        self.assertEqual(self.srv.query("CREATE DATABASE plant").status, 200)
        r = self.post("/api/v1/mqtt/mappings", RULE)
        self.assertEqual(r.status, 201, r.body)

    def post(self, path, body):
        return self.srv.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})

    def bridge(self, **over):
        b = {
            "name": "site-b",
            "database": "plant",
            "host": "127.0.0.1",
            "port": self.remote.port if self.remote else 8883,
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


@unittest.skipUnless(os.path.exists(MOSQUITTO), "needs Debian's mosquitto")
class Bridge(BridgeApi, unittest.TestCase):
    def setUp(self):
        self.remote = Mosquitto().start()
        self.start_server()

    def tearDown(self):
        self.srv.cleanup()
        self.remote.kill()

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



@unittest.skipUnless(os.path.exists(MOSQUITTO), "needs Debian's mosquitto")
class BridgeKill9(BridgeApi, unittest.TestCase):
    """At-least-once through a bridge: what the remote broker handed over is
    acknowledged only once stored, so after a kill -9 of Liandu the remote
    session (clean_session false) delivers the rest and nothing is lost."""

    def setUp(self):
        # No cap on what mosquitto queues for the offline bridge session.
        self.remote = Mosquitto(conf="max_queued_messages 0\n").start()
        self.start_server()

    def tearDown(self):
        self.srv.cleanup()
        self.remote.kill()

    def values(self):
        return {int(v) for v in self.temps("k")}

    def test_every_message_is_stored_after_a_kill_9(self):
        self.kill9_while_messages_come_in(600)

    def test_every_message_is_stored_after_a_kill_9_with_4_connections(self):
        # Four sessions in one share group: the remote broker queues the
        # shares of the dead ones and delivers them when they come back.
        # More messages, since four connections store them faster.
        self.kill9_while_messages_come_in(5000, connections=4)

    def kill9_while_messages_come_in(self, n, **over):
        r = self.post("/api/v1/bridges", self.bridge(client_id="liandu-kill9", clean_session=False, forward=[],
                                                      subscribe=[{"filter": "remote/#", "qos": 2}], **over))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        # A QoS 2 entry is subscribed at QoS 1 (PUBREC would precede the store).
        self.assertEqual(self.get()["subscribe"], [{"filter": "remote/#", "qos": 2}])
        # The subscription is made just after CONNACK: wait until a probe is stored.
        self.assertTrue(wait_for(lambda: (pub(self.remote.port, "remote/probe/temp", "1") or True)
                                 and self.temps("probe"), timeout=20))
        publisher = subprocess.Popen(
            ["mosquitto_pub", "-p", str(self.remote.port), "-t", "remote/k/temp", "-q", "1", "-l"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # The first half is published before the kill and the second half
        # only after it, so the kill always falls before the last message
        # (a poll slowed by a busy machine once saw all of them stored).
        half = n // 2
        publisher.stdin.write("".join(f"{i}\n" for i in range(1, half + 1)))
        publisher.stdin.flush()
        # Kill Liandu while the bridge is taking the messages in.
        self.assertTrue(wait_for(lambda: len(self.values()) >= 50, timeout=60), len(self.values()))
        self.srv.kill9()
        publisher.stdin.write("".join(f"{i}\n" for i in range(half + 1, n + 1)))
        publisher.stdin.close()
        self.assertEqual(publisher.wait(timeout=60), 0, publisher.stderr.read())
        publisher.stderr.close()
        self.srv.start()
        got = wait_for(lambda: self.values() >= set(range(1, n + 1)), timeout=120)
        missing = sorted(set(range(1, n + 1)) - self.values())
        self.assertTrue(got, "lost after kill -9: %d, first %s\n%s" % (len(missing), missing[:10], self.srv.output()))


@unittest.skipUnless(os.path.exists(MOSQUITTO), "needs Debian's mosquitto")
class BridgeConnections(BridgeApi, unittest.TestCase):
    """"connections": 4 opens four clients in one share group on the remote
    broker ($share/<client_id>/<filter>): mosquitto hands each message to one
    of them, and each is stored once."""

    CLIENTS = ["liandu-bridge-site-b", "liandu-bridge-site-b-2", "liandu-bridge-site-b-3", "liandu-bridge-site-b-4"]

    def setUp(self):
        # log_type all: the test reads from mosquitto's log who subscribed to
        # what and who was sent which messages.
        self.remote = Mosquitto(conf="max_queued_messages 0\nlog_type all\n").start()
        self.start_server()

    def tearDown(self):
        self.srv.cleanup()
        self.remote.kill()

    def remote_log(self):
        with open(os.path.join(self.remote.dir, "mosquitto.log"), errors="replace") as f:
            return f.read()

    def test_every_message_is_stored_exactly_once(self):
        n = 2000
        r = self.post("/api/v1/bridges", self.bridge(connections=4, forward=[]))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        entry = self.get()
        self.assertEqual((entry["connections"], entry["connections_up"]), (4, 4), entry)
        # Each connection's SUBSCRIBE follows its CONNACK.
        shared = "$share/liandu-bridge-site-b/remote/#"
        self.assertTrue(wait_for(lambda: all(f"{c} 1 {shared}" in self.remote_log() for c in self.CLIENTS)),
                        self.remote_log())
        self.assertNotIn(" 1 remote/#", self.remote_log())

        # Values 1..n with arrival timestamps: a message stored twice would
        # be a second point.
        publisher = subprocess.run(["mosquitto_pub", "-p", str(self.remote.port), "-t", "remote/k/temp", "-q", "1",
                                    "-l"], input="".join(f"{i}\n" for i in range(1, n + 1)), capture_output=True,
                                   text=True, timeout=60)
        self.assertEqual(publisher.returncode, 0, publisher.stderr)
        self.assertTrue(wait_for(lambda: len(self.temps("k")) >= n, timeout=60), len(self.temps("k")))
        time.sleep(1)  # room for a duplicate to show up
        self.assertEqual(sorted(int(v) for v in self.temps("k")), list(range(1, n + 1)))
        self.assertEqual(self.get()["messages_in"], n)
        # Spread over the four connections.
        log = self.remote_log()
        for c in self.CLIENTS:
            self.assertIn(f"Sending PUBLISH to {c} (", log)
        metrics = self.srv.request("GET", "/metrics").body
        self.assertIn('liandu_bridge_connected{bridge="site-b"} 1', metrics)
        self.assertIn('liandu_bridge_connections_up{bridge="site-b"} 4', metrics)

    def post_and_wait_subscribed(self, connections):
        r = self.post("/api/v1/bridges", self.bridge(connections=connections, clean_session=False, forward=[]))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        shared = "$share/liandu-bridge-site-b/remote/#"
        self.assertTrue(wait_for(lambda: all(f"{c} 1 {shared}" in self.remote_log()
                                             for c in self.CLIENTS[:connections])), self.remote_log())

    def publish(self, first, last):
        publisher = subprocess.run(["mosquitto_pub", "-p", str(self.remote.port), "-t", "remote/k/temp", "-q", "1",
                                    "-l"], input="".join(f"{i}\n" for i in range(first, last + 1)),
                                   capture_output=True, text=True, timeout=60)
        self.assertEqual(publisher.returncode, 0, publisher.stderr)

    def assert_stored_once(self, n):
        # Before the sessions left behind were ended, the remote broker kept
        # their share of these for clients that never came back.
        self.assertTrue(wait_for(lambda: len(self.temps("k")) >= n, timeout=60),
                        "%d of %d stored\n%s" % (len(self.temps("k")), n, self.get()))
        time.sleep(1)  # room for a duplicate to show up
        self.assertEqual(sorted(int(v) for v in self.temps("k")), list(range(1, n + 1)))

    def assert_sessions_ended(self, ended):
        self.assertTrue(wait_for(lambda: self.get()["sessions_to_end"] == [], timeout=30), self.get())
        for c in self.CLIENTS[2:]:
            # The clean connect that made mosquitto discard the session.
            self.assertIn(f"as {c} (p2, c1", self.remote_log())
        metrics = self.srv.request("GET", "/metrics").body
        self.assertIn('liandu_bridge_sessions_to_end{bridge="site-b"} 0', metrics)
        self.assertIn(f'liandu_bridge_sessions_ended_total{{bridge="site-b"}} {ended}', metrics)

    def test_lowering_connections_ends_the_sessions_left_behind(self):
        self.post_and_wait_subscribed(4)
        self.post_and_wait_subscribed(2)
        self.assert_sessions_ended(2)
        n = 400
        self.publish(1, n)
        self.assert_stored_once(n)

    def test_connections_lowered_while_down_are_drained_and_ended_at_start(self):
        self.post_and_wait_subscribed(4)
        self.srv.stop()
        # Queued by mosquitto for the four offline sessions.
        self.publish(1, 200)
        path = os.path.join(self.srv.data_dir, "lowered.json")
        with open(path, "w") as f:
            json.dump([self.bridge(connections=2, clean_session=False, forward=[])], f)
        self.srv.extra_args = ["--bridges", path]
        self.srv.start()
        # What was queued for connections 3 and 4 is taken in before their
        # sessions are discarded; then nothing goes to them.
        self.assert_sessions_ended(2)
        self.publish(201, 400)
        self.assert_stored_once(400)

    def test_bad_connections_is_400_naming_the_key(self):
        cases = [
            ({"connections": 0}, '"connections" must be an integer 1..16'),
            ({"connections": 17}, '"connections" must be an integer 1..16'),
            ({"connections": 2, "subscribe": []}, '"connections" needs "subscribe"'),
            ({"connections": 2, "client_id": "site/b"}, '"client_id" must not contain'),
        ]
        for over, want in cases:
            r = self.post("/api/v1/bridges", self.bridge(**over))
            self.assertEqual(r.status, 400, (over, r.body))
            self.assertIn("bridge site-b", r.json()["error"])
            self.assertIn(want, r.json()["error"])
        self.assertIsNone(self.get())


@unittest.skipUnless(os.path.exists(MOSQUITTO), "needs Debian's mosquitto")
class BridgeTls(BridgeApi, unittest.TestCase):
    """The remote broker speaks TLS only, with a certificate from a test CA;
    the bridge verifies it and, where the broker requires one, presents a
    client certificate from the same CA."""

    @classmethod
    def setUpClass(cls):
        cls.certs = temp_dir("liandu-bridge-certs-")
        cls.ca = make_ca(cls.certs, "ca")
        cls.other_ca = make_ca(cls.certs, "other-ca")
        cls.server_cert = issue(cls.certs, cls.ca, "server", names=LOOPBACK_NAMES)
        cls.wrong_name = issue(cls.certs, cls.ca, "wrong-name", names="DNS:elsewhere.example")
        cls.client = issue(cls.certs, cls.ca, "client", client=True)
        cls.encrypted_key = encrypt_key(cls.certs, cls.client[1], KEY_PASSPHRASE)
        cls.passphrase = os.path.join(cls.certs, "key.pass")
        cls.wrong_passphrase = os.path.join(cls.certs, "wrong.pass")
        with open(cls.passphrase, "w") as f:
            f.write(KEY_PASSPHRASE + "\n")
        with open(cls.wrong_passphrase, "w") as f:
            f.write("not-" + KEY_PASSPHRASE + "\n")
        cls.revoked_server = issue(cls.certs, cls.ca, "revoked-server", names=LOOPBACK_NAMES)
        cls.crl = revoke(cls.certs, cls.ca, [cls.revoked_server])
        cls.other_crl = revoke(cls.certs, cls.other_ca, [])
        cls.psk_file = os.path.join(cls.certs, "psk.txt")
        with open(cls.psk_file, "w") as f:
            f.write(f"{PSK_IDENTITY}:{PSK}\n")
        # Started as root, mosquitto reads them as its own user.
        os.chmod(cls.certs, 0o755)
        for f in os.listdir(cls.certs):
            os.chmod(os.path.join(cls.certs, f), 0o644)

    def setUp(self):
        self.remote = None
        self.start_server()

    def tearDown(self):
        self.srv.cleanup()
        if self.remote:
            self.remote.kill()

    def start_remote(self, server_cert, require_certificate=False):
        conf = (f"cafile {self.ca[0]}\ncertfile {server_cert[0]}\nkeyfile {server_cert[1]}\n"
                f"require_certificate {str(require_certificate).lower()}\n")
        client_tls = ["-h", "127.0.0.1", "--cafile", self.ca[0], "--cert", self.client[0], "--key", self.client[1]]
        if server_cert is self.wrong_name:
            client_tls.append("--insecure")
        self.remote = Mosquitto(conf=conf, client_tls=client_tls).start()
        return client_tls

    def start_psk_remote(self):
        """A broker that offers TLS-PSK only (no certificate), with the
        identity PSK_IDENTITY and the key PSK."""
        conf = f"psk_hint liandu-test\npsk_file {self.psk_file}\n"
        client_tls = ["-h", "127.0.0.1", "--psk", PSK, "--psk-identity", PSK_IDENTITY]
        self.remote = Mosquitto(conf=conf, client_tls=client_tls).start()
        return client_tls

    def tls_bridge(self, **over):
        b = self.bridge(tls=True, ca_file=self.ca[0])
        b.update(over)
        return b

    def assert_bridges_messages(self, tls):
        """A remote message is stored (published until the subscription is
        in place)."""
        def stored():
            pub(self.remote.port, "remote/m1/temp", "21.5", tls=tls)
            return wait_for(lambda: 21.5 in self.temps("m1"), timeout=2)
        self.assertTrue(wait_for(stored, timeout=20), self.temps("m1"))

    def assert_no_secret_shown(self, *secrets):
        """GET, /metrics and the server's log carry none of `secrets`."""
        shown = [self.srv.request("GET", "/api/v1/bridges").body, self.srv.request("GET", "/metrics").body,
                 self.srv.output()]
        for secret in secrets:
            for text in shown:
                self.assertNotIn(secret, text)

    def test_messages_flow_both_ways_with_a_client_certificate(self):
        tls = self.start_remote(self.server_cert, require_certificate=True)
        # The broker really wants a client certificate.
        r = subprocess.run(["mosquitto_pub", "-p", str(self.remote.port), "-t", "x", "-m", "1", "-h", "127.0.0.1",
                            "--cafile", self.ca[0]], capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)

        # So does it from the bridge. (With TLS 1.3 the client's handshake
        # ends before the broker checks its certificate, so the refusal may
        # arrive as the alert "certificate required" or as a reset.)
        r = self.post("/api/v1/bridges", self.tls_bridge())
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(wait_for(lambda: self.get()["status"] == "error", timeout=30), self.get())
        self.assertIn(f"127.0.0.1:{self.remote.port}: ", self.get()["last_error"])

        r = self.post("/api/v1/bridges", self.tls_bridge(cert_file=self.client[0], key_file=self.client[1]))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        entry = self.get()
        self.assertEqual((entry["tls"], entry["insecure"], entry["tls_version"]), (True, False, "tlsv1.2"))
        self.assertEqual((entry["ca_file"], entry["key_file"]), (self.ca[0], self.client[1]))

        # Inbound: stored through the mapping rule and seen by a local subscriber.
        local_sub = Sub(self.srv.mqtt_port, "remote/#", **self.local_creds())
        try:
            def stored():
                pub(self.remote.port, "remote/m1/temp", "21.5", tls=tls)
                return wait_for(lambda: 21.5 in self.temps("m1"), timeout=2)
            # The SUBSCRIBE may land just after CONNACK: publish until it is seen.
            self.assertTrue(wait_for(stored, timeout=20), self.temps("m1"))
            self.assertTrue(local_sub.saw("remote/m1/temp 21.5"), local_sub.lines)
        finally:
            local_sub.stop()

        # Outbound: a local publish reaches the remote broker's TLS subscribers.
        remote_sub = Sub(self.remote.port, "#", tls=tls)
        try:
            pub(self.srv.mqtt_port, "cmd/m1/start", "go", **self.local_creds())
            self.assertTrue(remote_sub.saw("site-a/cmd/m1/start go"), remote_sub.lines)
        finally:
            remote_sub.stop()
        self.assertEqual(self.get()["last_error"], "")

    def test_a_ca_that_does_not_match_is_an_error_and_carries_nothing(self):
        tls = self.start_remote(self.server_cert)
        r = self.post("/api/v1/bridges", self.tls_bridge(ca_file=self.other_ca[0]))
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(wait_for(lambda: "certificate verify failed" in self.get()["last_error"], timeout=30),
                        self.get())
        entry = self.get()
        self.assertEqual(entry["status"], "error", entry)
        self.assertIn(f"127.0.0.1:{self.remote.port}: ", entry["last_error"])
        self.assertIn("retrying in", entry["last_error"])

        remote_sub = Sub(self.remote.port, "#", tls=tls)
        try:
            pub(self.srv.mqtt_port, "cmd/m1/start", "go", **self.local_creds())
            pub(self.remote.port, "remote/m1/temp", "21.5", tls=tls)
            time.sleep(2)
            self.assertFalse([l for l in remote_sub.lines if l.startswith("site-a/")], remote_sub.lines)
        finally:
            remote_sub.stop()
        self.assertEqual(self.temps("m1"), [])
        entry = self.get()
        self.assertNotEqual(entry["status"], "connected")
        self.assertEqual((entry["messages_in"], entry["messages_out"], entry["messages_dropped"]), (0, 0, 1))
        self.assertIn('liandu_bridge_connected{bridge="site-b"} 0', self.srv.request("GET", "/metrics").body)

        # The right CA, posted again: it connects.
        r = self.post("/api/v1/bridges", self.tls_bridge())
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")

    def test_a_certificate_for_another_name_is_refused_unless_insecure(self):
        self.start_remote(self.wrong_name)
        r = self.post("/api/v1/bridges", self.tls_bridge())
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(wait_for(lambda: "host name verification failed" in self.get()["last_error"], timeout=30),
                        self.get())
        self.assertEqual(self.get()["status"], "error")
        # insecure (tests only) skips the name check, not the CA.
        r = self.post("/api/v1/bridges", self.tls_bridge(insecure=True))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")

    def test_an_encrypted_client_key_connects_with_its_passphrase_file(self):
        tls = self.start_remote(self.server_cert, require_certificate=True)
        r = self.post("/api/v1/bridges", self.tls_bridge(cert_file=self.client[0], key_file=self.encrypted_key,
                                                         key_password_file=self.passphrase))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        self.assert_bridges_messages(tls)
        entry = self.get()
        self.assertEqual((entry["key_file"], entry["key_password_file"]), (self.encrypted_key, self.passphrase))
        self.assert_no_secret_shown(KEY_PASSPHRASE)
        with open(os.path.join(self.srv.data_dir, "bridges.json")) as f:
            self.assertNotIn(KEY_PASSPHRASE, f.read())

        # The passphrase file changes under a running bridge: the next
        # connection attempt names the problem in the status.
        pass_file = os.path.join(temp_dir("liandu-bridge-pass-"), "key.pass")
        with open(pass_file, "w") as f:
            f.write(KEY_PASSPHRASE + "\n")
        r = self.post("/api/v1/bridges", self.tls_bridge(cert_file=self.client[0], key_file=self.encrypted_key,
                                                         key_password_file=pass_file))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        with open(pass_file, "w") as f:
            f.write("changed\n")
        port = self.remote.port
        self.remote.kill()
        self.assertTrue(wait_for(lambda: '"key_password_file" does not decrypt' in self.get()["last_error"],
                                 timeout=30), self.get())
        entry = self.get()
        self.assertEqual(entry["status"], "error")
        self.assertIn(f"127.0.0.1:{port}: bridge site-b: \"key_password_file\" does not decrypt \"key_file\" "
                      f"{self.encrypted_key}", entry["last_error"])
        self.assertIn("retrying in", entry["last_error"])

    def test_a_wrong_or_missing_passphrase_is_an_error_naming_the_key(self):
        cases = [
            ({"key_password_file": self.wrong_passphrase},
             f'bridge site-b: "key_password_file" does not decrypt "key_file" {self.encrypted_key}'),
            ({}, f'bridge site-b: "key_file" is encrypted: {self.encrypted_key} (give its passphrase in a file '
                 'named by "key_password_file")'),
        ]
        for over, want in cases:
            r = self.post("/api/v1/bridges", self.tls_bridge(cert_file=self.client[0], key_file=self.encrypted_key,
                                                             **over))
            self.assertEqual(r.status, 400, (over, r.body))
            self.assertIn(want, r.json()["error"])
            self.assertNotIn(KEY_PASSPHRASE, r.body)
        self.assertIsNone(self.get())
        # The same at start, from --bridges: the server does not start.
        path = os.path.join(temp_dir("liandu-bridges-"), "bridges.json")
        with open(path, "w") as f:
            json.dump([self.tls_bridge(cert_file=self.client[0], key_file=self.encrypted_key,
                                       key_password_file=self.wrong_passphrase)], f)
        bad = Server(["--bridges", path])
        with self.assertRaises(RuntimeError) as ctx:
            bad.start()
        bad.cleanup()
        self.assertIn('"key_password_file" does not decrypt', str(ctx.exception))

    def test_a_broker_certificate_in_the_crl_is_refused(self):
        self.start_remote(self.revoked_server)
        r = self.post("/api/v1/bridges", self.tls_bridge(crl_file=self.crl))
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(wait_for(lambda: "certificate revoked" in self.get()["last_error"], timeout=30), self.get())
        entry = self.get()
        self.assertEqual(entry["status"], "error")
        self.assertIn(f"127.0.0.1:{self.remote.port}: ", entry["last_error"])
        self.assertIn("broker certificate refused: certificate revoked (/CN=revoked-server, depth 0)",
                      entry["last_error"])
        self.assertEqual(entry["crl_file"], self.crl)
        # Without the CRL the same broker is trusted (it chains to the CA).
        r = self.post("/api/v1/bridges", self.tls_bridge())
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        self.remote.kill()

        # A broker whose certificate is not revoked: connected, carrying.
        tls = self.start_remote(self.server_cert)
        r = self.post("/api/v1/bridges", self.tls_bridge(crl_file=self.crl))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        self.assert_bridges_messages(tls)

        # A CRL file without the CRL of the broker's CA: refused, not ignored.
        r = self.post("/api/v1/bridges", self.tls_bridge(crl_file=self.other_crl))
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(wait_for(lambda: "unable to get certificate CRL" in self.get()["last_error"], timeout=30),
                        self.get())

    def test_a_pre_shared_key_connects_and_carries_messages(self):
        tls = self.start_psk_remote()
        b = self.bridge(tls=True, psk=PSK, psk_identity=PSK_IDENTITY)
        r = self.post("/api/v1/bridges", b)
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        self.assert_bridges_messages(tls)
        entry = self.get()
        self.assertEqual((entry["psk"], entry["psk_identity"]), ("********", PSK_IDENTITY))
        self.assert_no_secret_shown(PSK)
        with open(os.path.join(self.srv.data_dir, "bridges.json")) as f:
            self.assertEqual(json.load(f)[0]["psk"], PSK)
        # Posting back what GET showed keeps the key.
        entry["keepalive_s"] = 10
        r = self.post("/api/v1/bridges", entry)
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")
        # Over TLS 1.3 too.
        r = self.post("/api/v1/bridges", self.bridge(tls=True, psk=PSK, psk_identity=PSK_IDENTITY,
                                                     tls_version="tlsv1.3"))
        self.assertEqual(r.status, 201, r.body)
        self.wait_status("connected")

        # A key the broker does not have for that identity: refused.
        r = self.post("/api/v1/bridges", self.bridge(tls=True, psk=PSK[:-2] + "00", psk_identity=PSK_IDENTITY))
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(wait_for(lambda: self.get()["status"] == "error", timeout=30), self.get())
        self.assertIn(f"127.0.0.1:{self.remote.port}: ", self.get()["last_error"])
        self.assert_no_secret_shown(PSK, PSK[:-2])

    def test_bad_tls_config_is_400_naming_the_key_and_the_path(self):
        missing = os.path.join(self.certs, "missing.pem")
        cases = [
            ({"ca_file": missing}, '"ca_file" cannot be read: ' + missing),
            ({"ca_file": None}, '"ca_file" is required'),
            ({"cert_file": self.client[0]}, '"key_file" is required'),
            ({"key_file": missing, "cert_file": self.client[0]}, '"key_file" cannot be read: ' + missing),
            ({"tls_version": "tlsv1.0"}, '"tls_version"'),
            ({"tls": False}, '"ca_file" needs "tls": true'),
            ({"psk": PSK, "psk_identity": PSK_IDENTITY}, '"psk" cannot be used with "ca_file"'),
            ({"ca_file": None, "psk": "not-hex-" + PSK, "psk_identity": PSK_IDENTITY},
             '"psk" must be the key in hexadecimal'),
            ({"ca_file": None, "psk": PSK}, '"psk_identity" is required with "psk"'),
            ({"crl_file": missing}, '"crl_file" cannot be read: ' + missing),
            ({"crl_file": self.ca[0]}, '"crl_file" holds no certificate revocation list (PEM): ' + self.ca[0]),
            ({"key_password_file": self.passphrase}, '"key_password_file" needs "key_file"'),
        ]
        for over, want in cases:
            b = self.tls_bridge(**over)
            b = {k: v for k, v in b.items() if v is not None}
            r = self.post("/api/v1/bridges", b)
            self.assertEqual(r.status, 400, (over, r.body))
            self.assertIn("bridge site-b", r.json()["error"])
            self.assertIn(want, r.json()["error"])
            self.assertNotIn(PSK, r.body)
        self.assertIsNone(self.get())


if __name__ == "__main__":
    unittest.main()

"""21: MQTT over TLS (--mqtt-tls-bind with --tls-cert/--tls-key) beside the
plain listener, with the Debian mosquitto clients: one broker for both
(sessions, auth, mappings, the connection limit), failed handshakes close only
their own connection, a client that never handshakes is closed at the CONNECT
timeout, and TLS alone with --mqtt-bind off."""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from certs import issue, make_ca
from liandu_server import ADMIN_TOKEN, Server, free_port, start_error, wait_until

RULE = {"name": "tls", "topic": "tls/{machine}", "database": "plant", "measurement": "tlsm", "format": "json",
        "fields": {"temperature": "temp"}}


def client_args(port, cafile, user, password):
    args = ["-h", "127.0.0.1", "-p", str(port)]
    if cafile:
        args += ["--cafile", cafile]
    if user is not None:
        args += ["-u", user, "-P", password]
    return args


def pub(port, topic, message, *args, cafile=None, user="device", password=ADMIN_TOKEN):
    return subprocess.run(["mosquitto_pub", *client_args(port, cafile, user, password), "-t", topic, "-m", message,
                           *args], capture_output=True, text=True, timeout=30)


def sub(port, topic, *args, cafile=None, user="device", password=ADMIN_TOKEN):
    """A mosquitto_sub that prints the first message on `topic` and exits."""
    return subprocess.Popen(["mosquitto_sub", *client_args(port, cafile, user, password), "-t", topic, "-C", "1",
                             "-W", "30", "-v", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def publish_until_received(test, subscriber, publish):
    """Publishes until the subscriber has a message (its subscription lands
    some time after it starts); returns what it printed."""
    deadline = time.time() + 20
    while subscriber.poll() is None and time.time() < deadline:
        r = publish()
        test.assertEqual(r.returncode, 0, r.stderr)
        try:
            subscriber.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
    if subscriber.poll() is None:
        subscriber.kill()
    out, err = subscriber.communicate(timeout=10)
    test.assertEqual(subscriber.returncode, 0, err)
    return out.strip()


def raw_connect(port):
    """A plain MQTT 3.1.1 CONNECT with the admin token, on a raw socket."""
    def s16(b):
        return struct.pack(">H", len(b)) + b

    body = s16(b"MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 60) + s16(b"raw-plain") + s16(b"device") + \
        s16(ADMIN_TOKEN.encode())
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(bytes([0x10, len(body)]) + body)
    return sock


def closed_by_server(sock):
    """True when the server closes the socket (end of stream or reset) before
    the socket's timeout; whatever it sent first is skipped."""
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def open_connections(srv):
    m = re.search(r"^liandu_mqtt_open_connections (\d+)$", srv.request("GET", "/metrics").body, re.M)
    return int(m.group(1))


class MqttTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="liandu-mqtt-tls-")
        cls.ca = make_ca(cls.dir, "ca")
        cls.cert, cls.key = issue(cls.dir, cls.ca, "server")
        cls.other_ca = make_ca(cls.dir, "other")
        cls.tls_port = free_port()
        cls.srv = Server(["--mqtt-tls-bind", f"127.0.0.1:{cls.tls_port}", "--tls-cert", cls.cert,
                          "--tls-key", cls.key]).start()
        cls.srv.query("CREATE DATABASE plant")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tls_pub(self, topic, message, *args, **kw):
        return pub(self.tls_port, topic, message, *args, cafile=self.ca[0], **kw)

    def test_tls_subscriber_gets_tls_publishes_at_qos_0_and_1(self):
        for qos in ("0", "1"):
            s = sub(self.tls_port, f"tls-chat/q{qos}", "-q", qos, cafile=self.ca[0])
            out = publish_until_received(self, s, lambda: self.tls_pub(f"tls-chat/q{qos}", "over tls", "-q", qos))
            self.assertEqual(out, f"tls-chat/q{qos} over tls")

    def test_tls_publish_with_a_mapping_is_stored(self):
        r = self.srv.request("POST", "/api/v1/mqtt/mappings", json.dumps(RULE), {"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.body)
        r = self.tls_pub("tls/m1", '{"temp": 42.5}', "-q", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        # QoS 1 is acknowledged once stored: no waiting before the query.
        res = self.srv.query("SELECT temperature FROM tlsm WHERE machine = 'm1'", db="plant").json()["results"][0]
        self.assertEqual([v[1] for v in res["series"][0]["values"]], [42.5], res)

    def test_plain_publish_reaches_a_tls_subscriber(self):
        s = sub(self.tls_port, "mixed/a", "-q", "1", cafile=self.ca[0])
        out = publish_until_received(self, s, lambda: pub(self.srv.mqtt_port, "mixed/a", "from plain", "-q", "1"))
        self.assertEqual(out, "mixed/a from plain")

    def test_plain_client_on_the_tls_port_fails_and_tls_clients_go_on(self):
        s = sub(self.tls_port, "survive/a", "-q", "1", cafile=self.ca[0])
        try:
            r = pub(self.tls_port, "survive/a", "plain", "-q", "1")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            sock = raw_connect(self.tls_port)  # MQTT bytes where a ClientHello belongs
            try:
                self.assertTrue(closed_by_server(sock))
            finally:
                sock.close()
            out = publish_until_received(self, s, lambda: self.tls_pub("survive/a", "still served", "-q", "1"))
            self.assertEqual(out, "survive/a still served")
        finally:
            s.kill()
            s.communicate()

    def test_wrong_ca_fails(self):
        r = pub(self.tls_port, "ca/a", "x", "-q", "1", cafile=self.other_ca[0])
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertEqual(self.tls_pub("ca/a", "right ca", "-q", "1").returncode, 0)

    def test_without_a_token_the_connect_is_refused(self):
        r = self.tls_pub("auth/a", "x", "-q", "1", user=None)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        r = self.tls_pub("auth/a", "x", "-q", "1", password="not-a-token")
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_a_client_that_never_handshakes_is_closed_at_the_connect_timeout(self):
        # connect_timeout is 10 s; the socket waits 20 s at most.
        sock = socket.create_connection(("127.0.0.1", self.tls_port), timeout=20)
        try:
            self.assertTrue(wait_until(lambda: open_connections(self.srv), lambda n: n >= 1) >= 1)
            started = time.time()
            self.assertTrue(closed_by_server(sock), "a silent TLS client still holds its slot")
            self.assertLess(time.time() - started, 15)
        finally:
            sock.close()


class MqttTlsOptions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="liandu-mqtt-tls-opt-")
        cls.ca = make_ca(cls.dir, "ca")
        cls.cert, cls.key = issue(cls.dir, cls.ca, "server")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tls_args(self, port):
        return ["--mqtt-tls-bind", f"127.0.0.1:{port}", "--tls-cert", self.cert, "--tls-key", self.key]

    def test_tls_only_with_mqtt_bind_off(self):
        port = free_port()
        srv = Server(["--mqtt-bind", "off", *self.tls_args(port)]).start()
        try:
            s = sub(port, "only/a", "-q", "1", cafile=self.ca[0])
            out = publish_until_received(self, s, lambda: pub(port, "only/a", "tls only", "-q", "1",
                                                              cafile=self.ca[0]))
            self.assertEqual(out, "only/a tls only")
            self.assertIn(f"mqtts://127.0.0.1:{port}", srv.output())
            self.assertNotIn("mqtt://", srv.output())
        finally:
            srv.cleanup()

    def test_tls_bind_without_certificate_is_a_start_error(self):
        self.assertIn("--mqtt-tls-bind needs --tls-cert and --tls-key",
                      start_error(["--mqtt-tls-bind", f"127.0.0.1:{free_port()}"]))

    def test_missing_key_file_is_a_start_error_naming_it(self):
        missing = os.path.join(self.dir, "nope.pem")
        said = start_error(["--mqtt-tls-bind", f"127.0.0.1:{free_port()}",
                            "--tls-cert", self.cert, "--tls-key", missing])
        self.assertIn(f"MQTT TLS: private key {missing}: No such file or directory", said)

    def test_max_connections_counts_both_listeners(self):
        port = free_port()
        srv = Server(["--mqtt-max-connections", "1", *self.tls_args(port)]).start()
        try:
            sock = raw_connect(srv.mqtt_port)
            try:
                self.assertEqual(sock.recv(4), b"\x20\x02\x00\x00")
                r = pub(port, "limit/a", "x", "-q", "1", cafile=self.ca[0])
                self.assertNotEqual(r.returncode, 0, "a TLS client got past the limit the plain one filled")
            finally:
                sock.close()
            self.assertEqual(wait_until(lambda: open_connections(srv), lambda n: n == 0), 0)
            r = pub(port, "limit/a", "x", "-q", "1", cafile=self.ca[0])
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()

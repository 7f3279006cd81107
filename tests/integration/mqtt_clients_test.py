"""10: the MQTT server with real clients (mosquitto_pub/mosquitto_sub, and a
client on libmosquitto), and raw bad bytes over a socket.

Runs the standalone mqtt_test_server named by $MQTT_TEST_SERVER; the
libmosquitto client is $MQTT_LIBMOSQUITTO_CLIENT (tests needing it are skipped
without it). Registered as integration_10_mqtt_clients by
src/connect/mqtt/server/CMakeLists.txt.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

SERVER = os.environ.get("MQTT_TEST_SERVER", "")
LIBMOSQ = os.environ.get("MQTT_LIBMOSQUITTO_CLIENT", "")
HAVE_MOSQUITTO = shutil.which("mosquitto_pub") is not None and shutil.which("mosquitto_sub") is not None


class MqttServer:
    def __init__(self, *flags, data=None):
        self.flags = list(flags)
        self.data = data or tempfile.mkdtemp(prefix="liandu-mqtt-")
        self.proc = None
        self.port = None

    def start(self):
        # stderr to a file: a pipe nobody reads could fill and stall the server.
        self.stderr = open(os.path.join(self.data, "server.stderr"), "a")
        self.proc = subprocess.Popen([SERVER, "--port", "0", "--data", self.data] + self.flags,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError("server did not start: %r" % line)
        self.port = int(line.split()[2])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.stderr.close()

    def cleanup(self):
        self.stop()
        if os.environ.get("MQTT_KEEP_DATA"):
            return
        shutil.rmtree(self.data, ignore_errors=True)


def pub(port, topic, msg, *extra):
    r = subprocess.run(["mosquitto_pub", "-p", str(port), "-t", topic, "-m", msg] + list(extra),
                       capture_output=True, text=True, timeout=20)
    return r.returncode


class Sub:
    """mosquitto_sub that has received its SUBACK when the constructor returns."""

    def __init__(self, port, topic, *extra):
        # stdbuf: mosquitto_sub block-buffers its output into a pipe.
        self.proc = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-d", "-p", str(port), "-t", topic] + list(extra),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "SUBACK" in line:
                return
        raise RuntimeError("mosquitto_sub got no SUBACK")

    def lines(self, timeout=15):
        """Message lines (debug lines dropped) once the subscriber exits."""
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return [l for l in out.splitlines() if not l.startswith("Client ") and not l.startswith("Subscribed")]


def sub_once(port, topic, *extra, timeout=15):
    r = subprocess.run(["mosquitto_sub", "-p", str(port), "-t", topic] + list(extra),
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout.splitlines()


# Raw MQTT packets for the bad-input tests.
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def mqtt_str(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack(">H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect_packet(client_id, level=4, keep_alive=60, will=None):
    flags = 0x02
    payload = mqtt_str(client_id)
    props = b"\x00" if level == 5 else b""
    if will:
        flags |= 0x04
        payload += (b"\x00" if level == 5 else b"") + mqtt_str(will[0]) + mqtt_str(will[1])
    body = mqtt_str("MQTT") + bytes([level, flags]) + struct.pack(">H", keep_alive) + props + payload
    return packet(0x10, body)


def publish_packet(topic, payload, level=4):
    props = b"\x00" if level == 5 else b""
    return packet(0x30, mqtt_str(topic) + props + payload)


def raw_connect(port, client_id, level=4, keep_alive=60, will=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(connect_packet(client_id, level, keep_alive, will))
    ack = recv_exact(s, 4 if level == 4 else 2)
    assert ack[0] == 0x20, ack
    if level == 5:
        recv_exact(s, ack[1])
    return s


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def closed_by_server(s, timeout=5):
    """True when the server closes s; returns whatever it sent first."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return True, got
            got += chunk
    except socket.timeout:
        return False, got
    except ConnectionResetError:
        return True, got


@unittest.skipUnless(SERVER and HAVE_MOSQUITTO, "needs MQTT_TEST_SERVER and mosquitto-clients")
class MosquittoClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.NamedTemporaryFile(prefix="mqtt-publish-", delete=False).name
        cls.srv = MqttServer("--publish-log", cls.log, "--fail-topic", "fails/here",
                             "--store-fail-topic", "unstored/here").start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        os.unlink(cls.log)

    def test_qos_0_1_2(self):
        for version in ("311", "5"):
            s = Sub(self.srv.port, "q%s/#" % version, "-q", "2", "-C", "3", "-v", "-V", version)
            for qos in (0, 1, 2):
                self.assertEqual(pub(self.srv.port, "q%s/%d" % (version, qos), "m%d" % qos, "-q", str(qos),
                                     "-V", version), 0)
            self.assertEqual(s.lines(), ["q%s/0 m0" % version, "q%s/1 m1" % version, "q%s/2 m2" % version])

    def test_granted_qos_is_the_lower(self):
        s = Sub(self.srv.port, "low/#", "-q", "1", "-C", "1", "-F", "%q %t %p")
        pub(self.srv.port, "low/x", "hi", "-q", "2")
        self.assertEqual(s.lines(), ["1 low/x hi"])

    def test_retained(self):
        self.assertEqual(pub(self.srv.port, "ret/a", "kept", "-r", "-q", "1"), 0)
        rc, lines = sub_once(self.srv.port, "ret/#", "-C", "1", "-F", "%r %t %p")
        self.assertEqual(lines, ["1 ret/a kept"])
        # An empty retained message clears it.
        pub(self.srv.port, "ret/a", "", "-r")
        rc, lines = sub_once(self.srv.port, "ret/#", "-C", "1", "-W", "1")
        self.assertEqual(lines, [])

    def test_will_on_abnormal_disconnect(self):
        s = Sub(self.srv.port, "wills/#", "-C", "1", "-v")
        victim = Sub(self.srv.port, "nothing", "--will-topic", "wills/victim", "--will-payload", "died",
                     "-i", "victim")
        victim.proc.kill()
        victim.proc.wait()
        self.assertEqual(s.lines(), ["wills/victim died"])

    def test_no_will_on_clean_disconnect(self):
        s = Sub(self.srv.port, "cleanwill/#", "-C", "1", "-v", "-W", "2")
        subprocess.run(["mosquitto_sub", "-p", str(self.srv.port), "-t", "x", "-E", "--will-topic",
                        "cleanwill/x", "--will-payload", "no"], timeout=10, capture_output=True)
        pub(self.srv.port, "cleanwill/marker", "yes")
        self.assertEqual(s.lines(), ["cleanwill/marker yes"])

    def test_v5_user_properties_and_content_type(self):
        s = Sub(self.srv.port, "v5/#", "-V", "5", "-C", "1", "-F", "%t %p %P %C")
        pub(self.srv.port, "v5/a", "x", "-V", "5", "-D", "publish", "user-property", "site", "plant-1",
            "-D", "publish", "content-type", "text/plain")
        self.assertEqual(s.lines(), ["v5/a x site:plant-1 text/plain"])

    def test_v5_message_expiry(self):
        pub(self.srv.port, "exp/short", "gone", "-V", "5", "-r", "-D", "publish", "message-expiry-interval", "1")
        pub(self.srv.port, "exp/long", "kept", "-V", "5", "-r", "-D", "publish", "message-expiry-interval", "100")
        time.sleep(2.2)
        rc, lines = sub_once(self.srv.port, "exp/#", "-V", "5", "-W", "1", "-F", "%t %p %E")
        self.assertEqual(len(lines), 1, lines)
        topic, payload, left = lines[0].split()
        self.assertEqual((topic, payload), ("exp/long", "kept"))
        self.assertTrue(90 <= int(left) <= 100, left)

    def test_v5_subscription_identifier(self):
        s = Sub(self.srv.port, "sid/#", "-V", "5", "-C", "1", "-F", "%S %t",
                "-D", "subscribe", "subscription-identifier", "7")
        pub(self.srv.port, "sid/a", "x", "-V", "5")
        self.assertEqual(s.lines(), ["7 sid/a"])

    def test_persistent_session_queues_qos1_while_offline(self):
        for version, extra in (("311", []), ("5", ["-x", "3600"])):
            cid = "persist-" + version
            args = ["-V", version, "-i", cid, "-c", "-q", "1"] + extra
            rc, _ = sub_once(self.srv.port, "ps%s/#" % version, "-E", *args)
            self.assertEqual(rc, 0)
            pub(self.srv.port, "ps%s/a" % version, "while-away", "-q", "1")
            rc, lines = sub_once(self.srv.port, "ps%s/#" % version, "-C", "1", "-v", "-W", "5", *args)
            self.assertEqual(lines, ["ps%s/a while-away" % version])

    def test_shared_subscription(self):
        a = Sub(self.srv.port, "$share/g/jobs/#", "-v", "-W", "3")
        b = Sub(self.srv.port, "$share/g/jobs/#", "-v", "-W", "3")
        for i in range(6):
            pub(self.srv.port, "jobs/%d" % i, str(i))
        la = [l for l in a.lines() if l.startswith("jobs/")]
        lb = [l for l in b.lines() if l.startswith("jobs/")]
        self.assertEqual(len(la) + len(lb), 6)
        self.assertTrue(la and lb, (la, lb))

    def test_dollar_topics_not_matched_by_wildcard(self):
        s = Sub(self.srv.port, "#", "-v", "-W", "2", "-F", "%t")
        pub(self.srv.port, "$SYS/test", "x")
        pub(self.srv.port, "dollar/marker", "x")
        lines = s.lines()
        self.assertNotIn("$SYS/test", lines)
        self.assertIn("dollar/marker", lines)

    def test_on_publish_hook_sees_every_publish(self):
        pub(self.srv.port, "hook/one", "payload-1", "-q", "1", "-u", "alice")
        with open(self.log) as f:
            self.assertIn("alice hook/one payload-1", f.read().splitlines())

    def test_on_publish_error_still_routes(self):
        s = Sub(self.srv.port, "fails/#", "-C", "1", "-v")
        self.assertEqual(pub(self.srv.port, "fails/here", "still-routed", "-q", "1"), 0)
        self.assertEqual(s.lines(), ["fails/here still-routed"])

    def test_store_failure_is_refused_not_acknowledged(self):
        # A message the hook could not store is neither routed nor PUBACKed
        # as a success: v5 gets reason 0x80, v3.1.1 (no reason codes) is
        # disconnected so that the client resends it.
        s = Sub(self.srv.port, "unstored/#", "-v", "-W", "3")
        v5 = raw_connect(self.srv.port, "refused-v5", level=5)
        v5.sendall(packet(0x32, mqtt_str("unstored/here") + b"\x00\x07" + b"\x00" + b"x"))
        ack = recv_exact(v5, 2)
        self.assertEqual(ack[0], 0x40, ack)
        body = recv_exact(v5, ack[1])
        self.assertEqual(body[:3], b"\x00\x07\x80", body)
        v5.close()
        v3 = raw_connect(self.srv.port, "refused-v311", level=4)
        v3.sendall(packet(0x32, mqtt_str("unstored/here") + b"\x00\x08" + b"x"))
        v3.settimeout(10)
        self.assertEqual(v3.recv(16), b"", "v3.1.1 connection not closed")
        v3.close()
        self.assertEqual([l for l in s.lines() if l.startswith("unstored/")], [])


@unittest.skipUnless(SERVER and LIBMOSQ and HAVE_MOSQUITTO, "needs the libmosquitto test client")
class LibmosquittoClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = MqttServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def client(self, *args):
        return subprocess.Popen([LIBMOSQ, "--port", str(self.srv.port)] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_pub_sub_all_qos_both_versions(self):
        for v5 in ([], ["--v5"]):
            for qos in (0, 1, 2):
                topic = "lm/%d/%s" % (qos, "v5" if v5 else "v311")
                sub = self.client("--sub", topic, "--qos", str(qos), "--count", "1", *v5)
                self.assertTrue(sub.stdout.readline().startswith("subscribed %d" % qos))
                p = self.client("--pub", topic, "--msg", "hello", "--qos", str(qos), *v5)
                self.assertEqual(p.wait(timeout=15), 0, p.stderr.read())
                out, _ = sub.communicate(timeout=15)
                self.assertEqual(sub.returncode, 0)
                self.assertEqual(out.splitlines(), [topic + " hello"])
                p.stdout.close()
                p.stderr.close()
                sub.stderr.close()

    def test_retained_between_clients(self):
        p = self.client("--pub", "lmret/a", "--msg", "r1", "--qos", "1", "--retain")
        self.assertEqual(p.wait(timeout=15), 0)
        p.communicate()
        rc, lines = sub_once(self.srv.port, "lmret/#", "-C", "1", "-v")
        self.assertEqual(lines, ["lmret/a r1"])
        sub = self.client("--sub", "lmret/#", "--qos", "1", "--count", "1", "--v5")
        out, _ = sub.communicate(timeout=15)
        self.assertEqual(out.splitlines()[1:], ["lmret/a r1"])

    def test_persistent_session(self):
        sub = self.client("--sub", "lmp/#", "--qos", "2", "--count", "0", "--id", "lm-keep", "--clean", "0")
        sub.communicate(timeout=15)
        p = self.client("--pub", "lmp/x", "--msg", "queued", "--qos", "2")
        p.communicate(timeout=15)
        sub = self.client("--sub", "lmp/#", "--qos", "2", "--count", "1", "--id", "lm-keep", "--clean", "0")
        out, _ = sub.communicate(timeout=15)
        self.assertIn("lmp/x queued", out.splitlines())


@unittest.skipUnless(SERVER and HAVE_MOSQUITTO, "needs MQTT_TEST_SERVER and mosquitto-clients")
class RestartAndLimits(unittest.TestCase):
    def test_persistent_session_and_retained_survive_restart(self):
        srv = MqttServer().start()
        try:
            args = ["-i", "across-restart", "-c", "-q", "1"]
            rc, _ = sub_once(srv.port, "restart/#", "-E", *args)
            self.assertEqual(rc, 0)
            pub(srv.port, "restart/q", "queued-before-restart", "-q", "1")
            pub(srv.port, "retained/r", "retained-before-restart", "-r", "-q", "1")
            srv.stop()
            srv.start()
            rc, lines = sub_once(srv.port, "restart/#", "-C", "1", "-v", "-W", "5", *args)
            self.assertEqual(lines, ["restart/q queued-before-restart"])
            rc, lines = sub_once(srv.port, "retained/#", "-C", "1", "-v", "-W", "5")
            self.assertEqual(lines, ["retained/r retained-before-restart"])
        finally:
            srv.cleanup()

    def test_authentication(self):
        srv = MqttServer("--user", "plc:secret").start()
        try:
            self.assertNotEqual(pub(srv.port, "a", "x", "-u", "plc", "-P", "wrong"), 0)
            self.assertNotEqual(pub(srv.port, "a", "x", "-V", "5", "-u", "plc", "-P", "wrong"), 0)
            self.assertEqual(pub(srv.port, "a", "x", "-u", "plc", "-P", "secret"), 0)
        finally:
            srv.cleanup()

    def test_connection_limit(self):
        srv = MqttServer("--max-connections", "2").start()
        try:
            a = raw_connect(srv.port, "a")
            b = raw_connect(srv.port, "b")
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            closed, _ = closed_by_server(c)
            self.assertTrue(closed)
            a.close()
            time.sleep(0.3)
            d = raw_connect(srv.port, "d")
            for s in (b, c, d):
                s.close()
        finally:
            srv.cleanup()

    def test_keep_alive_timeout_publishes_will(self):
        srv = MqttServer().start()
        try:
            s = Sub(srv.port, "ka/#", "-C", "1", "-v")
            silent = raw_connect(srv.port, "silent", keep_alive=1, will=("ka/silent", "timed-out"))
            start = time.time()
            self.assertEqual(s.lines(timeout=10), ["ka/silent timed-out"])
            self.assertLess(time.time() - start, 5)
            closed, _ = closed_by_server(silent)
            self.assertTrue(closed)
        finally:
            srv.cleanup()


@unittest.skipUnless(SERVER and HAVE_MOSQUITTO, "needs MQTT_TEST_SERVER and mosquitto-clients")
class BadInput(unittest.TestCase):
    """Each bad connection is closed; the others keep working."""

    @classmethod
    def setUpClass(cls):
        cls.srv = MqttServer("--max-packet-size", "1024").start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def setUp(self):
        # A subscriber that lives through every bad connection of the test.
        self.watcher = Sub(self.srv.port, "alive/#", "-C", "1", "-v")

    def tearDown(self):
        pub(self.srv.port, "alive/check", "ok", "-q", "1")
        self.assertEqual(self.watcher.lines(), ["alive/check ok"])

    def assert_closed(self, s, disconnect_reason=None):
        closed, got = closed_by_server(s)
        s.close()
        self.assertTrue(closed, "connection left open")
        if disconnect_reason is not None:
            self.assertEqual(got[:1], b"\xe0", got)
            self.assertEqual(got[2], disconnect_reason, got)

    def test_packet_before_connect(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        s.sendall(b"\xc0\x00")
        self.assert_closed(s)

    def test_malformed_connect(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        s.sendall(packet(0x10, mqtt_str("MQTT") + b"\x04\x01\x00\x3c" + mqtt_str("x")))  # reserved flag
        self.assert_closed(s)

    def test_unsupported_protocol_level(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        s.sendall(packet(0x10, mqtt_str("MQTT") + b"\x07\x02\x00\x3c" + mqtt_str("x")))
        closed, got = closed_by_server(s)
        s.close()
        self.assertTrue(closed)
        self.assertEqual(got, b"\x20\x02\x00\x01")

    def test_truncated_packet_then_close(self):
        s = raw_connect(self.srv.port, "trunc")
        s.sendall(b"\x30\x10\x00\x05ab")
        s.close()

    def test_remaining_length_over_five_bytes(self):
        s = raw_connect(self.srv.port, "vbi")
        s.sendall(b"\x30\xff\xff\xff\xff\x01")
        self.assert_closed(s)

    def test_remaining_length_over_the_limit(self):
        s = raw_connect(self.srv.port, "big311")
        s.sendall(b"\x30" + varint(5000))
        self.assert_closed(s)
        s = raw_connect(self.srv.port, "big5", level=5)
        s.sendall(b"\x30" + varint(5000))
        self.assert_closed(s, disconnect_reason=0x95)

    def test_invalid_utf8_topic(self):
        s = raw_connect(self.srv.port, "utf8")
        s.sendall(publish_packet(b"alive/\xff\xfe", b"x"))
        self.assert_closed(s)
        s = raw_connect(self.srv.port, "utf8v5", level=5)
        s.sendall(publish_packet(b"alive/\xed\xa0\x80", b"x", level=5))  # a surrogate
        self.assert_closed(s, disconnect_reason=0x81)

    def test_wildcard_in_publish_topic(self):
        s = raw_connect(self.srv.port, "wild")
        s.sendall(publish_packet("alive/#", b"x"))
        self.assert_closed(s)
        s = raw_connect(self.srv.port, "wild5", level=5)
        s.sendall(publish_packet("alive/+", b"x", level=5))
        self.assert_closed(s, disconnect_reason=0x90)

    def test_second_connect(self):
        s = raw_connect(self.srv.port, "twice")
        s.sendall(connect_packet("twice"))
        self.assert_closed(s)
        s = raw_connect(self.srv.port, "twice5", level=5)
        s.sendall(connect_packet("twice5", level=5))
        self.assert_closed(s, disconnect_reason=0x82)

    def test_garbage(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        s.sendall(os.urandom(64) + b"\x00\x00")
        s.close()


if __name__ == "__main__":
    unittest.main()

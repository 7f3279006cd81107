"""12: MQTT into storage through `liandu serve`: mapping rules (REST and
--mqtt-mappings), QoS 1 publishes acknowledged only once stored (kill -9),
mapping errors as points and metrics, auth and database scope, with the
Debian mosquitto clients."""
import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from liandu_server import ADMIN_TOKEN, Server

JSON_RULE = {
    "name": "telemetry",
    "topic": "factory/{site}/{line}/{machine}/telemetry",
    "database": "plant",
    "measurement": "machine",
    "format": "json",
    "fields": {"temperature": "temp", "rpm": "spindle.rpm"},
}


def pub(port, topic, message, *args, password=ADMIN_TOKEN, user="device"):
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password,
                           "-t", topic, "-m", message] + list(args),
                          capture_output=True, text=True, timeout=30)


def raw_publishes(port, messages, user="device", password=ADMIN_TOKEN):
    """Sends QoS 1 PUBLISH packets (topic, payload) in one write on a raw
    MQTT 3.1.1 connection, so that the server reads them as one batch;
    returns the packet ids of the PUBACKs received."""
    def s16(b):
        return struct.pack(">H", len(b)) + b

    def packet(first, body):
        n, enc = len(body), b""
        while True:
            d, n = n & 0x7F, n >> 7
            enc += bytes([d | (0x80 if n else 0)])
            if not n:
                break
        return bytes([first]) + enc + body

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        connect = s16(b"MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 60) + s16(b"raw-batch") + \
            s16(user.encode()) + s16(password.encode())
        sock.sendall(packet(0x10, connect))
        assert sock.recv(4) == b"\x20\x02\x00\x00"
        data = b"".join(packet(0x32, s16(t.encode()) + struct.pack(">H", i + 1) + p.encode())
                        for i, (t, p) in enumerate(messages))
        sock.sendall(data)
        got = b""
        while len(got) < 4 * len(messages):
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        return [struct.unpack(">H", got[i + 2:i + 4])[0] for i in range(0, len(got), 4) if got[i] == 0x40]
    finally:
        sock.close()


def rows(srv, q, db="plant"):
    r = srv.query(q, db=db)
    assert r.status == 200, r.body
    res = r.json()["results"][0]
    if "error" in res:
        raise AssertionError(res["error"])
    out = []
    for s in res.get("series", []):
        for v in s["values"]:
            out.append(dict(zip(s["columns"], v), **s.get("tags", {})))
    return out


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got or time.time() > deadline:
            return got
        time.sleep(0.1)


class MqttIngest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        cls.srv.query("CREATE DATABASE plant")
        cls.srv.query("CREATE DATABASE other")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def post_rule(self, rule, token=ADMIN_TOKEN):
        return self.srv.request("POST", "/api/v1/mqtt/mappings", json.dumps(rule),
                                {"Content-Type": "application/json"}, token=token)

    def create_token(self, **body):
        r = self.srv.request("POST", "/api/v1/tokens", json.dumps(body), {"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.body)
        return r.json()["token"]

    def test_json_rule_maps_topic_levels_and_paths_at_qos_1_and_2(self):
        self.assertEqual(self.post_rule(JSON_RULE).status, 201)
        listed = self.srv.request("GET", "/api/v1/mqtt/mappings").json()
        self.assertIn("telemetry", [r["name"] for r in listed])
        for qos, version, machine in (("1", "mqttv311", "m07"), ("2", "mqttv5", "m08")):
            r = pub(self.srv.mqtt_port, f"factory/s1/l2/{machine}/telemetry",
                    '{"temp": 71.5, "spindle": {"rpm": 1200}, "ignored": 3}', "-q", qos, "-V", version)
            self.assertEqual(r.returncode, 0, r.stderr)
            # Acknowledged means stored: no waiting needed before the query.
            got = rows(self.srv, f"SELECT temperature, rpm FROM machine WHERE machine = '{machine}' GROUP BY *")
            self.assertEqual(len(got), 1, got)
            self.assertEqual(got[0]["temperature"], 71.5)
            self.assertEqual(got[0]["rpm"], 1200)
            self.assertEqual((got[0]["site"], got[0]["line"]), ("s1", "l2"))

    def test_line_protocol_rule_from_file_option_adds_captured_tags(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump([{"name": "lp", "topic": "lp/{gateway}", "database": "plant", "format": "line_protocol"}], f)
        srv = Server(["--mqtt-mappings", f.name]).start()
        try:
            srv.query("CREATE DATABASE plant")
            r = pub(srv.mqtt_port, "lp/gw1", "press,line=l1 force=3.5,count=7i 1700000000000000000", "-q", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            got = rows(srv, "SELECT force, count FROM press GROUP BY *")
            self.assertEqual(got, [{"time": "2023-11-14T22:13:20Z", "force": 3.5, "count": 7,
                                    "gateway": "gw1", "line": "l1"}])
        finally:
            srv.cleanup()
            os.remove(f.name)

    def test_bad_file_option_names_the_entry(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump([JSON_RULE, {"name": "broken", "topic": "a/{x}"}], f)
        srv = Server(["--mqtt-mappings", f.name])
        try:
            with self.assertRaises(RuntimeError) as e:
                srv.start()
            self.assertIn("entry 1", str(e.exception))
        finally:
            srv.cleanup()
            os.remove(f.name)

    def test_mapping_error_is_a_point_and_a_metric_and_keeps_the_connection(self):
        self.assertEqual(self.post_rule(JSON_RULE).status, 201)

        def errors_total():
            m = re.search(r"^liandu_mqtt_mapping_errors_total (\d+)$",
                          self.srv.request("GET", "/metrics").body, re.M)
            return int(m.group(1))

        before = errors_total()
        r = pub(self.srv.mqtt_port, "factory/s9/l9/m99/telemetry", '{"temp": ', "-q", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(errors_total(), before + 1)
        got = rows(self.srv, "SELECT message FROM mqtt_errors WHERE topic = 'factory/s9/l9/m99/telemetry'")
        self.assertEqual(len(got), 1, got)
        self.assertIn("not valid JSON", got[0]["message"])
        self.assertEqual(rows(self.srv, "SELECT * FROM machine WHERE machine = 'm99'"), [])

    def test_one_batch_keeps_each_messages_outcome(self):
        # Messages read together are stored with one write; a point refused
        # in it (field type conflict) fails only its own message, which is
        # still acknowledged (bad payload) and reported in mqtt_errors.
        rule = {"name": "lpbatch", "topic": "lpb/{gw}", "database": "plant", "format": "line_protocol"}
        self.assertEqual(self.post_rule(rule).status, 201)
        acks = raw_publishes(self.srv.mqtt_port, [("lpb/g1", "batchm v=1 1000000000"),
                                                 ("lpb/g1", 'batchm v="text" 2000000000'),
                                                 ("lpb/g1", "batchm v=3 3000000000"),
                                                 ("nowhere/x", "unmapped")])
        self.assertEqual(acks, [1, 2, 3, 4])
        got = rows(self.srv, "SELECT v FROM batchm")
        self.assertEqual([r["v"] for r in got], [1, 3])
        errs = rows(self.srv, "SELECT message FROM mqtt_errors WHERE topic = 'lpb/g1'")
        self.assertEqual(len(errs), 1, errs)
        self.assertIn("type", errs[0]["message"])

    def test_unmapped_topics_are_only_routed(self):
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.srv.mqtt_port), "-u", "x",
                                "-P", ADMIN_TOKEN, "-t", "chat/#", "-C", "1", "-W", "20", "-v"],
                               stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)  # let the subscription land
            self.assertEqual(pub(self.srv.mqtt_port, "chat/a", "hello", "-q", "1").returncode, 0)
            out, _ = sub.communicate(timeout=25)
            self.assertEqual(out.strip(), "chat/a hello")
        finally:
            sub.kill()

    def test_wrong_password_is_refused(self):
        r = pub(self.srv.mqtt_port, "factory/s1/l1/m1/telemetry", '{"temp": 1}', "-q", "1", password="nope")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not authorised", r.stderr + r.stdout)

    def test_database_permissions_scope_publishes_and_rules(self):
        self.assertEqual(self.post_rule(JSON_RULE).status, 201)
        reader = self.create_token(description="reader", permissions={"plant": "read"})
        other = self.create_token(description="other", permissions={"other": "all"})
        # A reader may connect but not store: MQTT 5 says why in the PUBACK.
        r = pub(self.srv.mqtt_port, "factory/s1/l1/m42/telemetry", '{"temp": 5}', "-q", "1", "-V", "mqttv5",
                password=reader, user="reader")
        self.assertIn("not authorized", (r.stderr + r.stdout).lower())
        # 3.1.1 has no negative PUBACK: the connection is closed unacknowledged.
        r = pub(self.srv.mqtt_port, "factory/s1/l1/m42/telemetry", '{"temp": 5}', "-q", "1",
                password=reader, user="reader")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(rows(self.srv, "SELECT * FROM machine WHERE machine = 'm42'"), [])
        # Rules are scoped by database too.
        self.assertEqual(self.post_rule(dict(JSON_RULE, name="mine", database="plant"), token=other).status, 403)
        self.assertNotIn("telemetry", [r["name"] for r in self.srv.request(
            "GET", "/api/v1/mqtt/mappings", token=other).json()])
        self.assertEqual(self.srv.request("DELETE", "/api/v1/mqtt/mappings/telemetry", token=other).status, 404)
        self.assertEqual(self.post_rule(dict(JSON_RULE, name="telemetry", database="other"), token=other).status,
                         409)

    def test_bad_rules_are_400_naming_the_key_and_delete_works(self):
        r = self.post_rule({"name": "x", "topic": "a/{b}", "database": "plant", "format": "xml"})
        self.assertEqual(r.status, 400)
        self.assertIn("format", r.body)
        r = self.post_rule({"name": "x", "topic": "a/#/b", "database": "plant", "measurement": "m"})
        self.assertEqual(r.status, 400)
        self.assertIn("topic", r.body)
        self.assertEqual(self.post_rule(dict(JSON_RULE, name="temp-rule")).status, 201)
        self.assertEqual(self.srv.request("DELETE", "/api/v1/mqtt/mappings/temp-rule").status, 204)
        self.assertEqual(self.srv.request("DELETE", "/api/v1/mqtt/mappings/temp-rule").status, 404)


class MqttDurability(unittest.TestCase):
    def test_acknowledged_qos1_publishes_survive_kill_9(self):
        srv = Server().start()
        try:
            srv.query("CREATE DATABASE plant")
            r = srv.request("POST", "/api/v1/mqtt/mappings",
                            json.dumps({"name": "seq", "topic": "seq/{dev}", "database": "plant",
                                        "measurement": "seq", "format": "value", "value_field": "n"}))
            self.assertEqual(r.status, 201, r.body)
            n = 20000
            # One message per line; mosquitto_pub -d prints each PUBACK it gets
            # and numbers messages 1, 2, ... in order, so the acknowledged
            # message ids are exactly the values known to be durable.
            pub_proc = subprocess.Popen(
                ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.mqtt_port), "-u", "d", "-P", ADMIN_TOKEN,
                 "-t", "seq/d1", "-q", "1", "-l", "-d", "-i", "kill9-pub"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            acked = set()
            pub_proc.stdin.write("".join(f"{i}\n" for i in range(1, n + 1)))
            pub_proc.stdin.close()
            # Kill the server once a good share is acknowledged.
            while len(acked) < 1500:
                line = pub_proc.stdout.readline()
                if not line:
                    break
                m = re.search(r"received PUBACK \(Mid: (\d+)", line)
                if m:
                    acked.add(int(m.group(1)))
            srv.kill9()
            try:
                pub_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pub_proc.kill()  # it may keep trying to reconnect
                pub_proc.wait()
            rest = pub_proc.stdout.read()
            pub_proc.stdout.close()
            for m in re.finditer(r"received PUBACK \(Mid: (\d+)", rest):
                acked.add(int(m.group(1)))
            self.assertGreaterEqual(len(acked), 1500)
            self.assertLess(len(acked), n, "the kill came too late to test anything")
            srv.start()
            got = {int(r["n"]) for r in rows(srv, "SELECT n FROM seq")}
            missing = sorted(acked - got)
            self.assertEqual(missing, [], f"{len(missing)} acknowledged messages lost")
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()

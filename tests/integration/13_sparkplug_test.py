"""13: Sparkplug B into storage through `liandu serve`: the test is an edge
node (python3-paho-mqtt, payloads built with python3-protobuf from our
sparkplug_b.proto, compiled with protoc at test time): births with aliases,
data by alias with the right field types and tags, a sequence gap answered
with a Rebirth NCMD and a sparkplug_errors point, NDEATH taking the node and
its devices offline, a publisher without write permission refused, and the
complex types (an array, a template instance, a DataSet) queried back."""
import json
import os
import queue
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import paho.mqtt.client as mqtt

from liandu_server import ADMIN_TOKEN, Server

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "connect", "sparkplug")
GROUP = "plant1"
T0 = 1_700_000_000_000  # ms


def load_proto_module():
    out = tempfile.mkdtemp(prefix="liandu-spb-py-")
    subprocess.run(["protoc", f"--python_out={out}", f"--proto_path={PROTO_DIR}",
                    os.path.join(PROTO_DIR, "sparkplug_b.proto")], check=True)
    sys.path.insert(0, out)
    import sparkplug_b_pb2  # noqa: E402 (generated just now)
    return sparkplug_b_pb2, out


pb, PB_DIR = load_proto_module()
DT = pb.DataType


def payload(seq=None, timestamp=None, metrics=()):
    """metrics: (name or None, alias or None, datatype or None, value_field, value)."""
    p = pb.Payload()
    if seq is not None:
        p.seq = seq
    if timestamp is not None:
        p.timestamp = timestamp
    for name, alias, datatype, value_field, value in metrics:
        m = p.metrics.add()
        if name is not None:
            m.name = name
        if alias is not None:
            m.alias = alias
        if datatype is not None:
            m.datatype = datatype
        setattr(m, value_field, value)
    return p.SerializeToString()


def rows(srv, q, db="plant"):
    r = srv.query(q, db=db, epoch="ms")
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


class Client:
    """A paho client at QoS 1 that waits for every PUBACK (acknowledged = stored)."""

    def __init__(self, port, client_id, user="edge", password=ADMIN_TOKEN):
        self.messages = queue.Queue()
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
        self.c.username_pw_set(user, password)
        self.c.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def publish(self, topic, body):
        info = self.c.publish(topic, body, qos=1)
        info.wait_for_publish(timeout=20)
        assert info.is_published(), f"no PUBACK for {topic}"

    def subscribe(self, topic):
        got = queue.Queue()
        self.c.on_subscribe = lambda *_: got.put(True)
        self.c.subscribe(topic, qos=1)
        got.get(timeout=20)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Sparkplug(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        for db in ("plant", "other"):
            assert cls.srv.query(f"CREATE DATABASE {db}").status == 200
        r = cls.post({"name": "plant1", "database": "plant", "group": GROUP})
        assert r.status == 201, r.body

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        shutil.rmtree(PB_DIR, ignore_errors=True)

    @classmethod
    def post(cls, entry, token=ADMIN_TOKEN):
        return cls.srv.request("POST", "/api/v1/sparkplug", json.dumps(entry),
                               {"Content-Type": "application/json"}, token=token)

    def metric(self, name):
        m = re.search(rf"^{name} (\d+)$", self.srv.request("GET", "/metrics").body, re.M)
        self.assertIsNotNone(m, name)
        return int(m.group(1))

    def edge(self, node):
        c = Client(self.srv.mqtt_port, f"edge-{node}")
        self.addCleanup(c.close)
        return c

    def test_births_and_data_by_alias_are_stored_with_types_and_tags(self):
        e = self.edge("n1")
        e.publish(f"spBv1.0/{GROUP}/NBIRTH/n1", payload(0, T0, [
            ("bdSeq", None, DT.Int64, "long_value", 0),
            ("Node Control/Rebirth", None, DT.Boolean, "boolean_value", False),
            ("Temperature", 1, DT.Float, "float_value", 20.5),
            ("Count", 2, DT.Int32, "int_value", 7),
            ("Status", 3, DT.String, "string_value", "idle"),
            ("Energy/Total", 4, DT.UInt64, "long_value", 2**63 + 5),
            ("Data/Blob", 5, DT.Bytes, "bytes_value", b"\x00\x01"),
        ]))
        e.publish(f"spBv1.0/{GROUP}/DBIRTH/n1/press7", payload(1, T0 + 1, [
            ("Pressure", 10, DT.Double, "double_value", 1.5),
            ("Running", 11, DT.Boolean, "boolean_value", False),
        ]))
        e.publish(f"spBv1.0/{GROUP}/NDATA/n1", payload(2, T0 + 2, [
            (None, 1, None, "float_value", 21.25),
            (None, 2, None, "int_value", 2**32 - 5),  # Int32 -5, two's complement
        ]))
        e.publish(f"spBv1.0/{GROUP}/DDATA/n1/press7", payload(3, T0 + 3, [
            (None, 10, None, "double_value", 3.5),
            (None, 11, None, "boolean_value", True),
        ]))
        # Acknowledged means stored: no waiting.
        node = rows(self.srv, "SELECT * FROM sparkplug WHERE edge_node = 'n1' AND device = '' GROUP BY *")
        by_time = {r["time"]: r for r in node}
        self.assertEqual(sorted(by_time), [T0, T0 + 2], node)
        birth, data = by_time[T0], by_time[T0 + 2]
        self.assertEqual((birth["group"], birth["Temperature"], birth["Count"], birth["Status"]),
                         (GROUP, 20.5, 7, "idle"))
        self.assertEqual(birth["Energy/Total"], 2**63 + 5)
        self.assertIs(birth["Node Control/Rebirth"], False)
        self.assertEqual(birth["device"], "")  # no device tag on node messages
        self.assertNotIn("Data/Blob", birth)  # Bytes: skipped
        self.assertEqual((data["Temperature"], data["Count"]), (21.25, -5))

        dev = rows(self.srv, "SELECT Pressure, Running FROM sparkplug WHERE device = 'press7' GROUP BY *")
        self.assertEqual([(r["time"], r["Pressure"], r["Running"], r["edge_node"]) for r in dev],
                         [(T0 + 1, 1.5, False, "n1"), (T0 + 3, 3.5, True, "n1")])

        types = {r["fieldKey"]: r["fieldType"] for r in rows(self.srv, "SHOW FIELD KEYS FROM sparkplug")}
        for key, want in (("Temperature", "float"), ("Count", "integer"), ("Status", "string"),
                          ("Energy/Total", "unsigned"), ("Pressure", "float"), ("Running", "boolean")):
            self.assertEqual(types.get(key), want, key)

        state = rows(self.srv, "SELECT online, event, bdseq FROM sparkplug_state WHERE edge_node = 'n1' GROUP BY *")
        self.assertIn((T0, True, "NBIRTH", 0), [(r["time"], r["online"], r["event"], r["bdseq"]) for r in state])
        self.assertIn(("press7", True, "DBIRTH"), [(r.get("device"), r["online"], r["event"]) for r in state])
        self.assertGreaterEqual(self.metric("liandu_sparkplug_skipped_metrics_total"), 1)

    def test_array_template_and_dataset_are_queryable(self):
        e = self.edge("n10")
        # NBIRTH: the template definition (Ignition's "_types_/" name).
        nb = pb.Payload(seq=0, timestamp=T0)
        m = nb.metrics.add(name="_types_/Motor", datatype=DT.Template)
        m.template_value.is_definition = True
        m.template_value.metrics.add(name="Speed", datatype=DT.Float, float_value=0)
        m.template_value.metrics.add(name="Running", datatype=DT.Boolean, boolean_value=False)
        m.template_value.metrics.add(name="Serial", datatype=DT.String, string_value="")
        e.publish(f"spBv1.0/{GROUP}/NBIRTH/n10", nb.SerializeToString())
        # DBIRTH: an array, a template instance and a DataSet, each with an alias.
        db = pb.Payload(seq=1, timestamp=T0 + 1)
        db.metrics.add(name="Temps", alias=1, datatype=DT.DoubleArray, bytes_value=struct.pack("<2d", 0, 0))
        db.metrics.add(name="Names", alias=2, datatype=DT.StringArray, bytes_value="a\0".encode())
        t = db.metrics.add(name="Motor1", alias=3, datatype=DT.Template).template_value
        t.template_ref = "Motor"
        t.metrics.add(name="Speed", datatype=DT.Float, float_value=0)
        ds = db.metrics.add(name="Recipe", alias=4, datatype=DT.DataSet).dataset_value
        ds.num_of_columns = 3
        ds.columns.extend(["step", "temp", "name"])
        ds.types.extend([DT.Int32, DT.Double, DT.String])
        e.publish(f"spBv1.0/{GROUP}/DBIRTH/n10/d1", db.SerializeToString())
        # DDATA by alias only: datatypes from the DBIRTH, member types from the definition.
        dd = pb.Payload(seq=2, timestamp=T0 + 2)
        dd.metrics.add(alias=1, bytes_value=struct.pack("<3d", -1.5, 2.25, 1e300))
        dd.metrics.add(alias=2, bytes_value="Grüße\0温度\0".encode())
        t = dd.metrics.add(alias=3).template_value
        t.metrics.add(name="Speed", float_value=1500.5)
        t.metrics.add(name="Running", boolean_value=True)
        ds = dd.metrics.add(alias=4).dataset_value
        ds.num_of_columns = 3
        ds.columns.extend(["step", "temp", "name"])
        ds.types.extend([DT.Int32, DT.Double, DT.String])
        for step, temp, name in ((1, 180.5, "heat"), (2**32 - 1, 20.0, "cool")):  # Int32 -1
            row = ds.rows.add()
            row.elements.add(int_value=step)
            row.elements.add(double_value=temp)
            row.elements.add(string_value=name)
        e.publish(f"spBv1.0/{GROUP}/DDATA/n10/d1", dd.SerializeToString())

        got = rows(self.srv, 'SELECT "Temps", "Names", "Motor1/Speed", "Motor1/Running" FROM sparkplug '
                             "WHERE edge_node = 'n10' AND device = 'd1'")
        by_time = {r["time"]: r for r in got}
        self.assertEqual(sorted(by_time), [T0 + 1, T0 + 2], got)
        birth, data = by_time[T0 + 1], by_time[T0 + 2]
        self.assertEqual((json.loads(birth["Temps"]), json.loads(birth["Names"]), birth["Motor1/Speed"]),
                         ([0.0, 0.0], ["a"], 0.0))
        self.assertEqual(json.loads(data["Temps"]), [-1.5, 2.25, 1e300])
        self.assertEqual(json.loads(data["Names"]), ["Grüße", "温度"])
        self.assertEqual((data["Motor1/Speed"], data["Motor1/Running"]), (1500.5, True))
        types = {r["fieldKey"]: r["fieldType"] for r in rows(self.srv, "SHOW FIELD KEYS FROM sparkplug")}
        self.assertEqual((types.get("Temps"), types.get("Names"), types.get("Motor1/Speed")),
                         ("string", "string", "float"))
        self.assertNotIn("_types_/Motor", types)  # definitions are not data
        self.assertFalse([k for k in types if k.startswith("_types_")], types)

        table = rows(self.srv, "SELECT * FROM sparkplug_dataset WHERE \"metric\" = 'Recipe' AND edge_node = 'n10' "
                               "GROUP BY *")
        self.assertEqual(sorted((r["row"], r["step"], r["temp"], r["name"], r["metric"], r["device"], r["group"],
                                 r["time"]) for r in table),
                         [("0", 1, 180.5, "heat", "Recipe", "d1", GROUP, T0 + 2),
                          ("1", -1, 20.0, "cool", "Recipe", "d1", GROUP, T0 + 2)])
        errs = rows(self.srv, "SELECT message FROM sparkplug_errors WHERE edge_node = 'n10'")
        self.assertEqual(errs, [])

    def test_primary_host_state_online_and_offline(self):
        # Liandu is the primary host application: STATE online, retained, so
        # edge nodes set up with its host id start their births; offline on a
        # graceful stop with the online message's timestamp (Sparkplug 3.0).
        def state(client, timeout=20):
            topic, body = client.messages.get(timeout=timeout)
            return topic, json.loads(body)

        c = self.edge("state-default")
        c.subscribe("spBv1.0/STATE/+")
        topic, got = state(c)
        self.assertEqual(topic, "spBv1.0/STATE/liandu")  # the default host id
        self.assertEqual(got["online"], True)

        srv = Server(["--sparkplug-host-id", "scada-1"]).start()
        self.addCleanup(srv.cleanup)
        before = time.time_ns() // 1_000_000
        watcher = Client(srv.mqtt_port, "state-watcher")
        watcher.subscribe("spBv1.0/STATE/scada-1")
        topic, online = state(watcher)
        self.assertEqual(online["online"], True)
        self.assertLessEqual(abs(online["timestamp"] - before), 60_000)
        srv.stop()
        watcher.c.loop_stop()
        # Offline is retained (and kept across the restart): a host id of
        # "off" publishes nothing new, so a new subscriber sees it.
        srv.extra_args = ["--sparkplug-host-id", "off"]
        srv.start(port=srv.port, mqtt_port=srv.mqtt_port)
        late = Client(srv.mqtt_port, "state-late")
        self.addCleanup(late.close)
        late.subscribe("spBv1.0/STATE/scada-1")
        _, offline = state(late)
        self.assertEqual(offline, {"online": False, "timestamp": online["timestamp"]})
        srv.stop()
        srv.extra_args = ["--sparkplug-host-id", "scada-1"]
        srv.start(port=srv.port, mqtt_port=srv.mqtt_port)
        again = Client(srv.mqtt_port, "state-watcher-2")
        self.addCleanup(again.close)
        again.subscribe("spBv1.0/STATE/scada-1")
        _, now = state(again)
        self.assertEqual(now["online"], True)
        self.assertGreaterEqual(now["timestamp"], online["timestamp"])

        bad = Server(["--sparkplug-host-id", "a/b"])
        self.addCleanup(bad.cleanup)
        with self.assertRaises(RuntimeError) as failed:
            bad.start()
        self.assertIn("--sparkplug-host-id", str(failed.exception))

    def test_seq_gap_asks_for_rebirth_and_is_an_error_point(self):
        host = Client(self.srv.mqtt_port, "scada-host", user="host")
        self.addCleanup(host.close)
        host.subscribe(f"spBv1.0/{GROUP}/NCMD/n2")
        gaps_before = self.metric("liandu_sparkplug_seq_gaps_total")
        e = self.edge("n2")
        e.publish(f"spBv1.0/{GROUP}/NBIRTH/n2", payload(254, T0, [("Speed", 1, DT.Double, "double_value", 1.0)]))
        # 255 → 0 is no gap.
        for seq, t in ((255, 1), (0, 2), (1, 3)):
            e.publish(f"spBv1.0/{GROUP}/NDATA/n2", payload(seq, T0 + t, [(None, 1, None, "double_value", t)]))
        self.assertTrue(host.messages.empty(), "rebirth asked without a gap")
        e.publish(f"spBv1.0/{GROUP}/NDATA/n2", payload(5, T0 + 4, [(None, 1, None, "double_value", 4.0)]))
        topic, body = host.messages.get(timeout=20)
        self.assertEqual(topic, f"spBv1.0/{GROUP}/NCMD/n2")
        cmd = pb.Payload()
        cmd.ParseFromString(body)
        self.assertEqual([(m.name, m.datatype, m.boolean_value) for m in cmd.metrics],
                         [("Node Control/Rebirth", DT.Boolean, True)])
        errs = rows(self.srv, "SELECT message, expected, seen FROM sparkplug_errors WHERE edge_node = 'n2' GROUP BY *")
        self.assertEqual([(r["kind"], r["expected"], r["seen"]) for r in errs], [("seq_gap", 2, 5)])
        self.assertIn(f"spBv1.0/{GROUP}/NDATA/n2", errs[0]["message"])
        self.assertEqual(self.metric("liandu_sparkplug_seq_gaps_total"), gaps_before + 1)
        # The data of the message itself is kept.
        speeds = [r["Speed"] for r in rows(self.srv, "SELECT Speed FROM sparkplug WHERE edge_node = 'n2'")]
        self.assertEqual(speeds, [1.0, 1, 2, 3, 4.0])

    def test_unknown_alias_and_data_before_birth_ask_for_rebirth(self):
        host = Client(self.srv.mqtt_port, "scada-host-2", user="host")
        self.addCleanup(host.close)
        host.subscribe(f"spBv1.0/{GROUP}/NCMD/+")
        e = self.edge("n3")
        e.publish(f"spBv1.0/{GROUP}/NDATA/n6", payload(7, T0, [(None, 1, None, "double_value", 1.0)]))
        self.assertEqual(host.messages.get(timeout=20)[0], f"spBv1.0/{GROUP}/NCMD/n6")
        e.publish(f"spBv1.0/{GROUP}/NBIRTH/n3", payload(0, T0, [("A", 1, DT.Int64, "long_value", 1)]))
        e.publish(f"spBv1.0/{GROUP}/NDATA/n3", payload(1, T0 + 1, [(None, 42, None, "long_value", 1)]))
        self.assertEqual(host.messages.get(timeout=20)[0], f"spBv1.0/{GROUP}/NCMD/n3")
        kinds = {(r["edge_node"], r["kind"]) for r in rows(
            self.srv, "SELECT message FROM sparkplug_errors WHERE edge_node = 'n3' OR edge_node = 'n6' GROUP BY *")}
        self.assertEqual(kinds, {("n6", "no_birth"), ("n3", "unknown_alias")})

    def test_node_death_takes_node_and_devices_offline(self):
        e = self.edge("n4")
        e.publish(f"spBv1.0/{GROUP}/NBIRTH/n4", payload(0, T0, [("bdSeq", None, DT.Int64, "long_value", 9)]))
        e.publish(f"spBv1.0/{GROUP}/DBIRTH/n4/d1", payload(1, T0 + 1, [("X", 1, DT.Int8, "int_value", 1)]))
        e.publish(f"spBv1.0/{GROUP}/NDEATH/n4", payload(None, T0 + 5, [("bdSeq", None, DT.Int64, "long_value", 9)]))
        state = rows(self.srv, "SELECT last(online) AS online, last(event) AS event FROM sparkplug_state "
                               "WHERE edge_node = 'n4' GROUP BY device")
        self.assertEqual(sorted((r.get("device", ""), r["online"], r["event"]) for r in state),
                         [("", False, "NDEATH"), ("d1", False, "NDEATH")])
        death = rows(self.srv, "SELECT bdseq FROM sparkplug_state WHERE edge_node = 'n4' AND event = 'NDEATH' "
                               "AND device = ''")
        self.assertEqual([r["bdseq"] for r in death], [9])

    def test_publisher_without_write_permission_is_refused(self):
        r = self.srv.request("POST", "/api/v1/tokens",
                             json.dumps({"description": "reader", "permissions": {"plant": "read"}}),
                             {"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.body)
        reader = r.json()["token"]
        with tempfile.NamedTemporaryFile(suffix=".pb", delete=False) as f:
            f.write(payload(0, T0, [("Secret", 1, DT.Double, "double_value", 1.0)]))
        self.addCleanup(os.remove, f.name)
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.srv.mqtt_port), "-u", "reader", "-P", reader,
                "-t", f"spBv1.0/{GROUP}/NBIRTH/n5", "-f", f.name, "-q", "1"]
        r = subprocess.run(args + ["-V", "mqttv5"], capture_output=True, text=True, timeout=30)
        self.assertIn("not authorized", (r.stderr + r.stdout).lower())
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)  # 3.1.1: closed, not acknowledged
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(rows(self.srv, "SELECT * FROM sparkplug WHERE edge_node = 'n5'"), [])
        self.assertEqual(rows(self.srv, "SELECT * FROM sparkplug_state WHERE edge_node = 'n5'"), [])
        self.assertGreaterEqual(self.metric("liandu_sparkplug_refused_total"), 2)
        # The same bytes from a writer are stored.
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.srv.mqtt_port), "-u", "w",
                            "-P", ADMIN_TOKEN, "-t", f"spBv1.0/{GROUP}/NBIRTH/n5", "-f", f.name, "-q", "1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([r["Secret"] for r in rows(self.srv, "SELECT Secret FROM sparkplug WHERE edge_node = 'n5'")],
                         [1.0])

    def test_groups_without_an_entry_are_only_routed(self):
        e = self.edge("n7")
        e.publish("spBv1.0/elsewhere/NBIRTH/n7", payload(0, T0, [("A", 1, DT.Double, "double_value", 1.0)]))
        for db in ("plant", "other"):
            self.assertEqual(rows(self.srv, "SELECT * FROM sparkplug WHERE edge_node = 'n7'", db=db), [])

    def test_entries_over_rest_and_from_the_file_option(self):
        r = self.post({"name": "bad", "database": "plant", "group": "a/b"})
        self.assertEqual(r.status, 400)
        self.assertIn("group", r.body)
        r = self.post({"name": "bad", "database": "plant", "group": "g", "topic": "x"})
        self.assertEqual(r.status, 400)
        self.assertIn("topic", r.body)
        self.assertEqual(self.post({"name": "tmp", "database": "other", "group": "g9"}).status, 201)
        listed = self.srv.request("GET", "/api/v1/sparkplug").json()
        self.assertIn({"name": "tmp", "database": "other", "group": "g9"}, listed)
        self.assertEqual(self.srv.request("DELETE", "/api/v1/sparkplug/tmp").status, 204)
        self.assertEqual(self.srv.request("DELETE", "/api/v1/sparkplug/tmp").status, 404)

        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump([{"name": "every", "database": "scada", "group": "+"}], f)
        self.addCleanup(os.remove, f.name)
        srv = Server(["--sparkplug", f.name]).start()
        try:
            srv.query("CREATE DATABASE scada")
            c = Client(srv.mqtt_port, "edge-file")
            try:
                c.publish("spBv1.0/anygroup/NBIRTH/n8", payload(0, T0, [("A", 1, DT.UInt16, "int_value", 65535)]))
            finally:
                c.close()
            got = rows(srv, "SELECT A FROM sparkplug GROUP BY *", db="scada")
            self.assertEqual([(r["group"], r["A"]) for r in got], [("anygroup", 65535)])
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()

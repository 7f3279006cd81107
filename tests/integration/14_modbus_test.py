"""Modbus TCP polling end to end: `liandu simulate --modbus-bind` serves the
simulated machines (one unit id each, plus a fixed test block in every byte
and word order), `liandu serve` polls them as devices added over REST,
stores typed points and a `modbus_status` series, notices the simulator going
away and reconnects when it comes back. Bad entries answer 400 naming the
register and the key; --modbus-devices loads entries at start."""
import json
import math
import os
import signal
import socket
import subprocess
import time
import unittest

from liandu_server import BINARY, Server, free_port, temp_dir


def wait_for(fn, timeout=20, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Simulator:
    """`liandu simulate --no-write --modbus-bind 127.0.0.1:PORT`: Modbus only."""

    def __init__(self, port):
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [BINARY, "simulate", "--no-write", "--modbus-bind", f"127.0.0.1:{self.port}", "--interval", "1",
             "--sites", "1", "--lines", "1", "--machines", "3"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        first = self.proc.stdout.readline().decode()
        self.assert_running(first)
        self.assert_listening()
        return first

    def assert_running(self, first_line):
        if "Modbus TCP on" not in first_line:
            self.stop()
            raise AssertionError("simulate did not start: " + first_line)

    def assert_listening(self):
        def connects():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False
        wait_for(connects, 10, "the simulator's Modbus port")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None


def rows(srv, q, db="plant"):
    r = srv.query(q, db=db)
    if r.status != 200:
        return []
    series = r.json()["results"][0].get("series", [])
    out = []
    for s in series:
        for v in s["values"]:
            out.append(dict(zip(s["columns"], v)))
    return out


# Registers of one simulated machine (see src/sim/modbus_plant.h).
TEST_BLOCK = [
    {"field": "i16", "table": "holding_register", "address": 100, "type": "int16"},
    {"field": "u16", "table": "holding_register", "address": 101, "type": "uint16"},
    {"field": "i32_abcd", "table": "holding_register", "address": 102, "type": "int32"},
    {"field": "i32_cdab", "table": "holding_register", "address": 104, "type": "int32", "word_order": "little"},
    {"field": "u32", "table": "holding_register", "address": 106, "type": "uint32"},
    {"field": "i64_big", "table": "holding_register", "address": 108, "type": "int64"},
    {"field": "i64_little", "table": "holding_register", "address": 112, "type": "int64", "word_order": "little"},
    {"field": "f32_abcd", "table": "holding_register", "address": 116, "type": "float32"},
    {"field": "f32_cdab", "table": "holding_register", "address": 118, "type": "float32", "word_order": "little"},
    {"field": "f32_badc", "table": "holding_register", "address": 120, "type": "float32", "byte_order": "little"},
    {"field": "f32_dcba", "table": "holding_register", "address": 122, "type": "float32",
     "byte_order": "little", "word_order": "little"},
    {"field": "f64_big", "table": "holding_register", "address": 124, "type": "float64"},
    {"field": "f64_little", "table": "holding_register", "address": 128, "type": "float64",
     "byte_order": "little", "word_order": "little"},
]
MACHINE = [
    {"field": "state_code", "table": "input_register", "address": 0},
    {"field": "temperature", "table": "input_register", "address": 1, "type": "int16", "scale": 0.01,
     "unit": "degC"},
    {"field": "spindle_speed", "table": "input_register", "address": 2, "type": "float32"},
    {"field": "cycle_count", "table": "input_register", "address": 12, "type": "uint32"},
    {"field": "unit", "table": "holding_register", "address": 3},
    {"field": "running", "table": "coil", "address": 0},
    {"field": "down", "table": "discrete_input", "address": 3},
]
PI32 = 3.141590118408203  # 3.14159 as float32


class ModbusTest(unittest.TestCase):
    def setUp(self):
        self.mb_port = free_port()
        self.sim = Simulator(self.mb_port)
        self.sim.start()
        self.srv = Server().start()
        self.assertEqual(self.srv.query("CREATE DATABASE plant").status, 200)

    def tearDown(self):
        self.sim.stop()
        self.srv.cleanup()

    def device(self, **over):
        d = {"name": "sim-m2", "database": "plant", "host": "127.0.0.1", "port": self.mb_port, "unit_id": 2,
             "interval_ms": 200, "timeout_ms": 500, "measurement": "plc", "tags": {"line": "line1"},
             "registers": TEST_BLOCK + MACHINE}
        d.update(over)
        return d

    def post(self, body):
        return self.srv.request("POST", "/api/v1/modbus/devices", json.dumps(body),
                                headers={"Content-Type": "application/json"})

    def listed(self, name="sim-m2"):
        r = self.srv.request("GET", "/api/v1/modbus/devices")
        self.assertEqual(r.status, 200, r.body)
        for e in r.json():
            if e["name"] == name:
                return e
        return None

    def last_status(self, name="sim-m2"):
        got = rows(self.srv, f"SELECT * FROM modbus_status WHERE device = '{name}'")
        return got[-1] if got else None

    def test_polls_the_simulator_and_reconnects(self):
        r = self.post(self.device())
        self.assertEqual(r.status, 201, r.body)

        points = wait_for(lambda: rows(self.srv, "SELECT * FROM plc WHERE device = 'sim-m2'"), 20, "plc points")
        p = points[-1]
        self.assertEqual(p["line"], "line1")
        self.assertEqual(p["i16"], -12345)
        self.assertEqual(p["u16"], 54321)
        self.assertEqual(p["i32_abcd"], -123456789)
        self.assertEqual(p["i32_cdab"], -123456789)
        self.assertEqual(p["u32"], 3000000000)
        self.assertEqual(p["i64_big"], -1234567890123)
        self.assertEqual(p["i64_little"], -1234567890123)
        for f in ("f32_abcd", "f32_cdab", "f32_badc", "f32_dcba"):
            self.assertAlmostEqual(p[f], PI32, places=12, msg=f)
        self.assertEqual(p["f64_big"], 2.718281828459045)
        self.assertEqual(p["f64_little"], 2.718281828459045)
        self.assertEqual(p["unit"], 2)
        self.assertIn(p["state_code"], (0, 1, 2, 3))
        self.assertEqual(p["running"], p["state_code"] == 0)
        self.assertEqual(p["down"], p["state_code"] == 3)
        self.assertTrue(10 < p["temperature"] < 80, p["temperature"])
        self.assertGreaterEqual(p["cycle_count"], 0)

        types = {r["fieldKey"]: r["fieldType"] for r in rows(self.srv, "SHOW FIELD KEYS FROM plc")}
        for f in ("i16", "u16", "i32_abcd", "u32", "i64_big", "state_code", "cycle_count", "unit"):
            self.assertEqual(types[f], "integer", f)
        for f in ("f32_abcd", "f64_big", "spindle_speed", "temperature"):
            self.assertEqual(types[f], "float", f)
        for f in ("running", "down"):
            self.assertEqual(types[f], "boolean", f)
        st_types = {r["fieldKey"]: r["fieldType"] for r in rows(self.srv, "SHOW FIELD KEYS FROM modbus_status")}
        self.assertEqual(st_types, {"up": "boolean", "latency_ms": "float", "errors": "integer", "error": "string"})

        st = wait_for(lambda: (s := self.last_status()) and s["up"] is True and s, 10, "up=true")
        self.assertEqual(st["error"], "")
        self.assertEqual(st["errors"], 0)
        self.assertGreater(st["latency_ms"], 0)
        e = self.listed()
        self.assertEqual(e["status"], "up")
        self.assertGreater(e["polls"], 0)
        self.assertEqual(e["registers"][1]["type"], "uint16")
        metrics = self.srv.request("GET", "/metrics").body
        self.assertIn('liandu_modbus_up{device="sim-m2"} 1', metrics)

        # The simulator goes away: the status says so, with the reason.
        self.sim.stop()
        st = wait_for(lambda: (s := self.last_status()) and s["up"] is False and s, 15, "up=false")
        self.assertIn(f"127.0.0.1:{self.mb_port}", st["error"])
        self.assertGreaterEqual(st["errors"], 1)
        self.assertEqual(self.listed()["status"], "down")
        self.assertNotEqual(self.listed()["last_error"], "")

        # Back on the same port: the poller reconnects after its backoff.
        self.sim.start()
        st = wait_for(lambda: (s := self.last_status()) and s["up"] is True and s, 30, "up=true again")
        self.assertEqual(st["error"], "")
        self.assertEqual(self.listed()["status"], "up")
        n = len(rows(self.srv, "SELECT i16 FROM plc WHERE device = 'sim-m2'"))
        wait_for(lambda: len(rows(self.srv, "SELECT i16 FROM plc WHERE device = 'sim-m2'")) > n, 10, "new points")

        # Removing the device stops its poller.
        r = self.srv.request("DELETE", "/api/v1/modbus/devices/sim-m2")
        self.assertEqual(r.status, 204, r.body)
        self.assertIsNone(self.listed())
        time.sleep(0.5)  # let a poll that was in flight land
        n = len(rows(self.srv, "SELECT up FROM modbus_status"))
        time.sleep(1)
        self.assertEqual(len(rows(self.srv, "SELECT up FROM modbus_status")), n)
        self.assertEqual(self.srv.request("DELETE", "/api/v1/modbus/devices/sim-m2").status, 404)

    def test_bad_config_is_400_naming_register_and_key(self):
        regs = [dict(r) for r in MACHINE]
        regs[1]["table"] = "holding"
        r = self.post(self.device(registers=regs))
        self.assertEqual(r.status, 400, r.body)
        msg = r.json()["error"]
        self.assertIn("device sim-m2", msg)
        self.assertIn("registers[1] (temperature)", msg)
        self.assertIn('"table"', msg)

        regs = [dict(r) for r in MACHINE]
        regs[2]["type"] = "float16"
        r = self.post(self.device(registers=regs))
        self.assertEqual(r.status, 400)
        self.assertIn('registers[2] (spindle_speed): "type" must be one of', r.json()["error"])

        regs = [dict(r) for r in MACHINE]
        regs[2]["address"] = 65535
        r = self.post(self.device(registers=regs))
        self.assertEqual(r.status, 400)
        self.assertIn('"address" 65535 + 2 registers of float32', r.json()["error"])

        regs = [dict(r) for r in MACHINE]
        regs[5]["type"] = "int16"
        r = self.post(self.device(registers=regs))
        self.assertEqual(r.status, 400)
        self.assertIn('registers[5] (running): "type" must be bool', r.json()["error"])

        r = self.post(self.device(port=0))
        self.assertEqual(r.status, 400)
        self.assertIn('"port"', r.json()["error"])
        r = self.post(self.device(registers=[]))
        self.assertEqual(r.status, 400)
        self.assertIn('"registers"', r.json()["error"])
        self.assertIsNone(self.listed())

    def test_devices_file_at_start_and_persisted(self):
        self.srv.cleanup()
        folder = temp_dir("liandu-modbus-")
        path = os.path.join(folder, "devices.json")
        with open(path, "w") as f:
            json.dump([self.device(name="from-file", unit_id=1, registers=MACHINE)], f)
        self.srv = Server(["--modbus-devices", path]).start()
        self.srv.query("CREATE DATABASE plant")
        self.assertIsNotNone(self.listed("from-file"))
        wait_for(lambda: rows(self.srv, "SELECT unit FROM plc WHERE device = 'from-file'"), 20, "points from file")
        self.assertEqual(rows(self.srv, "SELECT unit FROM plc WHERE device = 'from-file'")[-1]["unit"], 1)

        # Kept in the data folder across a restart without the flag.
        self.srv.stop()
        self.srv.extra_args = []
        self.srv.start()
        self.assertIsNotNone(self.listed("from-file"))
        self.srv.cleanup()

        # A bad entry stops the start, naming the entry, register and key.
        with open(path, "w") as f:
            bad = self.device(name="bad", registers=[{"field": "x", "table": "coil", "address": 70000}])
            json.dump([self.device(name="ok", registers=MACHINE), bad], f)
        self.srv = Server(["--modbus-devices", path])
        with self.assertRaises(RuntimeError) as ctx:
            self.srv.start()
        self.assertIn("entry 1: device bad: registers[0] (x): \"address\"", str(ctx.exception))
        self.assertEqual(self.srv.proc.wait(timeout=10), 2)
        self.srv.proc = None
        self.srv.log.close()
        os.remove(path)
        os.rmdir(folder)


if __name__ == "__main__":
    unittest.main()

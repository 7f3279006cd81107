"""05: the Debian `influx` CLI against Liandu prints what it prints against a
real InfluxDB for the same statements."""
import subprocess
import unittest

import influxdb_peer
from liandu_server import ADMIN_TOKEN, Server

STATEMENTS = [
    "CREATE DATABASE plant",
    "SHOW DATABASES",
    "INSERT machine,site=s1,line=l1 temperature=61.5,state=\"running\",count=10i 1700000000000000000",
    "INSERT machine,site=s1,line=l2 temperature=58.25,state=\"idle\",count=3i 1700000030000000000",
    "INSERT machine,site=s2,line=l1 temperature=70,state=\"down\",count=7i 1700000090000000000",
    "SELECT * FROM machine",
    "SELECT temperature, site FROM machine WHERE site = 's1'",
    "SELECT mean(temperature), max(count) FROM machine WHERE time >= 1700000000000000000 AND "
    "time < 1700000120000000000 GROUP BY time(1m)",
    "SELECT count(temperature) FROM machine WHERE time >= 1700000000000000000 AND "
    "time < 1700000120000000000 GROUP BY time(1m), site fill(0)",
    "SHOW MEASUREMENTS",
    "SHOW TAG KEYS",
    "SHOW TAG KEYS FROM machine",
    "SHOW FIELD KEYS",
    "SHOW TAG VALUES WITH KEY = site",
]


def run_cli(port, statement, extra):
    args = ["influx", "-host", "127.0.0.1", "-port", str(port), "-precision", "rfc3339"] + extra
    if not statement.startswith(("CREATE", "SHOW DATABASES")):
        args += ["-database", "plant"]
    args += ["-execute", statement]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


@unittest.skipUnless(influxdb_peer.available(), "influxd and influx (Debian influxdb, influxdb-client) needed")
class InfluxCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        cls.peer = influxdb_peer.InfluxDB().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.peer.stop()

    def test_same_output_as_influxdb(self):
        for st in STATEMENTS:
            with self.subTest(statement=st):
                want = run_cli(self.peer.port, st, [])
                got = run_cli(self.srv.port, st, ["-username", "cli", "-password", ADMIN_TOKEN])
                self.assertEqual(want[0], 0, want)
                self.assertEqual(got, want)

    def test_bad_credentials_are_reported(self):
        rc, out, err = run_cli(self.srv.port, "SHOW DATABASES", ["-username", "x", "-password", "wrong"])
        self.assertIn("authorization failed", out + err)


if __name__ == "__main__":
    unittest.main()

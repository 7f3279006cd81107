"""01: the write → WAL → block → query path over HTTP, as an InfluxDB client sees it."""
import re
import unittest

from liandu_server import Server


class HttpBasics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_ping_and_health_are_open(self):
        r = self.srv.request("GET", "/ping", auth=False)
        self.assertEqual(r.status, 204)
        self.assertIn("X-Influxdb-Version", r.headers)
        r = self.srv.request("GET", "/health", auth=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["status"], "pass")

    def test_write_then_query(self):
        self.assertEqual(self.srv.query("CREATE DATABASE basics").status, 200)
        r = self.srv.write("basics", "cpu,host=a value=1.5 1000000000\ncpu,host=b value=2.5 2000000000\n")
        self.assertEqual(r.status, 204, r.body)
        r = self.srv.query("SELECT value FROM cpu WHERE host = 'a'", db="basics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"results": [{"statement_id": 0, "series": [
            {"name": "cpu", "columns": ["time", "value"], "values": [["1970-01-01T00:00:01Z", 1.5]]}]}]})
        r = self.srv.query("SELECT mean(value) FROM cpu", db="basics", epoch="s")
        self.assertEqual(r.json()["results"][0]["series"][0]["values"], [[0, 2.0]])

    def test_precision_and_v2_write(self):
        self.srv.query("CREATE DATABASE v2")
        r = self.srv.request("POST", "/api/v2/write?org=x&bucket=v2&precision=s", "m v=7i 1700000000")
        self.assertEqual(r.status, 204, r.body)
        r = self.srv.query("SELECT v FROM m", db="v2", epoch="s")
        self.assertEqual(r.json()["results"][0]["series"][0]["values"], [[1700000000, 7]])

    def test_show_statements(self):
        self.srv.query("CREATE DATABASE shows")
        self.srv.write("shows", "machine,site=s1,line=l1 temp=20.5,state=\"running\" 1\n")
        dbs = self.srv.query("SHOW DATABASES").json()["results"][0]["series"][0]["values"]
        self.assertIn(["shows"], dbs)
        m = self.srv.query("SHOW MEASUREMENTS", db="shows").json()
        self.assertEqual(m["results"][0]["series"][0]["values"], [["machine"]])
        k = self.srv.query("SHOW TAG KEYS FROM machine", db="shows").json()
        self.assertEqual(k["results"][0]["series"][0]["values"], [["line"], ["site"]])
        f = self.srv.query("SHOW FIELD KEYS", db="shows").json()
        self.assertEqual(f["results"][0]["series"][0]["values"], [["state", "string"], ["temp", "float"]])

    def test_csv_output(self):
        self.srv.query("CREATE DATABASE csvdb")
        self.srv.write("csvdb", "m v=1 1000000000")
        r = self.srv.request("GET", "/query?db=csvdb&q=SELECT+v+FROM+m", headers={"Accept": "application/csv"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.splitlines()[0], "name,tags,time,v")
        self.assertEqual(r.body.splitlines()[1], "m,,1000000000,1")

    def test_missing_q_and_parse_error(self):
        r = self.srv.request("GET", "/query")
        self.assertEqual(r.status, 400)
        r = self.srv.query("SELECT FROM cpu", db="basics")
        self.assertEqual(r.status, 400)
        self.assertTrue(r.json()["error"].startswith("error parsing query: "), r.body)

    def test_metrics(self):
        self.srv.query("CREATE DATABASE metrics_db")
        self.assertEqual(self.srv.write("metrics_db", "m v=1").status, 204)
        r = self.srv.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertIn("liandu_points_written_total", r.body)
        self.assertIn("liandu_write_duration_seconds_bucket", r.body)
        fsyncs = re.search(r'^liandu_wal_fsync_duration_seconds_count (\d+)$', r.body, re.M)
        self.assertIsNotNone(fsyncs, r.body)
        self.assertGreater(int(fsyncs.group(1)), 0)
        self.assertIn("liandu_http_open_connections", r.body)

    def test_openapi_document(self):
        r = self.srv.request("GET", "/api/v1/openapi.json")
        self.assertEqual(r.status, 200)
        doc = r.json()
        self.assertEqual(doc["openapi"], "3.0.3")
        # Every native endpoint is described, the configuration collections
        # included (they are added from the running server's modules).
        for path in ("/write", "/query", "/api/v1/databases", "/api/v1/rules", "/api/v1/rules/{name}",
                     "/api/v1/alerts", "/api/v1/alerts/ack", "/api/v1/twins", "/api/v1/twins/{device}",
                     "/api/v1/live", "/api/v1/mqtt/mappings", "/api/v1/mqtt/mappings/{name}",
                     "/api/v1/sparkplug", "/api/v1/bridges", "/api/v1/modbus/devices",
                     "/api/v1/modbus/devices/{name}"):
            self.assertIn(path, doc["paths"])
        self.assertIn("post", doc["paths"]["/api/v1/bridges"])
        # What a webhook receiver gets is described as a callback, with the
        # headers it can rely on.
        callback = doc["paths"]["/api/v1/webhooks"]["post"]["callbacks"]["alertDelivery"]
        headers = {p["name"] for p in callback["{$request.body#/url}"]["post"]["parameters"]}
        self.assertEqual(headers, {"X-Liandu-Signature", "X-Liandu-Delivery-Id"})


if __name__ == "__main__":
    unittest.main()

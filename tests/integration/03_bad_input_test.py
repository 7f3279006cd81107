"""03: bad input gets a clear error with the right status, and loses nothing accepted."""
import gzip
import socket
import time
import unittest

from liandu_server import ADMIN_TOKEN, Server


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(["--max-body-bytes", "100000", "--header-timeout-ms", "1000",
                          "--max-connections", "50"]).start()
        cls.srv.query("CREATE DATABASE bad")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def count(self, measurement):
        r = self.srv.query(f"SELECT count(v) FROM {measurement}", db="bad")
        series = r.json()["results"][0].get("series")
        return series[0]["values"][0][1] if series else 0

    def test_malformed_lines_name_each_line_and_keep_the_good_ones(self):
        body = "good v=1 1\nbad line here\ngood v=2 2\ngood v=\n# comment\ngood v=3 3\n"
        r = self.srv.write("bad", body)
        self.assertEqual(r.status, 400)
        err = r.json()["error"]
        self.assertTrue(err.startswith("partial write:"), err)
        self.assertIn("line 2", err)
        self.assertIn("line 4", err)
        self.assertIn("dropped=2", err)
        self.assertEqual(self.count("good"), 3)

    def test_field_type_conflict(self):
        self.assertEqual(self.srv.write("bad", "typed v=1 1").status, 204)
        r = self.srv.write("bad", "typed v=\"text\" 2\ntyped v=2 3")
        self.assertEqual(r.status, 400)
        self.assertIn("field type conflict", r.json()["error"])
        self.assertEqual(self.count("typed"), 2)

    def test_field_type_is_fixed_per_partition(self):
        # Partitions are 7 days wide by default: a type may change from one
        # week to the next (as from one InfluxDB shard to the next), not
        # within one. A read across both answers in float, InfluxDB's
        # precedence, converting the integers.
        week = 7 * 86400
        self.assertEqual(self.srv.write("bad", f"weekly v=1.5 {week // 2}", precision="s").status, 204)
        r = self.srv.write("bad", f"weekly v=7i {week // 2 + 1}", precision="s")
        self.assertEqual(r.status, 400)
        self.assertIn("field type conflict", r.json()["error"])
        self.assertEqual(self.srv.write("bad", f"weekly v=7i {week + week // 2}", precision="s").status, 204)
        r = self.srv.query("SELECT v FROM weekly", db="bad", epoch="s")
        self.assertEqual(r.json()["results"][0]["series"][0]["values"],
                         [[week // 2, 1.5], [week + week // 2, 7.0]])
        keys = self.srv.query("SHOW FIELD KEYS FROM weekly", db="bad").json()
        self.assertEqual(keys["results"][0]["series"][0]["values"], [["v", "float"], ["v", "integer"]])

    def test_unknown_database_404_and_missing_db_400(self):
        r = self.srv.write("nope", "m v=1")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"], 'database not found: "nope"')
        r = self.srv.request("POST", "/write", "m v=1")
        self.assertEqual(r.status, 400)

    def test_oversized_body_413(self):
        big = "m v=1\n" * 30000
        r = self.srv.write("bad", big)
        self.assertEqual(r.status, 413)

    def test_gzip_body_and_gzip_bomb(self):
        r = self.srv.request("POST", "/write?db=bad", gzip.compress(b"zipped v=1 1\nzipped v=2 2\n"),
                             headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.count("zipped"), 2)
        bomb = gzip.compress(b"m v=1\n" * 1000000)
        r = self.srv.request("POST", "/write?db=bad", bomb, headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.status, 413)

    def test_slow_headers_are_closed(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /write?db=bad HTTP/1.1\r\nHost: x\r\n")
        start = time.time()
        s.settimeout(10)
        try:
            while True:
                s.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.2)
                if time.time() - start > 8:
                    break
        except OSError:
            pass
        elapsed = time.time() - start
        s.close()
        self.assertLess(elapsed, 5, "a client trickling headers must be cut off by the header timeout")
        # the server still serves others
        self.assertEqual(self.srv.request("GET", "/ping", auth=False).status, 204)

    def test_bad_precision(self):
        r = self.srv.write("bad", "m v=1", precision="days")
        self.assertEqual(r.status, 400)

    def test_too_many_connections(self):
        socks = []
        try:
            for _ in range(60):
                socks.append(socket.create_connection(("127.0.0.1", self.srv.port)))
            time.sleep(0.3)
            extra = socket.create_connection(("127.0.0.1", self.srv.port))
            extra.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            extra.settimeout(5)
            data = extra.recv(1000)
            extra.close()
            self.assertTrue(data == b"" or b"503" in data.split(b"\r\n")[0], data)
        finally:
            for s in socks:
                s.close()
        time.sleep(0.3)
        self.assertEqual(self.srv.request("GET", "/ping", auth=False).status, 204)


if __name__ == "__main__":
    unittest.main()

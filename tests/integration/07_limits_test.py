"""07: limits answer with a clear status instead of growing without bound."""
import os
import shutil
import tempfile
import unittest

from liandu_server import Server


class Limits(unittest.TestCase):
    def test_series_limit_is_a_partial_write(self):
        srv = Server(["--max-series-per-database", "5"]).start()
        try:
            srv.query("CREATE DATABASE lim")
            body = "\n".join(f"m,id={i} v=1 {i}" for i in range(8))
            r = srv.write("lim", body)
            self.assertEqual(r.status, 400)
            self.assertIn("max-series-per-database", r.json()["error"])
            self.assertIn("dropped=3", r.json()["error"])
            r = srv.query("SELECT count(v) FROM m", db="lim")
            self.assertEqual(r.json()["results"][0]["series"][0]["values"][0][1], 5)
        finally:
            srv.cleanup()

    def test_head_memory_budget_answers_503_with_retry_after(self):
        # checkpoints never start (huge checkpoint size), so the head only grows
        srv = Server(["--head-memory-limit", "200000", "--checkpoint-bytes", "1000000000"]).start()
        try:
            srv.query("CREATE DATABASE mem")
            saw_503 = False
            for batch in range(200):
                body = "\n".join(f"m,id={i % 50} v={i} {batch * 10000 + i}" for i in range(1000))
                r = srv.write("mem", body)
                if r.status == 503:
                    saw_503 = True
                    self.assertEqual(r.headers.get("Retry-After"), "1")
                    self.assertIn("cache-max-memory-size", r.json()["error"])
                    break
                self.assertEqual(r.status, 204, r.body)
            self.assertTrue(saw_503)
            self.assertEqual(srv.request("GET", "/ping", auth=False).status, 204)
        finally:
            srv.cleanup()

    def test_config_file_and_environment(self):
        d = tempfile.mkdtemp(prefix="liandu-conf-")
        try:
            conf = os.path.join(d, "liandu.toml")
            with open(conf, "w") as f:
                f.write("max-series-per-database = 2\n")
            srv = Server(["--config", conf], env={"LIANDU_MAX_BODY_BYTES": "1000"}).start()
            try:
                srv.query("CREATE DATABASE c")
                r = srv.write("c", "m,a=1 v=1\nm,a=2 v=1\nm,a=3 v=1")
                self.assertIn("max-series-per-database", r.json()["error"])
                r = srv.write("c", "m,a=1 v=1\n" * 200)
                self.assertEqual(r.status, 413)
            finally:
                srv.cleanup()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_sample_config_file_is_valid(self):
        # deploy/liandu.toml, with its commented entry files switched on:
        # every key it names is an option serve knows, and the files load.
        repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        d = tempfile.mkdtemp(prefix="liandu-sample-")
        try:
            with open(os.path.join(repo, "deploy", "liandu.toml")) as f:
                text = f.read()
            for key in ("mqtt-mappings", "sparkplug", "bridges", "modbus-devices", "webhooks", "rules"):
                path = os.path.join(d, key + ".json")
                with open(path, "w") as f:
                    f.write("[]")
                text = text.replace('# %s = "/etc/liandu/' % key, '%s = "%s" # ' % (key, path))
            self.assertEqual(text.count(d), 6, text)
            conf = os.path.join(d, "liandu.toml")
            with open(conf, "w") as f:
                f.write(text)
            # The command line overrides the file's data-dir and listeners.
            srv = Server(["--config", conf]).start()
            try:
                self.assertEqual(srv.request("GET", "/api/v1/mqtt/mappings").json(), [])
            finally:
                srv.cleanup()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

"""09: a real Prometheus (Debian package) scrapes /metrics with a bearer token."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

from liandu_server import ADMIN_TOKEN, Server, free_port


@unittest.skipUnless(shutil.which("prometheus"), "prometheus (Debian package) needed")
class PrometheusScrape(unittest.TestCase):
    def test_prometheus_scrapes_metrics(self):
        srv = Server().start()
        d = tempfile.mkdtemp(prefix="prom-")
        proc = None
        try:
            srv.query("CREATE DATABASE p")
            self.assertEqual(srv.write("p", "m v=1 1\nm v=2 2").status, 204)
            port = free_port()
            with open(os.path.join(d, "prometheus.yml"), "w") as f:
                f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: liandu
    authorization:
      credentials: {ADMIN_TOKEN}
    static_configs:
      - targets: ['127.0.0.1:{srv.port}']
""")
            log = open(os.path.join(d, "prom.log"), "wb")
            proc = subprocess.Popen(["prometheus", "--config.file", os.path.join(d, "prometheus.yml"),
                                     "--storage.tsdb.path", os.path.join(d, "data"),
                                     "--web.listen-address", f"127.0.0.1:{port}"],
                                    stdout=log, stderr=subprocess.STDOUT)
            value = None
            deadline = time.time() + 60
            while time.time() < deadline:
                time.sleep(1)
                try:
                    with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/api/v1/query?query=liandu_points_written_total",
                            timeout=5) as r:
                        res = json.loads(r.read())["data"]["result"]
                        if res:
                            value = float(res[0]["value"][1])
                            break
                except OSError:
                    pass
            self.assertEqual(value, 2.0)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5) as r:
                targets = json.loads(r.read())["data"]["activeTargets"]
            self.assertEqual(targets[0]["health"], "up", targets)
        finally:
            if proc:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            srv.cleanup()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

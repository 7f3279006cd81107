"""Starts a real InfluxDB 1.x (Debian's influxd) on free loopback ports with
a temporary folder, for side-by-side compatibility tests."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from liandu_server import free_port


class InfluxDB:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="influxd-peer-")
        self.port = free_port()
        self.rpc_port = free_port()
        self.proc = None

    def start(self):
        conf = os.path.join(self.dir, "influxdb.conf")
        with open(conf, "w") as f:
            f.write(f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[logging]
  level = "error"
""")
        self.log = open(os.path.join(self.dir, "influxd.log"), "wb")
        self.proc = subprocess.Popen(["influxd", "-config", conf], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1) as r:
                    if r.status == 204:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("influxd did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def available():
    return shutil.which("influxd") is not None and shutil.which("influx") is not None

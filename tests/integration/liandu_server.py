"""Starts the real `build/liandu serve` on a free loopback port with a fresh
data folder, and stops it by PID. Shared by the integration tests."""
import atexit
import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

BINARY = os.environ.get("LIANDU_BINARY", os.path.join(os.path.dirname(__file__), "..", "..", "build", "liandu"))
ADMIN_TOKEN = "ld_integration_admin_token_0123456789abcdef"


def temp_dir(prefix):
    """A temporary folder removed when the test process exits, whatever the
    test did with it (killed servers and failed tests included)."""
    d = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, d, True)
    return d


# Server logs live here, not beside a caller's data folder, so that they go
# with the process too.
LOG_DIR = temp_dir("liandu-it-logs-")


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A loopback port nothing listens on, chosen below the kernel's
    ephemeral range. A port the kernel handed out (bind to 0) is one it may
    hand out again as the local port of any outgoing connection: a test that
    restarts a server on the same port after kill -9 then found it taken by
    some other test's client ("Address already in use")."""
    lo, _ = _ephemeral_range()
    if lo > 12000:
        for _ in range(200):
            port = random.randint(10000, lo - 1)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Server:
    def __init__(self, extra_args=(), data_dir=None, env=None):
        self.extra_args = list(extra_args)
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="liandu-it-")
        self.env = env or {}
        self.proc = None
        self.port = None
        self.mqtt_port = None
        self.log_path = os.path.join(LOG_DIR, os.path.basename(os.path.normpath(self.data_dir)) + ".log")

    def start(self, port=None, mqtt_port=None):
        self.port = port or free_port()
        # Every server gets its own MQTT port (kept across restarts) so tests
        # running in parallel never collide on 1883.
        self.mqtt_port = mqtt_port or self.mqtt_port or free_port()
        mqtt_args = [] if any(a.startswith("--mqtt-bind") for a in self.extra_args) else \
            ["--mqtt-bind", f"127.0.0.1:{self.mqtt_port}"]
        env = dict(os.environ)
        env["LIANDU_ADMIN_TOKEN"] = ADMIN_TOKEN
        env.update(self.env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--data-dir", self.data_dir, "--http-bind", f"127.0.0.1:{self.port}"]
            + mqtt_args + self.extra_args,
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("liandu exited at start:\n" + self.output())
            try:
                if self.request("GET", "/ping", auth=False).status == 204:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("liandu did not answer /ping:\n" + self.output())

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            try:
                os.remove(self.log_path)
            except OSError:
                pass

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None, auth=True, token=ADMIN_TOKEN, timeout=60):
        headers = dict(headers or {})
        if auth and token is not None and "Authorization" not in headers:
            headers["Authorization"] = "Token " + token
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url(path), data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, dict(r.headers), r.read().decode(errors="replace"))
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers), e.read().decode(errors="replace"))

    def query(self, q, db=None, token=ADMIN_TOKEN, **params):
        p = {"q": q}
        if db:
            p["db"] = db
        p.update(params)
        return self.request("GET", "/query?" + urllib.parse.urlencode(p), token=token)

    def write(self, db, body, token=ADMIN_TOKEN, **params):
        p = {"db": db}
        p.update(params)
        return self.request("POST", "/write?" + urllib.parse.urlencode(p), body, token=token)


def start_error(extra_args):
    """What `liandu serve` with extra_args says when it exits at start (it must)."""
    srv = Server(extra_args)
    try:
        srv.start()
    except RuntimeError as e:
        return str(e)
    finally:
        srv.cleanup()
    raise AssertionError(f"liandu started with {extra_args}")


def wait_until(get, ok, timeout=20):
    """Calls get() until ok(its value) holds or timeout seconds have passed;
    returns the last value, for the caller to check."""
    deadline = time.time() + timeout
    value = get()
    while not ok(value) and time.time() < deadline:
        time.sleep(0.2)
        value = get()
    return value


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

"""17: TLS. The HTTPS listener (--https-bind with --tls-cert/--tls-key) beside
plain HTTP: a client that verifies the certificate, the `liandu` CLI among
them, writes and queries over TLS. Outbound: webhook receivers on https://
get deliveries only when their certificate chains to a trusted CA
(--webhook-ca-file) and names their host."""
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from certs import issue, make_ca, self_signed
from liandu_server import ADMIN_TOKEN, BINARY, Server, free_port, start_error, temp_dir, wait_until


class Https(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="liandu-tls-")
        cls.cert, cls.key = self_signed(cls.dir)
        cls.tls_port = free_port()
        cls.srv = Server(["--https-bind", f"127.0.0.1:{cls.tls_port}", "--tls-cert", cls.cert,
                          "--tls-key", cls.key]).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def https(self, method, path, body=None, context=None):
        ctx = context or ssl.create_default_context(cafile=self.cert)
        req = urllib.request.Request(f"https://127.0.0.1:{self.tls_port}{path}", data=body and body.encode(),
                                     method=method, headers={"Authorization": "Token " + ADMIN_TOKEN})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_write_and_query_over_tls(self):
        self.assertEqual(self.https("GET", "/ping")[0], 204)
        self.assertEqual(self.https("POST", "/query?" + urllib.parse.urlencode({"q": "CREATE DATABASE tls"}))[0], 200)
        self.assertEqual(self.https("POST", "/write?db=tls", "m,host=a v=1.5 1000000000")[0], 204)
        status, body = self.https("GET", "/query?" + urllib.parse.urlencode({"db": "tls", "q": "SELECT v FROM m"}))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["results"][0]["series"][0]["values"], [["1970-01-01T00:00:01Z", 1.5]])
        # The same data over plain HTTP: one server, two listeners.
        self.assertEqual(self.srv.query("SELECT v FROM m", db="tls").json()["results"][0]["series"][0]["values"],
                         [["1970-01-01T00:00:01Z", 1.5]])

    def test_auth_still_required_over_tls(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        req = urllib.request.Request(f"https://127.0.0.1:{self.tls_port}/query?q=SHOW+DATABASES")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, context=ctx, timeout=30)
        self.assertEqual(e.exception.code, 401)

    def test_untrusted_certificate_is_rejected_by_a_verifying_client(self):
        with self.assertRaises(urllib.error.URLError) as e:
            self.https("GET", "/ping", context=ssl.create_default_context())
        self.assertIsInstance(e.exception.reason, ssl.SSLCertVerificationError)

    def test_plain_http_on_the_tls_port_does_not_take_it_down(self):
        import socket
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=10) as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(10)
            try:
                s.recv(100)
            except (ConnectionResetError, socket.timeout):
                pass
        self.assertEqual(self.https("GET", "/ping")[0], 204)

    def run_cli(self, *args, host="127.0.0.1", stdin=None):
        env = dict(os.environ, LIANDU_URL=f"https://{host}:{self.tls_port}", LIANDU_TOKEN=ADMIN_TOKEN,
                   LIANDU_CLI_CONFIG=os.path.join(self.dir, "no-cli.toml"))
        env.pop("LIANDU_CA_FILE", None)
        return subprocess.run([BINARY, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)

    def test_cli_over_tls(self):
        r = self.run_cli("db", "create", "clitls", "--ca-file", self.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("write", "-", "--db", "clitls", "--precision", "s", "--ca-file", self.cert,
                         stdin="m,host=a v=2.5 1700000000\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        # By host name too (SNI, DNS name check): the certificate names localhost.
        r = self.run_cli("query", "--db", "clitls", "--format", "csv", "--epoch", "s", "SELECT v FROM m",
                         "--ca-file", self.cert, host="localhost")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1:], ["m,,1700000000,2.5"])
        # Without the CA the server's certificate is not trusted: nothing is sent.
        r = self.run_cli("write", "-", "--db", "clitls", "--precision", "s", stdin="m,host=b v=9 1700000001\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"TLS handshake with https://127.0.0.1:{self.tls_port}: certificate verify failed: "
                      "self-signed certificate", r.stderr)
        self.assertEqual(self.srv.query("SELECT count(v) FROM m", db="clitls").json()["results"][0]["series"][0]
                         ["values"][0][1], 1)
        r = self.run_cli("db", "list", "--ca-file", os.path.join(self.dir, "missing-ca.pem"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("missing-ca.pem: No such file", r.stderr)

    def test_missing_key_file_is_a_clear_start_error(self):
        missing = os.path.join(self.dir, "nope.pem")
        said = start_error(["--https-bind", f"127.0.0.1:{free_port()}",
                            "--tls-cert", self.cert, "--tls-key", missing])
        self.assertIn(f"tls: private key {missing}: No such file or directory", said)


def https_receiver(cert):
    """A webhook receiver on https://127.0.0.1:<port> presenting `cert`
    ((cert, key) from certs.py). Each POST it gets is appended to .deliveries
    as (path, headers, body); .server_names lists the SNI of each TLS
    handshake it completed (None: the client sent none)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.deliveries.append((self.path, dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.deliveries = []
    hook.server_names = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    ctx.sni_callback = lambda sock, name, context: hook.server_names.append(name)
    # The handshake runs in accept(); a failed one is dropped by socketserver.
    hook.socket = ctx.wrap_socket(hook.socket, server_side=True)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    return hook


class HttpsWebhooks(unittest.TestCase):
    def setUp(self):
        self.dir = temp_dir("liandu-tls-hooks-")
        self.ca = make_ca(self.dir, "ca")

    def metrics(self, srv):
        text = srv.request("GET", "/metrics").body
        return {m[0]: int(m[1]) for m in re.findall(r"^(liandu_webhook_\w+) (\d+)$", text, re.M)}

    def test_delivery_needs_a_trusted_certificate_for_the_host(self):
        trusted = https_receiver(issue(self.dir, self.ca, "trusted"))  # 127.0.0.1 and localhost
        stranger = https_receiver(issue(self.dir, make_ca(self.dir, "other"), "stranger"))
        misnamed = https_receiver(issue(self.dir, self.ca, "misnamed", names="DNS:elsewhere.test"))
        srv = Server(["--webhook-ca-file", self.ca[0]])
        try:
            srv.start()
            srv.query("CREATE DATABASE h")
            receivers = {"by-name": (f"https://localhost:{trusted.server_port}/hook?k=1", "s3cret"),
                         "by-ip": (f"https://127.0.0.1:{trusted.server_port}/ip", ""),
                         "stranger": (f"https://127.0.0.1:{stranger.server_port}/hook", ""),
                         "misnamed": (f"https://localhost:{misnamed.server_port}/hook", "")}
            for name, (url, secret) in receivers.items():
                r = srv.request("POST", "/api/v1/webhooks", json.dumps({"name": name, "url": url, "secret": secret}))
                self.assertEqual(r.status, 201, r.body)
            listed = srv.request("GET", "/api/v1/webhooks").json()["webhooks"]
            self.assertEqual(sorted(w["url"] for w in listed), sorted(u for u, _ in receivers.values()))
            rule = {"id": "hot", "measurement": "oven",
                    "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80},
                    "actions": [{"type": "webhook", "receiver": n} for n in receivers]}
            r = srv.request("POST", "/api/v1/rules?db=h", json.dumps(rule))
            self.assertEqual(r.status, 201, r.body)
            self.assertEqual(srv.write("h", f"oven temp=90 {time.time_ns()}").status, 204)

            # One first attempt per receiver; the two untrusted ones fail.
            m = wait_until(lambda: self.metrics(srv), lambda m: m.get("liandu_webhook_attempts_total", 0) >= 4)
            self.assertGreaterEqual(m.get("liandu_webhook_attempts_total", 0), 4, m)
            self.assertEqual(m["liandu_webhook_delivered_total"], 2, m)
            self.assertGreaterEqual(m["liandu_webhook_retries_total"], 2, m)
            self.assertEqual(stranger.deliveries, [])
            self.assertEqual(misnamed.deliveries, [])
            log = srv.output()
            self.assertIn(f'webhook receiver "stranger" (database h): TLS handshake with '
                          f"https://127.0.0.1:{stranger.server_port}: certificate verify failed: "
                          "unable to get local issuer certificate", log)
            self.assertIn(f'webhook receiver "misnamed" (database h): TLS handshake with '
                          f"https://localhost:{misnamed.server_port}: certificate verify failed: "
                          "hostname mismatch", log)

            time.sleep(1.5)
            by_path = {path: (headers, body) for path, headers, body in trusted.deliveries}
            self.assertEqual(len(trusted.deliveries), 2, "exactly one delivery per receiver")
            self.assertEqual(sorted(by_path), ["/hook?k=1", "/ip"])
            for headers, body in by_path.values():
                event = json.loads(body)
                self.assertEqual((event["rule_id"], event["state"]), ("hot", "firing"))
            headers, body = by_path["/hook?k=1"]
            self.assertEqual(headers.get("X-Liandu-Signature"),
                             "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest())
            self.assertNotIn("X-Liandu-Signature", by_path["/ip"][0])
            # SNI names the host; an IP address is not sent as SNI.
            self.assertEqual(sorted(trusted.server_names, key=str), [None, "localhost"])
        finally:
            srv.cleanup()
            for hook in (trusted, stranger, misnamed):
                hook.shutdown()

    def test_webhook_ca_file_is_checked_at_start(self):
        not_pem = os.path.join(self.dir, "not-a-ca.pem")
        with open(not_pem, "w") as f:
            f.write("not a certificate\n")
        missing = os.path.join(self.dir, "nope.pem")
        for path, says in [(missing, "No such file or directory"), (not_pem, "no PEM certificate")]:
            srv = Server(["--webhook-ca-file", path])
            try:
                with self.assertRaises(RuntimeError) as e:
                    srv.start()
                self.assertIn("--webhook-ca-file: CA file %s: %s" % (path, says), str(e.exception))
            finally:
                srv.cleanup()


if __name__ == "__main__":
    unittest.main()

"""17: HTTPS listener (--https-bind with --tls-cert/--tls-key) beside plain
HTTP: a client that verifies the certificate writes and queries over TLS."""
import json
import os
import shutil
import ssl
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

from certs import self_signed
from liandu_server import ADMIN_TOKEN, Server, free_port


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

    def test_missing_key_file_is_a_clear_start_error(self):
        srv = Server(["--https-bind", f"127.0.0.1:{free_port()}", "--tls-cert", self.cert,
                      "--tls-key", os.path.join(self.dir, "nope.pem")])
        try:
            with self.assertRaises(RuntimeError) as e:
                srv.start()
            self.assertIn("nope.pem", str(e.exception))
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()

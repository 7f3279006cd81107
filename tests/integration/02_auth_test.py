"""02: authentication on by default, hashed tokens, permissions, tenant scope."""
import json
import os
import unittest

from liandu_server import ADMIN_TOKEN, Server, basic


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        cls.srv.query("CREATE DATABASE a")
        cls.srv.query("CREATE DATABASE b")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def create_token(self, **body):
        r = self.srv.request("POST", "/api/v1/tokens", json.dumps(body), {"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def test_no_token_is_401(self):
        r = self.srv.request("POST", "/write?db=a", "m v=1", auth=False)
        self.assertEqual(r.status, 401)
        r = self.srv.request("GET", "/query?q=SHOW+DATABASES", auth=False)
        self.assertEqual(r.status, 401)
        r = self.srv.request("GET", "/metrics", auth=False)
        self.assertEqual(r.status, 401)

    def test_bad_token_is_401(self):
        r = self.srv.write("a", "m v=1", token="ld_not_a_real_token")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"], "authorization failed")

    def test_token_without_the_database_is_403(self):
        t = self.create_token(description="writer of a", permissions={"a": "write"})
        self.assertEqual(self.srv.write("a", "m v=1", token=t["token"]).status, 204)
        self.assertEqual(self.srv.write("b", "m v=1", token=t["token"]).status, 403)
        # write-only: no reads
        r = self.srv.query("SELECT * FROM m", db="a", token=t["token"])
        self.assertIn("not authorized", r.json()["results"][0]["error"])

    def test_revoked_token_is_401(self):
        t = self.create_token(description="short-lived", permissions={"a": "all"})
        self.assertEqual(self.srv.write("a", "m v=2", token=t["token"]).status, 204)
        r = self.srv.request("DELETE", f"/api/v1/tokens/{t['id']}")
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.srv.write("a", "m v=3", token=t["token"]).status, 401)

    def test_influx_style_credentials(self):
        # any user name with a token as the password, via u/p and Basic
        t = self.create_token(description="cli", permissions={"a": "all"})
        r = self.srv.request("POST", "/write?db=a&u=anyone&p=" + t["token"], "m v=4", auth=False)
        self.assertEqual(r.status, 204, r.body)
        r = self.srv.request("POST", "/write?db=a", "m v=5", headers={"Authorization": basic("x", t["token"])})
        self.assertEqual(r.status, 204, r.body)
        # a user with a password
        r = self.srv.request("POST", "/api/v1/users", json.dumps(
            {"name": "alice", "password": "s3cret-pass", "permissions": {"a": "read"}}))
        self.assertEqual(r.status, 201, r.body)
        r = self.srv.request("GET", "/query?q=SHOW+MEASUREMENTS&db=a&u=alice&p=s3cret-pass", auth=False)
        self.assertEqual(r.status, 200, r.body)
        r = self.srv.request("GET", "/query?q=SHOW+MEASUREMENTS&db=a&u=alice&p=wrong", auth=False)
        self.assertEqual(r.status, 401)

    def test_non_admin_cannot_create_databases_or_tokens(self):
        t = self.create_token(description="reader", permissions={"a": "read"})
        r = self.srv.query("CREATE DATABASE nope", token=t["token"])
        self.assertIn("admin", r.json()["results"][0]["error"])
        r = self.srv.request("POST", "/api/v1/tokens", "{}", token=t["token"])
        self.assertEqual(r.status, 403)

    def test_show_databases_lists_only_readable(self):
        t = self.create_token(description="reader of b", permissions={"b": "read"})
        r = self.srv.query("SHOW DATABASES", token=t["token"])
        values = r.json()["results"][0]["series"][0]["values"]
        self.assertEqual(values, [["b"]])

    def test_secrets_are_not_stored_in_plain_text(self):
        t = self.create_token(description="secret check", permissions={"a": "read"})
        with open(os.path.join(self.srv.data_dir, "catalog.db"), "rb") as f:
            data = f.read()
        self.assertNotIn(t["token"].encode(), data)
        self.assertNotIn(ADMIN_TOKEN.encode(), data)


if __name__ == "__main__":
    unittest.main()

"""06: the `liandu` client commands and the simulated plant against a real server."""
import json
import os
import subprocess
import unittest

from liandu_server import ADMIN_TOKEN, BINARY, Server


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def run_cli(self, *args, stdin=None, token=ADMIN_TOKEN):
        env = dict(os.environ)
        env["LIANDU_URL"] = self.srv.url()
        env.pop("LIANDU_TOKEN", None)
        if token:
            env["LIANDU_TOKEN"] = token
        return subprocess.run([BINARY] + list(args), input=stdin, capture_output=True, text=True, env=env,
                              timeout=300)

    def test_db_write_query(self):
        r = self.run_cli("db", "create", "clidb")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("db", "list")
        self.assertIn("clidb", r.stdout)
        r = self.run_cli("write", "-", "--db", "clidb", "--precision", "s",
                         stdin="temp,room=a v=21.5 1700000000\ntemp,room=b v=19 1700000000\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("query", "--db", "clidb", "SELECT v FROM temp WHERE room = 'a'")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("name: temp", r.stdout)
        self.assertIn("2023-11-14T22:13:20Z 21.5", r.stdout)
        r = self.run_cli("query", "--db", "clidb", "--format", "csv", "SELECT v FROM temp", "--epoch", "s")
        self.assertEqual(r.stdout.splitlines()[0], "name,tags,time,v")
        r = self.run_cli("query", "--db", "clidb", "--format", "json", "SELECT count(v) FROM temp")
        self.assertEqual(json.loads(r.stdout)["results"][0]["series"][0]["values"][0][1], 2)

    def test_readable_errors(self):
        r = self.run_cli("query", "SHOW DATABASES", token=None)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("401", r.stderr)
        self.assertIn("LIANDU_TOKEN", r.stderr)
        r = self.run_cli("query", "--db", "clidb", "SELEC nothing")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("error parsing query", r.stderr)
        r = self.run_cli("write", "/nonexistent/file", "--db", "x")
        self.assertIn("cannot read", r.stderr)

    def test_token_lifecycle(self):
        self.run_cli("db", "create", "tokdb")
        r = self.run_cli("token", "create", "--description", "line 3 gateway", "--write", "tokdb")
        self.assertEqual(r.returncode, 0, r.stderr)
        tok = json.loads(r.stdout)
        r = self.run_cli("write", "-", "--db", "tokdb", stdin="m v=1\n", token=tok["token"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("token", "list")
        self.assertIn("line 3 gateway", r.stdout)
        self.assertNotIn(tok["token"], r.stdout)
        r = self.run_cli("token", "revoke", str(tok["id"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("write", "-", "--db", "tokdb", stdin="m v=2\n", token=tok["token"])
        self.assertNotEqual(r.returncode, 0)

    def test_simulated_plant_writes_history(self):
        r = self.run_cli("simulate", "--db", "simplant", "--backfill", "2h", "--duration", "7200",
                         "--sites", "1", "--lines", "2", "--machines", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.srv.query("SELECT count(temperature) FROM machine", db="simplant")
        count = r.json()["results"][0]["series"][0]["values"][0][1]
        self.assertEqual(count, 6 * 720)
        r = self.srv.query("SHOW TAG VALUES WITH KEY = machine", db="simplant")
        self.assertEqual(len(r.json()["results"][0]["series"][0]["values"]), 6)
        # the same seed gives the same plant
        r1 = self.srv.query("SELECT sum(scrap_count) FROM machine", db="simplant").json()
        self.assertIn("series", r1["results"][0])

    def test_cli_config_file(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(f'url = "{self.srv.url()}"\ntoken = "{ADMIN_TOKEN}"\n')
            path = f.name
        try:
            env = {k: v for k, v in os.environ.items() if k not in ("LIANDU_TOKEN", "LIANDU_URL")}
            env["LIANDU_CLI_CONFIG"] = path
            r = subprocess.run([BINARY, "db", "list"], capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            # the environment wins over the file
            env["LIANDU_TOKEN"] = "ld_wrong"
            r = subprocess.run([BINARY, "db", "list"], capture_output=True, text=True, env=env, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("401", r.stderr)
        finally:
            os.remove(path)

    def test_serve_help_lists_options_with_defaults(self):
        r = subprocess.run([BINARY, "serve", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for opt in ["--data-dir", "--http-bind", "--config", "--max-body-bytes", "--head-memory-limit",
                    "--max-series-per-database", "127.0.0.1:8086"]:
            self.assertIn(opt, r.stdout)

    def test_version(self):
        r = subprocess.run([BINARY, "version"], capture_output=True, text=True)
        self.assertTrue(r.stdout.startswith("liandu "))


if __name__ == "__main__":
    unittest.main()

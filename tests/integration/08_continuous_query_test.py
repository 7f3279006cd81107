"""08: continuous queries roll data up as it arrives and survive a restart."""
import time
import unittest

from liandu_server import Server


class ContinuousQueries(unittest.TestCase):
    def test_rollup_runs_and_definition_survives_restart(self):
        srv = Server().start()
        try:
            srv.query("CREATE DATABASE cq")
            srv.query("CREATE RETENTION POLICY long ON cq DURATION 52w REPLICATION 1")
            r = srv.query('CREATE CONTINUOUS QUERY rollup ON cq BEGIN SELECT mean(v) AS v INTO "long"."m_1s" '
                          "FROM m GROUP BY time(1s), host END")
            self.assertEqual(r.status, 200)
            self.assertNotIn("error", r.json()["results"][0], r.body)
            deadline = time.time() + 20
            rows = []
            while time.time() < deadline and len(rows) < 2:
                now = time.time_ns()
                body = "\n".join(f"m,host=h{h} v={h * 10 + k} {now - k * 100_000_000}" for h in range(2)
                                 for k in range(5))
                self.assertEqual(srv.write("cq", body).status, 204)
                time.sleep(0.5)
                r = srv.query('SELECT v FROM "long"."m_1s" WHERE host = \'h1\'', db="cq").json()
                series = r["results"][0].get("series")
                rows = series[0]["values"] if series else []
            self.assertGreaterEqual(len(rows), 2, "the continuous query wrote no rollups")
            for _, v in rows:
                self.assertGreaterEqual(v, 10)
                self.assertLessEqual(v, 14)
            srv.stop()
            srv.start(port=srv.port)
            r = srv.query("SHOW CONTINUOUS QUERIES").json()
            names = [v[0] for s in r["results"][0]["series"] for v in s.get("values", [])]
            self.assertIn("rollup", names)
            srv.query("DROP CONTINUOUS QUERY rollup ON cq")
            srv.stop()
            srv.start(port=srv.port)
            r = srv.query("SHOW CONTINUOUS QUERIES").json()
            names = [v[0] for s in r["results"][0].get("series", []) for v in s.get("values", [])]
            self.assertNotIn("rollup", names)
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()

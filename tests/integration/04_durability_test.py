"""04: kill -9 during load loses no acknowledged point; SIGTERM shuts down gracefully."""
import random
import shutil
import signal
import tempfile
import threading
import time
import unittest

from liandu_server import Server


class Durability(unittest.TestCase):
    def test_sigkill_during_load_keeps_every_acknowledged_point(self):
        data_dir = tempfile.mkdtemp(prefix="liandu-kill-")
        try:
            srv = Server(data_dir=data_dir, extra_args=["--checkpoint-bytes", "200000"]).start()
            srv.query("CREATE DATABASE load")
            acked = []
            stop = threading.Event()
            lock = threading.Lock()

            def writer(wid):
                batch = 0
                while not stop.is_set():
                    lines = "\n".join(f"load,w={wid} v={batch}i {wid * 10**12 + batch * 1000 + i}"
                                      for i in range(200))
                    try:
                        r = srv.write("load", lines)
                    except OSError:
                        return
                    if r.status == 204:
                        with lock:
                            acked.append((wid, batch))
                    batch += 1

            for cycle in range(3):
                stop.clear()
                threads = [threading.Thread(target=writer, args=(cycle * 10 + w,)) for w in range(4)]
                for t in threads:
                    t.start()
                time.sleep(0.5 + random.random())
                srv.kill9()
                stop.set()
                for t in threads:
                    t.join()
                srv.start(port=srv.port)
                for wid in {w for w, _ in acked}:
                    r = srv.query(f"SELECT count(v) FROM load WHERE w = '{wid}'", db="load")
                    got = r.json()["results"][0]["series"][0]["values"][0][1]
                    want = 200 * len([1 for w, _ in acked if w == wid])
                    self.assertGreaterEqual(got, want, f"cycle {cycle} writer {wid}: lost acknowledged points")
            self.assertGreater(len(acked), 10)
            srv.stop()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_graceful_shutdown_flushes_and_restarts(self):
        data_dir = tempfile.mkdtemp(prefix="liandu-term-")
        try:
            srv = Server(data_dir=data_dir).start()
            srv.query("CREATE DATABASE g")
            self.assertEqual(srv.write("g", "m v=1 1\nm v=2 2").status, 204)
            rc = srv.stop(signal.SIGTERM)
            self.assertEqual(rc, 0, srv.output())
            self.assertIn("shutting down", srv.output())
            srv.start(port=srv.port)
            r = srv.query("SELECT count(v) FROM m", db="g")
            self.assertEqual(r.json()["results"][0]["series"][0]["values"][0][1], 2)
            self.assertIn("started", srv.output())
            srv.stop()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

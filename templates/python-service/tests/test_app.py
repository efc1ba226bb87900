"""Unit tests of the example service (python3 -m unittest, run by the pipeline's test job)."""
import os
import tempfile
import unittest


class ServiceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        os.environ["DATABASE_PATH"] = os.path.join(self.dir.name, "t.db")
        from app.migrate import migrate

        migrate()
        migrate()  # idempotent: a second start changes nothing

    def tearDown(self):
        self.dir.cleanup()

    def test_migrations_run_once(self):
        from app.db import connect

        with connect() as db:
            self.assertEqual(db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0], 1)

    def test_health_and_greeting(self):
        from app.main import app

        client = app.test_client()
        self.assertEqual(client.get("/healthz").status_code, 200)
        r = client.post("/greetings", json={"name": "MBIO"})
        self.assertEqual(r.status_code, 201)
        self.assertEqual(r.get_json()["message"], "Hello, MBIO!")


if __name__ == "__main__":
    unittest.main()

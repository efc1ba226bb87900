"""The service's SQLite database in the /data volume (DATABASE_PATH)."""
import os
import sqlite3


def connect() -> sqlite3.Connection:
    return sqlite3.connect(os.environ.get("DATABASE_PATH", "/data/service.db"))

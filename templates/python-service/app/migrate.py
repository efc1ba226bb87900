"""Schema migrations, applied in order on every start; each runs once (recorded in schema_version)."""
from app.db import connect

MIGRATIONS = [
    "CREATE TABLE greetings (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
]


def migrate() -> int:
    with connect() as db:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version, statement in enumerate(MIGRATIONS[current:], start=current + 1):
            db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        return len(MIGRATIONS)


if __name__ == "__main__":
    print(f"migrations: schema at version {migrate()}")

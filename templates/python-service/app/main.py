"""The example service: a health endpoint and one resource backed by the migrated database."""
from flask import Flask, jsonify, request

from app.db import connect

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    with connect() as db:
        db.execute("SELECT 1 FROM greetings LIMIT 1")
    return jsonify(status="ok")


@app.post("/greetings")
def add_greeting():
    name = (request.get_json(silent=True) or {}).get("name", "world")
    with connect() as db:
        cur = db.execute("INSERT INTO greetings (name) VALUES (?)", (name,))
    return jsonify(id=cur.lastrowid, message=f"Hello, {name}!"), 201

#!/usr/bin/env python3
"""An append-only journal over HTTP, for the resilience drills (tests/nightly/manager-loss.sh, the disaster drill).

POST /append?n=N appends the line "N <utc time>" to $JOURNAL_DIR/journal.log and answers "ok N" only after the
line is on disk (fsync of the file, and of the directory when the file was created): an acknowledged record
survives a crash of the process or of the machine. GET /records returns the file, GET /count the number of
lines, GET /health "ok". One writer at a time (a lock), so lines never interleave.
"""
import datetime
import http.server
import os
import signal
import sys
import threading
import urllib.parse

DIR = os.environ.get("JOURNAL_DIR", "/data")
PORT = int(os.environ.get("JOURNAL_PORT", "8080"))
PATH = os.path.join(DIR, "journal.log")
lock = threading.Lock()


def open_journal():
    created = not os.path.exists(PATH)
    fd = os.open(PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    if created:
        # The new directory entry must be durable too, or the file itself can vanish with the machine.
        dfd = os.open(DIR, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return fd


journal_fd = open_journal()


def count_lines():
    with open(PATH, "rb") as f:
        return sum(1 for _ in f)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/health":
            self.reply(200, "ok\n")
        elif path == "/count":
            self.reply(200, f"{count_lines()}\n")
        elif path == "/records":
            with open(PATH, encoding="utf-8") as f:
                self.reply(200, f.read())
        else:
            self.reply(404, "not found\n")

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        n = urllib.parse.parse_qs(url.query).get("n", [""])[0]
        if url.path != "/append" or not n.isdigit():
            self.reply(400, "POST /append?n=<record number>\n")
            return
        line = f"{n} {datetime.datetime.now(datetime.timezone.utc).isoformat()}\n".encode()
        with lock:
            os.write(journal_fd, line)
            os.fsync(journal_fd)
        self.reply(200, f"ok {n}\n")

    def log_message(self, fmt, *args):
        pass  # one line per record would drown the service's log; errors still reach stderr


server = http.server.ThreadingHTTPServer(("", PORT), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"journal: {PATH} ({count_lines()} records) on :{PORT}", flush=True)
server.serve_forever()
print("journal: stopped", flush=True)
sys.exit(0)

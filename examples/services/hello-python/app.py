"""A Runlet service in Python, standard library only: it serves HTTP on $PORT.

Everything it prints becomes a log line of the call it is serving.
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return self.answer(400, {"error": "the body is not JSON"})
        name = data.get("name", "world") if isinstance(data, dict) else "world"
        print(f"saying hello to {name}", flush=True)
        self.answer(200, {"hello": name, "path": self.path, "language": "python"})

    def answer(self, status, body):
        out = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass  # one line per request of our own above is enough


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()

"""Just enough of Flask's surface (``Flask``, ``request``, ``jsonify``, ``app.route``, ``app.run``)
on the standard library's http.server, so the seed's Flask example runs unchanged where Flask
cannot be installed. Each request is handled in a thread of its own, as Flask's dev server does.
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_local = threading.local()


class _Request:
    def get_json(self):
        body = _local.body
        return json.loads(body) if body else None


request = _Request()


def jsonify(value):
    return (json.dumps(value), 200)


class Flask:
    def __init__(self, name):
        self.name = name
        self.routes = {}

    def route(self, path, methods=("GET",)):
        def register(fn):
            for method in methods:
                self.routes[(method.upper(), path)] = fn
            return fn

        return register

    def run(self, debug=False, host="127.0.0.1", port=None):
        port = int(port or os.environ.get("PORT", 5000))
        app = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                fn = app.routes.get((self.command, self.path.split("?")[0]))
                length = int(self.headers.get("Content-Length") or 0)
                _local.body = self.rfile.read(length) if length else b""
                if fn is None:
                    body, status = json.dumps({"error": "not found"}), 404
                else:
                    result = fn()
                    body, status = (result if isinstance(result, tuple) else (result, 200))
                    if isinstance(body, tuple):  # jsonify(...), status
                        body = body[0]
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format, *args):
                if debug:
                    super().log_message(format, *args)

        server = ThreadingHTTPServer((host, port), Handler)
        print(f" * Running on http://{host}:{port}", flush=True)
        server.serve_forever()

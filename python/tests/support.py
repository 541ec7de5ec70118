"""What the tests need of the live server that ``packages/client/test/python-client.test.ts`` starts.

Run them through ``npm test`` (or that file alone): it starts the servers and hands their URLs
and keys over in the environment.
"""

import http.server
import os
import socket
import threading
import urllib.error
import urllib.request

URL = os.environ.get("RUNLET_TEST_URL")
KEY = os.environ.get("RUNLET_TEST_KEY")
#: A server whose sync limit is half a second, to meet real 504s.
SHORT_URL = os.environ.get("RUNLET_TEST_SHORT_SYNC_URL")
SHORT_KEY = os.environ.get("RUNLET_TEST_SHORT_SYNC_KEY")
_one_time = [k for k in os.environ.get("RUNLET_TEST_ONE_TIME_KEYS", "").split(",") if k]

if not (URL and KEY and SHORT_URL and SHORT_KEY):
    raise RuntimeError(
        "These tests need live servers: run them with `node --import tsx --test packages/client/test/python-client.test.ts` (or npm test)."
    )


def one_time_key() -> str:
    """A fresh one-time key (each is spent by its first run)."""
    if not _one_time:
        raise RuntimeError("no one-time keys left: ask python-client.test.ts for more")
    return _one_time.pop()


class CuttingProxy:
    """A TCP proxy in front of the server: ``cut_all()`` resets every open connection (a network
    failure, as the client sees it); ``requests`` lists each request line that went through."""

    def __init__(self, target_url: str) -> None:
        host_port = target_url.split("://", 1)[1].rstrip("/")
        host, port = host_port.rsplit(":", 1)
        self._target = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests = []
        self._sockets = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update({client, upstream})
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        head = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    head += data
                    while b"\r\n" in head:
                        line, head = head.split(b"\r\n", 1)
                        text = line.decode("latin-1")
                        parts = text.split(" ")
                        if len(parts) == 3 and parts[2].startswith("HTTP/1.") and parts[0].isupper():
                            self.requests.append(f"{parts[0]} {parts[1]}")
                    head = head[-8192:]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            try:
                # SO_LINGER 0: the close resets the connection, as a dropped network would; the
                # shutdown first wakes the pipe threads blocked reading it.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut_all()


class LosingProxy:
    """An HTTP proxy in front of the server that lets the server receive and answer the first
    ``times`` requests whose path starts with ``prefix``, but loses their answers: ``drop`` closes
    the connection without a word (a network failure, as the client sees it), ``gateway`` answers
    504 as a proxy that gave up waiting does. ``sent`` lists (method, path, Idempotency-Key)."""

    def __init__(self, target_url: str, prefix: str, mode: str = "drop", times: int = 1) -> None:
        proxy = self
        self.sent = []
        self._left = times
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.sent.append((self.command, self.path, self.headers.get("Idempotency-Key")))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
                upstream = urllib.request.Request(target_url + self.path, data=body, headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(upstream) as resp:
                        status, answer_headers, content = resp.status, resp.getheaders(), resp.read()
                except urllib.error.HTTPError as err:
                    status, answer_headers, content = err.code, list(err.headers.items()), err.read()
                with proxy._lock:
                    lose = self.path.startswith(prefix) and proxy._left > 0
                    if lose:
                        proxy._left -= 1
                if lose and mode == "drop":
                    self.close_connection = True
                    return
                if lose:
                    status, answer_headers, content = 504, [("Content-Type", "text/html")], b"<html>504 Gateway Time-out</html>"
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = forward

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def tries(self, prefix: str) -> list:
        """The requests to paths starting with ``prefix`` that reached the proxy."""
        return [s for s in self.sent if s[1].startswith(prefix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

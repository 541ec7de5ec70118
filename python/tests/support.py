"""What the tests need of the live server that ``packages/client/test/python-client.test.ts`` starts.

Run them through ``npm test`` (or that file alone): it starts the servers and hands their URLs
and keys over in the environment.
"""

import os
import socket
import threading

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

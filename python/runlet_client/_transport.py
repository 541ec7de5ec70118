"""Blocking HTTP over the standard library's http.client, with calls another thread can cancel.

The async client runs these calls in threads of their own; cancelling a task shuts the socket
of its call, which wakes the blocked read at once.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.parse
from typing import Iterator, Mapping, Optional, Tuple

from .errors import CodewordsError, TransportError
from .response import Response


class Cancelled(CodewordsError):
    """The call was cancelled from another thread."""


class Cancel:
    """A token to stop a blocking call from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._conn: Optional[http.client.HTTPConnection] = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def attach(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self._event.is_set():
                conn.close()
                raise Cancelled("cancelled")
            self._conn = conn

    def detach(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def sleep(self, seconds: float) -> None:
        """Waits, unless cancelled first (then raises ``Cancelled``)."""
        if self._event.wait(seconds):
            raise Cancelled("cancelled")

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


_NETWORK_ERRORS = (OSError, http.client.HTTPException)


def _connect(url: str, timeout: Optional[float]) -> Tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    return conn, target


def open_stream(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Optional[bytes] = None,
    *,
    timeout: Optional[float],
    cancel: Optional[Cancel] = None,
) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Sends a request and answers the connection and the response, its body not yet read."""
    conn, target = _connect(url, timeout)
    if cancel is not None:
        cancel.attach(conn)
    try:
        conn.request(method, target, body=body, headers=dict(headers))
        return conn, conn.getresponse()
    except BaseException as err:
        conn.close()
        if cancel is not None:
            cancel.detach(conn)
            if cancel.cancelled:
                raise Cancelled("cancelled") from err
        if isinstance(err, _NETWORK_ERRORS):
            raise TransportError(f"{method} {url}: {err!r}") from err
        raise


def request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Optional[bytes] = None,
    *,
    timeout: Optional[float],
    cancel: Optional[Cancel] = None,
) -> Response:
    """Sends a request and reads the whole answer."""
    conn, resp = open_stream(method, url, headers, body, timeout=timeout, cancel=cancel)
    try:
        content = resp.read()
    except _NETWORK_ERRORS as err:
        if cancel is not None and cancel.cancelled:
            raise Cancelled("cancelled") from err
        raise TransportError(f"{method} {url}: {err!r}") from err
    finally:
        conn.close()
        if cancel is not None:
            cancel.detach(conn)
    return Response(resp.status, dict(resp.getheaders()), content, url, reason_phrase=resp.reason)


def read_lines(
    conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, cancel: Optional[Cancel] = None
) -> Iterator[str]:
    """The lines of a streamed body (decoded, without line ends). Network failures become ``TransportError``."""
    try:
        while True:
            try:
                raw = resp.readline()
            except _NETWORK_ERRORS as err:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled("cancelled") from err
                raise TransportError(f"the stream broke: {err!r}") from err
            if not raw:
                if cancel is not None:
                    cancel.check()
                return
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
    finally:
        conn.close()
        if cancel is not None:
            cancel.detach(conn)

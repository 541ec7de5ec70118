"""The errors the client raises. Branch on the class, or on ``code`` (the runtime's stable error code)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .response import Response

AUTH_CODES = frozenset({"AUTH_MISSING", "AUTH_INVALID", "KEY_REVOKED", "KEY_SPENT"})


class CodewordsError(Exception):
    """Base of every error of this client."""


class TransportError(CodewordsError, ConnectionError):
    """The runtime could not be reached, or the connection dropped before an answer was complete."""


class HTTPStatusError(CodewordsError):
    """A non-2xx answer. ``status_code`` and ``body`` are the answer's; ``code`` is the runtime's error code,
    or None when the body is the service's own."""

    def __init__(
        self,
        message: str,
        *,
        response: "Response",
        code: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code
        self.body = response.text
        self.code = code
        self.request_id = request_id

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class AuthError(HTTPStatusError):
    """The API key is missing, unknown, revoked, or a spent one-time key (401/403)."""


class NotFoundError(HTTPStatusError):
    """No such service, request, file or endpoint (404 from the runtime itself)."""


class ServiceError(HTTPStatusError):
    """The service itself answered a non-2xx status: ``status_code`` and ``body`` are its own."""


class RunTimeoutError(CodewordsError, TimeoutError):
    """Waiting stopped before the run ended. The run goes on: its result will be at ``/result/{request_id}``."""

    def __init__(self, message: str, *, request_id: Optional[str] = None) -> None:
        CodewordsError.__init__(self, message)
        self.request_id = request_id


class SyncTimeoutError(HTTPStatusError, RunTimeoutError):
    """HTTP 504 ``SYNC_TIMEOUT``: the run passed the runtime's synchronous limit. It goes on; wait for it
    with ``client.poll_result(error.request_id)`` instead of starting it again."""


class RunFailedError(CodewordsError):
    """The run ended without an answer of the service: its worker crashed, it passed its time limit, ...
    (``code`` says which; ``record`` is the request record)."""

    def __init__(self, message: str, *, code: str, request_id: str, record: dict) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id
        self.record = record


def error_for_response(response: "Response") -> HTTPStatusError:
    """The error that a non-2xx answer stands for. A body without ``x-runlet-error`` is the service's own."""
    status = response.status_code
    kind = "Client" if status < 500 else "Server"
    head = f"{kind} error '{status} {response.reason_phrase}' for url '{response.url}'"
    code = response.headers.get("x-runlet-error")
    if code:
        try:
            body = json.loads(response.text)
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        request_id = body.get("request_id") or response.request_id
        message = f"{head}: {code}: {body.get('message', '')}"
        if code == "SYNC_TIMEOUT":
            return SyncTimeoutError(message + " (timeout)", response=response, code=code, request_id=request_id)
        if code in AUTH_CODES:
            return AuthError(message, response=response, code=code, request_id=request_id)
        if status == 404:
            return NotFoundError(message, response=response, code=code, request_id=request_id)
        return HTTPStatusError(message, response=response, code=code, request_id=request_id)
    text = response.text
    excerpt = text if len(text) <= 300 else text[:300] + "…"
    return ServiceError(f"{head}: {excerpt}" if excerpt else head, response=response, request_id=response.request_id)

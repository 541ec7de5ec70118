"""What a run answers: the service's status, headers and body."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Mapping, Optional


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class Response:
    """An HTTP answer, fully read. For a run it is the service's own answer: ``json()`` is what the
    service returned. Reads like an ``httpx.Response`` (``status_code``, ``text``, ``json()``,
    ``raise_for_status()``)."""

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        url: str = "",
        *,
        request_id: Optional[str] = None,
        record: Optional[dict] = None,
        reason_phrase: Optional[str] = None,
    ) -> None:
        self.status_code = status_code
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.content = content
        self.url = url
        self.reason_phrase = reason_phrase or _reason(status_code)
        self.request_id = request_id or self.headers.get("x-request-id")
        #: The request record, when this answer was read from a finished run's record.
        self.record = record

    @property
    def encoding(self) -> str:
        content_type = self.headers.get("content-type", "")
        for part in content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def ok(self) -> bool:
        return self.is_success

    def raise_for_status(self) -> "Response":
        """Raises the matching ``HTTPStatusError`` unless the status is 2xx; answers the response."""
        if not self.is_success:
            from .errors import error_for_response

            raise error_for_response(self)
        return self

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason_phrase}]>"

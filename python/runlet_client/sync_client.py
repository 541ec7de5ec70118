"""``CodewordsClient``: the blocking client, call for call like the official one."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Literal, Optional, Union, overload

from ._core import Core, Inputs, key_type_of
from .response import Response


class CodewordsResponse:
    """A run started in the background (``run(..., in_background=True)``)."""

    def __init__(self, request_id: str, client: "CodewordsClient") -> None:
        self.request_id = request_id
        self._client = client

    def __repr__(self) -> str:
        return f"CodewordsResponse(request_id={self.request_id})"

    def __str__(self) -> str:
        return self.request_id

    def result(self, timeout_seconds: float = 300) -> Response:
        """Waits for the run to end and answers the service's own response (``.json()``)."""
        return self._client.poll_result(self.request_id, timeout_seconds)

    def record(self, timeout_seconds: float = 300) -> dict:
        return self._client.wait_for_record(self.request_id, timeout_seconds)

    def details(self) -> dict:
        return self._client.get_request_details(self.request_id)

    def cancel(self) -> dict:
        return self._client.cancel(self.request_id)

    def logs(self) -> Iterator[dict]:
        return self._client.get_logs(self.request_id)


class CodewordsClient:
    """The blocking client. Same settings and methods as ``AsyncCodewordsClient``, without ``await``."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        default_timeout: float = 115.0,
        *,
        auth_scheme: str = "bearer",
        run_timeout: Optional[float] = 600.0,
    ) -> None:
        self._core = Core(base_url, api_key, default_timeout, auth_scheme, run_timeout)
        self.base_url = self._core.base_url
        self.api_key = self._core.api_key
        self.default_timeout = default_timeout

    def close(self) -> None:
        """Nothing to release; kept for ``with``."""

    def __enter__(self) -> "CodewordsClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_api_key_type(self) -> str:
        return key_type_of(self.api_key)

    def provision_request(self) -> str:
        return self._core.provision_request()

    @overload
    def run(
        self,
        service_id: str,
        inputs: Inputs = None,
        path: str = "",
        request_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
        in_background: Literal[False] = False,
        run_as_template: bool = False,
        callback_url: Optional[str] = None,
    ) -> Response: ...

    @overload
    def run(
        self,
        service_id: str,
        inputs: Inputs = None,
        path: str = "",
        request_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
        in_background: Literal[True] = True,
        run_as_template: bool = False,
        callback_url: Optional[str] = None,
    ) -> CodewordsResponse: ...

    def run(
        self,
        service_id: str,
        inputs: Inputs = None,
        path: str = "",
        request_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
        in_background: bool = False,
        run_as_template: bool = False,
        callback_url: Optional[str] = None,
    ) -> Union[Response, CodewordsResponse]:
        """See ``AsyncCodewordsClient.run``."""
        if callback_url and not in_background:
            raise ValueError("callback_url is for runs in the background (in_background=True)")
        if in_background:
            rid = request_id or self.provision_request()
            response = self._core.run("run_async", service_id, inputs, path, rid, correlation_id, run_as_template, callback_url=callback_url)
            return CodewordsResponse(response.json()["request_id"], self)
        return self._core.run("run", service_id, inputs, path, request_id, correlation_id, run_as_template)

    def handle(self, request_id: str) -> CodewordsResponse:
        return CodewordsResponse(request_id, self)

    def get_request_details(self, request_id: str) -> dict:
        return self._core.get_request_details(request_id)

    def cancel(self, request_id: str) -> dict:
        return self._core.cancel_run(request_id)

    def wait_for_record(self, request_id: str, timeout_seconds: float = 300) -> dict:
        return self._core.wait_for_record(request_id, timeout_seconds)

    def poll_result(self, request_id: str, timeout_seconds: float = 300, timeout: Optional[float] = None) -> Response:
        return self._core.poll_result(request_id, timeout if timeout is not None else timeout_seconds)

    def get_logs(self, request_id: str, after: Optional[str] = None) -> Iterator[dict]:
        return self._core.logs(request_id, after)

    @contextmanager
    def stream_logs(self, request_id: str) -> Iterator[Iterator[dict]]:
        """``with client.stream_logs(request_id) as logs: for line in logs: ...``"""
        lines = self.get_logs(request_id)
        try:
            yield lines
        finally:
            close = getattr(lines, "close", None)
            if close:
                close()

    def create_file_upload(self, filename: str) -> dict:
        return self._core.create_file_upload(filename)

    def upload_file_content(self, filename: str, file_content: Union[bytes, bytearray, str]) -> str:
        return self._core.upload_file_content(filename, file_content)

    def upload_file(self, file_path: str, filename: Optional[str] = None) -> str:
        return self._core.upload_file(file_path, filename)

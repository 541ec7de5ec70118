"""``AsyncCodewordsClient``: the asyncio client, call for call like the official ``codewords_client``."""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Literal, Optional, TypeVar, Union, overload

from ._core import Core, Inputs, key_type_of
from ._transport import Cancel
from .response import Response

T = TypeVar("T")
_END = object()


async def _in_thread(fn: Callable[[Cancel], T], cancel: Optional[Cancel] = None) -> T:
    """Runs a blocking call in a thread of its own; cancelling the task cancels the call (its socket
    is shut, so the thread ends at once rather than when the server answers)."""
    cancel = cancel or Cancel()
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(result: Any, error: Optional[BaseException]) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def target() -> None:
        result, error = None, None
        try:
            result = fn(cancel)
        except BaseException as err:  # handed to the awaiting task
            error = err
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop is gone: nobody is waiting any more

    threading.Thread(target=target, name="runlet-client-call", daemon=True).start()
    try:
        return await future
    except asyncio.CancelledError:
        cancel.cancel()
        raise


class AsyncCodewordsResponse:
    """A run started in the background (``run(..., in_background=True)``)."""

    def __init__(self, request_id: str, client: "AsyncCodewordsClient") -> None:
        self.request_id = request_id
        self._client = client

    def __repr__(self) -> str:
        return f"AsyncCodewordsResponse(request_id={self.request_id})"

    def __str__(self) -> str:
        return self.request_id

    async def result(self, timeout_seconds: float = 300) -> Response:
        """Waits for the run to end and answers the service's own response: ``.json()`` is what the
        service returned. Raises ``RunTimeoutError`` (with ``request_id``) after ``timeout_seconds``,
        ``ServiceError`` when the service answered non-2xx, ``RunFailedError`` when it crashed."""
        return await self._client.poll_result(self.request_id, timeout_seconds)

    async def record(self, timeout_seconds: float = 300) -> dict:
        """Waits for the run to end and answers its request record."""
        return await self._client.wait_for_record(self.request_id, timeout_seconds)

    async def details(self) -> dict:
        """The request record now."""
        return await self._client.get_request_details(self.request_id)

    async def cancel(self) -> dict:
        """Cancels the run (see ``AsyncCodewordsClient.cancel``) and answers its record."""
        return await self._client.cancel(self.request_id)

    def logs(self) -> AsyncIterator[dict]:
        """The run's log lines, live until it ends, resuming after dropped connections."""
        return self._client.get_logs(self.request_id)


class AsyncCodewordsClient:
    """A client of a Runlet (or CodeWords) runtime for asyncio code.

    ``base_url`` defaults to ``CODEWORDS_RUNTIME_URI``, then ``RUNLET_URL``, then ``RUNTIME_URI``,
    then http://127.0.0.1:8080; ``api_key`` to ``CODEWORDS_API_KEY``, then ``RUNLET_API_KEY``.

    Example::

        async with AsyncCodewordsClient() as client:
            response = await client.run(service_id="echo", inputs={"text": "hi"})
            print(response.json())
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        default_timeout: float = 115.0,
        *,
        auth_scheme: str = "bearer",
        run_timeout: Optional[float] = 600.0,
    ) -> None:
        """``default_timeout`` bounds each control call (seconds); ``run_timeout`` a synchronous run
        (the runtime answers 504 at its own sync limit, two minutes by default, before that);
        ``auth_scheme='bare'`` sends the key without ``Bearer``, as the official clients do."""
        self._core = Core(base_url, api_key, default_timeout, auth_scheme, run_timeout)
        self.base_url = self._core.base_url
        self.api_key = self._core.api_key
        self.default_timeout = default_timeout

    async def close(self) -> None:
        """Nothing to release: every call has its own connection. Kept for ``async with``."""

    async def __aenter__(self) -> "AsyncCodewordsClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def get_api_key_type(self) -> str:
        """``standard`` (``cwk-``), ``one_time`` (``cwotk-``) or ``unknown``."""
        return key_type_of(self.api_key)

    async def provision_request(self) -> str:
        """A request id for a run yet to start (``run(..., request_id=...)``)."""
        return await _in_thread(self._core.provision_request)

    @overload
    async def run(
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
    async def run(
        self,
        service_id: str,
        inputs: Inputs = None,
        path: str = "",
        request_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
        in_background: Literal[True] = True,
        run_as_template: bool = False,
        callback_url: Optional[str] = None,
    ) -> AsyncCodewordsResponse: ...

    async def run(
        self,
        service_id: str,
        inputs: Inputs = None,
        path: str = "",
        request_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
        in_background: bool = False,
        run_as_template: bool = False,
        callback_url: Optional[str] = None,
    ) -> Union[Response, AsyncCodewordsResponse]:
        """Runs a service. Synchronously (default): answers the service's response, and raises
        ``HTTPStatusError`` for a non-2xx one (``SyncTimeoutError``, a ``TimeoutError``, with the
        ``request_id`` on 504). With ``in_background=True``: provisions a request id, starts the run
        with it, and answers a handle (``request_id``, ``result()``, ``logs()``, ``details()``)."""
        if callback_url and not in_background:
            raise ValueError("callback_url is for runs in the background (in_background=True)")
        if in_background:
            rid = request_id or await self.provision_request()
            response = await _in_thread(
                lambda c: self._core.run("run_async", service_id, inputs, path, rid, correlation_id, run_as_template, c, callback_url=callback_url)
            )
            return AsyncCodewordsResponse(response.json()["request_id"], self)
        return await _in_thread(
            lambda c: self._core.run("run", service_id, inputs, path, request_id, correlation_id, run_as_template, c)
        )

    def handle(self, request_id: str) -> AsyncCodewordsResponse:
        """A handle on a run started earlier."""
        return AsyncCodewordsResponse(request_id, self)

    async def get_request_details(self, request_id: str) -> dict:
        """The request record now."""
        return await _in_thread(lambda c: self._core.get_request_details(request_id, c))

    async def cancel(self, request_id: str) -> dict:
        """Cancels a run: one not started never starts, a running one has its worker stopped.
        Answers the cancelled record; ``HTTPStatusError`` with code ``RUN_ALREADY_ENDED`` (409) when the
        run had already ended otherwise."""
        return await _in_thread(lambda c: self._core.cancel_run(request_id, c))

    async def wait_for_record(self, request_id: str, timeout_seconds: float = 300) -> dict:
        """Waits for the run to end and answers its request record."""
        return await _in_thread(lambda c: self._core.wait_for_record(request_id, timeout_seconds, c))

    async def poll_result(self, request_id: str, timeout_seconds: float = 300, timeout: Optional[float] = None) -> Response:
        """Waits for the run to end (long-polling, at most 110 s a poll) and answers the service's response."""
        limit = timeout if timeout is not None else timeout_seconds
        return await _in_thread(lambda c: self._core.poll_result(request_id, limit, c))

    async def get_logs(self, request_id: str, after: Optional[str] = None) -> AsyncIterator[dict]:
        """The run's log lines (dicts), stored then live, until the run ends; resumes after a dropped
        connection with no gap or repeat."""
        cancel = Cancel()
        lines = self._core.logs(request_id, after, cancel)
        try:
            while True:
                line = await _in_thread(lambda _c: next(lines, _END), cancel)
                if line is _END:
                    return
                yield line
        finally:
            cancel.cancel()

    @asynccontextmanager
    async def stream_logs(self, request_id: str) -> AsyncIterator[AsyncIterator[dict]]:
        """``async with client.stream_logs(request_id) as logs: async for line in logs: ...``"""
        lines = self.get_logs(request_id)
        try:
            yield lines
        finally:
            await lines.aclose()

    async def create_file_upload(self, filename: str) -> dict:
        """``POST /file?filename=``: ``{"upload_uri", "download_uri", ...}``."""
        return await _in_thread(lambda c: self._core.create_file_upload(filename, c))

    async def upload_file_content(self, filename: str, file_content: Union[bytes, bytearray, str]) -> str:
        """Uploads bytes and answers their download URL (to pass to a service as input)."""
        return await _in_thread(lambda c: self._core.upload_file_content(filename, file_content, c))

    async def upload_file(self, file_path: str, filename: Optional[str] = None) -> str:
        """Uploads a local file and answers its download URL."""
        return await _in_thread(lambda c: self._core.upload_file(file_path, filename, c))

"""What both clients do, written once as blocking calls: the async client runs them in threads."""

from __future__ import annotations

import json
import math
import os
import time
import urllib.parse
import uuid
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

from . import _transport
from ._transport import Cancel
from .errors import RunFailedError, RunTimeoutError, ServiceError, TransportError, error_for_response
from .response import Response

#: Runlet's own default address (``runlet dev``).
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
#: The longest single ``/result`` long-poll, in seconds (what the official client uses: under
#: the two-minute limit of common gateways).
POLL_SECONDS = 110
#: Failed polls or log connections in a row (network errors, gateway 502/503/504, the runtime's
#: 503s to retry) before giving up.
MAX_FAILURES = 8
#: Tries of a call that starts work (run, provision), or of a read, before its error is raised.
#: Every try of a call carries its one ``Idempotency-Key``, so a retry cannot start the work
#: again; a few tries ride out a dropped connection or a restarting proxy without hiding a real
#: outage.
MAX_SEND_TRIES = 4
#: A log stream that brings nothing, not even a heartbeat (every 15 s), for this long is reopened.
LOG_IDLE_SECONDS = 60.0

TERMINAL = frozenset({"completed", "failed", "timed_out", "cancelled"})

Inputs = Union[Dict[str, Any], list, str, bytes, bytearray, int, float, bool, None]


def resolve_base_url(base_url: Optional[str]) -> str:
    url = (
        base_url
        or os.environ.get("CODEWORDS_RUNTIME_URI")
        or os.environ.get("RUNLET_URL")
        or os.environ.get("RUNTIME_URI")
        or DEFAULT_BASE_URL
    )
    return url.rstrip("/")


def resolve_api_key(api_key: Optional[str]) -> str:
    key = api_key or os.environ.get("CODEWORDS_API_KEY") or os.environ.get("RUNLET_API_KEY")
    if not key:
        raise ValueError("CODEWORDS_API_KEY is not set (pass api_key=, or set CODEWORDS_API_KEY or RUNLET_API_KEY)")
    return key


def key_type_of(key: str) -> str:
    if key.startswith("cwotk-"):
        return "one_time"
    if key.startswith("cwk-"):
        return "standard"
    return "unknown"


def encode_inputs(inputs: Inputs) -> Tuple[Optional[bytes], Optional[str]]:
    """Bytes go as they are; everything else as JSON (as the official client sends it)."""
    if inputs is None:
        return None, None
    if isinstance(inputs, (bytes, bytearray)):
        return bytes(inputs), "application/octet-stream"
    return json.dumps(inputs).encode("utf-8"), "application/json"


#: The runtime's own refusals that say nothing was carried out and to try again shortly.
RETRYABLE_RUNTIME_CODES = frozenset({"STORE_UNAVAILABLE", "SHUTTING_DOWN"})
#: The longest ``Retry-After`` honoured, in seconds.
MAX_RETRY_AFTER = 30.0


def backoff(attempt: int) -> float:
    """Exponential: 0.25 s, 0.5 s, 1 s, ... up to 5 s."""
    return min(5.0, 0.25 * 2 ** max(0, attempt - 1))


def retry_delay(response: Response, attempt: int) -> Optional[float]:
    """Seconds to wait before sending ``response``'s request again, or None when it is the answer.

    Two kinds of answer are tried again: a 502/503/504 from something between the client and the
    runtime (a proxy, a load balancer), which carries neither the runtime's error mark nor a run's
    ``X-Request-Id``; and the runtime's own 503 refusing a request it did not carry out (its store
    out of reach, or the node shutting down), after the ``Retry-After`` it names."""
    headers = response.headers  # lower-cased names
    if response.status_code not in (502, 503, 504) or "x-request-id" in headers:
        return None
    code = headers.get("x-runlet-error")
    if code is None:
        return backoff(attempt)
    if response.status_code != 503 or code not in RETRYABLE_RUNTIME_CODES:
        return None
    try:
        seconds = float(headers.get("retry-after", ""))
    except ValueError:
        return backoff(attempt)
    return min(seconds, MAX_RETRY_AFTER) if seconds > 0 else backoff(attempt)


def response_from_record(record: dict) -> Response:
    """The service's answer kept in a finished run's record, or the error the run ended with."""
    request_id = record.get("id")
    if record.get("status") == "completed" and record.get("responseStatus") is not None:
        status = int(record["responseStatus"])
        if "responseJson" in record:
            content = json.dumps(record["responseJson"]).encode("utf-8")
        else:
            content = (record.get("responseContent") or "").encode("utf-8")
        headers = {"content-type": record["responseContentType"]} if record.get("responseContentType") else {}
        response = Response(status, headers, content, f"/result/{request_id}", request_id=request_id, record=record)
        if not response.is_success:
            excerpt = response.text[:300]
            raise ServiceError(
                f"Service error '{status} {response.reason_phrase}' for run {request_id}: {excerpt}",
                response=response,
                request_id=request_id,
            )
        return response
    code = record.get("errorCode") or str(record.get("status", "failed")).upper()
    raise RunFailedError(
        f"Run {request_id} {record.get('status')}: {code}: {record.get('error') or ''}",
        code=code,
        request_id=request_id or "",
        record=record,
    )


class Core:
    """One runtime, one key: every call of the API, blocking."""

    def __init__(
        self,
        base_url: Optional[str],
        api_key: Optional[str],
        default_timeout: float,
        auth_scheme: str,
        run_timeout: Optional[float],
    ) -> None:
        if auth_scheme not in ("bearer", "bare"):
            raise ValueError("auth_scheme must be 'bearer' or 'bare'")
        self.base_url = resolve_base_url(base_url)
        self.api_key = resolve_api_key(api_key)
        self.default_timeout = default_timeout
        self.auth_scheme = auth_scheme
        self.run_timeout = run_timeout

    # -- plumbing -------------------------------------------------------------------------

    def headers(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        auth = self.api_key if self.auth_scheme == "bare" else f"Bearer {self.api_key}"
        headers = {"Authorization": auth, "User-Agent": "runlet-client-python"}
        if extra:
            headers.update(extra)
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[float] = None,
        cancel: Optional[Cancel] = None,
    ) -> Response:
        return _transport.request(
            method,
            self.base_url + path,
            self.headers(headers),
            body,
            timeout=self.default_timeout if timeout is None else timeout,
            cancel=cancel,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        """A call that must answer 2xx; anything else raises the matching error. A read is retried
        as ``retrying`` says."""
        if method == "GET":
            return self.retrying(method, path, **kwargs).raise_for_status()
        return self.request(method, path, **kwargs).raise_for_status()

    def send_once(self, method: str, path: str, headers: Optional[Mapping[str, str]] = None, **kwargs: Any) -> Response:
        """A call that starts work, with one fresh ``Idempotency-Key`` on every try (see
        ``retrying``): the runtime answers a try that follows one it received with the run that
        one started."""
        return self.retrying(method, path, headers={"Idempotency-Key": uuid.uuid4().hex, **(headers or {})}, **kwargs)

    def retrying(self, method: str, path: str, **kwargs: Any) -> Response:
        """Sends a request that is safe to send again (a read, or a call with an idempotency key)
        until its answer is final: after a network error, a gateway's 502/503/504 or the runtime's
        own "unavailable, retry" (``retry_delay``) it is sent again, up to ``MAX_SEND_TRIES``
        tries. A request that passed its own ``timeout`` is not tried again: the caller's limit
        is the caller's."""
        tries = 0
        while True:
            tries += 1
            delay = backoff(tries)
            try:
                response = self.request(method, path, **kwargs)
                answer_delay = retry_delay(response, tries)
                if answer_delay is None or tries >= MAX_SEND_TRIES:
                    return response
                delay = answer_delay
            except TransportError as err:
                if isinstance(err.__cause__, TimeoutError) or tries >= MAX_SEND_TRIES:
                    raise
            (kwargs.get("cancel") or Cancel()).sleep(delay)

    # -- runs -----------------------------------------------------------------------------

    def provision_request(self, cancel: Optional[Cancel] = None) -> str:
        return self.send_once("POST", "/provision-request", cancel=cancel).raise_for_status().json()["request_id"]

    def run(
        self,
        mode: str,
        service_id: str,
        inputs: Inputs,
        path: str,
        request_id: Optional[str],
        correlation_id: Optional[str],
        run_as_template: bool,
        cancel: Optional[Cancel] = None,
        callback_url: Optional[str] = None,
    ) -> Response:
        body, content_type = encode_inputs(inputs)
        headers: Dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        if request_id:
            headers["X-Provisioned-Request-Id"] = request_id
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        if run_as_template:
            headers["Run-As-Template"] = "yes"
        if callback_url:
            headers["X-Callback-Url"] = callback_url
        sub_path = urllib.parse.quote(path.lstrip("/"), safe="/?=&%")
        url = f"/{mode}/{urllib.parse.quote(service_id, safe='')}/{sub_path}"
        timeout = self.run_timeout if mode == "run" else None
        response = self.send_once("POST", url, headers=headers, body=body, timeout=timeout, cancel=cancel)
        return response.raise_for_status()

    def get_request_details(self, request_id: str, cancel: Optional[Cancel] = None) -> dict:
        return self.call("GET", f"/request/{urllib.parse.quote(request_id, safe='')}", cancel=cancel).json()

    def cancel_run(self, request_id: str, cancel: Optional[Cancel] = None) -> dict:
        return self.call("POST", f"/cancel/{urllib.parse.quote(request_id, safe='')}", cancel=cancel).json()

    def wait_for_record(self, request_id: str, timeout_seconds: float, cancel: Optional[Cancel] = None) -> dict:
        """Long-polls ``/result`` (in seconds, at most 110 a poll) until the run ends; riding out 408s,
        gateway timeouts and dropped connections. Raises ``RunTimeoutError`` at ``timeout_seconds``."""
        deadline = time.monotonic() + timeout_seconds

        def pause(seconds: float) -> None:
            # A wait between two polls ends at the deadline too: the caller's limit is the caller's.
            (cancel or Cancel()).sleep(max(0.0, min(seconds, deadline - time.monotonic())))

        failures = 0
        path = f"/result/{urllib.parse.quote(request_id, safe='')}"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunTimeoutError(
                    f"Polling timed out after {timeout_seconds} seconds: run {request_id} has not finished "
                    f"(it goes on; its result will be at /result/{request_id})",
                    request_id=request_id,
                )
            wait = max(1, min(POLL_SECONDS, math.ceil(left)))
            try:
                response = self.request("GET", f"{path}?timeout={wait}", timeout=wait + 30, cancel=cancel)
            except TransportError:
                failures += 1
                if failures > MAX_FAILURES:
                    raise
                pause(backoff(failures))
                continue
            if response.status_code == 200:
                return response.json()
            if response.status_code == 408:
                failures = 0
                continue
            delay = retry_delay(response, failures + 1)
            if delay is not None and failures < MAX_FAILURES:
                failures += 1
                pause(delay)
                continue
            raise error_for_response(response)

    def poll_result(self, request_id: str, timeout_seconds: float, cancel: Optional[Cancel] = None) -> Response:
        return response_from_record(self.wait_for_record(request_id, timeout_seconds, cancel))

    # -- logs -----------------------------------------------------------------------------

    def logs(self, request_id: str, after: Optional[str] = None, cancel: Optional[Cancel] = None) -> Iterator[dict]:
        """The run's log lines, stored then live, until the run ends. A dropped connection is reopened
        with ``after=<createdAt of the last line>``: ``createdAt`` strictly increases within a run,
        so nothing is lost or repeated (lines are also checked by ``seq``)."""
        cancel = cancel or Cancel()
        last_seq = 0
        failures = 0
        path = f"/logs/{urllib.parse.quote(request_id, safe='')}"
        while True:
            query = f"?after={urllib.parse.quote(after)}" if after else ""
            try:
                conn, resp = _transport.open_stream(
                    "GET",
                    self.base_url + path + query,
                    self.headers({"Accept": "application/x-ndjson"}),
                    timeout=LOG_IDLE_SECONDS,
                    cancel=cancel,
                )
                if resp.status != 200:
                    content = resp.read()
                    conn.close()
                    cancel.detach(conn)
                    refused = Response(resp.status, dict(resp.getheaders()), content, self.base_url + path)
                    delay = retry_delay(refused, failures + 1)
                    if delay is None or failures >= MAX_FAILURES:
                        raise error_for_response(refused)
                    failures += 1
                    cancel.sleep(delay)
                    continue
                for text in _transport.read_lines(conn, resp, cancel):
                    if not text.strip():
                        continue
                    try:
                        line = json.loads(text)
                    except ValueError:
                        yield {"rawText": text}
                        continue
                    seq = line.get("seq") if isinstance(line, dict) else None
                    if isinstance(seq, int):
                        if seq <= last_seq:
                            continue
                        last_seq = seq
                    if isinstance(line, dict) and isinstance(line.get("createdAt"), str):
                        after = line["createdAt"]
                    failures = 0
                    yield line
                if self.get_request_details(request_id, cancel=cancel).get("status") in TERMINAL:
                    return
                # Ended cleanly but the run goes on (a proxy cut it): reopen where it stopped.
                failures += 1
                if failures > MAX_FAILURES:
                    raise TransportError("the log stream kept ending before the run did")
            except _transport.Cancelled:
                return
            except TransportError:
                if cancel.cancelled:
                    return
                failures += 1
                if failures > MAX_FAILURES:
                    raise
            try:
                cancel.sleep(min(2.0, 0.1 * 2 ** (failures - 1)))
            except _transport.Cancelled:
                return

    # -- files ----------------------------------------------------------------------------

    def create_file_upload(self, filename: str, cancel: Optional[Cancel] = None) -> dict:
        return self.call("POST", f"/file?filename={urllib.parse.quote(filename, safe='')}", cancel=cancel).json()

    def upload_file_content(
        self, filename: str, file_content: Union[bytes, bytearray, str], cancel: Optional[Cancel] = None
    ) -> str:
        urls = self.create_file_upload(filename, cancel)
        upload_uri = urllib.parse.urljoin(self.base_url + "/", urls["upload_uri"])
        content = file_content.encode("utf-8") if isinstance(file_content, str) else bytes(file_content)
        # The upload URL is a capability of its own (possibly S3's): it gets no Authorization header.
        response = _transport.request(
            "PUT",
            upload_uri,
            {"Content-Type": "application/octet-stream", "x-amz-acl": "public-read"},
            content,
            timeout=600,
            cancel=cancel,
        )
        response.raise_for_status()
        return urllib.parse.urljoin(self.base_url + "/", urls["download_uri"])

    def upload_file(self, file_path: str, filename: Optional[str], cancel: Optional[Cancel] = None) -> str:
        with open(file_path, "rb") as f:
            content = f.read()
        return self.upload_file_content(filename or os.path.basename(file_path), content, cancel)

"""Checks completion webhooks from Runlet, signed per Standard Webhooks
(https://www.standardwebhooks.com): ``webhook-signature`` holds ``v1,<base64 HMAC-SHA256>`` of
``webhook-id.webhook-timestamp.body``, keyed with the account's ``whsec_`` secret (from
``GET /account/webhook-secret``). Standard library only."""

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Mapping, Optional, Union

DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """The webhook's signature, id or timestamp does not hold: do not trust its body."""


def _header(headers: Mapping[str, Any], name: str) -> Optional[str]:
    # Header names are case-insensitive; plain dicts (and WSGI environs turned into dicts) are not.
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, (list, tuple)) else value
    return None


def verify_webhook(
    secret: str,
    headers: Mapping[str, Any],
    body: Union[str, bytes],
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: Optional[float] = None,
) -> dict:
    """Verifies a webhook and answers the request record it carries (a dict); raises
    ``WebhookVerificationError`` when it does not verify. Pass the body exactly as received.

    Example::

        record = verify_webhook(os.environ["RUNLET_WEBHOOK_SECRET"], request.headers, request.body)
        print(record["id"], record["status"])
    """
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not timestamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not a number of seconds")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is too far from now")
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    except binascii.Error as err:
        raise WebhookVerificationError("the secret is not valid base64") from err
    expected = hmac.new(key, f"{msg_id}.{timestamp}.{text}".encode("utf-8"), hashlib.sha256).digest()
    # Several signatures may be sent (while a secret is rotated): one that matches is enough.
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(signature, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(given, expected):
            return json.loads(text)
    raise WebhookVerificationError("no signature matches")

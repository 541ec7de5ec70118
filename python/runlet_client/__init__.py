"""Runlet's Python client: ``AsyncCodewordsClient`` and ``CodewordsClient``, compatible with the
official ``codewords_client`` (change the import line), standard library only."""

from ._core import DEFAULT_BASE_URL
from .async_client import AsyncCodewordsClient, AsyncCodewordsResponse
from .errors import (
    AuthError,
    CodewordsError,
    HTTPStatusError,
    NotFoundError,
    RunFailedError,
    RunTimeoutError,
    ServiceError,
    SyncTimeoutError,
    TransportError,
)
from .response import Response
from .sync_client import CodewordsClient, CodewordsResponse
from .webhooks import WebhookVerificationError, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "AsyncCodewordsClient",
    "AsyncCodewordsResponse",
    "AuthError",
    "CodewordsClient",
    "CodewordsError",
    "CodewordsResponse",
    "DEFAULT_BASE_URL",
    "HTTPStatusError",
    "NotFoundError",
    "Response",
    "RunFailedError",
    "RunTimeoutError",
    "ServiceError",
    "SyncTimeoutError",
    "TransportError",
    "WebhookVerificationError",
    "verify_webhook",
]

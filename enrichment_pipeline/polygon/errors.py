"""Typed errors of the Polygon client. Messages name the endpoint and the vendor's words,
never the API key (the client scrubs it from anything the vendor echoes)."""

from __future__ import annotations


class PolygonError(Exception):
    """Base of every error the Polygon client raises."""

    def __init__(self, message: str, *, endpoint: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status_code = status_code


class PolygonRequestError(PolygonError):
    """A 4xx answer that retrying cannot fix (400, 404, ...)."""


class PolygonAuthError(PolygonRequestError):
    """401 (bad or missing key) or 403 (plan not entitled)."""


class PolygonNotFoundError(PolygonRequestError):
    """404: the path or the resource does not exist."""


class PolygonRetriesExhaustedError(PolygonError):
    """Every attempt met a retryable failure (429, 5xx, timeout, connection error, bad body)."""


class PolygonProtocolError(PolygonError):
    """The answer breaks the contract: unparseable JSON, a pagination loop, a foreign next_url."""


class PolygonMalformedResponseError(PolygonProtocolError):
    """Bodies that stayed unparseable (malformed or truncated JSON) through every attempt: unlike
    a pagination loop or a foreign next_url, this can clear up, so a later step retry may help."""


class RetryableResponse(Exception):
    """Internal: a failed attempt worth retrying, with the vendor's Retry-After if any."""

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after

"""Reads a learner's user from the platform's query API (scope reports:read), for the adapter's
`/user/verify` and `/user/me`.

It signs in with the client's credentials (its own token cache, dropped and fetched again once on
a 401) and reads `GET /api/v1/users/verify` and `/api/v1/users/profile`. A user the platform does
not know is `UserNotFoundError`, several with the e-mail `UserAmbiguousError`, anything else the
platform answers or a network failure `PlatformQueryError`. Each request waits at most
`request_timeout` seconds.
"""

from __future__ import annotations

from typing import Any

import httpx

from timeledger.sdk.auth import TokenCache
from timeledger.sdk.clock import Clock, SystemClock
from timeledger.sdk.errors import DeliveryError, TimeledgerError
from timeledger.sdk.sender import drive

DEFAULT_TIMEOUT_S = 10.0


class PlatformQueryError(TimeledgerError):
    """The platform could not answer (network, outage, refused credentials or request)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UserNotFoundError(TimeledgerError, LookupError):
    """No user has the e-mail."""


class UserAmbiguousError(TimeledgerError, LookupError):
    """More than one user has the e-mail."""


class PlatformQueries:
    """The query API as the adapter reads it, over one httpx client (thread-safe for reads)."""

    def __init__(self, base_url: str, *, client_id: str | None = None,
                 client_secret: str | None = None, token_url: str | None = None,
                 clock: Clock | None = None, transport: httpx.BaseTransport | None = None,
                 request_timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = TokenCache(token_url or self.base_url + "/oauth2/token", client_id,
                                  client_secret, clock or SystemClock())
        self._http = httpx.Client(transport=transport, timeout=request_timeout)

    @classmethod
    def for_client(cls, client: Any) -> PlatformQueries:
        """Queries with a `timeledger.Client`'s platform, credentials and clock."""
        options = client.options
        return cls(options.base_url, client_id=options.client_id,
                   client_secret=options.client_secret, token_url=options.token_url,
                   clock=getattr(client, "clock", None), request_timeout=options.request_timeout)

    def verify_user(self, email: str) -> dict[str, Any]:
        """`{"verified": true, "timebackId"}` or `{"verified": false}`."""
        return self._get("/api/v1/users/verify", email)

    def user_profile(self, email: str) -> dict[str, Any]:
        """`{id, email, name, school, grade, courses, goals, xp: {today, all}}`."""
        return self._get("/api/v1/users/profile", email)

    def close(self) -> None:
        self._http.close()

    def _token(self) -> str | None:
        try:
            return drive(self._tokens.token(), self._http)
        except DeliveryError as exc:
            raise PlatformQueryError(str(exc), exc.status) from None

    def _get(self, path: str, email: str) -> dict[str, Any]:
        for attempt in (1, 2):
            token = self._token()
            headers = {"Accept": "application/json"}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            try:
                reply = self._http.get(self.base_url + path, params={"email": email},
                                       headers=headers)
            except httpx.HTTPError as exc:
                raise PlatformQueryError(f"Network error: {type(exc).__name__}: {exc}") from None
            if reply.status_code == 401 and attempt == 1:
                self._tokens.invalidate(token)
                continue
            return _answer(reply)
        raise AssertionError("unreachable")  # pragma: no cover


def _answer(reply: httpx.Response) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        body = None
    description = body.get("imsx_description") if isinstance(body, dict) else None
    message = description if isinstance(description, str) else f"HTTP {reply.status_code}"
    if reply.status_code == 200 and isinstance(body, dict):
        return body
    if reply.status_code == 404:
        raise UserNotFoundError(message)
    if reply.status_code == 409:
        raise UserAmbiguousError(message)
    raise PlatformQueryError(f"The platform answered HTTP {reply.status_code}: {message}",
                             reply.status_code)

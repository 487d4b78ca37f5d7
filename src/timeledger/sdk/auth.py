"""The OAuth2 token cache: fetch with client credentials, refresh before expiry, drop on a 401."""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

from timeledger.sdk.clock import Clock
from timeledger.sdk.wire import HttpReply, HttpRequest, token_from, token_request

T = TypeVar("T")
Exchange = Generator[HttpRequest, HttpReply, T]
"""A sans-IO conversation: yields requests, is sent their replies, returns a result."""

REFRESH_MARGIN = 60.0


class TokenCache:
    """Holds one bearer token; without credentials it yields no token (an open platform)."""

    def __init__(self, token_url: str, client_id: str | None, client_secret: str | None,
                 clock: Clock, margin: float = REFRESH_MARGIN) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.margin = margin
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    @property
    def enabled(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def token(self) -> Exchange[str | None]:
        """A valid token, fetching a new one when none is cached or it expires within ~60 s."""
        if not self.enabled:
            return None
        if self._token is not None and self.clock.monotonic() < self._refresh_at:
            return self._token
        assert self.client_id is not None and self.client_secret is not None
        reply = yield token_request(self.token_url, self.client_id, self.client_secret)
        token, expires_in = token_from(reply)
        self.fetches += 1
        self._token = token
        self._refresh_at = self.clock.monotonic() + expires_in - min(self.margin, expires_in / 2)
        return token

    def invalidate(self, token: str | None) -> None:
        """Forget `token` (after a 401), so the next call fetches a fresh one."""
        if token is not None and token == self._token:
            self._token = None

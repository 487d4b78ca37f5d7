"""The Caliper API as plain data (sans-IO): requests to make, replies to classify, envelopes."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlencode

import orjson

from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT
from timeledger.caliper.times import format_utc
from timeledger.sdk.errors import (
    AuthError,
    DeliveryError,
    RejectedError,
    TransientDeliveryError,
)

RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True, slots=True)
class HttpReply:
    """What came back: a status with headers and body, or (status None) a network failure."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""
    failure: str | None = None

    def json(self) -> Any:
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError:
            return None


def envelope_bytes(sensor: str, bodies: Sequence[bytes], send_time: datetime) -> bytes:
    """A Caliper envelope around already-serialized events (no re-encoding of the events)."""
    head = orjson.dumps({"sensor": sensor, "sendTime": format_utc(send_time),
                         "dataVersion": CALIPER_CONTEXT})
    return head[:-1] + b',"data":[' + b",".join(bodies) + b"]}"


def event_request(url: str, token: str | None, content: bytes) -> HttpRequest:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return HttpRequest("POST", url, headers, content)


def token_request(url: str, client_id: str, client_secret: str) -> HttpRequest:
    """OAuth2 client credentials, the secret as HTTP Basic auth."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
    return HttpRequest("POST", url, {"Authorization": f"Basic {basic}",
                                     "Content-Type": "application/x-www-form-urlencoded",
                                     "Accept": "application/json"},
                       urlencode({"grant_type": "client_credentials"}).encode())


Verdict = Literal["ok", "unauthorized", "outage", "misdirected", "failing", "too_large",
                  "rejected"]
REFUSING_STATUSES = frozenset({400, 409, 422})


def _has_retry_after(reply: HttpReply) -> bool:
    return any(key.lower() == "retry-after" for key in reply.headers)


def verdict(reply: HttpReply) -> Verdict:
    """What a reply to POST /caliper/event means for the events it carried.

    - `outage`: the platform cannot take anything now (network, 408, 429, 503, any Retry-After);
    - `misdirected`: the request cannot work as configured (403, 404, 405, 415...), whatever
      events it carries;
    - `failing`: another 5xx, which one event of the envelope may cause;
    - `too_large`: 413, the envelope is too big (an event alone may be too);
    - `rejected`: the platform refused events of the envelope (400, 409, 422).
    """
    status = reply.status
    if status is None or status in RETRYABLE_STATUSES or status == 503:
        return "outage"
    if 200 <= status < 300:
        return "ok"
    if status == 401:
        return "unauthorized"
    if status >= 500:
        return "outage" if _has_retry_after(reply) else "failing"
    if status == 413:
        return "too_large"
    if status in REFUSING_STATUSES:
        return "rejected"
    return "misdirected"


def refused_indexes(reply: HttpReply) -> set[int] | None:
    """The events a refusal names (`data[i]...` paths), or None when it names the envelope."""
    body = reply.json()
    details = body.get("imsx_error_details") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details:
        return None
    named: set[int] = set()
    for item in details:
        path = item.get("path") if isinstance(item, dict) else None
        head = path.partition("]")[0] if isinstance(path, str) else ""
        if not head.startswith("data[") or not head[5:].isdigit():
            return None
        named.add(int(head[5:]))
    return named


def delivery_error(reply: HttpReply) -> DeliveryError:
    """The error an `on_error` callback receives for this reply."""
    if reply.status is None:
        return TransientDeliveryError(f"Network error: {reply.failure}")
    body = reply.json()
    description: str | None = None
    details: list[Mapping[str, Any]] = []
    if isinstance(body, dict):
        text = body.get("imsx_description") or body.get("error_description") or body.get("error")
        description = text if isinstance(text, str) else None
        raw_details = body.get("imsx_error_details")
        if isinstance(raw_details, list):
            details = [item for item in raw_details if isinstance(item, dict)]
    message = f"HTTP {reply.status}" + (f": {description}" if description else "")
    if details:
        first = details[0]
        message += f" ({first.get('path')}: {first.get('message')})"
    kind: type[DeliveryError]
    match verdict(reply):
        case "rejected" | "too_large":
            kind = RejectedError
        case "unauthorized":
            kind = AuthError
        case "misdirected" if reply.status == 403:
            kind = AuthError
        case _:
            kind = TransientDeliveryError
    return kind(message, status=reply.status, description=description, details=details)


def retry_after(reply: HttpReply, now: datetime) -> float | None:
    """Seconds the server asked us to wait (delta-seconds or an HTTP date), if it said."""
    value = next((v for k, v in reply.headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def token_from(reply: HttpReply) -> tuple[str, float]:
    """Read `access_token` and `expires_in` from a token reply, or raise AuthError/Transient."""
    body = reply.json()
    if reply.status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
        expires = body.get("expires_in", 3600)
        return body["access_token"], float(expires) if isinstance(expires, int | float) else 3600.0
    if reply.status is None or reply.status >= 500 or reply.status in RETRYABLE_STATUSES:
        error = delivery_error(reply)
        raise TransientDeliveryError(f"Token endpoint: {error}", status=reply.status)
    detail = body.get("error") if isinstance(body, dict) else None
    raise AuthError(f"Token endpoint refused the credentials: HTTP {reply.status}"
                    + (f" ({detail})" if detail else ""), status=reply.status)

"""Test helpers for apps using the SDK: a fake clock, manual timers, a platform in memory.

    clock = FakeClock()
    platform = FakePlatform()
    client = Client(base_url="http://platform.test", client_id="id", client_secret="secret",
                    config=CONFIG, clock=clock, transport=platform, outbox=None)
    activity = client.activity.start(...)
    clock.advance(3600)          # an hour of heartbeats, in milliseconds
    client.flush()               # deliver, inline and deterministically
    assert len(platform.time_spent) == 240
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from timeledger.sdk.clock import FakeClock
from timeledger.sdk.scheduler import ManualScheduler

__all__ = ["FakeClock", "FakePlatform", "ManualScheduler", "ScriptedReply"]


@dataclass(slots=True)
class ScriptedReply:
    """A reply FakePlatform gives instead of accepting: a status, or a network failure."""

    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    network: bool = False


class FakePlatform(httpx.MockTransport):
    """An in-process Caliper API (an httpx transport): records what it accepts, dedupes by id.

    `fail(...)` scripts the next replies to event posts; `reject(predicate)` answers 400 to any
    envelope holding an event the predicate picks, naming each such event (`data[i]`), as a real
    platform rejects a bad event; `poison(ids)` answers 500 to any envelope holding one of those
    events, as a platform that breaks on an event it should have refused. `attempts` counts the
    event posts that carried each event id.

    `keep=False` keeps only the ids of accepted events (`events` maps each to `{}`; no requests,
    envelopes or attempts are kept), so a test sending many events holds no memory for them.
    """

    def __init__(self, token_expires_in: int = 3600, *, keep: bool = True) -> None:
        super().__init__(self._handle)
        self.token_expires_in = token_expires_in
        self.keep = keep
        self.events: dict[str, dict[str, Any]] = {}
        self.envelopes: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.replies: list[ScriptedReply] = []
        self.rejecting: Callable[[dict[str, Any]], bool] | None = None
        self.poisoned: set[str] = set()
        self.attempts: Counter[str] = Counter()
        self.valid_tokens: set[str] = set()
        self._jobs = itertools.count(1)

    # ---- scripting --------------------------------------------------------------------------
    def fail(self, status: int = 503, times: int = 1, headers: dict[str, str] | None = None,
             body: dict[str, Any] | None = None, network: bool = False) -> None:
        """The next `times` event posts get this reply (or a connection error)."""
        self.replies += [ScriptedReply(status, dict(headers or {}), body, network)
                         for _ in range(times)]

    def reject(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        self.rejecting = predicate

    def poison(self, event_ids: Iterable[str]) -> None:
        """Answer 500 (an internal error) to every envelope that holds one of these events."""
        self.poisoned.update(event_ids)

    def revoke_tokens(self) -> None:
        """Make every issued token invalid (the next post gets a 401)."""
        self.valid_tokens.clear()

    # ---- views ------------------------------------------------------------------------------
    @property
    def time_spent(self) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e.get("type") == "TimeSpentEvent"]

    @property
    def completions(self) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e.get("type") == "ActivityEvent"]

    def active_seconds(self, run_id: str | None = None) -> float:
        """Active seconds over accepted TimeSpentEvents (of one run, if given)."""
        total = 0.0
        for event in self.time_spent:
            if run_id is not None and event.get("extensions", {}).get("runId") != run_id:
                continue
            total += sum(item["value"] for item in event["generated"]["items"]
                         if item["type"] == "active")
        return total

    # ---- the API ----------------------------------------------------------------------------
    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.keep:
            self.requests.append(request)
        if request.url.path.endswith("/oauth2/token"):
            self.tokens_issued += 1
            token = f"fake-token-{self.tokens_issued}"
            self.valid_tokens.add(token)
            return httpx.Response(200, json={"access_token": token, "token_type": "Bearer",
                                             "expires_in": self.token_expires_in})
        if not request.url.path.endswith("/caliper/event"):
            return httpx.Response(404, json={"error": "not found"})
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid_tokens:
            return httpx.Response(401, json={"imsx_codeMajor": "failure",
                                             "imsx_description": "Invalid or expired token"})
        if self.replies:
            reply = self.replies.pop(0)
            if reply.network:
                raise httpx.ConnectError("scripted network failure", request=request)
            return httpx.Response(reply.status, headers=reply.headers,
                                  json=reply.body or {"imsx_codeMajor": "failure",
                                                      "imsx_description": "Scripted failure"})
        envelope = orjson.loads(request.content)
        if set(envelope) != {"sensor", "sendTime", "dataVersion", "data"} or not envelope["data"]:
            return httpx.Response(400, json={"imsx_codeMajor": "failure",
                                             "imsx_description": "Malformed envelope"})
        if self.keep:
            self.attempts.update(event["id"] for event in envelope["data"])
        refused = [index for index, event in enumerate(envelope["data"])
                   if self.rejecting is not None and self.rejecting(event)]
        if refused:
            return httpx.Response(400, json={
                "imsx_codeMajor": "failure", "imsx_severity": "error",
                "imsx_description": "Invalid event",
                "imsx_error_details": [{"path": f"data[{index}]", "message": "rejected"}
                                       for index in refused]})
        if any(event["id"] in self.poisoned for event in envelope["data"]):
            return httpx.Response(500, json={"imsx_codeMajor": "failure",
                                             "imsx_description": "Internal error; the request"
                                                                 " was not applied"})
        if not self.keep:
            self.events.update((event["id"], {}) for event in envelope["data"])
            return httpx.Response(200, json={"status": "success",
                                             "jobId": f"job-{next(self._jobs)}"})
        self.envelopes.append(envelope)
        for event in envelope["data"]:
            self.events.setdefault(event["id"], event)
        return httpx.Response(200, json={"status": "success", "jobId": f"job-{next(self._jobs)}"})

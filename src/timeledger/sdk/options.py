"""Client and time-tracking options, each also readable from a `TIMELEDGER_*` variable."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs

from timeledger.sdk.delivery import DEFAULT_MAX_EVENT_AGE, DEFAULT_MAX_FAILURES_ALONE
from timeledger.sdk.errors import ConfigurationError
from timeledger.sdk.outbox import DEFAULT_SEEN_RETENTION

ENV_PREFIX = "TIMELEDGER_"
MEMORY = ":memory:"


@dataclass(frozen=True, slots=True)
class TimeOptions:
    """How an activity measures time (seconds); `time=False` at start turns tracking off."""

    heartbeat_interval: float = 15.0
    hidden_timeout: float | None = 600.0
    idle_timeout: float | None = None
    retry_attempts: int = 3

    def __post_init__(self) -> None:
        from timeledger.sdk.errors import ValidationError

        for name in ("heartbeat_interval", "hidden_timeout", "idle_timeout"):
            value = getattr(self, name)
            if value is None and name != "heartbeat_interval":
                continue
            if (not isinstance(value, int | float) or isinstance(value, bool)
                    or not math.isfinite(value) or value <= 0):
                raise ValidationError(f"time.{name}", "Expected a positive number of seconds")
        if (not isinstance(self.retry_attempts, int) or isinstance(self.retry_attempts, bool)
                or self.retry_attempts < 0):
            raise ValidationError("time.retry_attempts", "Expected a non-negative integer")

    @classmethod
    def coerce(cls, value: TimeOptions | Mapping[str, Any] | bool | None,
               default: TimeOptions) -> TimeOptions | None:
        """`True`/None → the default, False → None (no tracking), a dict → options."""
        from timeledger.sdk.errors import ValidationError

        if value is None or value is True:
            return default
        if value is False:
            return None
        if isinstance(value, TimeOptions):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            for key in value:
                if key not in known:
                    raise ValidationError(f"time.{key}", "Unknown time option; expected one of: "
                                          + ", ".join(sorted(known)))
            merged = {f.name: getattr(default, f.name) for f in fields(cls)}
            merged.update(value)
            return cls(**merged)
        raise ValidationError("time", "Expected TimeOptions, a dict of them, or False")


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Every scalar client setting; `resolve()` fills gaps from the environment, then defaults."""

    base_url: str
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    config: str | None = None
    env: str = "production"
    sensor: str | None = None
    roster_base: str | None = None
    outbox: str | None = None
    flush_timeout: float = 2.0
    completion_timeout: float = 5.0
    request_timeout: float = 10.0
    max_batch_events: int = 100
    max_batch_bytes: int = 512 * 1024
    batch_interval: float = 0.05
    poll_interval: float = 2.0
    max_backoff: float = 30.0
    lease_seconds: float = 60.0
    seen_retention: float = DEFAULT_SEEN_RETENTION
    retry_attempts: int = 3
    max_failures_alone: int = DEFAULT_MAX_FAILURES_ALONE
    max_event_age: float = DEFAULT_MAX_EVENT_AGE
    heartbeat_interval: float = 15.0
    hidden_timeout: float = 600.0
    idle_timeout: float | None = None

    def __post_init__(self) -> None:
        count = self.max_failures_alone
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ConfigurationError(
                f"max_failures_alone must be a whole number of at least 1, got {count!r}")
        age = self.max_event_age
        if (not isinstance(age, int | float) or isinstance(age, bool) or not math.isfinite(age)
                or age <= 0):
            raise ConfigurationError(
                f"max_event_age must be a positive number of seconds, got {age!r}")

    @property
    def resolved_token_url(self) -> str:
        return self.token_url or self.base_url.rstrip("/") + "/oauth2/token"

    @property
    def event_url(self) -> str:
        return self.base_url.rstrip("/") + "/caliper/event"

    def time_defaults(self) -> TimeOptions:
        return TimeOptions(heartbeat_interval=self.heartbeat_interval,
                           hidden_timeout=self.hidden_timeout, idle_timeout=self.idle_timeout,
                           retry_attempts=self.retry_attempts)

    @classmethod
    def resolve(cls, given: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                outbox_given: bool = False) -> ClientOptions:
        """Build options: an explicit argument wins, then `TIMELEDGER_<NAME>`, then the default.

        `outbox` is special: passing `outbox=None` explicitly means in memory; when it is not given
        at all (and not in the environment) the default file under the user's cache dir is used.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = spec.name
            if given.get(name) is not None:
                values[name] = given[name]
                continue
            if name == "outbox" and outbox_given:
                values[name] = MEMORY
                continue
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            values[name] = _convert(name, raw, spec.type)
        if not values.get("base_url"):
            raise ConfigurationError(
                "base_url is required (pass base_url=... or set TIMELEDGER_BASE_URL)")
        if "outbox" not in values:
            values["outbox"] = default_outbox_path(values["base_url"], values.get("client_id"))
        if values["outbox"] in ("memory", "none", "None"):
            values["outbox"] = MEMORY
        values["outbox"] = str(values["outbox"])
        return cls(**values)


def _convert(name: str, raw: str, kind: object) -> Any:
    text = str(kind)
    try:
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
    except ValueError:
        raise ConfigurationError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a number") from None
    return raw


def default_outbox_path(base_url: str, client_id: str | None) -> str:
    """One outbox file per platform and client id, under the user's cache directory."""
    key = hashlib.sha256(f"{base_url.rstrip('/')}|{client_id or ''}".encode()).hexdigest()[:16]
    folder = Path(platformdirs.user_cache_dir("timeledger", appauthor=False))
    return str(folder / f"outbox-{key}.sqlite3")


UNSET: Any = object()  # `outbox` not passed at all (None means: keep events in memory)


def options_from_arguments(settings: Mapping[str, Any], environ: Mapping[str, str] | None, *,
                           outbox: Any, config: Any, **named: Any) -> ClientOptions:
    """The options of `Client(...)` / `AsyncClient(...)`: named arguments, then the environment."""
    given = dict(settings, **named, outbox=None if outbox is UNSET else outbox,
                 config=str(config) if isinstance(config, str) else None)
    in_memory = outbox is not UNSET and outbox is None
    return ClientOptions.resolve(given, environ, outbox_given=in_memory)

"""Client options: one pydantic model checks arguments and `TIMELEDGER_*` variables alike."""

from __future__ import annotations

import difflib
import functools
import hashlib
import inspect
import math
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import platformdirs
from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic import ValidationError as PydanticValidationError

from timeledger.sdk.auth import TokenCache
from timeledger.sdk.clock import Clock
from timeledger.sdk.delivery import (
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_MAX_FAILURES_ALONE,
    Backoff,
    DeadLetterRule,
    Delivery,
    DeliveryListener,
)
from timeledger.sdk.errors import ConfigurationError
from timeledger.sdk.outbox import DEFAULT_MAX_OUTBOX_EVENTS, DEFAULT_SEEN_RETENTION, MEMORY, Outbox
from timeledger.sdk.tracking import Tracking

ENV_PREFIX = "TIMELEDGER_"
P = ParamSpec("P")
R = TypeVar("R")


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


def _names(name: str) -> AliasChoices:
    """An option is read as its argument name, or else as its `TIMELEDGER_<NAME>` variable."""
    return AliasChoices(name, ENV_PREFIX + name.upper())


class ClientOptions(BaseModel):
    """Every scalar client setting, checked; `resolve()` takes arguments, then the environment.

    `disabled` is the `enabled=False` argument (`TIMELEDGER_DISABLED=1`) turned around.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              alias_generator=AliasGenerator(validation_alias=_names))

    base_url: str
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    config: str | None = None
    env: str = "production"
    sensor: str | None = None
    roster_base: str | None = None
    outbox: str = MEMORY
    flush_timeout: float = Field(2.0, ge=0)
    completion_timeout: float = Field(5.0, ge=0)
    request_timeout: float = Field(10.0, gt=0)
    max_batch_events: int = Field(100, ge=1)
    max_batch_bytes: int = Field(512 * 1024, ge=1)
    batch_interval: float = Field(0.05, ge=0)
    poll_interval: float = Field(2.0, gt=0)
    max_backoff: float = Field(30.0, gt=0)
    lease_seconds: float = Field(60.0, gt=0)
    seen_retention: float = Field(DEFAULT_SEEN_RETENTION, ge=0)
    retry_attempts: int = Field(3, ge=0)
    max_failures_alone: int = Field(DEFAULT_MAX_FAILURES_ALONE, ge=1)
    max_event_age: float = Field(DEFAULT_MAX_EVENT_AGE, gt=0)
    max_outbox_events: int = Field(DEFAULT_MAX_OUTBOX_EVENTS, ge=1)
    heartbeat_interval: float = Field(15.0, gt=0)
    hidden_timeout: float = Field(600.0, gt=0)
    idle_timeout: float | None = Field(None, gt=0)
    disabled: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, bool) and info.field_name != "disabled":
            raise ValueError("expected a number or a string, not a boolean")
        return value

    @field_validator("base_url", "token_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @property
    def enabled(self) -> bool:
        return not self.disabled

    @property
    def resolved_token_url(self) -> str:
        return self.token_url or self.base_url.rstrip("/") + "/oauth2/token"

    @property
    def event_url(self) -> str:
        return self.base_url.rstrip("/") + "/caliper/event"

    def new_outbox(self, clock: Clock, tracking: Tracking, *, open_now: bool = True) -> Outbox:
        """The outbox these options name (in memory, and never written, when disabled)."""
        limit = self.max_outbox_events
        return Outbox(MEMORY if self.disabled else self.outbox, clock, self.lease_seconds,
                      self.seen_retention, max_events=limit,
                      on_drop=lambda dropped: tracking.dropped(dropped, limit), open_now=open_now)

    def new_delivery(self, outbox: Outbox, clock: Clock, listener: DeliveryListener,
                     rng: random.Random | None) -> Delivery:
        """The sending rules with these options' batching, backoff and dead-letter bounds."""
        tokens = TokenCache(self.resolved_token_url, self.client_id, self.client_secret, clock)
        return Delivery(outbox, tokens, self.event_url, clock, listener,
                        max_events=self.max_batch_events, max_bytes=self.max_batch_bytes,
                        backoff=Backoff(cap=self.max_backoff),
                        rule=DeadLetterRule(self.max_failures_alone, self.max_event_age), rng=rng)

    def time_defaults(self) -> TimeOptions:
        return TimeOptions(heartbeat_interval=self.heartbeat_interval,
                           hidden_timeout=self.hidden_timeout, idle_timeout=self.idle_timeout,
                           retry_attempts=self.retry_attempts)

    @classmethod
    def resolve(cls, given: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                outbox_given: bool = False) -> ClientOptions:
        """Build options: an argument (not None) wins, then `TIMELEDGER_<NAME>`, then the default.

        `outbox` is special: passing `outbox=None` explicitly means in memory; when it is not given
        at all (and not in the environment) the default file under the user's cache dir is used.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            variable = ENV_PREFIX + name.upper()
            if given.get(name) is not None:
                values[name] = given[name]
            elif name == "outbox" and outbox_given:
                values[name] = MEMORY
            elif environ.get(variable):
                values[variable] = environ[variable]
        if not (values.get("base_url") or values.get(ENV_PREFIX + "BASE_URL")):
            raise ConfigurationError(
                "base_url is required (pass base_url=... or set TIMELEDGER_BASE_URL)")
        if not {"outbox", ENV_PREFIX + "OUTBOX"} & values.keys():
            client_id = values.get("client_id", values.get(ENV_PREFIX + "CLIENT_ID"))
            base_url = values.get("base_url", values.get(ENV_PREFIX + "BASE_URL"))
            values["outbox"] = default_outbox_path(str(base_url), client_id)
        for key in ("outbox", ENV_PREFIX + "OUTBOX"):
            if key in values:
                outbox = str(values[key])
                values[key] = MEMORY if outbox in ("memory", "none", "None") else outbox
        try:
            return cls.model_validate(values)
        except PydanticValidationError as exc:
            raise ConfigurationError(_explain(exc)) from None


def _explain(error: PydanticValidationError) -> str:
    """Each problem named as the caller wrote it: `flush_timeout` or `TIMELEDGER_FLUSH_TIMEOUT`."""
    problems = []
    for item in error.errors(include_url=False):
        name = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if name.startswith(ENV_PREFIX):
            problems.append(f"{name}={item['input']!r}: {message}")
        else:
            problems.append(f"{name}: {message}, got {item['input']!r}")
    return "; ".join(problems)


def default_outbox_path(base_url: str, client_id: str | None) -> str:
    """One outbox file per platform and client id, under the user's cache directory."""
    key = hashlib.sha256(f"{base_url.rstrip('/')}|{client_id or ''}".encode()).hexdigest()[:16]
    folder = Path(platformdirs.user_cache_dir("timeledger", appauthor=False))
    return str(folder / f"outbox-{key}.sqlite3")


UNSET: Any = object()  # `outbox` not passed at all (None means: keep events in memory)


def options_from_arguments(environ: Mapping[str, str] | None, *, outbox: Any, config: Any,
                           enabled: bool | None, **named: Any) -> ClientOptions:
    """The options of `Client(...)` / `AsyncClient(...)`: named arguments, then the environment."""
    if enabled is not None and not isinstance(enabled, bool):
        raise ConfigurationError(f"enabled: expected True or False, got {enabled!r}")
    given = dict(named, outbox=None if outbox is UNSET else outbox,
                 config=str(config) if isinstance(config, str) else None,
                 disabled=None if enabled is None else not enabled)
    in_memory = outbox is not UNSET and outbox is None
    return ClientOptions.resolve(given, environ, outbox_given=in_memory)


def unknown_option_message(name: str, known: list[str]) -> str:
    """`unknown option 'heartbeat_intervl'; did you mean 'heartbeat_interval'?`"""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; the options are: " + ", ".join(known)
    return f"unknown option {name!r}{hint}"


def checks_option_names(init: Callable[P, R]) -> Callable[P, R]:
    """A constructor that answers an unknown keyword with the closest option's name."""
    known = [name for name, parameter in inspect.signature(init).parameters.items()
             if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
             and name != "self"]

    @functools.wraps(init)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        for name in kwargs:
            if name not in known:
                raise TypeError(unknown_option_message(name, known))
        return init(*args, **kwargs)

    return checked

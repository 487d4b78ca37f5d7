"""The adapter's engine for every framework: protocol verdicts become queued events and replies."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from timeledger.caliper.builders import ActivityRef, Learner
from timeledger.caliper.errors import CaliperError
from timeledger.config import Course, TimebackConfig
from timeledger.sdk.catalog import course_activity, read_config, select_course
from timeledger.sdk.errors import ConfigurationError, ValidationError
from timeledger.web.protocol import (
    CROSS_SITE,
    DEFAULT_MAX_BODY_BYTES,
    Catalog,
    Outcome,
    Reply,
    Route,
    error_reply,
    interpret,
)
from timeledger.web.remembered_catalog import RememberedCatalog

log = logging.getLogger("timeledger.web")

ConfigSource = TimebackConfig | str | Path | Mapping[str, Any] | None
Identity = Mapping[str, Any] | Learner | None
"""What an identity hook returns: `{"email", "id"?, "name"?}` for a signed-in learner, else None."""


class AdapterClient(Catalog, Protocol):
    """The SDK client as the adapter uses it (`timeledger.Client` is one)."""

    @property
    def sensor(self) -> str | None: ...

    def enqueue(self, event: Mapping[str, Any]) -> bool: ...


def _user(identity: Identity) -> Mapping[str, Any] | None:
    if identity is None:
        return None
    if isinstance(identity, Learner):
        user: dict[str, Any] = {"email": identity.email}
        if identity.id is not None:
            user["id"] = identity.id
        if identity.name is not None:
            user["name"] = identity.name
        return user
    return identity


class ConfiguredCatalog:
    """Activities resolved against a config of the adapter's own instead of the client's."""

    def __init__(self, client: AdapterClient, config: TimebackConfig,
                 roster_base: str | None = None) -> None:
        self.client = client
        self.config = config
        self.roster_base = roster_base

    def _course(self, selector: Mapping[str, Any]) -> tuple[Course, str]:
        """The configured course a selector names, and the sensor its events go under."""
        course = select_course(self.config, selector)
        sensor = course.sensor or self.config.sensor or self.client.sensor
        if not sensor:
            raise ConfigurationError("No sensor: set a sensor or launchUrl in the config file")
        return course, sensor

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any]) -> ActivityRef:
        found, sensor = self._course(course)
        return course_activity(found, course, sensor, id, name, self.config.app_name)

    def actor(self, user: Mapping[str, Any]) -> dict[str, Any]:
        try:
            learner = Learner.from_mapping(user)
        except CaliperError as exc:
            raise ValidationError.from_caliper(exc) from None
        return learner.actor(self.roster_base or self.config.sensor or self.client.sensor or "")


class WebAdapter:
    """Answers adapter requests for one SDK client; the framework shells only move bytes."""

    def __init__(self, client: AdapterClient, *, config: ConfigSource = None,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 allow_cross_site: bool = False) -> None:
        self.client = client
        loaded = None if config is None else read_config(config)
        roster_base = getattr(getattr(client, "options", None), "roster_base", None)
        self.catalog: Catalog = RememberedCatalog(
            client if loaded is None else ConfiguredCatalog(client, loaded, roster_base))
        self.max_body_bytes = max_body_bytes
        self.allow_cross_site = allow_cross_site

    def handle(self, route: Route, identity: Identity, raw: bytes, *,
               cross_site: bool = False) -> Reply:
        """One request: refuse it, or queue its events durably and say how it went."""
        outcome = self._interpret(route, identity, raw, cross_site)
        if isinstance(outcome, Reply):
            return outcome
        try:
            fresh = [self.client.enqueue(event) for event in outcome.events]
        except Exception:  # the outbox could not store it (disk full, ...): a 500 to retry, logged
            return _not_queued(route)
        return _answer(outcome, fresh)

    def _interpret(self, route: Route, identity: Identity, raw: bytes,
                   cross_site: bool) -> Outcome | Reply:
        """The protocol's verdict, or the reply when there is nothing to queue."""
        if cross_site and not self.allow_cross_site:
            return CROSS_SITE
        outcome = interpret(route, _user(identity), raw, self.catalog, self.max_body_bytes)
        return outcome if outcome.events else outcome.reply


def _not_queued(route: Route) -> Reply:
    log.exception("timeledger.web could not queue a %s event", route)
    return error_reply(500, "INTERNAL_ERROR", "The event could not be queued")


def _answer(outcome: Outcome, fresh: list[bool]) -> Reply:
    if not any(fresh) and outcome.if_already_queued is not None:
        return outcome.if_already_queued
    return outcome.reply


def is_cross_site(sec_fetch_site: str | None) -> bool:
    """Browsers label each request's origin (`Sec-Fetch-Site`); only `cross-site` is foreign."""
    return sec_fetch_site == "cross-site"


def hook_failed() -> Reply:
    log.exception("timeledger.web identity hook raised")
    return error_reply(500, "INTERNAL_ERROR", "The identity hook failed")

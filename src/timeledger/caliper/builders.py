"""Build Timeback events and envelopes from domain values: the one place their shapes are made."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from timeledger.caliper.bounds import run_key_problem
from timeledger.caliper.errors import CaliperError, Problem
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.timeback import CALIPER_CONTEXT, TIMEBACK_PROFILE
from timeledger.caliper.times import format_utc

ONEROSTER_USERS = "/ims/oneroster/rostering/v1p2/users/"


def new_event_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes
# uuid5 sets the version nibble to 5 and the variant bits of the next byte's high nibble to 10.
_VARIANT_NIBBLE = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def generated_id(event_id: str) -> str:
    """The id of an event's generated metrics collection, derived from the event's own: one
    event always carries the same collection (a rebuilt resend is byte for byte the same), and
    building a heartbeat reads no random bytes (os.urandom lets go of the GIL, and an app thread
    then waits for the outbox's writer thread to hand it back)."""
    return stable_event_id(event_id, "generated")


def stable_event_id(*parts: str) -> str:
    """An event id derived from what identifies the fact, so a resend keeps its id:
    `urn:uuid:` + uuid5(NAMESPACE_URL, the parts joined by `|`), written out without building
    `uuid.UUID` objects or integers (this runs twice for every heartbeat)."""
    h = hashlib.sha1(_URL_NAMESPACE + "|".join(parts).encode()).hexdigest()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_NIBBLE[h[16]]}{h[17:20]}-{h[20:32]}"


def normalize_run_id(run_id: str | uuid.UUID, field: str = "run_id") -> str:
    """A run id is a UUID (optionally as urn:uuid:...); returns the bare lower-case form."""
    text = str(run_id).removeprefix("urn:uuid:")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise CaliperError([Problem(field, "Expected UUID")]) from None


@dataclass(frozen=True, slots=True)
class RunRef:
    """A run as events name it: its UUID (`session`, `extensions.runId`) and, when the app named
    the run with a string of its own, that string (`extensions.runKey`)."""

    id: str
    key: str | None = None


def run_namespace(sensor: str) -> uuid.UUID:
    """The UUIDv5 namespace of a sensor's run keys: uuid5(NAMESPACE_URL, sensor without a
    trailing slash), so two apps' equal keys name different runs."""
    return uuid.uuid5(uuid.NAMESPACE_URL, sensor.rstrip("/"))


def run_ref(run_id: str | uuid.UUID, sensor: str, field: str = "run_id") -> RunRef:
    """Any runId an app passes: a UUID (bare or urn:uuid:) stays as it is, lower-cased; any other
    string (bounds.py: 1-256 printable characters) becomes uuid5(run_namespace(sensor), string)
    and is kept as the run's key."""
    if isinstance(run_id, uuid.UUID):
        return RunRef(str(run_id))
    try:
        return RunRef(normalize_run_id(run_id, field))
    except CaliperError:
        pass
    problem = run_key_problem(run_id)
    if problem is not None:
        raise CaliperError([Problem(field, problem)])
    return RunRef(str(uuid.uuid5(run_namespace(sensor), run_id)), run_id)


def _is_iri(value: str) -> bool:
    scheme, sep, rest = value.partition(":")
    return bool(sep and scheme and scheme[0].isalpha() and rest and " " not in value)


@dataclass(frozen=True, slots=True)
class Learner:
    """Who did the work, as an app names them: an email, and an id or IRI if it has one."""

    email: str
    id: str | None = None
    name: str | None = None

    @classmethod
    def from_mapping(cls, user: Mapping[str, Any] | Learner, field: str = "user") -> Learner:
        if isinstance(user, Learner):
            return user
        if not isinstance(user, Mapping):
            raise CaliperError([Problem(field, "Expected an object with an email")])
        email = user.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise CaliperError([Problem(f"{field}.email", "Expected an email address")])
        ident = user.get("id")
        if ident is not None and (not isinstance(ident, str) or not ident.strip()):
            raise CaliperError([Problem(f"{field}.id", "Expected a non-empty string")])
        name = user.get("name")
        return cls(email=email, id=ident, name=name if isinstance(name, str) else None)

    def actor(self, roster_base: str) -> dict[str, Any]:
        """The Caliper actor: an IRI id as is, a bare id under OneRoster, else `mailto:`."""
        if self.id and _is_iri(self.id):
            actor_id = self.id
        elif self.id:
            actor_id = roster_base.rstrip("/") + ONEROSTER_USERS + quote(self.id, safe="")
        else:
            actor_id = f"mailto:{self.email}"
        actor: dict[str, Any] = {"id": actor_id, "type": "TimebackUser", "email": self.email}
        if self.name:
            actor["name"] = self.name
        return actor


def activity_url(sensor: str, slug: str, *, subject: str | None = None, grade: int | None = None,
                 course_code: str | None = None) -> str:
    """`{sensor}/activities/{subject}/g{grade}/{slug}` or `{sensor}/activities/{code}/{slug}`."""
    base = sensor.rstrip("/") + "/activities/"
    encoded_slug = quote(slug, safe="")
    if course_code is not None:
        return f"{base}{quote(course_code, safe='')}/{encoded_slug}"
    if subject is None or grade is None:
        raise ValueError("activity_url needs a course code, or a subject and a grade")
    return f"{base}{quote(subject, safe='')}/g{grade}/{encoded_slug}"


@dataclass(frozen=True, slots=True)
class ActivityRef:
    """Everything an event says about the activity and its course."""

    url: str
    name: str
    subject: str
    app_name: str
    course_id: str
    course_name: str
    course_iri: str | None = None
    process: bool | None = None
    #: The sensor the activity's events go under (its app's runId keys are UUIDs under it).
    sensor: str | None = None

    def run_sensor(self) -> str:
        """The sensor whose namespace maps a runId key to a UUID: `sensor`, else the part of the
        activity's URL before `/activities/` (activity_url builds it that way)."""
        return self.sensor or self.url.split("/activities/", 1)[0]

    def caliper_object(self) -> dict[str, Any]:
        course: dict[str, Any] = {"name": self.course_name}
        if self.course_iri:
            course = {"id": self.course_iri, "name": self.course_name}
        obj: dict[str, Any] = {
            "id": self.url, "type": "TimebackActivityContext", "subject": self.subject,
            "app": {"name": self.app_name}, "course": course, "activity": {"name": self.name},
        }
        if self.process is not None:
            obj["process"] = self.process
        return obj


def _event(kind: str, action: str, *, event_id: str, actor: Mapping[str, Any],
           activity: ActivityRef, event_time: str, run_id: str | None,
           run_key: str | None, generated: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@context": CALIPER_CONTEXT,
        "id": event_id,
        "type": kind,
        "action": action,
        "actor": dict(actor),
        "object": activity.caliper_object(),
        "eventTime": event_time,
        "profile": TIMEBACK_PROFILE,
        "generated": generated,
    }
    extensions: dict[str, Any] = {"courseId": activity.course_id}
    if run_id is not None:
        event["session"] = f"urn:uuid:{run_id}"
        extensions["runId"] = run_id
        if run_key is not None:
            extensions["runKey"] = run_key
    event["extensions"] = extensions
    return event


def _seconds(ms: float) -> float:
    """Milliseconds as seconds to three decimals. A whole number of ms divided by 1000 is already
    the nearest float to its three-decimal value, which is what round() would give back."""
    return ms / 1000 if type(ms) is int else round(ms / 1000, 3)


def time_spent_event(*, actor: Mapping[str, Any], activity: ActivityRef, run_id: str | None,
                     started_at: datetime, ended_at: datetime, active_ms: float,
                     inactive_ms: float, event_id: str | None = None,
                     run_key: str | None = None) -> dict[str, Any]:
    """One heartbeat window; the window travels on the items (`startDate`/`endDate`)."""
    ended = format_utc(ended_at)
    started = format_utc(started_at)
    items: list[dict[str, Any]] = [{"type": "active", "value": _seconds(active_ms),
                                    "startDate": started, "endDate": ended}]
    if inactive_ms > 0:
        items.append({"type": "inactive", "value": _seconds(inactive_ms),
                      "startDate": started, "endDate": ended})
    event_id = event_id or new_event_id()
    generated = {"id": generated_id(event_id), "type": "TimebackTimeSpentMetricsCollection",
                 "items": items}
    return _event("TimeSpentEvent", "SpentTime", event_id=event_id, actor=actor,
                  activity=activity, event_time=ended, run_id=run_id, run_key=run_key,
                  generated=generated)


def completed_event(*, actor: Mapping[str, Any], activity: ActivityRef, run_id: str | None,
                    ended_at: datetime, metrics: Metrics, attempt: int | None = 1,
                    event_id: str | None = None, run_key: str | None = None) -> dict[str, Any]:
    """One completion with its metric items (and `pctCompleteApp` when given)."""
    items = [{"type": name, "value": value} for name, value in metrics.to_wire().items()]
    event_id = event_id or new_event_id()
    generated: dict[str, Any] = {
        "id": generated_id(event_id), "type": "TimebackActivityMetricsCollection",
        "items": items,
    }
    if attempt is not None:
        generated["attempt"] = attempt
    if metrics.pct_complete is not None:
        generated["extensions"] = {"pctCompleteApp": metrics.pct_complete}
    return _event("ActivityEvent", "Completed", event_id=event_id, actor=actor,
                  activity=activity, event_time=format_utc(ended_at), run_id=run_id,
                  run_key=run_key,
                  generated=generated)


def envelope(sensor: str, events: Sequence[Mapping[str, Any]],
             send_time: datetime) -> dict[str, Any]:
    return {"sensor": sensor, "sendTime": format_utc(send_time),
            "dataVersion": CALIPER_CONTEXT, "data": list(events)}

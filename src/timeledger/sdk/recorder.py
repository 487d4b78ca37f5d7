"""What Client and AsyncClient share: config, outbox, delivery rules, and building events."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from timeledger.caliper.builders import (
    ActivityRef,
    activity_url,
    completed_event,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.timeback import SUBJECTS
from timeledger.caliper.times import format_utc
from timeledger.config import (
    AmbiguousCourse,
    ConfigError,
    Course,
    TimebackConfig,
    UnknownCourse,
    find_config,
)
from timeledger.sdk.activity import Activity, Callbacks, Ending, Receipt
from timeledger.sdk.auth import TokenCache
from timeledger.sdk.clock import Clock
from timeledger.sdk.delivery import Backoff, DeadLetterRule, Delivery
from timeledger.sdk.errors import (
    ActivityInProgressError,
    ClientClosedError,
    ConfigurationError,
    EventKind,
    RejectedError,
    ValidationError,
)
from timeledger.sdk.options import ClientOptions, TimeOptions
from timeledger.sdk.outbox import MEMORY, NewEvent, Outbox
from timeledger.sdk.scheduler import Scheduler
from timeledger.sdk.tracking import ErrorCallback, Tracking, Waiter, Watch
from timeledger.sdk.validation import (
    check_activity,
    check_metrics,
    check_record_time,
    check_run_id,
    check_text,
    check_user,
)

ConfigSource = str | Path | Mapping[str, Any] | TimebackConfig | None
QueueItem = tuple[dict[str, Any], EventKind, Watch]


def load_config(source: ConfigSource, options: ClientOptions) -> TimebackConfig | None:
    """The app's `timeback.config.json`: given, named by TIMELEDGER_CONFIG, or found in the cwd."""
    if isinstance(source, TimebackConfig):
        return source
    if isinstance(source, Mapping):
        try:
            return TimebackConfig.load(source, env=options.env)
        except ConfigError as exc:
            raise ConfigurationError(str(exc)) from None
    path = source or options.config or find_config()
    if path is None:
        return None
    try:
        return TimebackConfig.load(path, env=options.env)
    except ConfigError as exc:
        raise ConfigurationError(str(exc)) from None


class ClientCore:
    """The engine under both clients; it never waits (the front ends decide how to wait)."""

    def __init__(self, options: ClientOptions, *, config: ConfigSource, clock: Clock,
                 scheduler: Scheduler, on_error: ErrorCallback | None,
                 rng: random.Random | None) -> None:
        self.options = options
        self.clock = clock
        self.scheduler = scheduler
        self.config = load_config(config, options)
        self.sensor: str | None = options.sensor or (self.config.sensor if self.config else None)
        self.outbox = Outbox(options.outbox or MEMORY, clock, options.lease_seconds,
                             options.seen_retention)
        self.tracking = Tracking(on_error, options.retry_attempts)
        self.tokens = TokenCache(options.resolved_token_url, options.client_id,
                                 options.client_secret, clock)
        self.delivery = Delivery(self.outbox, self.tokens, options.event_url, clock, self.tracking,
                                 max_events=options.max_batch_events,
                                 max_bytes=options.max_batch_bytes,
                                 backoff=Backoff(cap=options.max_backoff),
                                 rule=DeadLetterRule(options.max_failures_alone,
                                                     options.max_event_age), rng=rng)
        self.current: Activity | None = None
        self.closed = False
        self._lock = threading.Lock()
        self.wake: Callable[[bool], None] = lambda urgent: None
        self.settler: Callable[[Activity, Ending, float | None], Receipt] | None = None

    # ---- courses, activities and actors ---------------------------------------------------------
    def course(self, selector: Mapping[str, Any], field: str = "course") -> Course:
        if self.config is None:
            raise ConfigurationError(
                "No course configuration: pass config=... (a timeback.config.json path or a dict)"
                " or set TIMELEDGER_CONFIG")
        try:
            course = self.config.select(selector, field=field)
        except UnknownCourse as exc:
            raise ValidationError(field, str(exc), code=UnknownCourse.code) from None
        except AmbiguousCourse as exc:
            raise ValidationError(field, str(exc), code=AmbiguousCourse.code) from None
        except CaliperError as exc:
            raise ValidationError.from_caliper(exc) from None
        if course.subject not in SUBJECTS:
            raise ValidationError(field, f"Course subject {course.subject!r} is not one of: "
                                  + ", ".join(SUBJECTS))
        return course

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any],
                     prefix: str = "") -> tuple[ActivityRef, str]:
        """The ActivityRef for an activity slug, its name and a course selector; and its sensor."""
        slug = check_text(id, f"{prefix}id")
        title = check_text(name, f"{prefix}name")
        found = self.course(course, f"{prefix}course")
        sensor = self.options.sensor or found.sensor or self.sensor
        if not sensor:
            raise ConfigurationError("No sensor: set sensor= (or TIMELEDGER_SENSOR), or a sensor"
                                     " or launchUrl in the config file")
        by_code = isinstance(course, Mapping) and course.get("code") is not None
        url = (activity_url(sensor, slug, course_code=found.course_code) if by_code
               else activity_url(sensor, slug, subject=found.subject, grade=found.grade))
        app_name = self.config.app_name if self.config else "timeledger"
        return ActivityRef(url=url, name=title, subject=found.subject, app_name=app_name,
                           course_id=found.course_id, course_name=found.name), sensor

    def actor(self, user: Mapping[str, Any], sensor: str) -> dict[str, Any]:
        return check_user(user).actor(self.options.roster_base or sensor)

    def begin(self, *, id: str, name: str, course: Mapping[str, Any], user: Mapping[str, Any],
              run_id: str | uuid.UUID | None, time: TimeOptions | Mapping[str, Any] | bool | None,
              callbacks: Callbacks) -> Activity:
        """Validate and start an activity (the one current activity of this client)."""
        self.check_open()
        ref, sensor = self.activity_ref(id, name, course)
        actor = self.actor(user, sensor)
        run = check_run_id(run_id) if run_id is not None else str(uuid.uuid4())
        options = TimeOptions.coerce(time, self.options.time_defaults())
        with self._lock:
            if self.current is not None:
                raise ActivityInProgressError(self.current.run_id)
            activity = Activity(self, ref=ref, actor=actor, run_id=run, sensor=sensor,
                                options=options, callbacks=callbacks)
            self.current = activity
        return activity

    def release(self, activity: Activity) -> None:
        with self._lock:
            if self.current is activity:
                self.current = None

    def settle_ending(self, activity: Activity, ending: Ending,
                      timeout: float | None) -> Receipt:
        if self.settler is None:
            raise TypeError("this client's activities end with `await activity.end(...)`")
        return self.settler(activity, ending, timeout)

    def record(self, *, user: Mapping[str, Any], activity: Mapping[str, Any],
               metrics: Mapping[str, Any] | Metrics, run_id: str | uuid.UUID | None,
               time: Mapping[str, Any] | None, wait: bool,
               on_error: ErrorCallback | None) -> Ending:
        """Check and queue a server-side completion (with `time`, its TimeSpentEvent first)."""
        self.check_open()
        slug, name, course = check_activity(activity)
        ref, sensor = self.activity_ref(slug, name, course, prefix="activity.")
        actor = self.actor(user, sensor)
        checked = check_metrics(metrics)
        run = check_run_id(run_id) if run_id is not None else str(uuid.uuid4())
        window = check_record_time(time) if time is not None else None
        items: list[QueueItem] = []
        ended_at = self.clock.now()
        if window is not None:
            ended_at = window.ended_at
            event = time_spent_event(
                actor=actor, activity=ref, run_id=run, started_at=window.started_at,
                ended_at=window.ended_at, active_ms=window.active_ms,
                inactive_ms=window.inactive_ms,
                event_id=stable_event_id(run, format_utc(window.started_at)))
            items.append((event, "heartbeat", Watch("heartbeat", on_error=on_error)))
        completion_id = stable_event_id(run, "completed", format_utc(ended_at))
        items.append((completed_event(actor=actor, activity=ref, run_id=run, ended_at=ended_at,
                                      metrics=checked, event_id=completion_id),
                      "completion", Watch("completion", on_error=on_error)))
        waiter = self.queue(items, wait_for=completion_id if wait else None)
        ids = tuple(str(event["id"]) for event, _, _ in items)
        return Ending(Receipt(run, ids, completion_id, None), waiter)

    # ---- queueing ---------------------------------------------------------------------------
    def check_open(self) -> None:
        if self.closed:
            raise ClientClosedError("This client is closed")

    def row_sensor(self, event: Mapping[str, Any]) -> str:
        if self.sensor:
            return self.sensor
        obj = event.get("object")
        url = obj.get("id") if isinstance(obj, Mapping) else None
        if isinstance(url, str) and "/activities/" in url:
            return url.split("/activities/", 1)[0]
        raise ConfigurationError("No sensor: set sensor= or TIMELEDGER_SENSOR")

    def queue(self, items: Sequence[QueueItem], wait_for: str | None = None) -> Waiter | None:
        """Write events to the outbox in one transaction, then wake the sender."""
        if not items:
            return None
        self.check_open()
        waiter = self.tracking.waiter(wait_for) if wait_for is not None else None
        rows = []
        for event, kind, watch in items:
            self.tracking.watch(str(event["id"]), watch)
            rows.append(NewEvent.of(event, kind, self.row_sensor(event)))
        added = self.outbox.add(rows)
        for row, fresh in zip(rows, added, strict=True):
            if not fresh:
                self.tracking.forget(row.event_id)
        fresh_ids = {row.event_id for row, fresh in zip(rows, added, strict=True) if fresh}
        if waiter is not None and wait_for not in fresh_ids:
            self.tracking.forget_waiter(waiter)
            waiter = self._settled_waiter(waiter)
        self.wake(wait_for is not None)
        return waiter

    def _settled_waiter(self, waiter: Waiter) -> Waiter:
        """A completion queued before (same id): settle from what the outbox knows of it."""
        state, error = self.outbox.state(waiter.event_id) or ("pending", None)
        if state == "dead":
            waiter.settle("rejected", RejectedError(error or "rejected earlier"))
        else:
            waiter.settle("delivered" if state == "delivered" else "failed")
        return waiter

    def enqueue(self, event: Mapping[str, Any]) -> bool:
        """Durably queue one ready-made Caliper event; False when its id was queued before."""
        self.check_open()
        if not isinstance(event, Mapping):
            raise ValidationError("event", "Expected a Caliper event (a dict)")
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise ValidationError("event.id", "Expected the event's id (urn:uuid:...)")
        kind: EventKind = {"TimeSpentEvent": "heartbeat", "ActivityEvent": "completion"}.get(
            str(event.get("type")), "event")  # type: ignore[assignment]
        row = NewEvent.of(dict(event), kind, self.row_sensor(event))
        fresh = self.outbox.add([row])[0]
        if fresh:
            self.wake(False)
        return fresh

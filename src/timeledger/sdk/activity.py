"""An Activity: the heartbeat-window state machine for one learner doing one thing.

Time is split into windows of `heartbeat_interval` seconds. Each window reports active and inactive
milliseconds: inactive while paused by hand, or (with `idle_timeout`) after that long without
`touch()`. Inactive for `hidden_timeout`, the activity flushes, stops heartbeats and calls
`on_pause`; the next `resume()`/`touch()` opens a fresh window and calls `on_resume`.
Everything runs on an injected clock and scheduler, so tests drive it without waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from timeledger.caliper.bounds import report_problem, widened_start
from timeledger.caliper.builders import (
    ActivityRef,
    RunRef,
    completed_event,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.times import format_utc
from timeledger.sdk.clock import Clock
from timeledger.sdk.errors import ActivityEndedError, ErrorContext, ValidationError
from timeledger.sdk.options import TimeOptions
from timeledger.sdk.scheduler import Scheduler, TimerHandle
from timeledger.sdk.tracking import ErrorCallback, FlushCallback, Waiter, Watch
from timeledger.sdk.validation import check_metrics, check_time_override

if TYPE_CHECKING:
    from timeledger.sdk.errors import EventKind

log = logging.getLogger("timeledger.sdk")


@dataclass(frozen=True, slots=True)
class Queued:
    """Events handed to the outbox: the waiter of the completion asked for, and the write
    (done already for `Client`; on the outbox thread for `AsyncClient`)."""

    waiter: Waiter | None
    written: Future[list[bool]]


class ActivityHost(Protocol):
    """What an activity needs from the client that started it."""

    clock: Clock
    scheduler: Scheduler

    def queue(self, items: Sequence[tuple[dict[str, Any], EventKind, Watch]],
              wait_for: str | None = None) -> Queued: ...

    def queue_heartbeat(self, event: dict[str, Any], watch: Watch,
                        failed: Callable[[Exception], None]) -> None: ...

    def release(self, activity: Activity) -> None: ...


class Settle(Protocol):
    """Waits for a queued completion's fate; raises its rejection (the client's own waiting)."""

    def __call__(self, receipt: Receipt, waiter: Waiter | None,
                 timeout: float | None) -> Receipt: ...


@dataclass(frozen=True, slots=True)
class Callbacks:
    on_error: ErrorCallback | None = None
    on_pause: Callable[[], None] | None = None
    on_resume: Callable[[], None] | None = None
    on_flush: FlushCallback | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What `end()`/`record()` queued; `delivered` tells whether the platform acknowledged the
    completion before returning (False: it stays queued and is sent later)."""

    run_id: str
    event_ids: tuple[str, ...]
    completion_id: str | None
    delivered: bool | None
    #: The runId the app passed when it was not a UUID (`run_id` is then its UUIDv5).
    run_key: str | None = None


@dataclass(frozen=True, slots=True)
class Ending:
    """An end() (or record()) that has been validated and queued, waiting to be settled."""

    receipt: Receipt
    queued: Queued


def _call(callback: Callable[[], None] | None) -> None:
    if callback is None:
        return
    try:
        callback()
    except Exception:  # an app callback must not break tracking; logged
        log.exception("timeledger activity callback raised")


class Activity:
    """One tracked run. Create it with `client.activity.start(...)`."""

    def __init__(self, host: ActivityHost, *, ref: ActivityRef, actor: Mapping[str, Any],
                 run: RunRef, sensor: str, options: TimeOptions | None,
                 callbacks: Callbacks, settle: Settle) -> None:
        self._host = host
        self._settle_completion = settle
        self._clock = host.clock
        self._scheduler = host.scheduler
        self.ref = ref
        self.actor = dict(actor)
        #: The run's UUID on the wire; `run_key` is the app's own runId when it was not a UUID.
        self.run_id = run.id
        self.run_key = run.key
        self.sensor = sensor
        self.options = options
        self.callbacks = callbacks
        self._lock = threading.RLock()
        now = self._clock.monotonic()
        self.started_at: datetime = self._clock.now()
        self._win_wall, self._win_mono = self.started_at, now
        self._seg = now
        self._active = 0.0
        self._inactive = 0.0
        self._last_input = now
        self._paused = False
        self._paused_at = now
        self._suspended = False
        self._stopped = options is None
        self._ended = False
        self._reported_active_ms = 0
        self._heartbeat: TimerHandle | None = None
        self._watchdog: TimerHandle | None = None
        if options is not None:
            self._heartbeat = self._scheduler.call_later(options.heartbeat_interval, self._beat)
            self._arm_watchdog()

    # ---- properties -------------------------------------------------------------------------
    @property
    def is_paused(self) -> bool:
        """True while time counts as inactive: paused by hand, idle, or stopped by the timeout."""
        with self._lock:
            if self._paused or self._suspended:
                return True
            return self._idle_since(self._clock.monotonic()) is not None

    @property
    def is_ended(self) -> bool:
        """True once `end()` succeeded."""
        return self._ended

    @property
    def elapsed_ms(self) -> int:
        """Active milliseconds of the open window."""
        with self._lock:
            if self._stopped or self._suspended:
                return 0
            active, _ = self._split(self._clock.monotonic())
            return round(self._active + active * 1000)

    @property
    def total_active_ms(self) -> int:
        """Active milliseconds of every window so far, the open one included."""
        with self._lock:
            return self._reported_active_ms + self.elapsed_ms

    # ---- time accounting -----------------------------------------------------------------------
    def _idle_since(self, now: float) -> float | None:
        idle = self.options.idle_timeout if self.options else None
        if idle is None or now < self._last_input + idle:
            return None
        return self._last_input + idle

    def _inactive_since(self, now: float) -> float | None:
        if self._paused:
            return self._paused_at
        return self._idle_since(now)

    def _split(self, now: float) -> tuple[float, float]:
        """(active, inactive) seconds of the segment since the last state change."""
        span = max(now - self._seg, 0.0)
        if self._paused:
            return 0.0, span
        idle = self.options.idle_timeout if self.options else None
        if idle is None:
            return span, 0.0
        active = min(max(self._last_input + idle - self._seg, 0.0), span)
        return active, span - active

    def _settle(self, now: float) -> None:
        active, inactive = self._split(now)
        self._active += active * 1000
        self._inactive += inactive * 1000
        self._seg = now

    def _window_end(self, now: float) -> datetime:
        return self._win_wall + timedelta(seconds=now - self._win_mono)

    def _heartbeat_event(self, started: datetime, ended: datetime, active_ms: float,
                         inactive_ms: float) -> dict[str, Any]:
        return time_spent_event(
            actor=self.actor, activity=self.ref, run_id=self.run_id, run_key=self.run_key,
            started_at=started, ended_at=ended, active_ms=active_ms, inactive_ms=inactive_ms,
            event_id=stable_event_id(self.run_id, format_utc(started)))

    def _close_window(self, now: float, final: bool = False) -> tuple[dict[str, Any], int] | None:
        """End the open window at `now`: its event and active ms, or None when it holds nothing."""
        self._settle(now)
        active_ms, inactive_ms = round(self._active), round(self._inactive)
        if active_ms == 0 and inactive_ms == 0 and not final:
            return None
        ended = self._window_end(now)
        event = None
        refused = report_problem((self._win_wall, ended), (active_ms, inactive_ms))
        if refused is not None and (active_ms or inactive_ms):
            self._refuse_window(refused, self._win_wall)
        elif active_ms or inactive_ms:
            event = self._heartbeat_event(self._win_wall, ended, active_ms, inactive_ms)
            self._reported_active_ms += active_ms
        self._win_wall, self._win_mono = ended, now
        self._active = self._inactive = 0.0
        return (event, active_ms) if event is not None else None

    def _refuse_window(self, problem: tuple[str, int | None], started: datetime) -> None:
        """A tracked window past the bounds (the process slept for a day) is reported, not sent."""
        message, at = problem
        field = "ended_at" if at is None else ("active_ms", "inactive_ms")[at]
        error = ValidationError(field, message)
        callback = self.callbacks.on_error
        if callback is not None:
            event_id = stable_event_id(self.run_id, format_utc(started))
            try:
                callback(error, ErrorContext("heartbeat", event_id, self.run_id, 0, True))
            except Exception:  # an app callback must not break tracking; logged
                log.exception("timeledger on_error raised")

    def _watch(self, kind: EventKind, active_ms: int = 0) -> Watch:
        retry = self.options.retry_attempts if self.options else None
        return Watch(kind=kind, on_error=self.callbacks.on_error, on_flush=self.callbacks.on_flush,
                     active_ms=active_ms, retry_attempts=retry)

    def _emit_heartbeat(self, window: tuple[dict[str, Any], int] | None) -> None:
        if window is None:
            return
        event, active_ms = window
        event_id = str(event["id"])

        def failed(error: Exception) -> None:
            self._write_failed(event_id, error)

        try:  # a timer does not wait for the write
            self._host.queue_heartbeat(event, self._watch("heartbeat", active_ms), failed)
        except Exception as exc:
            self._write_failed(event_id, exc)

    def _write_failed(self, event_id: str, error: Exception) -> None:
        log.error("timeledger could not queue a heartbeat", exc_info=error)
        callback = self.callbacks.on_error
        if callback is not None:
            try:
                callback(error, ErrorContext("heartbeat", event_id, self.run_id, 0, False))
            except Exception:  # an app callback must not break tracking; logged
                log.exception("timeledger on_error raised")

    # ---- timers ------------------------------------------------------------------------------
    def _beat(self) -> None:
        with self._lock:
            if self._stopped or self._suspended or self.options is None:
                return
            window = self._close_window(self._clock.monotonic())
            self._heartbeat = self._scheduler.call_later(self.options.heartbeat_interval,
                                                         self._beat)
            self._emit_heartbeat(window)

    def _arm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        options = self.options
        if options is None or options.hidden_timeout is None or self._stopped or self._suspended:
            return
        now = self._clock.monotonic()
        since = self._inactive_since(now)
        if since is None and options.idle_timeout is not None:
            since = self._last_input + options.idle_timeout
        if since is None:
            return
        due = since + options.hidden_timeout
        self._watchdog = self._scheduler.call_later(due - now, self._check_hidden)

    def _check_hidden(self) -> None:
        suspended = False
        with self._lock:
            self._watchdog = None
            options = self.options
            if self._stopped or self._suspended or options is None or \
                    options.hidden_timeout is None:
                return
            now = self._clock.monotonic()
            since = self._inactive_since(now)
            if since is not None and now - since >= options.hidden_timeout - 1e-9:
                window = self._close_window(now)
                if self._heartbeat is not None:
                    self._heartbeat.cancel()
                    self._heartbeat = None
                self._suspended = True
                self._emit_heartbeat(window)
                suspended = True
            else:
                self._arm_watchdog()
        if suspended:
            _call(self.callbacks.on_pause)

    def _wake_up(self, now: float) -> None:
        """Back from the hidden timeout: a fresh window; the time away is reported as nothing."""
        assert self.options is not None
        self._suspended = False
        self._win_wall, self._win_mono = self._clock.now(), now
        self._seg = now
        self._active = self._inactive = 0.0
        self._heartbeat = self._scheduler.call_later(self.options.heartbeat_interval, self._beat)

    # ---- controls ----------------------------------------------------------------------------
    def pause(self) -> None:
        """Count time as inactive from now (a modal, a menu) until `resume()`."""
        with self._lock:
            if self._stopped or self._paused:
                return
            now = self._clock.monotonic()
            self._settle(now)
            idle_since = self._idle_since(now)
            self._paused_at = idle_since if idle_since is not None else now
            self._paused = True
            self._arm_watchdog()

    def resume(self) -> None:
        """Count time as active again (also ends a stop caused by the hidden timeout)."""
        woke = False
        with self._lock:
            if self._stopped or not self._paused:
                return
            now = self._clock.monotonic()
            if self._suspended:
                self._wake_up(now)
                woke = True
            else:
                self._settle(now)
            self._paused = False
            self._last_input = now
            self._arm_watchdog()
        if woke:
            _call(self.callbacks.on_resume)

    def touch(self) -> None:
        """The learner did something: with `idle_timeout`, idle time ends, active time resumes."""
        woke = False
        with self._lock:
            if self._stopped:
                return
            now = self._clock.monotonic()
            if self._suspended:
                if self._paused:
                    return
                self._wake_up(now)
                woke = True
            else:
                self._settle(now)
            self._last_input = now
            if woke or (self._watchdog is None and not self._paused):
                self._arm_watchdog()
        if woke:
            _call(self.callbacks.on_resume)

    def _stop_timers(self) -> None:
        for timer in (self._heartbeat, self._watchdog):
            if timer is not None:
                timer.cancel()
        self._heartbeat = self._watchdog = None

    def prepare_end(self, metrics: Mapping[str, Any] | Metrics | None = None,
                    time: Mapping[str, Any] | None = None, wait: bool = True) -> Ending:
        """Validate, close the last window and queue the final events (used by `end`)."""
        with self._lock:
            if self._ended:
                raise ActivityEndedError(f"Activity {self.run_id} has already ended")
            checked = check_metrics(metrics) if metrics is not None else None
            override = check_time_override(time) if time is not None else None
            now = self._clock.monotonic()
            items: list[tuple[dict[str, Any], EventKind, Watch]] = []
            ended_at = self._clock.now()
            if override is not None:
                if not self._stopped and not self._suspended:
                    self._settle(now)
                    started, ended_at = self._win_wall, self._window_end(now)
                else:
                    started = self.started_at if self.options is None else ended_at
                started = widened_start(started, ended_at, override[0] + override[1])
                event = self._heartbeat_event(started, ended_at, override[0], override[1])
                items.append((event, "heartbeat", self._watch("heartbeat", round(override[0]))))
                self._reported_active_ms += round(override[0])
            elif not self._stopped and not self._suspended:
                window = self._close_window(now, final=True)
                ended_at = self._win_wall
                if window is not None:
                    items.append((window[0], "heartbeat", self._watch("heartbeat", window[1])))
            self._stop_timers()
            self._stopped = True
            completion_id: str | None = None
            if checked is not None:
                completion_id = stable_event_id(self.run_id, "completed", format_utc(ended_at))
                event = completed_event(actor=self.actor, activity=self.ref, run_id=self.run_id,
                                        run_key=self.run_key, ended_at=ended_at, metrics=checked,
                                        event_id=completion_id)
                items.append((event, "completion", self._watch("completion")))
            queued = self._host.queue(items, wait_for=completion_id if wait else None)
            self._host.release(self)
            if completion_id is None:
                self._ended = True
            ids = tuple(str(event["id"]) for event, _, _ in items)
            return Ending(Receipt(self.run_id, ids, completion_id, None, self.run_key), queued)

    def mark_ended(self) -> None:
        """The completion was settled (delivered or left queued): the activity has ended."""
        self._ended = True

    # ---- sync surface ------------------------------------------------------------------------
    def end(self, metrics: Mapping[str, Any] | Metrics | None = None, *,
            time: Mapping[str, Any] | None = None, wait: bool = True,
            timeout: float | None = None) -> Receipt:
        """End the activity: final heartbeat, then (with metrics) the completion.

        With metrics and `wait`, waits up to `timeout` (default the client's `completion_timeout`)
        for the platform: a rejection is reported to `on_error` and raised here; an outage is not
        an error (the completion stays queued; `Receipt.delivered` is False).
        """
        ending = self.prepare_end(metrics, time, wait)
        ending.queued.written.result()  # every event of the activity is durable before returning
        receipt = self._settle_completion(ending.receipt, ending.queued.waiter, timeout)
        self._ended = True
        return receipt

    def __enter__(self) -> Activity:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._ended:
            return
        if exc is None:
            self.end()
            return
        try:
            self.end()
        except Exception:  # the app's exception wins; this one is logged
            log.exception("timeledger could not end the activity after an exception")

    def __repr__(self) -> str:
        state = "ended" if self._ended else "paused" if self.is_paused else "active"
        return f"<Activity {self.ref.name!r} run={self.run_id} {state}>"

"""Flags: problems in a learner's record surfaced to a person, each with its events and a reason.

The rules (docs/pipeline.md says the same in prose):
- low_accuracy: a completion that earns XP with correct/total under 80 %.
- second_completion: a counted completion on a run that already has one (a new attempt should
  take a new runId). Resends (same attempt and eventTime) are not counted, so never flagged.
- heartbeats_after_completion: time on a run whose window starts after the run's first
  completion's eventTime, arriving after that completion (the runId was reused).
- overlapping_windows: a window of a run that shares more than a second with a window of the run
  reported before it.
- double_time: a time report on a run carrying the same eventTime as a completion of that run (the
  shape of `record(time=...)`) that overlaps time the run's other windows already reported.
- cumulative_mastered_units: for one learner and course, masteredUnits rose strictly at three
  completions in a row, starting above 0 (1 → 2 → 3): a running total, not units newly mastered.
- xp_above_focused_minutes: a completed run whose XP is above its active minutes rounded up to a
  whole XP, plus XP_SLACK_MILLI (so an app rounding XP to 0.1 or to whole XP is not flagged),
  always against the run's current totals: refreshed whenever the run changes, and removed when
  later time brings the run within the rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.caliper.times import format_utc
from timeledger.server.pipeline.batch_order import BatchOrder
from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.runs import RunState
from timeledger.server.pipeline.upserts import Row, upsert
from timeledger.server.pipeline.windows import Overlap
from timeledger.server.store.projection_tables import (
    completions,
    flags,
    mastery_streaks,
    run_windows,
    runs,
)

MIN_ACCURACY_PCT = 80  # XP needs at least this accuracy
FOCUSED_MINUTES_PER_XP = 1  # 1 XP = 1 focused minute of active learning
XP_SLACK_MILLI = 100  # 0.1 XP above the rounded-up minutes: an app's rounding to tenths
MASTERY_RISES = 2  # strict rises in a row (three completions) that look cumulative
XP_ABOVE_MINUTES = "xp_above_focused_minutes"
_MS_PER_XP = 60_000 * FOCUSED_MINUTES_PER_XP

FLAG_KINDS = (XP_ABOVE_MINUTES, "low_accuracy", "double_time",
              "heartbeats_after_completion", "overlapping_windows", "cumulative_mastered_units",
              "second_completion")
#: Flags about a learner's learning (shown to teachers and on the learner's pages); the others are
#: integration faults, about how an app reports (the operator's Integration page).
LEARNING_KINDS = ("low_accuracy",)
#: Stored flags added (or, negative, removed) by a batch, per (learner, kind).
FlagChanges = Counter[tuple[str, str]]


def _xp_text(milli: int) -> str:
    return f"{milli / 1000:g}"


class FlagBook:
    """The flags one batch raises, merged per flag key (the first occurrence in the log's order
    describes it, as a flag stored by an earlier batch keeps its description)."""

    def __init__(self, order: BatchOrder) -> None:
        self.rows: dict[str, Row] = {}
        self._order = order

    def raise_flag(self, kind: str, subject: str, *, cause: Prepared, run_id: str | None,
                   event_ids: Sequence[str], reason: str) -> None:
        key = f"{kind}:{subject}"
        row = self.rows.get(key)
        if row is not None:
            row["occurrences"] += 1
            if not self._order.before(cause.seq, row["first_seq"]):
                return
        self.rows[key] = {
            "flag_key": key, "kind": kind, "run_id": run_id,
            "learner_email": cause.facts.learner_email, "course_id": cause.facts.course_id,
            "event_ids": orjson.dumps(list(event_ids)).decode(), "reason": reason,
            "first_seq": cause.seq, "event_time": cause.facts.event_time,
            "occurrences": row["occurrences"] if row else 1,
        }

    def save(self, conn: sa.Connection) -> FlagChanges:
        """Store the flags; returns how many keys are new, per learner and kind."""
        new = Counter((row["learner_email"], row["kind"]) for row in self.rows.values())
        if self.rows:
            for key, email in conn.execute(
                    sa.select(flags.c.flag_key, flags.c.learner_email)
                    .where(flags.c.flag_key.in_(sorted(self.rows)))):
                new[(email, self.rows[key]["kind"])] -= 1
        upsert(conn, flags, self.rows.values(), ["flag_key"], add=["occurrences"])
        return new


def raise_flags(conn: sa.Connection, counted: Sequence[Prepared], states: dict[str, RunState],
                overlaps: Sequence[Overlap]) -> FlagChanges:
    """Raise the batch's flags; returns how many flags are new, per learner and kind.
    `counted` is in the log's order: "before" and "after" are that order (batch_order.py)."""
    order = BatchOrder(counted)
    book = FlagBook(order)
    done = [item for item in counted if not item.is_time]
    for item in done:
        _low_accuracy(book, item)
        _second_completion(book, item, states)
    completed = {run_id for run_id, state in states.items() if state.completion_seq is not None}
    for item in counted:
        if item.is_time and item.run_id in completed:  # _after_completion asks nothing else
            _after_completion(book, item, states, order)
    for overlap in overlaps:
        w = overlap.window
        book.raise_flag(
            "overlapping_windows", str(w.run_id), cause=w, run_id=w.run_id,
            event_ids=[overlap.earlier_event_id, w.event_id],
            reason=f"Windows of run {w.run_id} overlap: the window ending "
                   f"{format_utc(w.end)} covers time an earlier window already reported.")
    _double_time(conn, book, done, overlaps, order)
    _mastery(conn, book, [item for item in done if item.facts.mastered_units is not None])
    return book.save(conn)


def xp_allowed_milli(active_ms: int) -> int:
    """The most XP (thousandths) a run's active time allows: the focused minutes rounded up to a
    whole XP, plus XP_SLACK_MILLI, so an app that rounds XP to 0.1 or to whole XP is not flagged
    for an honest run (4.95 minutes allow 5.1 XP)."""
    whole_xp = -(-active_ms // _MS_PER_XP)
    return whole_xp * 1000 + XP_SLACK_MILLI


def _minutes_text(ms: int) -> str:
    return f"{round(ms / 60000, 2):g}"


def _replace_xp_flag(_c: Any, new: Any) -> dict[str, Any]:
    return {name: new[name] for name in ("event_ids", "reason", "first_seq", "event_time")}


def refresh_xp_flags(conn: sa.Connection, run_ids: Collection[str]) -> FlagChanges:
    """Raise, update or remove xp_above_focused_minutes for runs the batch changed, from their
    totals as stored now; returns the change in stored flags per learner and kind."""
    change: FlagChanges = Counter()
    if not run_ids:
        return change
    wanted = sorted(run_ids)
    r = runs.c
    over = [row for row in conn.execute(
        sa.select(r.run_id, r.learner_email, r.course_id, r.active_ms, r.xp_milli,
                  r.completion_seq, r.completion_time)
        .where(r.run_id.in_(wanted), r.completions > 0))
        if row.xp_milli > xp_allowed_milli(row.active_ms)]
    stored = dict(conn.execute(sa.select(flags.c.flag_key, flags.c.learner_email).where(
        flags.c.flag_key.in_([f"{XP_ABOVE_MINUTES}:{run_id}" for run_id in wanted]))).all())
    behind: dict[str, list[str]] = {}
    if over:
        for done in conn.execute(sa.select(completions.c.run_id, completions.c.event_id)
                                 .where(completions.c.run_id.in_([o.run_id for o in over]))
                                 .order_by(completions.c.seq)):
            behind.setdefault(done.run_id, []).append(done.event_id)
    rows: list[Row] = []
    for row in over:
        key = f"{XP_ABOVE_MINUTES}:{row.run_id}"
        if key not in stored:
            change[(row.learner_email, XP_ABOVE_MINUTES)] += 1
        rows.append({
            "flag_key": key, "kind": XP_ABOVE_MINUTES, "run_id": row.run_id,
            "learner_email": row.learner_email, "course_id": row.course_id,
            "event_ids": orjson.dumps(behind.get(row.run_id, [])).decode(),
            "reason": f"{_xp_text(row.xp_milli)} XP earned on run {row.run_id} for "
                      f"{_minutes_text(row.active_ms)} focused (active) minutes; 1 XP is "
                      f"{FOCUSED_MINUTES_PER_XP} focused minute of learning (rounded up to a "
                      f"whole XP, plus {_xp_text(XP_SLACK_MILLI)} XP for rounding).",
            "first_seq": row.completion_seq, "event_time": row.completion_time,
            "occurrences": 1})
    upsert(conn, flags, rows, ["flag_key"], custom=_replace_xp_flag)
    gone = sorted(set(stored) - {row["flag_key"] for row in rows})
    if gone:
        conn.execute(flags.delete().where(flags.c.flag_key.in_(gone)))
        for key in gone:
            change[(stored[key], XP_ABOVE_MINUTES)] -= 1
    return change


def _low_accuracy(book: FlagBook, item: Prepared) -> None:
    f = item.facts
    total, correct = f.total_questions, f.correct_questions
    if item.xp_milli <= 0 or not total or correct is None:
        return
    if correct * 100 >= MIN_ACCURACY_PCT * total:
        return
    book.raise_flag(
        "low_accuracy", f.event_id, cause=item, run_id=f.run_id, event_ids=[f.event_id],
        reason=f"{_xp_text(item.xp_milli)} XP earned with {correct}/{total} correct "
               f"({correct * 100 / total:.0f} %), under the {MIN_ACCURACY_PCT} % accuracy "
               f"XP needs.")


def _second_completion(book: FlagBook, item: Prepared, states: dict[str, RunState]) -> None:
    f = item.facts
    state = states.get(f.run_id) if f.run_id else None
    if state is None or state.completion_event_id in (None, f.event_id):
        return
    assert state.completion_time is not None and state.completion_event_id is not None
    book.raise_flag(
        "second_completion", f.event_id, cause=item, run_id=f.run_id,
        event_ids=[state.completion_event_id, f.event_id],
        reason=f"Run {f.run_id} completed again at {format_utc(f.event_time)} (attempt "
               f"{f.attempt or '-'}) after completing at {format_utc(state.completion_time)}; "
               f"it is counted, but a new attempt should take a new runId.")


def _after_completion(book: FlagBook, item: Prepared, states: dict[str, RunState],
                      order: BatchOrder) -> None:
    state = states.get(item.run_id) if item.run_id else None
    if (state is None or state.completion_seq is None
            or not order.before(state.completion_seq, item.seq)):
        return
    assert state.completion_time is not None and state.completion_event_id is not None
    if item.start <= state.completion_time:
        return  # the last window of the run, delivered late, or record(time=...)
    book.raise_flag(
        "heartbeats_after_completion", str(item.run_id), cause=item, run_id=item.run_id,
        event_ids=[state.completion_event_id, item.event_id],
        reason=f"Time reported on run {item.run_id} from {format_utc(item.start)}, after its "
               f"completion at {format_utc(state.completion_time)}: the runId was probably "
               f"reused for a new attempt (a new attempt takes a new runId).")


def _double_time(conn: sa.Connection, book: FlagBook, done: Sequence[Prepared],
                 overlaps: Sequence[Overlap], order: BatchOrder) -> None:
    """A (time report, completion) pair at the same eventTime, the report overlapping earlier
    windows, is raised by whichever of the two comes later in the log's order."""
    pairs: list[tuple[Prepared, str, str, str, str, datetime]] = []
    if overlaps:  # the report arrives after the completion
        c = completions.c
        run_ids = sorted({str(o.window.run_id) for o in overlaps})
        found = conn.execute(sa.select(c.run_id, c.seq, c.event_id, c.event_time)
                             .where(c.run_id.in_(run_ids))).all()
        for o in overlaps:
            w = o.window
            match = min((r for r in found if r.run_id == w.run_id and order.before(r.seq, w.seq)
                         and r.event_time == w.facts.event_time), key=lambda r: r.seq,
                        default=None)
            if match is not None:
                pairs.append((w, str(w.run_id), o.earlier_event_id, w.event_id, match.event_id,
                              w.facts.event_time))
    with_run = [item for item in done if item.run_id is not None]
    if with_run:  # the completion arrives after the report
        t = run_windows.c
        found_w = conn.execute(
            sa.select(t.run_id, t.seq, t.event_id, t.event_time, t.overlap_event_id)
            .where(t.run_id.in_(sorted({str(i.run_id) for i in with_run})),
                   t.overlap_event_id.is_not(None))).all()
        for item in with_run:
            match_w = min((r for r in found_w if r.run_id == item.run_id
                           and order.before(r.seq, item.seq)
                           and r.event_time == item.facts.event_time), key=lambda r: r.seq,
                          default=None)
            if match_w is not None:
                pairs.append((item, str(item.run_id), match_w.overlap_event_id,
                              match_w.event_id, item.event_id, item.facts.event_time))
    for cause, run_id, earlier, report, completion, at in pairs:
        book.raise_flag(
            "double_time", run_id, cause=cause, run_id=run_id,
            event_ids=[earlier, report, completion],
            reason=f"Run {run_id}'s time was reported twice: by its heartbeats, and again by a "
                   f"time report sent with its completion at {format_utc(at)} "
                   f"(record(time=...) while heartbeats were on).")


_STREAK = ("last_units", "prev_units", "prev2_units", "last_event_id", "prev_event_id",
           "prev2_event_id", "rises")


def _replace_streak(_c: Any, new: Any) -> dict[str, Any]:
    return {name: new[name] for name in _STREAK}


def _mastery(conn: sa.Connection, book: FlagBook, mastered: Sequence[Prepared]) -> None:
    """Each learner and course's streak is read once, moved along by the batch's completions in
    the log's order, and written once. The log is cut by learner, so no other projector writes these
    rows meanwhile."""
    if not mastered:
        return
    s = mastery_streaks.c
    keys = sorted({(item.facts.learner_email, item.facts.course_id) for item in mastered})
    streaks: dict[tuple[str, str], Row] = {
        (row.learner_email, row.course_id): dict(row._mapping) for row in conn.execute(
            sa.select(s.learner_email, s.course_id, *(s[name] for name in _STREAK))
            .where(sa.tuple_(s.learner_email, s.course_id).in_(keys)))}
    # a stable sort: each streak's completions stay in the log's order
    for item in sorted(mastered, key=lambda i: (i.facts.learner_email, i.facts.course_id)):
        f = item.facts
        key = (f.learner_email, f.course_id)
        before = streaks.get(key)
        if before is None:
            state: Row = {"learner_email": key[0], "course_id": key[1],
                          "last_units": f.mastered_units, "prev_units": None,
                          "prev2_units": None, "last_event_id": f.event_id,
                          "prev_event_id": None, "prev2_event_id": None, "rises": 0}
        else:
            assert f.mastered_units is not None
            rose = f.mastered_units > before["last_units"] and before["last_units"] > 0
            state = {"learner_email": key[0], "course_id": key[1],
                     "rises": before["rises"] + 1 if rose else 0,
                     "prev2_units": before["prev_units"], "prev_units": before["last_units"],
                     "last_units": f.mastered_units, "prev2_event_id": before["prev_event_id"],
                     "prev_event_id": before["last_event_id"], "last_event_id": f.event_id}
        streaks[key] = state
        _cumulative_flag(book, item, state)
    upsert(conn, mastery_streaks, [streaks[key] for key in keys],
           ["learner_email", "course_id"], custom=_replace_streak)


def _cumulative_flag(book: FlagBook, item: Prepared, state: Row) -> None:
    f = item.facts
    if state["rises"] < MASTERY_RISES:
        return
    book.raise_flag(
        "cumulative_mastered_units", f"{f.learner_email}|{f.course_id}", cause=item,
        run_id=f.run_id,
        event_ids=[state["prev2_event_id"], state["prev_event_id"], state["last_event_id"]],
        reason=f"masteredUnits rose at each of the last three completions in {f.course_id} "
               f"({state['prev2_units']} → {state['prev_units']} → {state['last_units']}): "
               f"they look like a running total, but masteredUnits counts the units newly "
               f"mastered in one run.")

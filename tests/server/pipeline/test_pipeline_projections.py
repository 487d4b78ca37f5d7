"""Projections from hand-made event streams, against values worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.ledger_world import Ledger, activity, at, completion, heartbeat, new_run, resend
from tests.support.postgres import Backend
from timeledger.config import TimebackConfig
from timeledger.server import queries
from timeledger.server.pipeline.registry import register_courses
from timeledger.server.store.projection_tables import flags, mastery_streaks, xp_ledger

ANN = "ann@example.edu"


@pytest.fixture
def ledger(tmp_path: Path, backend: Backend) -> Iterator[Ledger]:
    built = Ledger(tmp_path, db_url=backend.new_db_url())
    yield built
    built.close()


@pytest.fixture
def ny_ledger(tmp_path: Path, backend: Backend) -> Iterator[Ledger]:
    built = Ledger(tmp_path, timezone="America/New_York", db_url=backend.new_db_url())
    yield built
    built.close()


def kinds(ledger: Ledger, **filters: str) -> list[str]:
    return sorted(f["kind"] for f in ledger.read(queries.list_flags, **filters))


def test_heartbeats_add_up_on_the_run_and_the_day(ledger: Ledger) -> None:
    run = new_run()
    t0 = at("2025-01-13T10:00:00")
    statuses = ledger.statuses(
        heartbeat(ANN, run, t0, 30, 0),
        heartbeat(ANN, run, t0 + timedelta(seconds=30), 45, 15),
        heartbeat(ANN, run, t0 + timedelta(seconds=90), 15, 0),
    )
    assert statuses == ["stored"] * 3
    got = ledger.read(queries.get_run, run)
    assert got["active_seconds"] == 90  # 30 + 45 + 15
    assert got["inactive_seconds"] == 15
    assert got["heartbeats"] == 3
    assert got["sessions"] == 1
    assert got["completed"] is False and got["completion"] is None
    assert [w["start"] for w in got["windows"]] == [
        "2025-01-13T10:00:00.000Z", "2025-01-13T10:00:30.000Z", "2025-01-13T10:01:30.000Z"]
    (day,) = ledger.read(queries.learner_summary, ANN)["days"]
    assert day["date"] == "2025-01-13"
    assert day["active_minutes"] == 1.5  # 90 s
    assert day["inactive_minutes"] == 0.25  # 15 s


def test_a_resent_window_under_a_new_id_is_stored_but_not_counted(ledger: Ledger) -> None:
    run = new_run()
    first = heartbeat(ANN, run, at("2025-01-13T10:00:00"), 15)
    assert ledger.statuses(first) == ["stored"]
    assert ledger.statuses(resend(first)) == ["duplicate_window"]
    assert ledger.statuses(first) == ["duplicate"]  # the same id and body: a no-op success
    # the Timeback SDKs send no startDate: the window is then known by its eventTime
    bare = heartbeat(ANN, run, at("2025-01-13T10:00:15"), 15, window=False)
    assert ledger.statuses(bare, resend(bare)) == ["stored", "duplicate_window"]
    got = ledger.read(queries.get_run, run)
    assert got["active_seconds"] == 30 and got["heartbeats"] == 2


def test_a_window_across_midnight_is_shared_in_proportion(ny_ledger: Ledger) -> None:
    # 04:45Z-05:05Z in January is 23:45-00:05 in New York (UTC-5): 15 of its 20 minutes fall
    # on the 13th. 900 s active and 300 s inactive split 3:1.
    run = new_run()
    ny_ledger.send(heartbeat(ANN, run, at("2025-01-14T04:45:00"), 900, 300))
    days = {d["date"]: d for d in ny_ledger.read(queries.learner_summary, ANN)["days"]}
    assert days["2025-01-13"]["active_minutes"] == 11.25  # 675 s
    assert days["2025-01-13"]["inactive_minutes"] == 3.75  # 225 s
    assert days["2025-01-14"]["active_minutes"] == 3.75  # 225 s
    assert days["2025-01-14"]["inactive_minutes"] == 1.25  # 75 s
    assert ny_ledger.read(queries.get_run, run)["sessions"] == 2


def test_time_without_a_window_goes_to_the_local_day_of_its_event_time(ny_ledger: Ledger) -> None:
    ny_ledger.send(heartbeat(ANN, new_run(), at("2025-01-14T01:59:00"), 60, window=False))
    (day,) = ny_ledger.read(queries.learner_summary, ANN)["days"]
    assert day["date"] == "2025-01-13"  # 02:00Z is 21:00 the day before in New York
    assert day["active_minutes"] == 1


def test_completions_count_once_and_a_second_one_is_flagged(ledger: Ledger) -> None:
    run = new_run()
    t0 = at("2025-01-13T10:00:00")
    ledger.send(heartbeat(ANN, run, t0, 600))
    done = completion(ANN, run, t0 + timedelta(minutes=10), 8, total=10, correct=9, mastered=1)
    assert ledger.statuses(done) == ["stored"]
    assert ledger.statuses(resend(done)) == ["duplicate_completion"]
    again = completion(ANN, run, t0 + timedelta(minutes=11), 2, total=5, correct=5, attempt=2)
    assert ledger.statuses(again) == ["stored"]
    got = ledger.read(queries.get_run, run)
    assert got["completions"] == 2
    assert got["xp_earned"] == 10  # 8 + 2; the resend is not counted
    assert got["completion"]["event_id"] == done["id"]  # the run's first completion
    assert got["completion"]["accuracy"] == 90.0
    (day,) = ledger.read(queries.learner_summary, ANN)["days"]
    assert (day["xp"], day["completions"]) == (10, 2)
    assert (day["total_questions"], day["correct_questions"]) == (15, 14)
    assert day["accuracy"] == 93.3  # 14 / 15
    assert day["mastered_units"] == 1
    (second,) = [f for f in ledger.read(queries.list_flags, run_id=run)
                 if f["kind"] == "second_completion"]
    assert second["event_ids"] == [done["id"], again["id"]]


def test_the_xp_ledger_keeps_negative_corrections(ledger: Ledger) -> None:
    run, fix = new_run(), new_run()
    t0 = at("2025-01-13T10:00:00")
    ledger.send(heartbeat(ANN, run, t0, 1200))
    ledger.send(completion(ANN, run, t0 + timedelta(minutes=20), 12))
    ledger.send(completion(ANN, fix, t0 + timedelta(minutes=30), -5))
    assert [row["xp_milli"] for row in ledger.rows(xp_ledger)] == [12000, -5000]
    assert ledger.read(queries.learner_summary, ANN)["totals"]["xp"] == 7


def test_learners_are_one_per_email_with_actor_ids_as_aliases(ledger: Ledger) -> None:
    t0 = at("2025-01-13T10:00:00")
    ledger.send(heartbeat("Bea@Example.edu", new_run(), t0, 60, actor_id="https://a.example/u/1"))
    ledger.send(heartbeat("bea@example.edu", new_run(), t0, 120, actor_id="https://b.example/u/9"))
    (bea,) = ledger.read(queries.list_learners)
    assert bea["email"] == "bea@example.edu"
    assert sorted(bea["actor_ids"]) == ["https://a.example/u/1", "https://b.example/u/9"]
    assert bea["totals"]["active_minutes"] == 3 and bea["totals"]["runs"] == 2
    by_alias = ledger.read(queries.learner_summary, "https://b.example/u/9")
    assert by_alias["learner"]["email"] == "bea@example.edu"
    with pytest.raises(queries.NotFound):
        ledger.read(queries.learner_summary, "nobody@example.edu")


def test_gradebook_results_per_attempt_and_progress(ledger: Ledger, tmp_path: Path) -> None:
    config = TimebackConfig.load({"name": "Example App", "courses": [{
        "subject": "Math", "grade": 3, "ids": {"production": "math-g3"},
        "metadata": {"goals": {"dailyXp": 10, "dailyActiveMinutes": 15},
                     "metrics": {"totalLessons": 20}}}]})
    with ledger.platform.engine.begin() as conn:
        register_courses(conn, config, "inline", at("2025-01-01T00:00:00"))
    lesson = activity("lesson-1")
    t0 = at("2025-01-13T10:00:00")
    ledger.send(completion(ANN, new_run(), t0, 6, total=10, correct=8, mastered=3, act=lesson))
    ledger.send(completion(ANN, new_run(), t0 + timedelta(hours=1), 4, total=4, correct=1,
                           mastered=2, attempt=2, act=lesson))
    # attempt 1 again, later: it replaces attempt 1's result
    ledger.send(completion(ANN, new_run(), t0 + timedelta(hours=2), 5, total=8, correct=6,
                           attempt=1, act=lesson))
    book = ledger.read(queries.gradebook, ANN)
    (item,) = book["line_items"]
    assert item["activity_name"] == "Lesson-1" and item["course_name"] == "Math G3"
    assert [(r["attempt"], r["score"]) for r in item["results"]] == [(1, 75.0), (2, 25.0)]
    (progress,) = book["progress"]
    assert progress["source"] == "masteredUnits"
    assert progress["progress"] == 25.0  # (3 + 2) of 20 lessons
    ledger.send(completion(ANN, new_run(), t0 + timedelta(hours=3), 1, pct=40, act=lesson))
    (progress,) = ledger.read(queries.gradebook, ANN)["progress"]
    assert (progress["source"], progress["progress"]) == ("pctCompleteApp", 40.0)
    (day,) = ledger.read(queries.learner_summary, ANN)["days"]
    # 6 + 4 + 5 + 1 = 16 XP reaches dailyXp 10; no time, so 0 of 15 active minutes
    assert day["goals_met"] == {"math-g3": {"dailyXp": True, "dailyActiveMinutes": False}}
    (course,) = ledger.read(queries.list_courses)
    assert course["registered"] and course["total_lessons"] == 20
    assert course["progress"] == {"learners": 1, "average": 40.0}


def test_xp_above_focused_minutes_follows_the_run_totals(ledger: Ledger) -> None:
    fair, greedy = new_run(), new_run()
    t0 = at("2025-01-13T10:00:00")
    ledger.send(heartbeat(ANN, fair, t0, 300), completion(ANN, fair, t0 + timedelta(minutes=5), 5))
    ledger.send(heartbeat(ANN, greedy, t0, 300),
                completion(ANN, greedy, t0 + timedelta(minutes=5), 6))
    assert kinds(ledger, run_id=fair) == []  # 5 XP for 5 minutes
    assert kinds(ledger, run_id=greedy) == ["xp_above_focused_minutes"]  # 6 XP for 5 minutes


def test_low_accuracy_needs_xp_and_under_80_percent(ledger: Ledger) -> None:
    t0 = at("2025-01-13T10:00:00")
    low, ok, no_xp = new_run(), new_run(), new_run()
    for run in (low, ok, no_xp):
        ledger.send(heartbeat(ANN, run, t0, 600))
    ledger.send(completion(ANN, low, t0 + timedelta(minutes=10), 3, total=10, correct=7))
    ledger.send(completion(ANN, ok, t0 + timedelta(minutes=10), 3, total=10, correct=8))
    ledger.send(completion(ANN, no_xp, t0 + timedelta(minutes=10), 0, total=10, correct=2))
    assert kinds(ledger, run_id=low) == ["low_accuracy"]
    assert kinds(ledger, run_id=ok) == []
    assert kinds(ledger, run_id=no_xp) == []


def test_heartbeats_after_completion_are_flagged_but_a_late_last_window_is_not(
        ledger: Ledger) -> None:
    run = new_run()
    t0 = at("2025-01-13T10:00:00")
    last = heartbeat(ANN, run, t0 + timedelta(seconds=15), 15)
    ledger.send(heartbeat(ANN, run, t0, 15))
    ledger.send(completion(ANN, run, t0 + timedelta(seconds=30), 0))
    ledger.send(last)  # delivered after the completion, but its time is before it
    assert kinds(ledger, run_id=run) == []
    reused = heartbeat(ANN, run, t0 + timedelta(days=1), 15)
    ledger.send(reused, heartbeat(ANN, run, t0 + timedelta(days=1, seconds=15), 15))
    (flag,) = ledger.read(queries.list_flags, run_id=run)
    assert flag["kind"] == "heartbeats_after_completion"
    assert flag["occurrences"] == 2
    assert flag["event_ids"][1] == reused["id"]


def test_overlapping_windows_are_flagged(ledger: Ledger) -> None:
    run = new_run()
    t0 = at("2025-01-13T10:00:00")
    first = heartbeat(ANN, run, t0, 15)
    second = heartbeat(ANN, run, t0 + timedelta(seconds=10), 15)  # shares 5 s with the first
    touching = heartbeat(ANN, run, t0 + timedelta(seconds=25), 15)  # starts where it ended
    ledger.send(first, second, touching)
    (flag,) = ledger.read(queries.list_flags, run_id=run)
    assert flag["kind"] == "overlapping_windows"
    assert flag["event_ids"] == [first["id"], second["id"]]
    assert flag["occurrences"] == 1


def test_record_time_on_top_of_heartbeats_is_double_time(ledger: Ledger) -> None:
    t0 = at("2025-01-13T10:00:00")
    end = t0 + timedelta(minutes=10)
    # the usual single session: the final heartbeat ends when the completion is sent
    normal = new_run()
    ledger.send(heartbeat(ANN, normal, t0, 300),
                heartbeat(ANN, normal, t0 + timedelta(minutes=5), 300),
                completion(ANN, normal, end, 10))
    assert kinds(ledger, run_id=normal) == []
    # heartbeats were on, and record(time=...) reported the same ten minutes again
    doubled = new_run()
    ledger.send(heartbeat(ANN, doubled, t0, 300),
                heartbeat(ANN, doubled, t0 + timedelta(minutes=5), 300))
    ledger.send(completion(ANN, doubled, end, 10))
    ledger.send(heartbeat(ANN, doubled, t0, 600, window=False, end=end))
    assert kinds(ledger, run_id=doubled) == ["double_time", "overlapping_windows"]
    # the same, with the time report arriving before the completion
    doubled_too = new_run()
    ledger.send(heartbeat(ANN, doubled_too, t0, 300),
                heartbeat(ANN, doubled_too, t0 + timedelta(minutes=5), 300),
                heartbeat(ANN, doubled_too, t0, 600, window=False, end=end),
                completion(ANN, doubled_too, end, 10))
    assert kinds(ledger, run_id=doubled_too) == ["double_time", "overlapping_windows"]


def test_mastered_units_rising_three_times_in_a_row_look_cumulative(ledger: Ledger) -> None:
    t0 = at("2025-01-13T10:00:00")
    for hour, units in enumerate((1, 1, 2)):
        ledger.send(completion("cy@example.edu", new_run(), t0 + timedelta(hours=hour), 0,
                               mastered=units))
    assert kinds(ledger, learner="cy@example.edu") == []
    sent = [completion(ANN, new_run(), t0 + timedelta(hours=hour), 0, mastered=units)
            for hour, units in enumerate((1, 2, 3, 4))]
    for event in sent:
        ledger.send(event)
    (flag,) = ledger.read(queries.list_flags, learner=ANN)
    assert flag["kind"] == "cumulative_mastered_units"
    assert flag["event_ids"] == [event["id"] for event in sent[:3]]
    assert flag["occurrences"] == 2  # at 3 and again at 4
    assert "1 → 2 → 3" in flag["reason"]


def test_a_mastery_streak_moves_alike_in_one_batch_and_one_event_at_a_time(
        ledger: Ledger, tmp_path: Path, backend: Backend) -> None:
    """The projector moves a learner's streak through a batch's completions in seq order: one
    envelope (one batch) of them leaves the same streak and flag as sending them one by one."""
    t0 = at("2025-01-13T10:00:00")
    units = (1, 2, 3, 4, 0, 2, 3, 4)  # rises at 3, at 4, broken by 0, then 2 -> 3 -> 4
    sent = [completion(ANN, new_run(), t0 + timedelta(hours=hour), 0, mastered=mastered)
            for hour, mastered in enumerate(units)]
    for event in sent:
        ledger.send(event)
    (tmp_path / "batch").mkdir()
    batched = Ledger(tmp_path / "batch", db_url=backend.new_db_url())
    try:
        batched.send(*sent)
        for each in (ledger, batched):
            (flag,) = each.read(queries.list_flags, learner=ANN)
            assert flag["kind"] == "cumulative_mastered_units"
            assert flag["occurrences"] == 3
            assert flag["event_ids"] == [event["id"] for event in sent[:3]]
            assert "1 → 2 → 3" in flag["reason"]
            (streak,) = each.rows(mastery_streaks)
            assert (streak["prev2_units"], streak["prev_units"], streak["last_units"],
                    streak["rises"]) == (2, 3, 4, 2)
            assert [streak["prev2_event_id"], streak["prev_event_id"],
                    streak["last_event_id"]] == [event["id"] for event in sent[-3:]]
        assert batched.rows(flags) == ledger.rows(flags)
    finally:
        batched.close()


def test_every_flag_names_its_events_and_a_reason(ledger: Ledger) -> None:
    run = new_run()
    t0 = at("2025-01-13T10:00:00")
    ledger.send(heartbeat(ANN, run, t0, 60), completion(ANN, run, t0, 30, total=10, correct=1))
    for row in ledger.rows(flags):
        assert row["reason"] and row["event_ids"].startswith('["urn:uuid:')

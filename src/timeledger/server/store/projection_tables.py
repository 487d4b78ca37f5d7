"""The projection tables (rebuilt from events) and the course registry (loaded from config)."""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store.compact_keys import UuidText, WindowKey
from timeledger.server.store.interned_texts import InternedText
from timeledger.server.store.schema import UtcDateTime, UtcMicroseconds, metadata

# Seconds are kept as integer milliseconds and XP as integer thousandths, so that sums do not depend
# on the order they were added in (float addition is not associative): an incremental build and a
# rebuild in other batch sizes give the same rows, bit for bit.
Ms = sa.BigInteger
Milli = sa.BigInteger
Email = sa.String(320)
Iri = sa.String(2000)
CourseId = sa.String(500)
RunId = sa.String(64)
EventId = sa.String(200)
LocalDate = sa.String(10)  # YYYY-MM-DD in the platform's time zone


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


learners = sa.Table(
    "learners", metadata,
    sa.Column("email", Email, primary_key=True),
    sa.Column("name", sa.String(300)),
    sa.Column("first_actor_id", Iri, nullable=False),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
)

learner_aliases = sa.Table(
    "learner_aliases", metadata,
    sa.Column("actor_id", Iri, primary_key=True),
    sa.Column("learner_email", Email, primary_key=True),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
)
sa.Index("ix_learner_aliases_email", learner_aliases.c.learner_email)

courses = sa.Table(  # every course events have named, with what the first event said about it
    "courses", metadata,
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("name", sa.String(300)),
    sa.Column("subject", sa.String(50), nullable=False),
    sa.Column("app_name", sa.String(300), nullable=False),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
)

course_registry = sa.Table(  # NOT a projection: loaded from timeback.config.json; rebuild keeps it
    "course_registry", metadata,
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("subject", sa.String(50), nullable=False),
    sa.Column("grade", sa.Integer),
    sa.Column("course_code", sa.String(200)),
    sa.Column("app_name", sa.String(300), nullable=False),
    sa.Column("goals", sa.Text, nullable=False),  # JSON object: dailyXp, dailyLessons, ...
    sa.Column("total_lessons", sa.Integer),
    sa.Column("total_xp", sa.Float),
    sa.Column("env", sa.String(50), nullable=False),
    sa.Column("source", sa.String(2000), nullable=False),
    sa.Column("loaded_at", UtcDateTime(), nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", RunId, primary_key=True),
    sa.Column("run_key", sa.String(256)),  # extensions.runKey: the app's own runId, not a UUID
    sa.Column("learner_email", Email, nullable=False),
    sa.Column("actor_id", Iri, nullable=False),
    sa.Column("activity_id", Iri, nullable=False),
    sa.Column("activity_name", sa.String(300)),
    sa.Column("course_id", CourseId, nullable=False),
    sa.Column("subject", sa.String(50), nullable=False),
    sa.Column("app_name", sa.String(300), nullable=False),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    _counter("active_ms"),
    _counter("inactive_ms"),
    _counter("other_ms"),
    _counter("heartbeats"),
    _counter("completions"),
    _counter("xp_milli"),
    # the run's first counted completion (in seq order); later ones are counted and flagged
    sa.Column("completion_seq", sa.BigInteger),
    sa.Column("completion_event_id", EventId),
    sa.Column("completion_time", UtcDateTime()),
    sa.Column("completion_attempt", sa.Integer),
    sa.Column("completion_xp_milli", Milli),
    sa.Column("completion_total_questions", sa.Integer),
    sa.Column("completion_correct_questions", sa.Integer),
    sa.Column("completion_mastered_units", sa.Integer),
    sa.Column("completion_pct_complete", sa.Float),
)
sa.Index("ix_runs_learner", runs.c.learner_email, runs.c.first_seen)
# the runs list's pages, newest first (queries/runs.py), over all runs or one course's
sa.Index("ix_runs_last_seen", runs.c.last_seen, runs.c.run_id)
sa.Index("ix_runs_course_last_seen", runs.c.course_id, runs.c.last_seen, runs.c.run_id)
sa.Index("ix_runs_learner_last_seen", runs.c.learner_email, runs.c.last_seen)
# a learner's newest runs of one activity (the course heatmap's cell opens them)
sa.Index("ix_runs_learner_activity", runs.c.learner_email, runs.c.activity_id, runs.c.last_seen)
sa.Index("ix_runs_run_key", runs.c.run_key)

# One row per counted time report; the key makes a resent window a no-op. A row per heartbeat,
# so it is kept narrow: on SQLite its primary key is the table (WITHOUT ROWID: no second copy of
# the key in an index), its times and keys integers, its run id the id of its interned text
# (store/interned_texts.py, as events.run_id) and its event ids 16 bytes (store/compact_keys.py;
# docs/scaling.md, "Storage per event").
run_windows = sa.Table(
    "run_windows", metadata,
    sa.Column("run_id", InternedText(64), primary_key=True),
    sa.Column("window_key", WindowKey(), primary_key=True),  # "s:<startDate>" or "t:<eventTime>"
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("event_id", UuidText(200, prefix="urn:uuid:"), nullable=False),
    sa.Column("event_time", UtcMicroseconds(), nullable=False),
    sa.Column("start_at", UtcMicroseconds(), nullable=False),  # reported, else eventTime - seconds
    sa.Column("end_at", UtcMicroseconds(), nullable=False),
    sa.Column("bounds_reported", sa.Boolean, nullable=False),
    sa.Column("active_ms", Ms, nullable=False),
    sa.Column("inactive_ms", Ms, nullable=False),
    sa.Column("other_ms", Ms, nullable=False),
    # an earlier window of the run this one overlaps
    sa.Column("overlap_event_id", UuidText(200, prefix="urn:uuid:")),
    sqlite_with_rowid=False,
)
sa.Index("ix_run_windows_end", run_windows.c.run_id, run_windows.c.end_at)
# a run's windows in start order, a page at a time (GET /api/v1/runs/{id}/windows)
sa.Index("ix_run_windows_start", run_windows.c.run_id, run_windows.c.start_at, run_windows.c.seq)

run_days = sa.Table(  # the local days a run had time on: its sessions
    "run_days", metadata,
    sa.Column("run_id", RunId, primary_key=True),
    sa.Column("local_date", LocalDate, primary_key=True),
    _counter("active_ms"),
    _counter("inactive_ms"),
)

learner_days = sa.Table(
    "learner_days", metadata,
    sa.Column("learner_email", Email, primary_key=True),
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("local_date", LocalDate, primary_key=True),
    _counter("active_ms"),
    _counter("inactive_ms"),
    _counter("xp_milli"),
    _counter("completions"),
    _counter("total_questions"),
    _counter("correct_questions"),
    _counter("mastered_units"),
)
# Covers the reads across learners by date range (the overview, the class view): they read the
# index alone, so the rows of one day sit together however long the history behind them.
sa.Index("ix_learner_days_date_figures", learner_days.c.local_date, learner_days.c.learner_email,
         learner_days.c.course_id, learner_days.c.active_ms, learner_days.c.xp_milli,
         learner_days.c.completions, learner_days.c.total_questions,
         learner_days.c.correct_questions)
sa.Index("ix_learner_days_learner_date", learner_days.c.learner_email, learner_days.c.local_date)

# Running totals the list pages read, so that a read costs the same at any length of history. Each
# is per learner, so no two projectors ever write the same row (the log is cut by learner).
learner_totals = sa.Table(
    "learner_totals", metadata,
    sa.Column("learner_email", Email, primary_key=True),
    _counter("active_ms"),
    _counter("inactive_ms"),
    _counter("xp_milli"),
    _counter("completions"),
    _counter("total_questions"),
    _counter("correct_questions"),
    _counter("mastered_units"),
    _counter("days_active"),  # distinct local days with a learner-day row
    _counter("runs"),
    _counter("flags"),  # stored flags about the learner (every kind)
    _counter("learning_flags"),  # those of them about learning (pipeline.flags.LEARNING_KINDS)
    # accuracy (per mille) of the learner's last five completions with questions, newest first
    sa.Column("accuracy_1", sa.Integer),
    sa.Column("accuracy_2", sa.Integer),
    sa.Column("accuracy_3", sa.Integer),
    sa.Column("accuracy_4", sa.Integer),
    sa.Column("accuracy_5", sa.Integer),
    sa.Column("accuracy_event_id", EventId),  # the newest of those completions
)

learner_course_totals = sa.Table(
    "learner_course_totals", metadata,
    sa.Column("learner_email", Email, primary_key=True),
    sa.Column("course_id", CourseId, primary_key=True),
    _counter("active_ms"),
    _counter("inactive_ms"),
    _counter("xp_milli"),
    _counter("completions"),
    _counter("total_questions"),
    _counter("correct_questions"),
    _counter("mastered_units"),
    _counter("days_active"),
    _counter("runs"),
)
sa.Index("ix_learner_course_totals_course", learner_course_totals.c.course_id)

# A learner's record on one activity of a course (the course page's heatmap and line items): their
# runs of it and how many are completed, and their gradebook results on it. Per learner, so no two
# projectors write the same row; read a course at a time.
learner_activities = sa.Table(
    "learner_activities", metadata,
    sa.Column("learner_email", Email, primary_key=True),
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("activity_id", Iri, primary_key=True),
    sa.Column("activity_name", sa.String(300)),  # the greatest name its runs gave
    sa.Column("first_seen", UtcDateTime()),  # its runs' earliest first_seen; NULL without runs
    _counter("runs"),
    _counter("completed_runs"),  # runs with a counted completion
    _counter("results"),  # gradebook results (one per attempt)
    _counter("scored_results"),  # those with a score
    # the sum of those scores in millionths of a percent (pipeline.gradebook.score_micro): an
    # integer, so the sum does not depend on the order results were added in
    _counter("score_micro_sum"),
    sa.Column("best_score", sa.Float),
)
sa.Index("ix_learner_activities_course", learner_activities.c.course_id)

completions = sa.Table(  # counted completions; the dedupe key makes a resent completion a no-op
    "completions", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", EventId, nullable=False),
    sa.Column("dedupe_key", sa.String(200), unique=True),  # run|attempt|eventTime; NULL w/o run
    sa.Column("run_id", RunId),
    sa.Column("learner_email", Email, nullable=False),
    sa.Column("course_id", CourseId, nullable=False),
    sa.Column("activity_id", Iri, nullable=False),
    sa.Column("attempt", sa.Integer),
    sa.Column("event_time", UtcDateTime(), nullable=False),
    sa.Column("local_date", LocalDate, nullable=False),
    sa.Column("xp_milli", Milli, nullable=False),
    sa.Column("total_questions", sa.Integer),
    sa.Column("correct_questions", sa.Integer),
    sa.Column("mastered_units", sa.Integer),
    sa.Column("pct_complete", sa.Float),
)
sa.Index("ix_completions_run", completions.c.run_id)
# a learner's newest completions (the accuracy of their last five: pipeline/totals.py)
sa.Index("ix_completions_learner_time", completions.c.learner_email,
         completions.c.event_time)

xp_ledger = sa.Table(  # every counted completion's xpEarned, negative corrections included
    "xp_ledger", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", EventId, nullable=False),
    sa.Column("learner_email", Email, nullable=False),
    sa.Column("course_id", CourseId, nullable=False),
    sa.Column("run_id", RunId),
    sa.Column("activity_id", Iri, nullable=False),
    sa.Column("event_time", UtcDateTime(), nullable=False),
    sa.Column("local_date", LocalDate, nullable=False),
    sa.Column("xp_milli", Milli, nullable=False),
)
sa.Index("ix_xp_ledger_learner", xp_ledger.c.learner_email, xp_ledger.c.local_date)

gradebook_line_items = sa.Table(
    "gradebook_line_items", metadata,
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("activity_id", Iri, primary_key=True),
    sa.Column("activity_name", sa.String(300)),
    sa.Column("subject", sa.String(50), nullable=False),
    sa.Column("app_name", sa.String(300), nullable=False),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    # caliper.gradebook_ids.line_item_sourced_id: how the OneRoster gradebook API names it
    sa.Column("sourced_id", sa.String(80)),
)
sa.Index("ix_gradebook_line_items_sourced_id", gradebook_line_items.c.sourced_id)

gradebook_results = sa.Table(  # per learner × line item × attempt; a repeat overwrites
    "gradebook_results", metadata,
    sa.Column("learner_email", Email, primary_key=True),
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("activity_id", Iri, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("event_id", EventId, nullable=False),
    sa.Column("run_id", RunId),
    sa.Column("score", sa.Float),  # correct / total × 100, when questions were given
    sa.Column("total_questions", sa.Integer),
    sa.Column("correct_questions", sa.Integer),
    sa.Column("xp_milli", Milli, nullable=False),
    sa.Column("mastered_units", sa.Integer),
    sa.Column("pct_complete", sa.Float),
    sa.Column("score_date", UtcDateTime(), nullable=False),
    # caliper.gradebook_ids: the result's and its line item's OneRoster sourcedIds
    sa.Column("sourced_id", sa.String(80)),
    sa.Column("line_item_sourced_id", sa.String(80)),
)
sa.Index("ix_gradebook_results_sourced_id", gradebook_results.c.sourced_id)
sa.Index("ix_gradebook_results_learner_date", gradebook_results.c.learner_email,
         gradebook_results.c.score_date)
sa.Index("ix_gradebook_results_line_item", gradebook_results.c.line_item_sourced_id)
sa.Index("ix_gradebook_results_course_key", gradebook_results.c.course_id,  # a course's pages
         gradebook_results.c.learner_email, gradebook_results.c.activity_id,
         gradebook_results.c.attempt)

course_progress = sa.Table(
    "course_progress", metadata,
    sa.Column("learner_email", Email, primary_key=True),
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("pct_complete", sa.Float),  # the latest pctCompleteApp (by eventTime, then seq)
    sa.Column("pct_time", UtcDateTime()),
    sa.Column("pct_seq", sa.BigInteger),
    _counter("mastered_units"),
    _counter("completions"),
    _counter("xp_milli"),
)

mastery_streaks = sa.Table(  # the last three masteredUnits per learner × course, for the flag
    "mastery_streaks", metadata,
    sa.Column("learner_email", Email, primary_key=True),
    sa.Column("course_id", CourseId, primary_key=True),
    sa.Column("last_units", sa.Integer, nullable=False),
    sa.Column("prev_units", sa.Integer),
    sa.Column("prev2_units", sa.Integer),
    sa.Column("last_event_id", EventId, nullable=False),
    sa.Column("prev_event_id", EventId),
    sa.Column("prev2_event_id", EventId),
    sa.Column("rises", sa.Integer, nullable=False),  # consecutive strict rises ending at last
)

flags = sa.Table(
    "flags", metadata,
    sa.Column("flag_key", sa.String(1000), primary_key=True),  # kind:subject, unique per problem
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("run_id", RunId),
    sa.Column("learner_email", Email, nullable=False),
    sa.Column("course_id", CourseId),
    sa.Column("event_ids", sa.Text, nullable=False),  # JSON array, from the first occurrence
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("event_time", UtcDateTime(), nullable=False),
    _counter("occurrences"),
)
sa.Index("ix_flags_learner", flags.c.learner_email)
sa.Index("ix_flags_run_seq", flags.c.run_id, flags.c.first_seq, flags.c.flag_key)  # a run's pages
sa.Index("ix_flags_kind_seq", flags.c.kind, flags.c.first_seq)
sa.Index("ix_flags_event_time", flags.c.event_time)

event_outcomes = sa.Table(  # what the projector decided for an event it did not count
    "event_outcomes", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("outcome", sa.String(30), nullable=False),  # duplicate_window, duplicate_completion
)

# Every projection, in the order rebuild clears them. The registry is not among them.
PROJECTION_TABLES: tuple[sa.Table, ...] = (
    learners, learner_aliases, courses, runs, run_windows, run_days, learner_days, completions,
    xp_ledger, gradebook_line_items, gradebook_results, course_progress, mastery_streaks, flags,
    event_outcomes, learner_totals, learner_course_totals, learner_activities,
)

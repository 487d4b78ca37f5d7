"""The app's own table of lesson attempts: the runId a learner resumes, and their progress."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS lesson_runs (
    run_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    lesson TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    correct INTEGER NOT NULL DEFAULT 0,
    active_ms INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS lesson_runs_open ON lesson_runs (email, lesson, completed_at);
"""


@dataclass(frozen=True, slots=True)
class LessonRun:
    """One attempt of one lesson by one learner."""

    run_id: str
    email: str
    lesson: str
    attempt: int
    answered: int
    correct: int
    active_ms: int
    completed_at: str | None


class LessonRuns:
    """Open an attempt (or resume the open one), save progress, mark it complete."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(SCHEMA)

    def _one(self, where: str, *args: object) -> LessonRun | None:
        row = self._db.execute(
            "SELECT run_id, email, lesson, attempt, answered, correct, active_ms, completed_at"
            f" FROM lesson_runs WHERE {where}", args).fetchone()
        return LessonRun(*row) if row else None

    def resume_or_start(self, email: str, lesson: str) -> LessonRun:
        """The learner's open attempt, else a new one with a fresh runId (a new attempt after a
        completed one must not reuse the completed run's id)."""
        with self._lock:
            found = self._one("email = ? AND lesson = ? AND completed_at IS NULL", email, lesson)
            if found is not None:
                return found
            (attempts,) = self._db.execute(
                "SELECT count(*) FROM lesson_runs WHERE email = ? AND lesson = ?",
                (email, lesson)).fetchone()
            run_id = str(uuid.uuid4())
            self._db.execute(
                "INSERT INTO lesson_runs (run_id, email, lesson, attempt, started_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, email, lesson, attempts + 1, datetime.now(UTC).isoformat()))
            found = self._one("run_id = ?", run_id)
            assert found is not None
            return found

    def get(self, run_id: str, email: str) -> LessonRun | None:
        with self._lock:
            return self._one("run_id = ? AND email = ?", run_id, email)

    def save_progress(self, run_id: str, email: str, answered: int, correct: int,
                      active_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE lesson_runs SET answered = ?, correct = ?, active_ms = max(active_ms, ?)"
                " WHERE run_id = ? AND email = ? AND completed_at IS NULL",
                (answered, correct, active_ms, run_id, email))

    def complete(self, run_id: str, email: str) -> LessonRun | None:
        """Mark the attempt complete once; None when it was not open."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE lesson_runs SET completed_at = ? WHERE run_id = ? AND email = ?"
                " AND completed_at IS NULL",
                (datetime.now(UTC).isoformat(), run_id, email)).rowcount
            return self._one("run_id = ?", run_id) if changed else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

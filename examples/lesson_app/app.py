"""A FastAPI lesson app using timeledger: cookie sign-in, a one-sitting quiz, a resumable lesson."""

from __future__ import annotations

import hashlib
import hmac
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from examples.lesson_app import lesson_pages as pages
from examples.lesson_app.lesson_runs import LessonRuns
from timeledger import Client
from timeledger.web import create_router

COOKIE = "lesson_app_learner"
COURSE = {"subject": "Math", "grade": 3}
QUIZ: dict[str, Any] = {"id": "times-tables-quiz", "name": "Times tables quiz", "course": COURSE}
LESSON: dict[str, Any] = {"id": "fractions-lesson", "name": "Fractions lesson", "course": COURSE}
QUIZ_QUESTIONS = [
    {"text": f"{a} × {b} = ?", "answer": a * b, "choices": [a * b - b, a * b, a * b + a]}
    for a, b in ((3, 4), (6, 7), (8, 5), (9, 9), (7, 4))
]
OFFSETS = ((0, 1, 2), (-1, 0, 1), (-2, -1, 0))  # the right answer first, second, third
LESSON_QUESTIONS = [
    {"text": f"{num}/{den} of {whole} = ?", "answer": whole * num // den,
     "choices": [whole * num // den + offset for offset in OFFSETS[i % 3]]}
    for i, (num, den, whole) in enumerate(
        ((1, 2, 8), (1, 4, 12), (3, 4, 8), (2, 3, 9), (1, 3, 6), (5, 6, 12)))
]


class Progress(BaseModel):
    runId: str
    answered: int = Field(ge=0, le=len(LESSON_QUESTIONS))
    correct: int = Field(ge=0, le=len(LESSON_QUESTIONS))
    activeMs: int = Field(ge=0)


class Completion(BaseModel):
    runId: str


class SignedCookie:
    """The signed-in learner's email in a cookie, signed so a browser cannot claim another one."""

    def __init__(self, secret: str) -> None:
        self.key = secret.encode()

    def _sign(self, email: str) -> str:
        return hmac.new(self.key, email.encode(), hashlib.sha256).hexdigest()[:32]

    def dump(self, email: str) -> str:
        return f"{email}|{self._sign(email)}"

    def load(self, value: str | None) -> str | None:
        email, _, signature = (value or "").rpartition("|")
        if email and hmac.compare_digest(signature, self._sign(email)):
            return email
        return None


def create_app(client: Client, *, db_path: str | Path, secret: str,
               base_path: str = "/api/timeback") -> FastAPI:
    """The app; `client` is the timeledger Client (with the courses) the adapter sends through."""
    app = FastAPI(title="timeledger lesson app")
    runs = LessonRuns(db_path)
    cookie = SignedCookie(secret)

    def learner(request: Request) -> str | None:
        return cookie.load(request.cookies.get(COOKIE))

    def identity(request: Request) -> dict[str, Any] | None:
        """The adapter's identity hook: who is signed in, from the cookie (never the body)."""
        email = learner(request)
        return {"email": email} if email else None

    timeback = create_router(client, identity=identity, base_path=base_path)
    app.mount(timeback.base_path, timeback)
    app.mount("/static", StaticFiles(directory=Path(__file__).resolve().parent / "static"),
              name="static")
    app.state.runs = runs

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    def required(request: Request) -> str:
        email = learner(request)
        if email is None:
            raise HTTPException(401, "Sign in first")
        return email

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> str:
        email = learner(request)
        if email is None:
            return pages.sign_in()
        run = runs.resume_or_start(email, LESSON["id"])
        return pages.home(email, run.attempt, run.answered, len(LESSON_QUESTIONS))

    @app.post("/signin")
    async def sign_in(request: Request) -> RedirectResponse:
        form = parse_qs((await request.body()).decode())  # a plain form: no multipart needed
        email = (form.get("email") or [""])[0].strip().lower()
        response = RedirectResponse("/", status_code=303)
        if "@" in email:
            response.set_cookie(COOKIE, cookie.dump(email), httponly=True, samesite="lax")
        return response

    @app.post("/signout")
    def sign_out() -> RedirectResponse:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/quiz", response_class=HTMLResponse)
    def quiz(request: Request) -> Any:
        if learner(request) is None:
            return RedirectResponse("/", status_code=303)
        return pages.quiz({"activity": QUIZ, "questions": QUIZ_QUESTIONS})

    @app.get("/lesson", response_class=HTMLResponse)
    def lesson(request: Request) -> Any:
        email = learner(request)
        if email is None:
            return RedirectResponse("/", status_code=303)
        run = runs.resume_or_start(email, LESSON["id"])
        return pages.lesson({
            "activity": LESSON, "questions": LESSON_QUESTIONS,
            "run": {"runId": run.run_id, "attempt": run.attempt, "answered": run.answered,
                    "correct": run.correct, "activeMs": run.active_ms},
        })

    @app.post("/lesson/progress", status_code=204)
    def save_progress(progress: Progress, request: Request) -> None:
        email = required(request)
        if runs.get(progress.runId, email) is None:
            raise HTTPException(404, "No such lesson attempt")
        runs.save_progress(progress.runId, email, progress.answered,
                           min(progress.correct, progress.answered), progress.activeMs)

    @app.post("/lesson/complete")
    def complete(completion: Completion, request: Request) -> dict[str, Any]:
        """The backend reports the completion (time already went up in heartbeats)."""
        email = required(request)
        run = runs.complete(completion.runId, email)
        if run is None:
            raise HTTPException(409, "This attempt is not open")
        accuracy = run.correct / run.answered if run.answered else 0.0
        # rounded down to 0.1: never above the focused minutes
        xp = math.floor(run.active_ms / 60000 * accuracy * 10) / 10
        client.activity.record(
            user={"email": email}, activity=LESSON, run_id=run.run_id, wait=False,
            metrics={"xp_earned": xp, "total_questions": run.answered,
                     "correct_questions": run.correct, "mastered_units": 1})
        return {"runId": run.run_id, "xpEarned": xp}

    return app

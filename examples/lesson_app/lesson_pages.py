"""The example app's HTML: each page is static markup, a JSON data blob and one module script,
styled by static/lesson.css."""

from __future__ import annotations

import html
import json
from typing import Any


def page(title: str, body: str, data: dict[str, Any] | None = None, script: str = "") -> str:
    blob = json.dumps(data or {}).replace("</", "<\\/")
    module = f'<script type="module">{script}</script>' if script else ""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title>"
            f"<link rel=stylesheet href=/static/lesson.css>"
            f"<link rel=icon href=/static/favicon.svg type=image/svg+xml></head><body>"
            f"<h1>{html.escape(title)}</h1>{body}"
            f'<script type="application/json" id="page-data">{blob}</script>{module}'
            f"</body></html>")


def sign_in() -> str:
    return page("Sign in", """
<form method=post action=/signin>
  <label>Email <input id=email name=email type=email required autofocus></label>
  <button id=signin>Sign in</button>
</form>
<p class=muted>Any address will do: this example trusts whoever signs in.</p>""")


def home(email: str, lesson_attempt: int, lesson_answered: int, lesson_total: int) -> str:
    return page("Lessons", f"""
<p>Signed in as <b id=learner>{html.escape(email)}</b>.</p>
<ul>
  <li><a id=quiz-link href=/quiz>Times tables quiz</a> (one sitting)</li>
  <li><a id=lesson-link href=/lesson>Fractions lesson</a> (resumable: attempt {lesson_attempt},
      {lesson_answered} of {lesson_total} answered)</li>
</ul>
<form method=post action=/signout><button id=signout>Sign out</button></form>""")


QUESTION_UI = """
<p id=status class=muted>Press start when you are ready.</p>
<button id=start>Start</button>
<div id=question class=question hidden></div>
<div id=choices></div>
<button id=leave hidden>Save and leave</button>
"""

CLIENT_IMPORT = """
import { createClient } from "/api/timeback/timeledger.js";
const data = JSON.parse(document.getElementById("page-data").textContent);
const timeback = createClient();
const $ = (id) => document.getElementById(id);
window.app = { timeback, data, errors: [] };
function onError(error, context) {
  const { code, status, message } = error;
  window.app.errors.push({ code, status, message, type: context.type });
  $("status").textContent = `Could not save (${error.message}); we will try again.`;
}
function ask(question, answer) {
  $("question").hidden = false;
  $("question").textContent = question.text;
  $("choices").replaceChildren(...question.choices.map((value) => {
    const button = document.createElement("button");
    button.className = "choice";
    button.textContent = String(value);
    button.dataset.value = String(value);
    button.addEventListener("click", () => answer(value === question.answer));
    return button;
  }));
}
function done(text) {
  $("question").hidden = true;
  $("choices").replaceChildren();
  $("leave").hidden = true;
  $("status").textContent = text;
}
"""

QUIZ_SCRIPT = CLIENT_IMPORT + """
let correct = 0;
let index = 0;
$("start").addEventListener("click", () => {
  $("start").hidden = true;
  $("status").textContent = "Go!";
  const activity = timeback.activity.start({
    id: data.activity.id, name: data.activity.name, course: data.activity.course, onError,
  });
  window.app.activity = activity;
  const next = () => ask(data.questions[index], async (right) => {
    correct += right ? 1 : 0;
    index += 1;
    if (index < data.questions.length) return next();
    const total = data.questions.length;
    // 1 XP per focused minute, scaled by accuracy, rounded down to 0.1 so it never exceeds the
    // focused minutes. No pctComplete: one quiz is not the course done (the platform counts
    // progress from the course's lessons).
    const xpEarned = Math.floor((activity.totalActiveMs / 60000) * (correct / total) * 10) / 10;
    done("Saving…");
    try {
      const totalQuestions = total;
      await activity.end({ xpEarned, totalQuestions, correctQuestions: correct });
      done(`Quiz complete: ${correct}/${total} right, ${xpEarned} XP.`);
    } catch (error) {
      done(`Quiz finished, but it could not be recorded: ${error.message}`);
    }
  });
  next();
});
"""

LESSON_SCRIPT = CLIENT_IMPORT + """
let answered = data.run.answered;
let correct = data.run.correct;
const post = (path, body) => fetch(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
});
const showProgress = () => {
  const total = data.questions.length;
  $("status").textContent = `Attempt ${data.run.attempt}: question ${answered + 1} of ${total}.`;
};
$("start").textContent = answered ? "Resume" : "Start";
$("start").addEventListener("click", () => {
  $("start").hidden = true;
  $("leave").hidden = false;
  showProgress();
  // The app stored this runId; passing it back ties today's time to the same run.
  const activity = timeback.activity.start({
    id: data.activity.id, name: data.activity.name, course: data.activity.course,
    runId: data.run.runId, onError,
  });
  window.app.activity = activity;
  const save = () => post("/lesson/progress", {
    runId: data.run.runId, answered, correct, activeMs: data.run.activeMs + activity.totalActiveMs,
  });
  $("leave").addEventListener("click", async () => {
    await save();
    await activity.end();  // time only: the run stays open for next time
    window.location.href = "/";
  });
  const next = () => ask(data.questions[answered], async (right) => {
    answered += 1;
    correct += right ? 1 : 0;
    await save();
    if (answered < data.questions.length) {
      showProgress();
      return next();
    }
    done("Saving…");
    await activity.end();  // time only; the backend records the completion
    const reply = await post("/lesson/complete", { runId: data.run.runId });
    const result = await reply.json();
    done(reply.ok ? `Lesson complete: ${correct}/${answered} right, ${result.xpEarned} XP.`
      : `Could not complete the lesson: ${result.detail}`);
  });
  next();
});
"""


def quiz(data: dict[str, Any]) -> str:
    return page("Times tables quiz", QUESTION_UI, data, QUIZ_SCRIPT)


def lesson(data: dict[str, Any]) -> str:
    return page("Fractions lesson", QUESTION_UI, data, LESSON_SCRIPT)

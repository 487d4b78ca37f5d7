"""A terminal multiplication quiz that tracks focused time and reports XP to a timeledger platform.

Run a local platform and create API credentials (see the SDK docs), then:

    export TIMELEDGER_BASE_URL=http://127.0.0.1:8000
    export TIMELEDGER_CLIENT_ID=... TIMELEDGER_CLIENT_SECRET=...
    python examples/terminal_quiz.py --email ada@example.edu

Time counts as focused while you answer; after 60 s without an answer it counts as inactive, and
typing `p` pauses the quiz. XP follows the Timeback rule, 1 XP = 1 focused minute, awarded when
at least 80 % of the answers are right.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable
from typing import Any

from timeledger import Client, ErrorContext, TimeOptions
from timeledger.sdk.clock import Clock

Read = Callable[[str], str]

CONFIG: dict[str, Any] = {
    "name": "Terminal Quiz",
    "sensor": "https://quiz.example.com",
    "courses": [{"subject": "FastMath", "grade": 3,
                 "metadata": {"goals": {"dailyXp": 10, "dailyActiveMinutes": 10}}}],
}
COURSE = {"subject": "FastMath", "grade": 3}
MASTERY = 0.8


def xp_for(active_ms: int, correct: int, total: int) -> int:
    """1 XP per whole focused minute, only when the answers show mastery."""
    if total == 0 or correct / total < MASTERY:
        return 0
    return math.floor(active_ms / 60_000)


def waiting_message(count: int, outbox: object) -> str:
    """What the learner reads when the platform could not be reached."""
    events = "1 event waits" if count == 1 else f"{count} events wait"
    goes = "goes" if count == 1 else "go"
    return (f"The platform is not reachable; {events} in {outbox} and {goes} out the next time "
            f"the quiz runs.")


def ask(activity: Any, a: int, b: int, read: Read = input) -> bool | None:
    """One question; None when the learner quits (`q`, or Ctrl-D ends the input).
    `p` pauses until Enter."""
    while True:
        try:
            answer = read(f"  {a} × {b} = ").strip().lower()
        except EOFError:
            print("\n  input ended: finishing the quiz with the answers so far")
            return None
        activity.touch()
        if answer == "q":
            return None
        if answer == "p":
            activity.pause()
            try:
                read("  paused: press Enter to go on ")
            except EOFError:
                print("\n  input ended: finishing the quiz with the answers so far")
                return None
            activity.resume()
            continue
        try:
            return int(answer) == a * b
        except ValueError:
            print("  a number, please (p pauses, q quits)")


def main(argv: list[str] | None = None, *, clock: Clock | None = None,
         read: Read = input) -> int:
    """Run the quiz; a test passes a FakeClock and a `read` that answers (and lets time pass)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", required=True, help="the learner's email")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--run-id", help="resume a run (a UUID) instead of starting a new one")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    def warn(error: Exception, context: ErrorContext) -> None:
        print(f"  [timeledger] {context.kind} not delivered yet: {error}", file=sys.stderr)

    with Client(config=CONFIG, on_error=warn, clock=clock) as client:
        activity = client.activity.start(
            id="times-tables", name="Times tables", course=COURSE, user={"email": args.email},
            run_id=args.run_id, time=TimeOptions(idle_timeout=60.0))
        print(f"Times tables for {args.email} (run {activity.run_id}); p pauses, q quits.")
        correct = total = 0
        for _ in range(args.questions):
            result = ask(activity, rng.randint(2, 12), rng.randint(2, 12), read)
            if result is None:
                break
            total += 1
            correct += result
            print("  right!" if result else "  not quite")
        focused = activity.total_active_ms
        xp = xp_for(focused, correct, total)
        receipt = activity.end({"xp_earned": xp, "total_questions": total,
                                "correct_questions": correct})
        print(f"\n{correct}/{total} right in {focused / 60000:.1f} focused minutes: {xp} XP")
        if receipt.delivered:
            print("Reported to the platform.")
        else:
            print(waiting_message(len(client.pending()), client.outbox_path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Property: whatever the learner does, windows tile the time and split it exactly."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sdk.conftest import CONFIG, MATH, USER
from timeledger.sdk import Client
from timeledger.testing import FakeClock, FakePlatform

Step = tuple[str, int]
steps = st.lists(st.tuples(st.sampled_from(["advance", "pause", "resume", "touch"]),
                           st.integers(min_value=1, max_value=40)), max_size=30)


def reference_active_seconds(plan: list[Step], idle: int | None) -> tuple[int, int]:
    """(active, total) seconds, second by second: active when not paused and within `idle`
    seconds of the last input (start, touch or resume)."""
    now, paused, last_input, active = 0, False, 0, 0
    for op, value in plan:
        if op == "advance":
            for second in range(now, now + value):
                if not paused and (idle is None or second + 1 <= last_input + idle):
                    active += 1
            now += value
        elif op == "pause":
            paused = True
        elif op == "resume":
            if paused:
                last_input = now
            paused = False
        elif not paused:
            last_input = now
    return active, now


@settings(max_examples=60, deadline=None)
@given(plan=steps, idle=st.one_of(st.none(), st.integers(min_value=5, max_value=30)))
def test_windows_tile_time_and_split_it_exactly(plan: list[Step], idle: int | None) -> None:
    clock, fake = FakeClock(), FakePlatform()
    client = Client("http://p.test", client_id="a", client_secret="b", config=CONFIG,
                    clock=clock, transport=fake, outbox=None,
                    environ={}, rng=random.Random(0))
    activity = client.activity.start(id="a", name="A", course=MATH, user=USER,
                                     time={"idle_timeout": idle, "hidden_timeout": None})
    for op, value in plan:
        if op == "advance":
            clock.advance(value)
        else:
            getattr(activity, op)()
    activity.end()
    assert client.flush()
    expected_active, total = reference_active_seconds(plan, idle)
    windows = [event["generated"]["items"] for event in fake.time_spent]
    active = sum(i["value"] for items in windows for i in items if i["type"] == "active")
    inactive = sum(i["value"] for items in windows for i in items if i["type"] == "inactive")
    assert active == expected_active
    assert active + inactive == total
    assert activity.total_active_ms == expected_active * 1000
    bounds = [(items[0]["startDate"], items[0]["endDate"]) for items in windows]
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(bounds))
    assert all(len({(i["startDate"], i["endDate"]) for i in items}) == 1 for items in windows)
    client.close()

"""GET /api/v1/class?class=: the class view narrowed to one roster class's students."""

from __future__ import annotations

from tests.server.conftest import LEARNERS
from tests.support.platform import PlatformProcess


def _emails(platform: PlatformProcess, **params: str | list[str]) -> set[str]:
    return {row["email"] for row in platform.get("/api/v1/class", **params)["learners"]}


def test_the_class_view_filters_by_roster_class(rostered: PlatformProcess) -> None:
    for class_id in ("cls-math3-maple", "cls-math4-maple", "cls-span-cedar"):
        expected = {who.email for who in LEARNERS.values() if who.class_id == class_id}
        assert _emails(rostered, **{"class": class_id}) == expected, class_id
    assert LEARNERS["outsider"].email in _emails(rostered)  # no class: everyone


def test_class_and_learner_narrow_together(rostered: PlatformProcess) -> None:
    wanted: dict[str, str | list[str]] = {
        "class": "cls-math4-maple", "learner": [LEARNERS["ben"].email, LEARNERS["ada"].email]}
    both = _emails(rostered, **wanted)
    assert both == {LEARNERS["ben"].email}


def test_an_unknown_class_is_a_404(rostered: PlatformProcess) -> None:
    with rostered.http() as client:
        reply = client.get("/api/v1/class", params={"class": "no-such-class"})
    assert reply.status_code == 404
    assert "no-such-class" in reply.json()["imsx_description"]

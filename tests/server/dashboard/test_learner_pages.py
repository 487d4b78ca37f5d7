"""/learners shows a page of learners at a time: every learner once, in the order asked for, with
the count of all of them; search and sorting apply before the page is cut; `page` is bounded."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.events import heartbeat, wrap
from tests.support.platform import PlatformProcess
from timeledger.server.dashboard.pages import LEARNERS_PER_PAGE, MAX_LEARNER_PAGES

if TYPE_CHECKING:
    from tests.support.postgres import Backend

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LEARNERS = 2 * LEARNERS_PER_PAGE + 30
ROW = re.compile(r'<tr data-learner="([^"]+)">')


@pytest.fixture(scope="module")
def school(backend: Backend, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[PlatformProcess, list[str]]]:
    """LEARNERS learners; learner n was active n + 1 minutes; every seventh is in class 7b."""
    folder = tmp_path_factory.mktemp("learner-pages")
    emails = [f"{'7b-' if n % 7 == 0 else ''}pupil{n:03d}@example.edu" for n in range(LEARNERS)]
    with PlatformProcess(folder, db_url=backend.new_db_url()) as platform:
        sent = [heartbeat(email, str(uuid.uuid4()), T0 + timedelta(minutes=n), 60 * (n + 1))
                for n, email in enumerate(emails)]
        for start in range(0, len(sent), 100):
            assert platform.send(wrap(*sent[start:start + 100])).status_code == 200
        yield platform, emails


def _page(platform: PlatformProcess, **params: str | int) -> httpx.Response:
    with platform.http() as client:
        return client.get("/learners", params=params)


def _rows(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 200, reply.text
    return ROW.findall(reply.text)


@pytest.mark.parametrize(("sort", "direction"), [("email", "asc"), ("active_minutes", "desc")])
def test_the_pages_hold_every_learner_once_in_order(school: tuple[PlatformProcess, list[str]],
                                                    sort: str, direction: str) -> None:
    platform, emails = school
    # active minutes rise with n, so biggest first is the reverse of the order sent
    whole = sorted(emails) if sort == "email" else list(reversed(emails))
    shown: list[str] = []
    for page in (1, 2, 3):
        reply = _page(platform, sort=sort, dir=direction, page=page)
        rows = _rows(reply)
        assert len(rows) == min(LEARNERS_PER_PAGE, LEARNERS - len(shown))
        assert f"{LEARNERS} learners" in reply.text
        assert f"page {page} of 3" in reply.text
        assert ('rel="next"' in reply.text) == (page < 3)
        assert ('rel="prev"' in reply.text) == (page > 1)
        shown += rows
    assert shown == whole


def test_search_and_sort_apply_before_the_page_is_cut(
        school: tuple[PlatformProcess, list[str]]) -> None:
    platform, emails = school
    in_class = sorted(email for email in emails if email.startswith("7b-"))
    # sorted by email, biggest first, the whole list shows none of them on its first page
    assert not set(_rows(_page(platform, sort="email", dir="desc"))) & set(in_class)
    reply = _page(platform, q="7B-", sort="email", dir="desc")
    assert _rows(reply) == list(reversed(in_class))
    assert f"{len(in_class)} learners matching" in reply.text
    assert 'id="learners-pager"' not in reply.text  # one page: nothing to turn to
    sorted_link = re.search(r'href="\?([^"]*)"[^>]*data-sort="xp"', reply.text)
    assert sorted_link is not None
    assert "q=7B-" in sorted_link.group(1) and "sort=xp" in sorted_link.group(1)
    assert "page=" not in sorted_link.group(1)  # a new order starts on its first page


def test_search_finds_learners_by_an_actor_id(school: tuple[PlatformProcess, list[str]]) -> None:
    platform, emails = school
    # every learner here was sent as actor .../student-1, which no email holds
    assert not any("student-1" in email for email in emails)
    reply = _page(platform, q="Student-1", sort="active_minutes", dir="asc", page=3)
    assert _rows(reply) == emails[2 * LEARNERS_PER_PAGE:]
    assert f"{LEARNERS} learners matching" in reply.text
    assert not _rows(_page(platform, q="student-2"))


def test_a_page_past_the_last_says_so_and_page_is_bounded(
        school: tuple[PlatformProcess, list[str]]) -> None:
    platform, _emails = school
    past = _page(platform, page=4)
    assert _rows(past) == []
    assert "Page 4 is past the last (3)" in past.text
    assert 'rel="prev"' in past.text
    for wrong in (0, -1, MAX_LEARNER_PAGES + 1, "two"):
        reply = _page(platform, page=wrong)
        assert reply.status_code == 400, (wrong, reply.status_code)
        assert reply.json()["imsx_error_details"][0]["path"] == "page"

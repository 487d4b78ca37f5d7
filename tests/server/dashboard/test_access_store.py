"""The access store on its own, with time passed in: expiry, revocation, password checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.postgres import Backend
from timeledger.server.dashboard.access import ADMIN_SESSION_LIFETIME, AccessError, AccessStore
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import sqlite_url

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[AccessStore]:
    """On a fresh store of the test's backend."""
    db_url = backend.new_db_url() or sqlite_url(tmp_path)
    platform = open_platform(Settings(db_url=db_url, data_dir=tmp_path))
    yield AccessStore(platform.engine)
    platform.close()


def test_an_admin_session_ends_when_its_time_is_up(store: AccessStore) -> None:
    store.create_admin("teacher", "a long password", T0)
    session = store.sign_in("teacher", "a long password", T0)
    assert session is not None and session.kind == "admin"
    assert store.session(session.token, T0 + ADMIN_SESSION_LIFETIME - timedelta(seconds=1))
    assert store.session(session.token, T0 + ADMIN_SESSION_LIFETIME) is None
    assert store.sign_in("teacher", "a wrong password", T0) is None
    assert store.sign_in("nobody", "a long password", T0) is None


def test_a_new_password_ends_the_admins_sessions(store: AccessStore) -> None:
    store.create_admin("teacher", "a long password", T0)
    session = store.sign_in("teacher", "a long password", T0)
    assert session is not None
    with pytest.raises(AccessError, match="already exists"):
        store.create_admin("teacher", "another password", T0)
    store.create_admin("teacher", "another password", T0, replace=True)
    assert store.session(session.token, T0) is None
    assert store.sign_in("teacher", "another password", T0) is not None


def test_a_share_link_opens_a_learner_session_until_it_expires(store: AccessStore) -> None:
    link = store.create_share_link(" Ada@School.example ", 2, "teacher", T0)
    assert link.learner_email == "ada@school.example"
    session = store.open_share_link(link.token, T0 + timedelta(days=1))
    assert session is not None
    assert (session.kind, session.subject) == ("learner", "ada@school.example")
    assert session.expires_at == T0 + timedelta(days=2)
    assert store.session(session.token, T0 + timedelta(days=2)) is None
    assert store.open_share_link(link.token, T0 + timedelta(days=2)) is None
    assert store.open_share_link("not-a-token", T0) is None


def test_revoking_a_link_ends_its_sessions(store: AccessStore) -> None:
    link = store.create_share_link("ada@school.example", 14, "teacher", T0)
    session = store.open_share_link(link.token, T0)
    assert session is not None
    assert store.revoke_share_link(link.link_id, T0)
    assert store.session(session.token, T0) is None
    assert store.open_share_link(link.token, T0) is None
    assert not store.revoke_share_link(link.link_id, T0)


@pytest.mark.parametrize(("email", "days", "message"), [
    ("not-an-email", 1, "not an email"), ("ada@school.example", 0, "at most 366"),
    ("ada@school.example", 400, "at most 366")])
def test_a_share_link_checks_its_input(store: AccessStore, email: str, days: float,
                                       message: str) -> None:
    with pytest.raises(AccessError, match=message):
        store.create_share_link(email, days, "teacher", T0)


@pytest.mark.parametrize(("username", "password"), [("", "a long password"),
                                                     ("two words", "a long password"),
                                                     ("teacher", "short")])
def test_an_admin_needs_a_name_and_a_long_enough_password(
        store: AccessStore, username: str, password: str) -> None:
    with pytest.raises(AccessError):
        store.create_admin(username, password, T0)
    assert not store.has_admins()

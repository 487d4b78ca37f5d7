"""Dashboard access: admin accounts, sign-in sessions and learner share links, stored hashed."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.secret_hashing import hash_secret, new_token, token_digest, verify_secret
from timeledger.server.store.access_tables import (
    dashboard_admins,
    dashboard_sessions,
    dashboard_share_links,
)
from timeledger.server.store.roster_tables import roster_users

ADMIN_SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 8
# Verified when a username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_secret("timeledger-no-such-admin")

class AccessError(ValueError):
    """A rule about accounts or links was broken; the message says which."""


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: an admin, or a student who opened a share link."""

    token: str
    kind: Literal["admin", "learner"]
    subject: str
    csrf_token: str
    expires_at: datetime

    def csrf_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self.csrf_token.encode(), candidate.encode())


@dataclass(frozen=True, slots=True)
class ShareLink:
    link_id: str
    token: str
    learner_email: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ShareLinkRecord:
    """A share link as listed (its token is stored only as a digest, so it cannot be shown)."""
    link_id: str
    learner_email: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    teacher: str | None  # the roster teacher's sourcedId: sees only their classes' learners
    created_at: datetime


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_teacher(conn: sa.Connection, teacher: str) -> str:
    """The sourcedId of an active roster teacher, else AccessError saying what it is instead."""
    sourced_id = teacher.strip()
    row = conn.execute(sa.select(roster_users.c.status, roster_users.c.role)
                       .where(roster_users.c.sourced_id == sourced_id)).first()
    if row is None:
        raise AccessError(f"No roster user {sourced_id!r} (import the roster first: "
                          "timeledger roster import PATH)")
    if row.status != "active" or row.role != "teacher":
        raise AccessError(f"Roster user {sourced_id!r} is not an active teacher")
    return sourced_id


class AccessStore:
    """Every read and write of the dashboard's own tables; time comes from the caller."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- admin accounts -------------------------------------------------------------------------

    def create_admin(self, username: str, password: str, now: datetime,
                     replace: bool = False, teacher: str | None = None) -> None:
        """An account; with `teacher` (a roster teacher's sourcedId) it sees only the learners
        of that teacher's classes."""
        username = username.strip()
        if not username or len(username) > 100 or any(c.isspace() for c in username):
            raise AccessError("A username is 1 to 100 characters without spaces")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccessError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
        hashed = hash_secret(password)
        with self._engine.begin() as conn:
            if teacher is not None:
                teacher = _check_teacher(conn, teacher)
            exists = conn.execute(sa.select(dashboard_admins.c.username).where(
                dashboard_admins.c.username == username)).first() is not None
            if exists and not replace:
                raise AccessError(f"Admin {username!r} already exists (use --replace to set a "
                                  "new password)")
            if exists:
                values: dict[str, str] = {"password_hash": hashed}
                if teacher is not None:
                    values["teacher_sourced_id"] = teacher
                conn.execute(dashboard_admins.update()
                             .where(dashboard_admins.c.username == username).values(values))
                # A new password ends that admin's sessions.
                conn.execute(dashboard_sessions.delete().where(
                    dashboard_sessions.c.kind == "admin",
                    dashboard_sessions.c.subject == username))
            else:
                conn.execute(dashboard_admins.insert().values(
                    username=username, password_hash=hashed, created_at=now,
                    teacher_sourced_id=teacher))

    def link_teacher(self, username: str, teacher: str | None) -> None:
        """Make an account a roster teacher's (None: an admin who sees everyone again)."""
        with self._engine.begin() as conn:
            if teacher is not None:
                teacher = _check_teacher(conn, teacher)
            changed = conn.execute(dashboard_admins.update()
                                   .where(dashboard_admins.c.username == username.strip())
                                   .values(teacher_sourced_id=teacher)).rowcount
            if not changed:
                raise AccessError(f"No account {username!r}")

    def accounts(self) -> list[Account]:
        with self._engine.connect() as conn:
            return [Account(row.username, row.teacher_sourced_id, row.created_at)
                    for row in conn.execute(sa.select(dashboard_admins)
                                            .order_by(dashboard_admins.c.username))]

    def teacher_of(self, username: str) -> str | None:
        """The roster teacher an account is linked to, if any."""
        with self._engine.connect() as conn:
            teacher: str | None = conn.execute(
                sa.select(dashboard_admins.c.teacher_sourced_id)
                .where(dashboard_admins.c.username == username)).scalar()
        return teacher

    def has_admins(self) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(dashboard_admins.c.username).limit(1)).first() is not None

    def sign_in(self, username: str, password: str, now: datetime) -> Session | None:
        """A fresh admin session for the right password, else None (same cost either way)."""
        with self._engine.connect() as conn:
            stored = conn.execute(sa.select(dashboard_admins.c.password_hash).where(
                dashboard_admins.c.username == username.strip())).scalar()
        if not verify_secret(password, stored or _DUMMY_HASH) or stored is None:
            return None
        return self._open_session("admin", username.strip(), None, now + ADMIN_SESSION_LIFETIME,
                                  now)

    # --- share links ----------------------------------------------------------------------------

    def create_share_link(self, learner_email: str, days: float, created_by: str,
                          now: datetime) -> ShareLink:
        email = normalize_email(learner_email)
        if "@" not in email:
            raise AccessError(f"{learner_email!r} is not an email address")
        if not 0 < days <= 366:
            raise AccessError("A link lasts more than 0 and at most 366 days")
        token = new_token()
        link_id = secrets.token_hex(6)
        expires_at = now + timedelta(days=days)
        with self._engine.begin() as conn:
            conn.execute(dashboard_share_links.insert().values(
                link_id=link_id, token_hash=token_digest(token), learner_email=email,
                created_by=created_by, created_at=now, expires_at=expires_at))
        return ShareLink(link_id, token, email, expires_at)

    def share_links(self, limit: int) -> list[ShareLinkRecord]:
        """The newest `limit` share links, revoked and expired ones included."""
        t = dashboard_share_links.c
        with self._engine.connect() as conn:
            return [ShareLinkRecord(row.link_id, row.learner_email, row.created_by,
                                    row.created_at, row.expires_at, row.revoked_at)
                    for row in conn.execute(sa.select(dashboard_share_links)
                                            .order_by(t.created_at.desc(), t.link_id)
                                            .limit(limit))]

    def revoke_share_link(self, link_id: str, now: datetime) -> bool:
        with self._engine.begin() as conn:
            changed = conn.execute(dashboard_share_links.update().where(
                dashboard_share_links.c.link_id == link_id,
                dashboard_share_links.c.revoked_at.is_(None)).values(revoked_at=now)).rowcount
            conn.execute(dashboard_sessions.delete().where(
                dashboard_sessions.c.link_id == link_id))
        return bool(changed)

    def open_share_link(self, token: str, now: datetime) -> Session | None:
        """A learner-scoped session for a live link's token, lasting as long as the link."""
        with self._engine.connect() as conn:
            link = conn.execute(sa.select(dashboard_share_links).where(
                dashboard_share_links.c.token_hash == token_digest(token))).first()
        if link is None or link.revoked_at is not None or link.expires_at <= now:
            return None
        return self._open_session("learner", link.learner_email, link.link_id, link.expires_at,
                                  now)

    # --- sessions -------------------------------------------------------------------------------

    def _open_session(self, kind: Literal["admin", "learner"], subject: str, link_id: str | None,
                      expires_at: datetime, now: datetime) -> Session:
        token = new_token()
        csrf = new_token(24)
        with self._engine.begin() as conn:
            conn.execute(dashboard_sessions.delete().where(dashboard_sessions.c.expires_at <= now))
            conn.execute(dashboard_sessions.insert().values(
                token_hash=token_digest(token), kind=kind, subject=subject, link_id=link_id,
                csrf_token=csrf, created_at=now, expires_at=expires_at))
        return Session(token, kind, subject, csrf, expires_at)

    def session(self, token: str, now: datetime) -> Session | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(dashboard_sessions).where(
                dashboard_sessions.c.token_hash == token_digest(token))).first()
        if row is None or row.expires_at <= now:
            return None
        kind: Literal["admin", "learner"] = "admin" if row.kind == "admin" else "learner"
        return Session(token, kind, row.subject, row.csrf_token, row.expires_at)

    def end_session(self, token: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(dashboard_sessions.delete().where(
                dashboard_sessions.c.token_hash == token_digest(token)))

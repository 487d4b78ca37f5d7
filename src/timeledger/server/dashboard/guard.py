"""Who is looking at the dashboard, what they may see, and the CSRF check every POST passes."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from timeledger.server.dashboard.access import AccessStore, Session, normalize_email
from timeledger.server.platform import Platform
from timeledger.server.queries.roster_links import student_learner_emails, teacher_class_ids
from timeledger.server.secret_hashing import new_token

SESSION_COOKIE = "tl_session"
# Carries the CSRF token for a browser without a session (the sign-in form, an open dashboard).
CSRF_COOKIE = "tl_csrf"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person behind a request. `learner` is set when they may see only that student;
    `teacher` when the account is a roster teacher's, who sees only `scope`: the learners
    enrolled in their classes (queries/roster_links.py)."""

    kind: Literal["open", "admin", "learner"]
    name: str
    session: Session | None = None
    teacher: str | None = None
    scope: frozenset[str] | None = None  # None: no narrowing (an admin, the open dashboard)

    @property
    def learner(self) -> str | None:
        return self.name if self.kind == "learner" else None

    @property
    def sees_everyone(self) -> bool:
        return self.kind != "learner" and self.teacher is None

    @property
    def is_staff(self) -> bool:
        """An admin, a teacher or the open dashboard: anyone but a share link's student."""
        return self.kind != "learner"

    def may_see_learner(self, email: str) -> bool:
        if self.kind == "learner":
            return normalize_email(email) == self.name
        return self.scope is None or normalize_email(email) in self.scope


class Denied(Exception):
    """The request may not see this page: 401 (who are you?) or 403 (not for you)."""

    def __init__(self, status: Literal[401, 403], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def access_of(request: Request) -> AccessStore:
    store: AccessStore = request.app.state.dashboard_access
    return store


async def viewer_of(request: Request) -> Viewer | None:
    """The signed-in viewer, or the open viewer when the dashboard needs no sign-in, else None."""
    token = request.cookies.get(SESSION_COOKIE)
    platform = platform_of(request)
    if token:
        session = await run_in_threadpool(access_of(request).session, token, platform.now())
        if session is not None and session.kind == "admin":
            return await run_in_threadpool(_staff_viewer, request, session)
        if session is not None:
            return Viewer(session.kind, session.subject, session)
    if platform.settings.dashboard_open:
        return Viewer("open", "local")
    return None


def _staff_viewer(request: Request, session: Session) -> Viewer:
    """An admin session's viewer; a teacher's carries the learners of their classes, read
    afresh on each request (a roster import or new learner shows at once)."""
    teacher = access_of(request).teacher_of(session.subject)
    if teacher is None:
        return Viewer("admin", session.subject, session)
    with platform_of(request).engine.connect() as conn:
        scope = student_learner_emails(conn, teacher_class_ids(conn, teacher))
    return Viewer("admin", session.subject, session, teacher=teacher, scope=scope)


async def require_viewer(request: Request) -> Viewer:
    viewer = await viewer_of(request)
    if viewer is None:
        raise Denied(401, "Sign in to see the dashboard.")
    return viewer


async def require_everyone_viewer(request: Request) -> Viewer:
    """Pages about many learners: an admin or the open dashboard, never a learner's link, nor a
    teacher (whose pages are narrowed to their classes: require_staff_viewer)."""
    viewer = await require_viewer(request)
    if viewer.teacher is not None:
        raise Denied(403, "A teacher's account shows the learners of their own classes, "
                          "from My classes.")
    if not viewer.sees_everyone:
        raise Denied(403, "This link shows one learner's pages only.")
    return viewer


async def require_staff_viewer(request: Request) -> Viewer:
    """Pages narrowed to `viewer.scope`: an admin, a teacher or the open dashboard."""
    viewer = await require_viewer(request)
    if not viewer.is_staff:
        raise Denied(403, "This link shows one learner's pages only.")
    return viewer


def require_learner_access(viewer: Viewer, email: str) -> None:
    if not viewer.may_see_learner(email):
        raise Denied(403, "This link shows one learner's pages only.")


def csrf_token(request: Request, viewer: Viewer | None) -> str:
    """The token forms must echo: the session's own, else the browser's CSRF cookie (new if none).

    A new cookie value is left in `request.state.new_csrf` for the response to set.
    """
    if viewer is not None and viewer.session is not None:
        return viewer.session.csrf_token
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    fresh: str = getattr(request.state, "new_csrf", None) or new_token(24)
    request.state.new_csrf = fresh
    return fresh


def _same_origin(request: Request) -> bool:
    """A browser's Fetch metadata, Origin or Referer must say this site; a request without them
    (not a browser's, or an old one) may pass: the token is checked either way."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source != "null"
    return urlsplit(source).netloc == request.headers.get("host", "")


def csrf_ok(request: Request, viewer: Viewer | None, submitted: str | None) -> bool:
    if not submitted or not _same_origin(request):
        return False
    if viewer is not None and viewer.session is not None:
        return viewer.session.csrf_matches(submitted)
    cookie = request.cookies.get(CSRF_COOKIE)
    return cookie is not None and hmac.compare_digest(cookie.encode(), submitted.encode())

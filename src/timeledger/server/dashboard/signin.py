"""Sign-in and sign-out for admins, opening a student's share link, and the 401/403 pages."""

from __future__ import annotations

from functools import partial
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from timeledger.server.dashboard.access import Session
from timeledger.server.dashboard.guard import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Denied,
    Viewer,
    access_of,
    csrf_ok,
    platform_of,
    viewer_of,
)
from timeledger.server.dashboard.rendering import render, secure
from timeledger.server.secret_checks import BUSY_RETRY_AFTER_S, ChecksBusy, SecretChecks
from timeledger.server.store.storable_text import NUL_MESSAGE, holds_nul

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 8192
SIGN_IN_MESSAGE = "This dashboard is private: sign in as an admin."


class BadForm(Exception):
    """A form body that is too large or not url-encoded."""


class FormFieldError(Exception):
    """A form field no store can hold (a NUL character): a 400 naming it (dashboard/__init__)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


async def read_form(request: Request) -> dict[str, str]:
    """A small url-encoded form (no multipart: the dashboard's forms carry a few fields)."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise BadForm("Form too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm("Form too large")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise BadForm("Form is not UTF-8") from None
    form = {key: values[0] for key, values in parse_qs(text).items()}
    for key, value in form.items():
        if holds_nul(key) or holds_nul(value):
            raise FormFieldError(key.replace("\x00", "\\x00"), NUL_MESSAGE)
    return form


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or `https://host` (an open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _redirect(request: Request, target: str) -> Response:
    return secure(RedirectResponse(target, status_code=303), request)


def _set_session_cookie(request: Request, response: Response, session: Session,
                        max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, session.token, max_age=max_age, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https", path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def denied_response(request: Request, viewer: Viewer | None, exc: Denied) -> Response:
    if request.url.path.startswith("/data/"):
        return secure(JSONResponse({"error": exc.message}, status_code=exc.status), request)
    if exc.status == 401:
        return render(request, viewer, "login.html", {
            "message": exc.message, "error": None, "username": "",
            "next": safe_next(request.url.path)}, status=401)
    return render(request, viewer, "denied.html", {
        "heading": "Not yours to see", "message": exc.message}, status=403)


async def checked_form(request: Request, viewer: Viewer | None) -> dict[str, str] | None:
    """The form of a POST, or None when it is malformed or lacks this session's CSRF token."""
    try:
        form = await read_form(request)
    except BadForm:
        return None
    return form if csrf_ok(request, viewer, form.get("csrf_token")) else None


def forbidden_form(request: Request, viewer: Viewer | None) -> Response:
    return render(request, viewer, "denied.html", {
        "heading": "Form expired", "message": "This form was not sent from this dashboard's page, "
        "or the page was too old. Reload the page and try again."}, status=403)


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    viewer = await viewer_of(request)
    if viewer is not None and viewer.kind == "admin":
        return _redirect(request, safe_next(next))
    return render(request, viewer, "login.html", {
        "message": SIGN_IN_MESSAGE, "error": None, "username": "", "next": safe_next(next)})


@router.post("/login")
async def login(request: Request) -> Response:
    viewer = await viewer_of(request)
    form = await checked_form(request, viewer)
    if form is None:
        return forbidden_form(request, viewer)
    platform = platform_of(request)
    access = access_of(request)
    checks: SecretChecks = request.app.state.secret_checks
    username = form.get("username", "")
    account = f"admin {username.strip()}"
    address = request.client.host if request.client else None

    def refused(status: int, error: str) -> Response:
        return render(request, viewer, "login.html", {
            "message": SIGN_IN_MESSAGE, "error": error, "username": username,
            "next": safe_next(form.get("next"))}, status=status)

    throttled = checks.throttled(account, address)
    if throttled is not None:
        response = refused(429, throttled.message)
        response.headers["Retry-After"] = str(throttled.retry_after_s)
        return response
    try:
        session = await checks.run(partial(access.sign_in, username, form.get("password", ""),
                                           platform.now()))
    except ChecksBusy:
        response = refused(503, "Too many sign-ins at once; try again shortly.")
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
        return response
    if session is None:
        checks.failed(account, address)
        return refused(401, "Wrong username or password.")
    if viewer is not None and viewer.session is not None:
        await run_in_threadpool(access.end_session, viewer.session.token)
    response = _redirect(request, safe_next(form.get("next")))
    lifetime = int((session.expires_at - platform.now()).total_seconds())
    _set_session_cookie(request, response, session, lifetime)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    viewer = await viewer_of(request)
    try:
        form = await read_form(request)
    except BadForm:
        return forbidden_form(request, viewer)
    if viewer is None or viewer.session is None:
        return _redirect(request, "/login")
    if not csrf_ok(request, viewer, form.get("csrf_token")):
        return forbidden_form(request, viewer)
    await run_in_threadpool(access_of(request).end_session, viewer.session.token)
    response = _redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/share/{token}")
async def open_share_link(token: str, request: Request) -> Response:
    platform = platform_of(request)
    session = await run_in_threadpool(access_of(request).open_share_link, token, platform.now())
    if session is None:
        return render(request, None, "denied.html", {
            "heading": "Link not valid", "message": "This link may have expired or been "
            "revoked. Ask your teacher for a new one."}, status=401)
    response = _redirect(request, "/learners/" + quote(session.subject, safe=""))
    lifetime = int((session.expires_at - platform.now()).total_seconds())
    _set_session_cookie(request, response, session, lifetime)
    return response

"""The query API's users (`/api/v1/users`, scope reports:read): what the adapter's `/user/verify`
and `/user/me` read. 404 for no user with the e-mail, 409 for several (queries/users.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query, Request

from timeledger.caliper.errors import Problem
from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.consistency import read_consistency
from timeledger.server.api.error_responses import ImsError
from timeledger.server.api.errors import ApiError
from timeledger.server.queries import InvalidParameter, NotFound, read_models, users
from timeledger.server.store.credentials import AccessToken

router = APIRouter(prefix="/api/v1/users", tags=["users"])
Reader = Annotated[AccessToken, Depends(require_scope("reports:read"))]
Email = Annotated[str, Query(max_length=users.MAX_EMAIL_CHARS,
                             description="The user's e-mail (compared lower-cased)")]


def _answer(request: Request, query: Callable[[sa.Connection], dict[str, Any]]
            ) -> dict[str, Any]:
    """Run the query on a connection of its own: 400 naming a bad parameter, 404, 409."""
    try:
        with platform_of(request).engine.connect() as conn:
            return query(conn)
    except InvalidParameter as exc:
        raise ApiError(400, f"Invalid {exc.name}: {exc.message}",
                       [Problem(exc.name, exc.message)]) from None
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except users.AmbiguousUser as exc:
        raise ApiError(409, str(exc)) from None


_AMBIGUOUS: dict[int | str, dict[str, Any]] = {
    409: {"description": "More than one roster user has the e-mail", "model": ImsError}}


@router.get("/verify", summary="Whether a user has this e-mail, and its id",
            response_model=read_models.UserVerification, response_model_exclude_unset=True,
            responses=_AMBIGUOUS)
def verify(request: Request, _token: Reader, email: Email) -> dict[str, Any]:
    return _answer(request, lambda conn: users.verify_user(conn, email))


@router.get("/profile", summary="A user's profile: school, grade, courses, goals, XP",
            response_model=read_models.UserProfile, responses={
                **_AMBIGUOUS, 404: {"description": "No user has the e-mail", "model": ImsError}})
def profile(request: Request, _token: Reader, email: Email) -> dict[str, Any]:
    platform = platform_of(request)
    today = platform.now().astimezone(ZoneInfo(platform.settings.timezone)).date()
    return _answer(request, lambda conn: users.user_profile(conn, email, today))


def install(app: FastAPI) -> None:
    app.include_router(router, dependencies=[Depends(read_consistency)])

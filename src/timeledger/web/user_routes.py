"""The adapter's `GET /user/verify` and `GET /user/me`: the signed-in learner as the platform knows
them, read through the SDK's platform queries (the platform's `/api/v1/users`, reports:read).

verify answers `{"verified": true, "timebackId"}` or `{"verified": false}`; me answers the profile
`{id, email, name, school, grade, courses, goals, xp: {today, all}}`. Errors as the protocol has
them: 401 UNAUTHORIZED without a learner, 404 USER_NOT_FOUND (me), 409 USER_AMBIGUOUS, and
502 INTERNAL_ERROR when the platform could not answer.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from timeledger.caliper.builders import Learner
from timeledger.sdk.platform_queries import (
    PlatformQueries,
    PlatformQueryError,
    UserAmbiguousError,
    UserNotFoundError,
)
from timeledger.web.adapter import hook_failed
from timeledger.web.protocol import UNAUTHORIZED, Reply, error_reply

log = logging.getLogger("timeledger.web")
UserRoute = Literal["verify", "me"]


class UserQueries(Protocol):
    """What the user routes read (`timeledger.sdk.platform_queries.PlatformQueries` is one)."""

    def verify_user(self, email: str) -> dict[str, Any]: ...

    def user_profile(self, email: str) -> dict[str, Any]: ...


class ClientUserQueries:
    """An SDK client's platform user queries, made on first use (`user_queries` overrides)."""

    def __init__(self, client: object, user_queries: UserQueries | None = None) -> None:
        self._client = client
        self._queries = user_queries
        self._lock = threading.Lock()

    def __call__(self) -> UserQueries:
        with self._lock:
            if self._queries is None:
                self._queries = PlatformQueries.for_client(self._client)
            return self._queries


def email_of(identity: object) -> str | None:
    """The e-mail an identity hook's answer names, None for nobody."""
    if isinstance(identity, Learner):
        return identity.email
    if isinstance(identity, Mapping):
        email = identity.get("email")
        return email if isinstance(email, str) and email.strip() else None
    return None


def user_reply(route: UserRoute, queries: UserQueries, email: str | None) -> Reply:
    """The answer to one user route for the learner with `email` (None: nobody signed in)."""
    if email is None:
        return UNAUTHORIZED
    try:
        if route == "verify":
            return Reply(200, queries.verify_user(email))
        return Reply(200, queries.user_profile(email))
    except UserNotFoundError:
        if route == "verify":
            return Reply(200, {"verified": False})
        return error_reply(404, "USER_NOT_FOUND", "No Timeback user has this learner's e-mail")
    except UserAmbiguousError:
        return error_reply(409, "USER_AMBIGUOUS",
                           "More than one Timeback user has this learner's e-mail")
    except PlatformQueryError as exc:
        log.warning("timeledger.web /user/%s: the platform could not answer: %s", route, exc)
        return error_reply(502, "INTERNAL_ERROR", "The platform could not answer")


def user_routes(identity: Callable[[Request], Any], queries: Callable[[], UserQueries],
                respond: Callable[[Reply], Response]) -> list[Route]:
    """`/user/verify` and `/user/me` for a router; `queries()` gives the reader on first use."""
    call = getattr(identity, "__call__", None)  # noqa: B004 (a hook may be a callable object)
    asynchronous = inspect.iscoroutinefunction(identity) or inspect.iscoroutinefunction(call)

    def endpoint(route: UserRoute) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            try:
                found = await identity(request) if asynchronous \
                    else await run_in_threadpool(identity, request)
            except Exception:  # the app's hook may raise anything: its 500, logged
                return respond(hook_failed())
            reply = await run_in_threadpool(user_reply, route, queries(), email_of(found))
            return respond(reply)

        return answer

    return [Route(f"/user/{name}", endpoint(name), methods=["GET"], name=f"timeback-user-{name}")
            for name in ("verify", "me")]

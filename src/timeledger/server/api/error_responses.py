"""The error bodies as models, and which errors each route can answer, declared in one place.

Routes do not list their errors by hand: when `/openapi.json` is first built,
`declare_error_responses` gives each operation the errors its parts imply (any route: 400 for a
Host not served, 408, 431; a scope check: 401, 403 and the store's 503; an envelope body: 400,
413, 415, 422; a typed parameter: 400; a looked-up id: 404; the token route: its OAuth errors,
413, 429), so the document lists every 4xx a route can answer, with the body it comes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from timeledger.server.api.auth import require_scope

COMPONENTS = "#/components/schemas/"


class ImsErrorDetail(BaseModel):
    path: str = Field(description="The field, parameter or header at fault ('' for the body)")
    message: str


class ImsError(BaseModel):
    """Every error of the Caliper and query API (IMS shape)."""

    imsx_codeMajor: Literal["failure"]
    imsx_severity: Literal["error"]
    imsx_description: str
    imsx_error_details: list[ImsErrorDetail]


class OAuthError(BaseModel):
    """An error of the token endpoint (RFC 6749 section 5.2)."""

    error: str = Field(description="invalid_client, unsupported_grant_type, ...")
    error_description: str | None = None


@dataclass(frozen=True)
class ErrorAnswer:
    """One reason a route answers `status`, with the body it comes in."""

    status: int
    model: type[BaseModel]
    reason: str
    retry_after: bool = False


EVERY_ROUTE = (
    ErrorAnswer(400, ImsError, "the Host header names a host this server does not serve"),
    ErrorAnswer(400, ImsError, "a path or query parameter holds a NUL character"),
    ErrorAnswer(408, ImsError, "the request head or body did not arrive in time"),
    ErrorAnswer(431, ImsError, "the request head is over the size limit"),
)
BEARER_ERRORS = (
    ErrorAnswer(401, ImsError, "missing, unknown or expired bearer token"),
    ErrorAnswer(403, ImsError, "the token lacks the scope this route needs"),
)
BODY_ERRORS = (
    ErrorAnswer(400, ImsError, "the body breaks the format; the details name each field"),
    ErrorAnswer(413, ImsError, "the body, or its number of events, is over the limit"),
    ErrorAnswer(415, ImsError, "Content-Type is not application/json"),
    ErrorAnswer(422, ImsError, "the envelope's dataVersion is not supported"),
)
PARAMETER_ERRORS = (
    ErrorAnswer(400, ImsError, "a parameter is malformed; the details name it"),)
LOOKUP_ERRORS = (
    ErrorAnswer(404, ImsError, "no such learner, run, course, event or job"),)
STORE_ERRORS = (
    ErrorAnswer(503, ImsError, "the store cannot be reached or written, or (consistent=true) "
                               "projection did not catch up in time", retry_after=True),)
TOKEN_ERRORS = (
    ErrorAnswer(400, OAuthError, "grant_type is not client_credentials"),
    ErrorAnswer(401, OAuthError, "unknown client or wrong secret"),
    ErrorAnswer(413, ImsError, "the form is over its size limit"),
    ErrorAnswer(429, OAuthError, "too many failed secrets lately for this client or address",
                retry_after=True),
    ErrorAnswer(503, ImsError, "too many token checks at once", retry_after=True),
)
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                               "schema": {"type": "integer"}}}


def _response(answers: list[ErrorAnswer]) -> dict[str, Any]:
    """The OpenAPI response for one status: every reason, and the body (or bodies) it has."""
    models = sorted({answer.model.__name__ for answer in answers})
    refs = [{"$ref": COMPONENTS + name} for name in models]
    reasons = "; ".join(dict.fromkeys(answer.reason for answer in answers))
    response: dict[str, Any] = {
        "description": reasons[0].upper() + reasons[1:],
        "content": {"application/json": {"schema": refs[0] if len(refs) == 1 else
                                          {"anyOf": refs}}}}
    if any(answer.retry_after for answer in answers):
        response["headers"] = RETRY_AFTER
    return response


TOKEN_PATH = "/oauth2/token"
QUERY_API = "/api/v1/"
LOOKUP_QUERY_PARAMETERS = frozenset({"learner"})
"""Query API parameters that name one thing the store must know (else 404), not a filter."""

# Every check require_scope() makes is one closure, so they share one code object.
_SCOPE_CHECK = require_scope("any").__code__


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The route's own dependant and every dependency below it."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _checks_scope(_path: str, route: RouteContext) -> bool:
    return any(getattr(dep.call, "__code__", None) is _SCOPE_CHECK
               for dep in _dependants(route.dependant))


def _reads_body(_path: str, route: RouteContext) -> bool:
    return route.body_field is not None or "requestBody" in (route.openapi_extra or {})


def _has_checked_parameters(_path: str, route: RouteContext) -> bool:
    """Query, header or cookie parameters, or a path parameter typed other than text."""
    return any(dep.query_params or dep.header_params or dep.cookie_params
               or any(param.field_info.annotation is not str for param in dep.path_params)
               for dep in _dependants(route.dependant))


def _looks_up(path: str, route: RouteContext) -> bool:
    """A path id, or a query API parameter naming one learner."""
    return any(dep.path_params or (path.startswith(QUERY_API) and any(
        param.alias in LOOKUP_QUERY_PARAMETERS for param in dep.query_params))
               for dep in _dependants(route.dependant))


RULES: tuple[tuple[Callable[[str, RouteContext], bool], tuple[ErrorAnswer, ...]], ...] = (
    (lambda _path, _route: True, EVERY_ROUTE),
    (_has_checked_parameters, PARAMETER_ERRORS),
    (_reads_body, BODY_ERRORS),
    (_looks_up, LOOKUP_ERRORS),
    (_checks_scope, BEARER_ERRORS + STORE_ERRORS),
    (lambda path, _route: path == TOKEN_PATH, TOKEN_ERRORS),
)


def error_responses(path: str, route: RouteContext) -> dict[int, dict[str, Any]]:
    """The error responses `route` (served at `path`) can answer, by status."""
    by_status: dict[int, list[ErrorAnswer]] = {}
    for applies, answers in RULES:
        if applies(path, route):
            for answer in answers:
                by_status.setdefault(answer.status, []).append(answer)
    return {status: _response(by_status[status]) for status in sorted(by_status)}


def _api_routes(app: FastAPI) -> Iterator[tuple[str, RouteContext]]:
    """Every API route in the document, as included (with its router's dependencies too), and
    the path it is served at."""
    for context in iter_route_contexts(app.routes):
        if (isinstance(context.original_route, APIRoute) and context.include_in_schema
                and context.path_format):
            yield context.path_format, context


def declare_error_responses(app: FastAPI) -> None:
    """Make `/openapi.json` list, for every route, the errors its parts imply (beside any the
    route declares itself), carry the error models, and drop the 422 that FastAPI assumes for
    a malformed parameter (here that is a 400, as the error handlers answer)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _finish(app, generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _finish(app: FastAPI, document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _, definitions = models_json_schema(
        [(ImsError, "serialization"), (OAuthError, "serialization")],
        ref_template=COMPONENTS + "{model}")
    schemas.update(definitions["$defs"])
    for path, route in _api_routes(app):
        implied = error_responses(path, route)
        for method in route.methods or ():
            responses = document["paths"][path][method.lower()]["responses"]
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
            for status, response in implied.items():
                responses.setdefault(str(status), response)
            document["paths"][path][method.lower()]["responses"] = dict(sorted(responses.items()))
    if "HTTPValidationError" not in str(document["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)

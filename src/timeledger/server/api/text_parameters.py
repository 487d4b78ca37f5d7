"""Path and query parameters are text a store can hold: one with a NUL character is refused.

PostgreSQL text cannot hold NUL, so such a parameter used to reach the store and answer 500 there;
on any store it names nothing that was stored. The app runs this check before every route.
"""

from __future__ import annotations

from fastapi import Request

from timeledger.caliper.errors import Problem
from timeledger.server.api.errors import ApiError
from timeledger.server.store.storable_text import NUL_MESSAGE, holds_nul


async def refuse_nul_characters(request: Request) -> None:
    """A 400 naming the first path or query parameter that holds a NUL character."""
    if "\x00" not in request.scope["path"] and not _may_hold_nul(request.scope["query_string"]):
        return  # path parameters come from the decoded path, query parameters from this text
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if holds_nul(str(value)):
            raise ApiError(400, f"Invalid {name}: {NUL_MESSAGE}", [Problem(name, NUL_MESSAGE)])


def _may_hold_nul(query_string: bytes) -> bool:
    """Whether a decoded query parameter can hold NUL: only as a raw byte or as `%00`."""
    return b"\x00" in query_string or b"%00" in query_string

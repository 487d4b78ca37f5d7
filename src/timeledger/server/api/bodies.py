"""Read a request body up to a limit, refusing (413) a longer one without reading all of it."""

from __future__ import annotations

from fastapi import Request

from timeledger.server.api.errors import ApiError


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) anything over `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"Body of {declared} bytes is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"Body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

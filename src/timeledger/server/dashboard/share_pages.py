"""Share links in the dashboard: listed with their state, and revoked by a CSRF-checked form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from timeledger.server.dashboard.guard import (
    Viewer,
    access_of,
    platform_of,
    require_everyone_viewer,
)
from timeledger.server.dashboard.rendering import render, secure
from timeledger.server.dashboard.signin import checked_form, forbidden_form

router = APIRouter(include_in_schema=False)
Everyone = Annotated[Viewer, Depends(require_everyone_viewer)]
LINKS_SHOWN = 500  # the newest links listed; older ones stay revocable from the CLI


@router.get("/share-links")
def share_links_page(request: Request, viewer: Everyone, revoked: str = "") -> Response:
    links = access_of(request).share_links(LINKS_SHOWN + 1)
    return render(request, viewer, "share_links.html", {
        "links": links[:LINKS_SHOWN], "more": len(links) > LINKS_SHOWN,
        "now": platform_of(request).now(), "revoked": revoked[:32]})


@router.post("/share-links/{link_id}/revoke")
async def revoke_share_link(request: Request, viewer: Everyone,
                            link_id: Annotated[str, Path(max_length=32)]) -> Response:
    form = await checked_form(request, viewer)
    if form is None:
        return forbidden_form(request, viewer)
    done = await run_in_threadpool(access_of(request).revoke_share_link, link_id,
                                   platform_of(request).now())
    if not done:
        return render(request, viewer, "denied.html", {
            "heading": "Not revoked", "message": "There is no such live link."}, status=404)
    return secure(RedirectResponse(f"/share-links?revoked={link_id}", status_code=303), request)

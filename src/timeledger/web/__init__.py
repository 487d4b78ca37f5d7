"""The web adapter: the Timeback adapter protocol for Starlette, FastAPI and Django, plus its JS."""

from timeledger.web.adapter import AdapterClient, Identity, WebAdapter
from timeledger.web.protocol import Outcome, Reply, interpret
from timeledger.web.router import DEFAULT_BASE_PATH, IdentityHook, TimebackRouter, create_router

__all__ = [
    "DEFAULT_BASE_PATH", "AdapterClient", "Identity", "IdentityHook", "Outcome", "Reply",
    "TimebackRouter", "WebAdapter", "create_router", "interpret",
]

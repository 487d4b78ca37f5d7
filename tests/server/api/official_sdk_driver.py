"""Drives the official Timeback server SDK (PyPI `timeback-sdk`, unchanged) against a timeledger
platform. Runs in the SDK's own venv (Python >= 3.12), never in the test process:

    python official_sdk_driver.py PLAN.json  ->  prints [{"status", "body"}] per step

The plan names the platform, the client credentials, the learner's e-mail, the app's
timeback.config.json and the adapter requests to make. The SDK has no base-URL option: its
`env` picks URLs from two tables of its own (timeback_common.config for the API clients,
timeback_core.constants for the actor ids it builds), so every entry of both is pointed at the
platform before the SDK is created (docs/oneroster.md shows the same).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from timeback.server.adapters.fastapi import (  # type: ignore[import-not-found]
    TimebackFastAPI,
)
from timeback.server.types import (  # type: ignore[import-not-found]
    ApiCredentials,
    CustomIdentityConfig,
    TimebackConfig,
)
from timeback_common import config as endpoint_tables  # type: ignore[import-not-found]
from timeback_core import constants as service_tables  # type: ignore[import-not-found]


def point_at(platform: str) -> None:
    """Every API, Caliper and token URL of both environments -> the timeledger platform."""
    token = platform.rstrip("/") + "/oauth2/token"
    for env in ("staging", "production"):
        for table in (endpoint_tables.BEYONDAI_API_URLS, endpoint_tables.BEYONDAI_CALIPER_URLS,
                      endpoint_tables.BEYONDAI_QTI_URLS):
            table[env] = platform
        endpoint_tables.BEYONDAI_TOKEN_URLS[env] = token
        urls = service_tables.SERVICE_URLS[env]
        urls.update(api=platform, caliper=platform, qti=platform, token=token)


def learner_of(request: Request) -> str | None:
    return request.headers.get("x-learner")


async def run(plan: dict[str, Any]) -> list[dict[str, Any]]:
    point_at(plan["platform"])
    sdk = TimebackFastAPI(TimebackConfig(
        env="staging",
        api=ApiCredentials(client_id=plan["client_id"], client_secret=plan["client_secret"]),
        identity=CustomIdentityConfig(get_email=learner_of),
        config_path=plan["config_path"]))
    app = FastAPI()
    app.include_router(sdk.router, prefix="/api/timeback")
    out: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        for step in plan["steps"]:
            reply = await client.request(step.get("method", "POST"),
                                         f"/api/timeback/{step['route']}",
                                         json=step.get("body"),
                                         headers={"x-learner": plan["email"]})
            body = reply.json() if reply.content else None
            out.append({"route": step["route"], "status": reply.status_code, "body": body})
    await sdk.close()
    return out


if __name__ == "__main__":
    steps = asyncio.run(run(json.loads(Path(sys.argv[1]).read_text())))
    print(json.dumps(steps))

"""A second adapter process for the tests: the router on uvicorn, sharing an outbox file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `tests.*`

from tests.web.web_support import CONFIG
from timeledger import Client
from timeledger.web import create_router


def identity(request: Request) -> dict[str, Any] | None:
    email = request.headers.get("x-learner")
    return {"email": email} if email else None


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--port", "--outbox", "--base-url", "--client-id", "--client-secret"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    client = Client(base_url=args.base_url, client_id=args.client_id,
                    client_secret=args.client_secret, config=CONFIG, outbox=args.outbox,
                    max_backoff=0.2)
    router = create_router(client, identity=identity)
    app = Starlette()
    app.mount(router.base_path, router)
    try:
        uvicorn.run(app, host="127.0.0.1", port=int(args.port), log_level="warning")
    finally:
        client.close(timeout=5)


if __name__ == "__main__":
    main()

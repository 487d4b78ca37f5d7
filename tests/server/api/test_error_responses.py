"""Every error is a complete response: a 500 keeps the connection, and out-of-range integer
parameters are 400s naming the parameter, not 500s."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.support.app_server import serving
from tests.support.platform import PlatformProcess
from timeledger.server.api.auth import MAX_TOKEN_FORM_BYTES
from timeledger.server.api.errors import ErrorResponses, install_error_handlers

TOO_BIG = ("9223372036854775808", "1e30", "-1e30", "1e23", "-1")


@pytest.fixture
def failing_server() -> Iterator[str]:
    """The platform's error handling and HTTP protocol around a route that fails, served by
    uvicorn on a real socket."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(ErrorResponses)

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError("a bug")

    @app.get("/works")
    async def works() -> dict[str, bool]:
        return {"works": True}

    with serving(app) as url:
        yield url


def _local_port(reply: httpx.Response) -> int:
    port: int = reply.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


def test_a_500_keeps_the_keep_alive_connection(failing_server: str) -> None:
    with httpx.Client(base_url=failing_server, timeout=10) as client:
        failed = client.get("/fails")
        assert failed.status_code == 500
        assert failed.json()["imsx_description"] == "Internal error; the request was not applied"
        assert "close" not in failed.headers.get("connection", "")
        worked = client.get("/works")
        assert worked.json() == {"works": True}
        assert _local_port(worked) == _local_port(failed)


@pytest.mark.parametrize("value", TOO_BIG)
def test_event_cursor_out_of_range_is_a_400_naming_it(platform: PlatformProcess,
                                                      value: str) -> None:
    with platform.http() as client:
        reply = client.get("/caliper/events", params={"before": value})
        assert reply.status_code == 400, reply.text
        assert [p["path"] for p in reply.json()["imsx_error_details"]] == ["before"]
        feed = client.get("/data/events", params={"before": value})
        assert feed.status_code == 400, feed.text
        assert "before" in feed.text
        assert client.get("/caliper/events", params={"before": "9223372036854775807"}
                          ).status_code == 200


def test_explorer_cursor_out_of_range_is_a_400_naming_it(platform: PlatformProcess) -> None:
    with httpx.Client(base_url=platform.base_url, timeout=10) as client:
        for cursor in ("99999999999999999999", "1.99999999999999999999", "-1"):
            reply = client.get("/data/events", params={"after": cursor})
            assert reply.status_code == 400, (cursor, reply.text)
            assert reply.json()["error"]["field"] == "after"
        assert client.get("/data/events", params={"after": "0"}).status_code == 200


def test_a_token_form_over_its_limit_is_413(platform: PlatformProcess) -> None:
    form = b"grant_type=client_credentials&client_secret=" + b"s" * MAX_TOKEN_FORM_BYTES
    reply = httpx.post(f"{platform.base_url}/oauth2/token", content=form, timeout=10,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 413
    assert f"limit of {MAX_TOKEN_FORM_BYTES} bytes" in reply.json()["imsx_description"]

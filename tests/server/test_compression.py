"""Gzip on a real server: pages, assets and CSV downloads are compressed for a client that
accepts it and plain for one that does not; the ingest path and small replies never are."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support.app_server import serving
from tests.support.events import T0, activity, completion, unique_email, wrap
from tests.support.platform import PlatformProcess
from timeledger.server.compression import MINIMUM_BYTES, CompressedReplies

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}
BROWSER = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


def _raw(client: httpx.Client, path: str, headers: dict[str, str],
         method: str = "GET") -> tuple[httpx.Response, bytes]:
    """The reply and its body as it came over the wire (not decoded)."""
    with client.stream(method, path, headers=headers) as reply:
        return reply, b"".join(reply.iter_raw())


@pytest.mark.parametrize("path", ["/", "/learners", "/overview"])
def test_a_page_is_gzipped_for_a_client_that_accepts_it(platform: PlatformProcess,
                                                         path: str) -> None:
    with httpx.Client(base_url=platform.base_url, timeout=30, headers=BROWSER) as client:
        zipped, wire = _raw(client, path, GZIP)
        plain, text = _raw(client, path, PLAIN)
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    assert zipped.headers["content-type"].startswith("text/html")
    assert "content-encoding" not in plain.headers
    assert text.startswith(b"<!doctype html>") and len(text) >= MINIMUM_BYTES
    assert int(zipped.headers["content-length"]) == len(wire) < len(text) / 2
    # The same page either way (the CSRF token in a form differs per request).
    assert gzip.decompress(wire).split(b'name="csrf_token"')[0] == text.split(
        b'name="csrf_token"')[0]


def test_head_has_the_encoded_headers_and_no_body(platform: PlatformProcess) -> None:
    with httpx.Client(base_url=platform.base_url, timeout=30) as client:
        _, wire = _raw(client, "/static/dashboard.css", GZIP)
        head, nothing = _raw(client, "/static/dashboard.css", GZIP, method="HEAD")
    assert head.status_code == 200 and nothing == b""
    assert head.headers["content-encoding"] == "gzip"
    assert int(head.headers["content-length"]) == len(wire)


def test_a_stylesheet_is_gzipped_too(platform: PlatformProcess) -> None:
    with httpx.Client(base_url=platform.base_url, timeout=30) as client:
        zipped, wire = _raw(client, "/static/dashboard.css", GZIP)
        plain, text = _raw(client, "/static/dashboard.css", PLAIN)
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(wire) == text
    assert "content-encoding" not in plain.headers


def test_a_csv_download_is_gzipped_and_keeps_its_file_name(platform: PlatformProcess) -> None:
    email = unique_email("gzip")
    runs = [str(uuid.uuid4()) for _ in range(20)]
    platform.send(wrap(*(completion(email, run, T0, xp=3, total=5, correct=4,
                                    ref=activity(f"gzip-{index}", f"Lesson {index}"))
                         for index, run in enumerate(runs))))
    with httpx.Client(base_url=platform.base_url, timeout=30) as client:
        params = f"/export/gradebook.csv?learner={email}"
        zipped, wire = _raw(client, params, GZIP)
        plain, text = _raw(client, params, PLAIN)
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-disposition"] == plain.headers["content-disposition"]
    assert zipped.headers["content-disposition"].startswith(
        f'attachment; filename="gradebook-{email}')
    assert gzip.decompress(wire) == text
    assert text.decode("utf-8-sig").count("\r\n") == 1 + len(runs)  # the header, a row a run


def test_a_small_reply_is_plain(platform: PlatformProcess) -> None:
    with httpx.Client(base_url=platform.base_url, timeout=30) as client:
        health, wire = _raw(client, "/healthz", GZIP)
    assert "content-encoding" not in health.headers and wire == b'{"status":"ok"}'


LARGE = b"x" * (4 * MINIMUM_BYTES)


async def _large(_request: Request) -> Response:
    return Response(LARGE, media_type="application/json")


async def _streamed(_request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(50):
            yield f"{index},{'y' * 100}\r\n".encode()
    return StreamingResponse(chunks(), media_type="text/csv")


@pytest.fixture(scope="module")
def wrapped() -> Iterator[str]:
    """A small app behind CompressedReplies, on a real socket: large replies on the ingest path
    and elsewhere, and a streamed CSV."""
    app = Starlette(routes=[Route("/caliper/event", _large, methods=["POST"]),
                            Route("/api/v1/large", _large), Route("/streamed.csv", _streamed)])
    with serving(CompressedReplies(app)) as url:
        yield url


def test_the_ingest_path_is_never_compressed(wrapped: str) -> None:
    with httpx.Client(base_url=wrapped, timeout=30) as client:
        ingest, ingest_wire = _raw(client, "/caliper/event", GZIP, method="POST")
        other, other_wire = _raw(client, "/api/v1/large", GZIP)
    assert "content-encoding" not in ingest.headers and ingest_wire == LARGE
    assert other.headers["content-encoding"] == "gzip" and gzip.decompress(other_wire) == LARGE


def test_a_streamed_reply_is_compressed_as_it_goes(wrapped: str) -> None:
    with httpx.Client(base_url=wrapped, timeout=30) as client:
        zipped, wire = _raw(client, "/streamed.csv", GZIP)
        plain, text = _raw(client, "/streamed.csv", PLAIN)
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-length" not in zipped.headers  # sent chunk by chunk
    assert gzip.decompress(wire) == text
    assert text.count(b"\r\n") == 50 and "content-encoding" not in plain.headers

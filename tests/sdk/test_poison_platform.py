"""Against a real platform: an event it refuses is set aside and every other event is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from tests.sdk.conftest import CONFIG
from tests.sdk.test_poison import events
from tests.support.platform import PlatformProcess
from timeledger.sdk import Client, RejectedError
from timeledger.testing import FakeClock


def test_a_refused_event_is_dead_lettered_and_the_rest_are_stored(
        platform: PlatformProcess) -> None:
    client_id, secret = platform.create_client("sdk-poison")
    clock = FakeClock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    refused: list[Exception] = []
    with Client(platform.base_url, client_id=client_id, client_secret=secret, config=CONFIG,
                clock=clock, outbox=None, environ={},
                on_error=lambda error, context: refused.append(error)) as client:
        queued = events(client, 30)
        queued[17]["eventTime"] = "yesterday"
        bad = queued[17]["id"]
        for event in queued:
            assert client.enqueue(event)
        assert client.flush()
        # the envelope (400 naming data[17].eventTime), the bad event alone (400), the 29 others
        assert client.sender.delivery.requests == 3
        [letter] = client.dead_letters()
        assert (letter.event_id, letter.reason, letter.status) == (bad, "rejected", 400)
        assert "data[0].eventTime" in letter.last_error
        assert [type(error) for error in refused] == [RejectedError]
    with platform.http() as http:
        for event in queued:
            reply = http.get(f"/caliper/events/{quote(event['id'], safe='')}")
            assert reply.status_code == (404 if event["id"] == bad else 200), event["id"]
            if reply.status_code == 200:
                assert reply.json()["eventId"] == event["id"]

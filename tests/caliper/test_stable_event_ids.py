"""A stable event id is uuid5(NAMESPACE_URL, the parts joined by `|`), written out by hand for
speed: it must stay exactly that, or resends after an upgrade would get new ids."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeledger.caliper.builders import stable_event_id

pytestmark = pytest.mark.unit


@given(st.lists(st.text(max_size=80), min_size=1, max_size=4))
def test_a_stable_event_id_is_the_uuid5_of_its_parts(parts: list[str]) -> None:
    expected = uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts))
    assert stable_event_id(*parts) == f"urn:uuid:{expected}"
    assert uuid.UUID(stable_event_id(*parts).removeprefix("urn:uuid:")).version == 5


"""The browser client's copy of the bounds is the wire layer's (bounds.py is their one home)."""

from __future__ import annotations

import re
from pathlib import Path

from timeledger.caliper import bounds

CLIENT = Path(bounds.__file__).resolve().parents[1] / "web" / "static" / "timeledger.js"


def test_the_browser_client_states_the_wire_layers_bounds() -> None:
    stated = {name: int(value) for name, value in re.findall(
        r"^const (MAX_\w+|WINDOW_SLACK_MS) = (\d+);$", CLIENT.read_text(), flags=re.M)
        if name != "MAX_PENDING_WINDOWS"}  # the client's own queue bound
    assert stated == {name: getattr(bounds, name) for name in (
        "MAX_WINDOW_MS", "WINDOW_SLACK_MS", "MAX_XP", "MAX_COUNT", "MAX_PCT")}

"""The browser client files the adapter serves: the npm package `timeledger`'s modules (js/)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

SCRIPT_NAMES = ("timeledger.js", "timeledger-react.js", "timeledger-vue.js", "timeledger-svelte.js")
"""The modules in static/: the one source of the npm package's dist/ (js/scripts/build.js)."""
MEDIA_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Script:
    """One packaged ES module, with the ETag a browser revalidates it by."""

    name: str
    content: bytes
    etag: str

    def headers(self) -> dict[str, str]:
        return {"ETag": self.etag, "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff"}

    def fresh_for(self, if_none_match: str | None) -> bool:
        """True when the browser's cached copy (`If-None-Match`) is this one."""
        if not if_none_match:
            return False
        return self.etag in (tag.strip() for tag in if_none_match.split(","))


@cache
def script(name: str) -> Script:
    """A packaged script by file name; KeyError for anything else."""
    if name not in SCRIPT_NAMES:
        raise KeyError(name)
    content = resources.files("timeledger.web").joinpath("static", name).read_bytes()
    return Script(name, content, '"' + hashlib.sha256(content).hexdigest()[:20] + '"')

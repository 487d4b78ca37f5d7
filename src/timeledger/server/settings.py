"""What an operator can set when starting the platform."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str
    data_dir: Path | None = None
    timezone: str = "UTC"
    # True when the operator named the zone: it must then be the one the store was built with.
    timezone_from_user: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_events_per_envelope: int = DEFAULT_MAX_EVENTS
    public_url: str = "http://127.0.0.1:8000"
    dashboard_open: bool = True
    # The address the server listens on and the extra Host names it answers (api/host_check.py).
    bind_host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    # POST /bench/noop: an authenticated route that does nothing, the single-event bench's baseline
    bench_baseline: bool = False
    # How long a `consistent=true` query waits for the projector before answering 503.
    max_consistent_wait: float = 10.0

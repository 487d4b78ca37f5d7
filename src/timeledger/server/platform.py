"""The running platform's parts, built once from Settings and shared by every request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from timeledger.server.ingestion import Ingestor
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.projector import Projector
from timeledger.server.settings import Settings
from timeledger.server.store.checkpoints import WalCheckpointer
from timeledger.server.store.credentials import CredentialStore
from timeledger.server.store.database import create_engine
from timeledger.server.store.migrate import ensure_schema
from timeledger.server.store.platform_settings import settle_timezone


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    ingestor: Ingestor
    credentials: CredentialStore
    now: Callable[[], datetime]
    checkpointer: WalCheckpointer | None = None

    @property
    def pipeline_settings(self) -> PipelineSettings:
        return PipelineSettings(timezone=self.settings.timezone)

    def projector(self) -> Projector:
        """A projector over this platform's store (serve runs one in a process of its own)."""
        return Projector(self.engine, self.pipeline_settings, self.now,
                         after_commit=self.checkpointer.request if self.checkpointer else None)

    def project_pending(self) -> int:
        """Project everything appended so far, in this process (import, the demo, tests)."""
        return self.projector().project_until_caught_up()

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.credentials.close()
        self.engine.dispose()


def open_platform(settings: Settings, now: Callable[[], datetime] = utc_now,
                  create_schema: bool = True, allow_timezone_change: bool = False) -> Platform:
    """Open the store; `settings.timezone` comes back as the zone the store counts days in."""
    engine = create_engine(settings.db_url)
    if create_schema:
        ensure_schema(engine, auto_create_empty=True)
    with engine.begin() as conn:
        zone = settle_timezone(conn, settings.timezone, settings.timezone_from_user,
                               allow_change=allow_timezone_change)
    settings = replace(settings, timezone=zone)
    checkpointer = WalCheckpointer.for_engine(engine)
    return Platform(
        settings=settings,
        engine=engine,
        ingestor=Ingestor(engine, now,
                          after_commit=checkpointer.request if checkpointer else None),
        credentials=CredentialStore(engine),
        now=now,
        checkpointer=checkpointer,
    )

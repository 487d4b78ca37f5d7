"""`timeledger compact`: pack the bodies of the events stored so far, now, in batches."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa

from timeledger.cli.options import database_options, resolve_db_url
from timeledger.server.store.compaction import (
    DEFAULT_POLICY,
    MAX_BATCH,
    compact_events,
    compacted_through,
)
from timeledger.server.store.database import create_engine
from timeledger.server.store.migrate import SchemaError, ensure_schema
from timeledger.server.store.schema import events


@click.command("compact")
@database_options
@click.option("--batch-size", default=1000, show_default=True,
              type=click.IntRange(min=1, max=MAX_BATCH), help="Events per transaction.")
def compact(db_url: str | None, data_dir: Path | None, batch_size: int) -> None:
    """Compact stored event bodies (zstd with a dictionary trained on the store's events).

    Every event stored when it starts, in batches of their own transactions: safe while the
    platform runs, and safe to stop (what is done stays done). Reads are unchanged."""
    url, _folder = resolve_db_url(db_url, data_dir)
    engine = create_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as conn:
            newest = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0)))
                         .scalar_one())
        passed = 0
        while True:
            with engine.begin() as conn:
                step = compact_events(conn, newest, batch_size)
            if not step:
                break
            passed += step
        with engine.connect() as conn:
            through = compacted_through(conn)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    if through == 0 and newest > 0:
        click.echo(f"nothing compacted yet: the log ends at #{newest}, and the first dictionary "
                   f"is trained once it holds {DEFAULT_POLICY.first_training_events} events")
        return
    click.echo(f"went past {passed} event(s): the log is compacted through #{through}")

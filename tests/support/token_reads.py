"""For the tests of token reads on the event loop: a client's token, and which PostgreSQL server
processes serve the loop-side reads (store/loop_reads.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.store.credentials import CredentialStore
from timeledger.server.store.loop_reads import APPLICATION_NAME


def issued_client(credentials: CredentialStore, now: datetime,
                  scopes: tuple[str, ...] = ("events:write",)) -> tuple[str, str]:
    """A new client's id and a bearer token issued to it at `now`."""
    issued = credentials.create_client("app", scopes, now)
    token = credentials.issue_token(issued.client_id, issued.client_secret, (), now)
    assert token is not None
    return issued.client_id, token.token


def issued_token(credentials: CredentialStore, now: datetime,
                 scopes: tuple[str, ...] = ("events:write",)) -> str:
    """A new client's bearer token, issued at `now`."""
    return issued_client(credentials, now, scopes)[1]


def loop_read_backends(engine: Engine) -> list[int]:
    """The pids of the connections loop readers opened to the engine's database."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
            "AND datname = current_database()"), {"name": APPLICATION_NAME}).scalars())

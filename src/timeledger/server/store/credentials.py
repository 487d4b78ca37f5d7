"""API clients (id + hashed secret + scopes) and the bearer tokens issued to them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.secret_hashing import hash_secret, new_token, token_digest, verify_secret
from timeledger.server.store.loop_reads import LoopReader
from timeledger.server.store.nowait_reads import NowaitReader
from timeledger.server.store.schema import access_tokens, api_clients

SCOPES = ("events:write", "reports:read", "roster:read", "gradebook:write")
TOKEN_LIFETIME = timedelta(hours=1)


class UnknownScope(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ApiClient:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(s for s in text.split() if s)


@cache
def _dummy_hash() -> str:
    """Checked against when a client id is unknown or revoked, so every wrong id costs the same
    scrypt as a wrong secret (and answers as slowly)."""
    return hash_secret("timeledger-no-such-client")


class CredentialStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._nowait = NowaitReader.for_engine(engine)
        self._loop_reads = LoopReader.for_engine(engine)

    @property
    def reads_without_waiting(self) -> bool:
        """Whether `lookup_token_nowait` can be used (SQLite files)."""
        return self._nowait is not None

    @property
    def reads_on_loop(self) -> bool:
        """Whether `lookup_token_on_loop` can be used (PostgreSQL)."""
        return self._loop_reads is not None

    def close(self) -> None:
        if self._nowait is not None:
            self._nowait.close()
        if self._loop_reads is not None:
            self._loop_reads.close()

    def create_client(self, name: str, scopes: tuple[str, ...], now: datetime) -> IssuedCredentials:
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            raise UnknownScope(
                f"Unknown scope {unknown[0]!r}; expected one of: {', '.join(SCOPES)}")
        client_id = "tl_" + secrets.token_hex(8)
        secret = new_token(24)
        with self._engine.begin() as conn:
            conn.execute(api_clients.insert().values(
                client_id=client_id, name=name, secret_hash=hash_secret(secret),
                scopes=" ".join(scopes or SCOPES), created_at=now))
        return IssuedCredentials(client_id, secret)

    def list_clients(self) -> list[ApiClient]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(api_clients).order_by(api_clients.c.created_at))
            return [ApiClient(r.client_id, r.name, _scopes(r.scopes), r.created_at, r.revoked_at)
                    for r in rows]

    def revoke(self, client_id: str, now: datetime) -> bool:
        with self._engine.begin() as conn:
            changed = conn.execute(api_clients.update()
                                   .where(api_clients.c.client_id == client_id,
                                          api_clients.c.revoked_at.is_(None))
                                   .values(revoked_at=now)).rowcount
            conn.execute(access_tokens.delete().where(access_tokens.c.client_id == client_id))
        return bool(changed)

    def issue_token(self, client_id: str, secret: str, requested: tuple[str, ...],
                    now: datetime) -> AccessToken | None:
        """A token for valid credentials (scopes narrowed to those requested), else None."""
        row = None
        if "\x00" not in client_id:  # no client id holds one, and PostgreSQL text cannot
            with self._engine.connect() as conn:
                row = conn.execute(sa.select(api_clients).where(
                    api_clients.c.client_id == client_id)).first()
        client = row if row is not None and row.revoked_at is None else None
        if not verify_secret(secret, client.secret_hash if client else _dummy_hash()) \
                or client is None:
            return None
        allowed = _scopes(client.scopes)
        scopes = tuple(s for s in requested if s in allowed) if requested else allowed
        token = new_token()
        expires_at = now + TOKEN_LIFETIME
        with self._engine.begin() as conn:
            conn.execute(access_tokens.delete().where(access_tokens.c.expires_at < now))
            conn.execute(access_tokens.insert().values(
                token_hash=token_digest(token), client_id=client_id, scopes=" ".join(scopes),
                expires_at=expires_at))
        return AccessToken(token, client_id, scopes, expires_at)

    def lookup_token(self, token: str, now: datetime) -> AccessToken | None:
        """The live token, or None; through the engine (from a worker thread)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(access_tokens).where(
                access_tokens.c.token_hash == token_digest(token))).first()
        if row is None:
            return None
        return _live(token, row.client_id, row.scopes, row.expires_at, now)

    def lookup_token_nowait(self, token: str, now: datetime) -> AccessToken | None:
        """`lookup_token` without waiting for anything (on an event loop); raises `StoreBusy`
        when the store would make it wait, and `RuntimeError` where `reads_without_waiting` is
        False."""
        if self._nowait is None:
            raise RuntimeError("only an SQLite file is read without waiting")
        row = self._nowait.first(_TOKEN_BY_DIGEST, (token_digest(token),))
        if row is None:
            return None
        client_id, scopes, expires_at = row
        return _live(token, client_id, scopes,
                     datetime.fromisoformat(expires_at).replace(tzinfo=UTC), now)

    async def lookup_token_on_loop(self, token: str, now: datetime) -> AccessToken | None:
        """`lookup_token` on the event loop (store/loop_reads.py); raises `StoreBusy` when the
        read failed (ask again through a worker thread), and `RuntimeError` where
        `reads_on_loop` is False."""
        if self._loop_reads is None:
            raise RuntimeError("only PostgreSQL is read on the loop")
        row = await self._loop_reads.first(_TOKEN_BY_DIGEST_PG, (token_digest(token),))
        if row is None:
            return None
        client_id, scopes, expires_at = row
        return _live(token, client_id, scopes, expires_at.astimezone(UTC), now)


_TOKEN_BY_DIGEST = ("SELECT client_id, scopes, expires_at FROM access_tokens "
                    "WHERE token_hash = ?")
_TOKEN_BY_DIGEST_PG = _TOKEN_BY_DIGEST.replace("?", "%s")


def _live(token: str, client_id: str, scopes: str, expires_at: datetime,
          now: datetime) -> AccessToken | None:
    return None if expires_at <= now else AccessToken(token, client_id, _scopes(scopes),
                                                      expires_at)

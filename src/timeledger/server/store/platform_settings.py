"""Facts every process of a platform must agree on, kept in its store (the time zone)."""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store.database import insert
from timeledger.server.store.schema import platform_settings

TIMEZONE_KEY = "timezone"


class TimezoneMismatch(ValueError):
    """The operator named a zone other than the one the store's learner days were counted in."""


def read_setting(conn: sa.Connection, key: str) -> str | None:
    value: str | None = conn.execute(sa.select(platform_settings.c.value)
                                     .where(platform_settings.c.key == key)).scalar_one_or_none()
    return value


def write_setting(conn: sa.Connection, key: str, value: str) -> None:
    stmt = insert(platform_settings, conn.dialect.name).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def settle_timezone(conn: sa.Connection, wanted: str, named_by_user: bool,
                    allow_change: bool = False) -> str:
    """The zone to count days in: the stored one; a new store keeps `wanted`.

    A zone the operator names must match the stored one, unless `allow_change` (a rebuild, which
    recounts every day and then records the new zone itself).
    """
    stored = read_setting(conn, TIMEZONE_KEY)
    if stored is None:
        write_setting(conn, TIMEZONE_KEY, wanted)
        return wanted
    if named_by_user and wanted != stored:
        if allow_change:
            return wanted
        raise TimezoneMismatch(
            f"this platform counts learner days in {stored}, not {wanted}; to change the zone, "
            f"stop the server and run: timeledger rebuild --timezone {wanted}")
    return stored

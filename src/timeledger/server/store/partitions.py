"""How the event log is cut for projectors: by learner, so each learner's events stay in order."""

from __future__ import annotations

import zlib

#: PostgreSQL: projectors claim partitions one batch at a time, so more partitions than projectors
#: spreads the work; the number is fixed for a store (rows keep the partition they were given).
POSTGRESQL_PARTITIONS = 16


def partition_count(dialect_name: str) -> int:
    """SQLite has one writer, so its log is one partition; PostgreSQL's is cut by learner."""
    return POSTGRESQL_PARTITIONS if dialect_name == "postgresql" else 1


def learner_partition(email: str, count: int) -> int:
    """A stable hash (the same in every process and release) of the lower-cased email."""
    return zlib.crc32(email.encode()) % count if count > 1 else 0

"""zstd dictionaries trained on the store's own events, kept beside the rows they pack."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
import zstandard
from sqlalchemy.engine import Engine

from timeledger.server.store.database import insert
from timeledger.server.store.schema import compression_dictionaries

# Past about 10 samples zstd can train; fewer and it refuses ("Src size is incorrect").
MIN_SAMPLES = 10


class MissingDictionary(LookupError):
    """A compacted body names a dictionary this store does not have."""


@dataclass(frozen=True, slots=True)
class BodyDictionary:
    """A trained dictionary: `id` is zstd's own dictionary id, which each frame it packs carries."""

    id: int
    trained_through_seq: int
    zstd_dict: zstandard.ZstdCompressionDict

    def packer(self, level: int) -> zstandard.ZstdCompressor:
        """Frames with their size and dictionary id (a compressor is for one thread at a time)."""
        return zstandard.ZstdCompressor(level=level, dict_data=self.zstd_dict,
                                        write_content_size=True, write_dict_id=True,
                                        write_checksum=False)


def train(samples: Sequence[bytes], size: int, level: int) -> zstandard.ZstdCompressionDict | None:
    """A dictionary of at most `size` bytes, or None when the samples are too few to train on."""
    if len(samples) < MIN_SAMPLES:
        return None
    try:
        return zstandard.train_dictionary(size, list(samples), level=level)
    except zstandard.ZstdError:
        return None


def store(conn: sa.Connection, trained: zstandard.ZstdCompressionDict,
          trained_through_seq: int) -> BodyDictionary | None:
    """Keep a new dictionary; None if the store already has a different one under its id.
    (Two compactors that trained on the same events made the same dictionary: one row.)"""
    data = trained.as_bytes()
    conn.execute(insert(compression_dictionaries, conn.dialect.name).values(
        id=trained.dict_id(), trained_through_seq=trained_through_seq, data=data
    ).on_conflict_do_nothing(index_elements=["id"]))
    table = compression_dictionaries
    kept = conn.execute(sa.select(table.c.data, table.c.trained_through_seq)
                        .where(table.c.id == trained.dict_id())).one()
    if bytes(kept.data) != data:
        return None
    return BodyDictionary(trained.dict_id(), kept.trained_through_seq, trained)


def newest(conn: sa.Connection) -> BodyDictionary | None:
    """The dictionary trained on the newest events, the one compaction packs with."""
    row = conn.execute(sa.select(compression_dictionaries.c.id,
                                 compression_dictionaries.c.trained_through_seq)
                       .order_by(compression_dictionaries.c.trained_through_seq.desc(),
                                 compression_dictionaries.c.id.desc())
                       .limit(1)).first()
    if row is None:
        return None
    return BodyDictionary(row.id, row.trained_through_seq, load(conn, row.id))


# Dictionaries never change once stored, so each process keeps those it has read, per store.
_loaded: weakref.WeakKeyDictionary[Engine, dict[int, zstandard.ZstdCompressionDict]] = (
    weakref.WeakKeyDictionary())
_loaded_lock = threading.Lock()


def load(conn: sa.Connection, dictionary_id: int) -> zstandard.ZstdCompressionDict:
    with _loaded_lock:
        known = _loaded.setdefault(conn.engine, {})
        found = known.get(dictionary_id)
    if found is not None:
        return found
    data = conn.execute(sa.select(compression_dictionaries.c.data).where(
        compression_dictionaries.c.id == dictionary_id)).scalar_one_or_none()
    if data is None:
        raise MissingDictionary(f"compression dictionary {dictionary_id} is not in this store")
    loaded = zstandard.ZstdCompressionDict(bytes(data))
    with _loaded_lock:
        known[dictionary_id] = loaded
    return loaded


def unpack(conn: sa.Connection, frame: bytes) -> bytes:
    """The bytes a frame packed, with the dictionary the frame names."""
    dictionary = load(conn, zstandard.get_frame_parameters(frame).dict_id)
    return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(frame)

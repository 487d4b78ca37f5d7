"""A job's per-event results as `jobs.results` keeps them: log positions and statuses, the event
ids read back from the log, so a row does not repeat every event id and message.

A result is `{"allocatedId", "externalId", "status"[, "message"]}` (protocol.md's Timeback job
shape, in that key order). Every result the platform writes names, as `allocatedId`, the `seq` of
the event whose id is its `externalId`: the stored event itself, or, for a duplicate or a
conflict, the event first stored under that id. The log is append-only and keeps every event's
id, so the id need not be stored again; what is stored is, as JSON,

    {"r": [seq, count, kind, seq, count, kind, ...], "k": [[status], [status, message], ...]}

one triple per run of results whose `allocatedId`s count up by one with the same status and
message (`kind`, an index into `k`). `k` is left out when it would be `[["stored"]]`: an envelope
of new events is then `{"r":[<first seq>,<count>,0]}` (one run when its seqs are consecutive).
Results not in that shape are stored as the plain JSON list, which is also how rows written before
this form look; `read_results` accepts both and gives back exactly what was encoded.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.server.store.schema import events

_KEYS = ("allocatedId", "externalId", "status")
_KEYS_WITH_MESSAGE = (*_KEYS, "message")
_STORED_ONLY = [["stored"]]
_IN_CHUNK = 500  # seqs per `IN (...)` lookup


def encode_results(results: Sequence[Mapping[str, Any]]) -> str:
    """`results` as `jobs.results` keeps them. Each result's `externalId` must be the id of the
    event at its `allocatedId` (see the module's docstring); a result that cannot be compacted
    (an `allocatedId` that is not a seq, other keys) leaves the whole list as plain JSON."""
    outcomes: list[tuple[int, str, str | None]] = []
    for result in results:
        kind, seq = _kind(result), _seq(result.get("allocatedId"))
        if kind is None or seq is None:
            return orjson.dumps(list(results)).decode()
        outcomes.append((seq, kind[0], kind[1] if len(kind) > 1 else None))
    return encode_outcomes(outcomes)


def encode_outcomes(outcomes: Sequence[tuple[int, str, str | None]]) -> str:
    """`encode_results` for results given as (seq, status, message or None), the seq being that
    of the event whose id the result names: the append's form, with no dict per result."""
    if not outcomes:
        return "[]"
    seqs, statuses, messages = zip(*outcomes, strict=True)
    count = len(seqs)
    if statuses.count("stored") == count and messages.count(None) == count \
            and seqs[-1] - seqs[0] == count - 1 and all(map(operator.lt, seqs, seqs[1:])):
        return orjson.dumps({"r": [seqs[0], count, 0]}).decode()  # the loop's one run
    runs: list[int] = []
    kinds: list[list[str]] = []
    kind_of: dict[tuple[str, str | None], int] = {}
    for seq, status, message in outcomes:
        index = kind_of.get((status, message))
        if index is None:
            index = kind_of[status, message] = len(kinds)
            kinds.append([status] if message is None else [status, message])
        if runs and runs[-1] == index and runs[-3] + runs[-2] == seq:
            runs[-2] += 1
        else:
            runs += (seq, 1, index)
    row: dict[str, Any] = {"r": runs}
    if kinds != _STORED_ONLY:
        row["k"] = kinds
    return orjson.dumps(row).decode()


def read_results(conn: sa.Connection, text: str) -> list[dict[str, Any]]:
    """The results `encode_results` was given (or a row's plain JSON list, as it is)."""
    row = orjson.loads(text)
    if isinstance(row, list):
        return row
    kinds: list[list[str]] = row.get("k", _STORED_ONLY)
    runs: list[int] = row["r"]
    expanded = [(seq, kinds[runs[at + 2]])
                for at in range(0, len(runs), 3)
                for seq in range(runs[at], runs[at] + runs[at + 1])]
    ids = _event_ids(conn, sorted({seq for seq, _kind in expanded}))
    results: list[dict[str, Any]] = []
    for seq, kind in expanded:
        event_id = ids.get(seq)
        if event_id is None:
            raise LookupError(f"A job's result names event {seq}, which the log does not hold")
        result = {"allocatedId": str(seq), "externalId": event_id, "status": kind[0]}
        if len(kind) > 1:
            result["message"] = kind[1]
        results.append(result)
    return results


def _kind(result: Mapping[str, Any]) -> tuple[str, ...] | None:
    """(status,) or (status, message); None for a result in another shape."""
    keys = tuple(result)
    if keys == _KEYS:
        kind: tuple[Any, ...] = (result["status"],)
    elif keys == _KEYS_WITH_MESSAGE:
        kind = (result["status"], result["message"])
    else:
        return None
    if not all(isinstance(part, str) for part in kind) or not isinstance(
            result["externalId"], str):
        return None
    return kind


def _seq(allocated_id: Any) -> int | None:
    """The seq an `allocatedId` names, if it is one written as `str(seq)` writes it."""
    if not isinstance(allocated_id, str) or not allocated_id.isascii() \
            or not allocated_id.isdigit():
        return None
    seq = int(allocated_id)
    return seq if str(seq) == allocated_id else None


def _event_ids(conn: sa.Connection, seqs: list[int]) -> dict[int, str]:
    ids: dict[int, str] = {}
    for chunk in _chunks(seqs):
        found = conn.execute(sa.select(events.c.seq, events.c.event_id)
                             .where(events.c.seq.in_(chunk)))
        ids.update((seq, event_id) for seq, event_id in found)
    return ids


def _chunks(seqs: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(seqs), _IN_CHUNK):
        yield seqs[start:start + _IN_CHUNK]

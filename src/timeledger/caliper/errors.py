"""Validation problems that name the offending path, shared by every layer that checks input."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule broken at one place: `path` uses the protocol's dotted form (`data[0].actor.id`)."""

    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class CaliperError(ValueError):
    """Raised when input breaks the wire format; carries every problem found, first one first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("CaliperError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        first = self.problems[0]
        super().__init__(f"{first.path}: {first.message}" if first.path else first.message)

    @property
    def path(self) -> str:
        return self.problems[0].path


def join_path(base: str, key: str | int) -> str:
    """Extend a dotted path by an object key or a list index."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def raise_if_any(problems: Iterable[Problem]) -> None:
    found = list(problems)
    if found:
        raise CaliperError(found)

"""Where an export's CSV files come from: a folder or a zip, each file bounded in size.

Files are looked up by their base name (a zip may keep them in a folder of its own); text is
UTF-8, a byte-order mark allowed.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TextIO

MAX_CSV_BYTES = 512 * 1024 * 1024  # one file of the export, uncompressed


class SourceError(Exception):
    """The export cannot be read at all (not a folder or zip, a file too large, ...)."""


class RosterSource:
    """The CSV files of one export, by base name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if path.is_dir():
            self._files = {p.name: p for p in path.iterdir() if p.is_file()}
        elif zipfile.is_zipfile(path):
            self._files = {}
            self._zip = zipfile.ZipFile(path)
            for info in self._zip.infolist():
                if not info.is_dir():
                    self._members.setdefault(PurePosixPath(info.filename).name, info.filename)
        else:
            raise SourceError(f"{path}: neither a folder nor a zip file")

    def names(self) -> set[str]:
        return set(self._files) | set(self._members)

    def size(self, name: str) -> int:
        if self._zip is not None:
            return self._zip.getinfo(self._members[name]).file_size
        return self._files[name].stat().st_size

    @contextmanager
    def open_text(self, name: str) -> Iterator[TextIO]:
        """The file as text for the csv module (newline='' as it asks)."""
        size = self.size(name)
        if size > MAX_CSV_BYTES:
            raise SourceError(f"{name}: {size:,} bytes, more than the {MAX_CSV_BYTES:,} "
                              "a roster file may have")
        if self._zip is not None:
            with self._zip.open(self._members[name]) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        else:
            with self._files[name].open(encoding="utf-8-sig", newline="") as text:
                yield text

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

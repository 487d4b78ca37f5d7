"""manifest.csv: the export's OneRoster version and, per file, bulk, delta or absent."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Literal, TextIO

from timeledger.server.roster_import.rows import RowProblem

FileMode = Literal["bulk", "delta", "absent"]
MAX_MANIFEST_ROWS = 200


@dataclass(slots=True)
class Manifest:
    properties: dict[str, str] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)

    def mode(self, key: str) -> FileMode:
        value = self.properties.get(key, "absent").lower()
        return "bulk" if value == "bulk" else "delta" if value == "delta" else "absent"


def read_manifest(text: TextIO) -> Manifest:
    """The manifest's properties; problems name the line of anything a 1.2 export cannot say."""
    manifest = Manifest()

    def problem(line: int, name: str, message: str) -> None:
        manifest.problems.append(RowProblem("manifest.csv", line, name, message))

    reader = csv.reader(text)
    try:
        header = [cell.strip() for cell in next(reader, [])]
        if header[:2] != ["propertyName", "value"]:
            problem(1, "", "the header must be propertyName,value")
            return manifest
        for cells in reader:
            if reader.line_num > MAX_MANIFEST_ROWS:
                problem(reader.line_num, "", f"more than {MAX_MANIFEST_ROWS} lines")
                break
            if not cells:
                continue
            if len(cells) != 2:
                problem(reader.line_num, "", f"{len(cells)} values for 2 columns")
                continue
            name, value = cells[0].strip(), cells[1].strip()
            if name.startswith("file.") and value.lower() not in ("bulk", "delta", "absent"):
                problem(reader.line_num, "value", f"{name} is {value!r}; expected bulk, delta "
                                                  "or absent")
            manifest.properties[name] = value
    except (csv.Error, UnicodeDecodeError) as exc:
        problem(reader.line_num, "", f"not a CSV file: {exc}")
        return manifest
    version = manifest.properties.get("oneroster.version")
    if version != "1.2":
        problem(1, "oneroster.version", f"{version!r}; this import reads OneRoster 1.2 exports")
    return manifest

"""Write the sample OneRoster 1.2 export into examples/oneroster/sample/ (checked in).

The export is the demo school's (src/timeledger/server/demo_roster.py: two schools, three
teachers, three classes, 60 students, the first 30 of them `serve --demo`'s learners).
Run: .venv/bin/python examples/oneroster/make_sample.py
"""

from __future__ import annotations

from pathlib import Path

from timeledger.server.demo_roster import write_sample_export

if __name__ == "__main__":
    write_sample_export(Path(__file__).resolve().parent / "sample")

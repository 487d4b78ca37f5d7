"""`timeledger roster import`: the sample export, idempotence, bulk and delta, refused rows."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.platform import NewStore, StoreLocation, run_cli
from tests.support.roster_files import (
    SAMPLE,
    copy_sample,
    edit_row,
    migrated_engine,
    read_csv,
    roster_dump,
    set_manifest,
    write_csv,
)
from timeledger.server.roster_import.apply import import_roster
from timeledger.server.store.roster_tables import roster_enrollments, roster_users

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(new_store: NewStore) -> StoreLocation:
    location = new_store("roster", empty=False)
    location.data_dir.mkdir(parents=True, exist_ok=True)
    return location


def _users(engine: sa.Engine) -> dict[str, sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {row.sourced_id: row for row in conn.execute(sa.select(roster_users))}


def test_the_sample_export_imports_whole_and_a_second_import_changes_nothing(
        store: StoreLocation) -> None:
    engine = migrated_engine(store.url())
    first = import_roster(engine, SAMPLE, NOW)
    assert first.applied and not first.problems
    dump = roster_dump(engine)
    sample_rows = {name: len(read_csv(SAMPLE / f"{name}.csv")) for name in (
        "orgs", "academicSessions", "courses", "classes", "users", "roles", "enrollments")}
    assert len(dump["roster_orgs"]) == sample_rows["orgs"] == 3
    assert len(dump["roster_classes"]) == sample_rows["classes"] == 3
    assert len(dump["roster_users"]) == sample_rows["users"] == 63
    assert len(dump["roster_enrollments"]) == sample_rows["enrollments"]
    roles = [row["role"] for row in dump["roster_users"]]
    assert roles.count("student") == 60 and roles.count("teacher") == 3
    # bulk rows left dateLastModified blank: the import's time stands in
    assert {row["date_last_modified"] for row in dump["roster_users"]} == {NOW}
    chloe = next(row for row in dump["roster_users"] if row["sourced_id"] == "s1002")
    assert chloe["email"] == "Chloe.Martins@Demo-School.example"
    assert chloe["email_lower"] == "chloe.martins@demo-school.example"
    assert any("demographics.csv" in warning for warning in first.warnings)

    again = import_roster(engine, SAMPLE, LATER)
    assert again.applied
    assert all(c.added == c.updated == c.deleted == 0 for c in again.counts.values())
    assert roster_dump(engine) == dump  # not even dateLastModified moved
    engine.dispose()


def test_a_zip_with_the_files_in_a_folder_imports_like_the_folder(
        store: StoreLocation, tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in SAMPLE.iterdir():
            zipped.write(path, f"oneroster-export/{path.name}")
    engine = migrated_engine(store.url())
    assert import_roster(engine, archive, NOW).applied
    assert len(_users(engine)) == 63
    engine.dispose()


def test_every_bad_row_is_named_by_file_line_and_field_and_nothing_is_applied(
        store: StoreLocation, tmp_path: Path) -> None:
    export = copy_sample(tmp_path / "bad")
    email_line = edit_row(export / "users.csv", "s1010", email="not-an-email")
    type_line = edit_row(export / "classes.csv", "cls-span-cedar", classType="lecture")
    user_line = edit_row(export / "enrollments.csv", "enr-cls-math3-maple-s1000",
                         userSourcedId="nobody")
    date_line = edit_row(export / "academicSessions.csv", "term-2026-fall",
                         startDate="2026-13-01")
    reply = run_cli("roster", "import", str(export), *store.args(), check=False)
    assert reply.returncode == 1
    for expected in (f"users.csv:{email_line}: email: 'not-an-email' is not an e-mail address",
                     f"classes.csv:{type_line}: classType: 'lecture' is not one of",
                     f"enrollments.csv:{user_line}: userSourcedId: 'nobody' is not an active "
                     "record of users.csv",
                     f"academicSessions.csv:{date_line}: startDate: '2026-13-01' is not a "
                     "YYYY-MM-DD date"):
        assert expected in reply.stderr
    assert "nothing was imported" in reply.stderr
    engine = migrated_engine(store.url())
    assert all(not rows for rows in roster_dump(engine).values())
    engine.dispose()


def test_a_refused_import_leaves_the_earlier_roster_exactly_as_it_was(
        store: StoreLocation, tmp_path: Path) -> None:
    assert run_cli("roster", "import", str(SAMPLE), *store.args()).returncode == 0
    engine = migrated_engine(store.url())
    before = roster_dump(engine)
    export = copy_sample(tmp_path / "renamed")
    edit_row(export / "users.csv", "s1001", givenName="Benjamin")  # a good change ...
    rows = read_csv(export / "users.csv")
    write_csv(export / "users.csv", [*rows, {**rows[-1], "sourcedId": rows[-1]["sourcedId"]}])
    reply = run_cli("roster", "import", str(export), *store.args(), check=False)
    assert reply.returncode == 1  # ... refused with the duplicated row
    assert f"users.csv:{len(rows) + 2}: sourcedId:" in reply.stderr
    assert "is already on line" in reply.stderr
    assert roster_dump(engine) == before
    engine.dispose()


def test_bulk_leaves_out_a_student_who_becomes_tobedeleted(
        store: StoreLocation, tmp_path: Path) -> None:
    engine = migrated_engine(store.url())
    assert import_roster(engine, SAMPLE, NOW).applied
    export = copy_sample(tmp_path / "left")
    for name, column in (("users.csv", "sourcedId"), ("roles.csv", "userSourcedId"),
                         ("enrollments.csv", "userSourcedId")):
        rows = read_csv(export / name)
        write_csv(export / name, [row for row in rows if row[column] != "s1040"])
    result = import_roster(engine, export, LATER)
    assert result.applied
    assert result.counts["users.csv"].deleted == 1
    users = _users(engine)
    assert users["s1040"].status == "tobedeleted"
    assert users["s1040"].date_last_modified == LATER
    assert users["s1041"].status == "active" and users["s1041"].date_last_modified == NOW
    with engine.connect() as conn:
        status = conn.execute(sa.select(roster_enrollments.c.status).where(
            roster_enrollments.c.user_sourced_id == "s1040")).scalar_one()
    assert status == "tobedeleted"
    engine.dispose()


def _delta_export(folder: Path, users: list[dict[str, str]],
                  enrollments: list[dict[str, str]] | None = None) -> Path:
    folder.mkdir()
    modes = {"users": "delta", "enrollments": "delta" if enrollments else "absent"}
    manifest = [row for row in read_csv(SAMPLE / "manifest.csv")]
    for row in manifest:
        key = row["propertyName"]
        if key.startswith("file."):
            row["value"] = modes.get(key[5:], "absent")
    write_csv(folder / "manifest.csv", manifest)
    header = list(read_csv(SAMPLE / "users.csv")[0])
    write_csv(folder / "users.csv", users, header)
    if enrollments:
        write_csv(folder / "enrollments.csv", enrollments,
                  list(read_csv(SAMPLE / "enrollments.csv")[0]))
    return folder


def test_delta_rows_update_delete_and_skip_stale_changes(
        store: StoreLocation, tmp_path: Path) -> None:
    engine = migrated_engine(store.url())
    assert import_roster(engine, SAMPLE, NOW).applied
    sample = {row["sourcedId"]: row for row in read_csv(SAMPLE / "users.csv")}
    delta = _delta_export(tmp_path / "delta", [
        {**sample["s1003"], "status": "active", "dateLastModified": "2026-09-05T10:00:00Z",
         "email": "dev.rao@cedar.example"},
        {**sample["s1004"], "status": "tobedeleted", "dateLastModified": "2026-09-05T10:00:00Z"},
        # older than what the store holds (the bulk import at NOW): not applied
        {**sample["s1006"], "status": "active", "dateLastModified": "2026-08-01T00:00:00Z",
         "givenName": "Stale"},
        {**sample["s1007"], "sourcedId": "s2000", "status": "active",
         "dateLastModified": "2026-09-05T10:00:00Z", "email": "new.student@demo-school.example"},
    ])
    result = import_roster(engine, delta, LATER)
    assert result.applied, [str(p) for p in result.problems]
    counts = result.counts["users.csv"]
    assert (counts.added, counts.updated, counts.deleted, counts.stale) == (1, 1, 1, 1)
    users = _users(engine)
    assert users["s1003"].email_lower == "dev.rao@cedar.example"
    assert users["s1003"].date_last_modified == datetime(2026, 9, 5, 10, tzinfo=UTC)
    assert users["s1004"].status == "tobedeleted"
    assert users["s1006"].given_name == sample["s1006"]["givenName"]
    assert users["s2000"].status == "active"
    assert len(users) == 64  # the other users, untouched by a delta that does not list them
    engine.dispose()


def test_a_delta_enrollment_of_a_deleted_user_is_refused(
        store: StoreLocation, tmp_path: Path) -> None:
    engine = migrated_engine(store.url())
    assert import_roster(engine, SAMPLE, NOW).applied
    sample = {row["sourcedId"]: row for row in read_csv(SAMPLE / "users.csv")}
    enrollment = read_csv(SAMPLE / "enrollments.csv")[5]
    delta = _delta_export(tmp_path / "delta", [
        {**sample["s1008"], "status": "tobedeleted", "dateLastModified": "2026-09-05T10:00:00Z"},
    ], [{**enrollment, "sourcedId": "enr-new", "userSourcedId": "s1008", "status": "active",
         "dateLastModified": "2026-09-05T10:00:00Z"}])
    result = import_roster(engine, delta, LATER)
    assert not result.applied
    assert [str(p) for p in result.problems] == [
        "enrollments.csv:2: userSourcedId: 's1008' is not an active record of users.csv (in "
        "this export or the roster already imported)"]
    assert _users(engine)["s1008"].status == "active"
    engine.dispose()


def test_a_delta_row_without_status_or_date_is_refused(
        store: StoreLocation, tmp_path: Path) -> None:
    engine = migrated_engine(store.url())
    sample = read_csv(SAMPLE / "users.csv")
    delta = _delta_export(tmp_path / "delta", [{**sample[3], "status": "", "dateLastModified": ""}])
    result = import_roster(engine, delta, NOW)
    assert not result.applied
    assert {(p.file, p.line, p.field) for p in result.problems} == {
        ("users.csv", 2, "status"), ("users.csv", 2, "dateLastModified")}
    engine.dispose()


@pytest.mark.parametrize(("change", "expected"), [
    ("no manifest", "manifest.csv:0: missing"),
    ("version 1.1", "manifest.csv:1: oneroster.version: '1.1'"),
    ("users listed but missing", "users.csv:0: missing, though the manifest says file.users "
                                 "is bulk"),
    ("header without givenName", "users.csv:1: givenName: required column missing"),
])
def test_export_level_problems_are_named(store: StoreLocation, tmp_path: Path, change: str,
                                         expected: str) -> None:
    export = copy_sample(tmp_path / "export")
    if change == "no manifest":
        (export / "manifest.csv").unlink()
    elif change == "version 1.1":
        edit_manifest = read_csv(export / "manifest.csv")
        for row in edit_manifest:
            if row["propertyName"] == "oneroster.version":
                row["value"] = "1.1"
        write_csv(export / "manifest.csv", edit_manifest)
    elif change == "users listed but missing":
        (export / "users.csv").unlink()
    else:
        rows = read_csv(export / "users.csv")
        write_csv(export / "users.csv", [{k: v for k, v in row.items() if k != "givenName"}
                                         for row in rows])
    engine = migrated_engine(store.url())
    result = import_roster(engine, export, NOW)
    assert not result.applied
    assert any(str(problem).startswith(expected) for problem in result.problems), \
        [str(p) for p in result.problems]
    assert all(not rows for rows in roster_dump(engine).values())
    engine.dispose()


def test_a_file_the_manifest_calls_absent_is_not_read(store: StoreLocation,
                                                      tmp_path: Path) -> None:
    export = copy_sample(tmp_path / "export")
    set_manifest(export, demographics="absent")
    engine = migrated_engine(store.url())
    set_manifest(export, roles="absent")
    result = import_roster(engine, export, NOW)
    assert result.applied
    assert "roles.csv: the manifest says absent; not read" in result.warnings
    # without roles.csv, each user's role comes from their enrollments
    assert {row.role for row in _users(engine).values()} == {"student", "teacher"}
    engine.dispose()


@pytest.mark.unit
def test_progress_reaches_every_files_row_count(tmp_path: Path) -> None:
    """The progress callback ends each file at its row count (the bar the CLI draws)."""
    engine = migrated_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    seen: dict[str, tuple[int, int]] = {}
    import_roster(engine, SAMPLE, NOW, lambda name, done, total: seen.__setitem__(
        name, (done, total)))
    assert seen["users.csv"] == (63, 63)
    assert seen["enrollments.csv"] == (63, 63)
    engine.dispose()

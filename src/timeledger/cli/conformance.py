"""`timeledger conformance DIR`: run the IMS Caliper 1.2 fixtures through the platform's checks."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from timeledger.caliper.conformance import (
    SuiteResult,
    check_fixture,
    wrap_for_endpoint,
)


def fixture_files(directory: Path) -> list[tuple[Path, bool]]:
    """Every fixture under `directory/valid` and `directory/invalid`, with its expected verdict."""
    files: list[tuple[Path, bool]] = []
    for sub, expected_valid in (("valid", True), ("invalid", False)):
        files += [(p, expected_valid) for p in sorted((directory / sub).iterdir()) if p.is_file()]
    return files


def fixture_body(path: Path) -> bytes:
    """The exact request body to POST for a fixture file (see `wrap_for_endpoint`)."""
    return wrap_for_endpoint(path.name, path.read_bytes())


def run_suite(directory: Path) -> SuiteResult:
    """Send every fixture through `parse_envelope` as the platform would receive it."""
    return SuiteResult(tuple(check_fixture(path.name, path.read_bytes(), ok)
                             for path, ok in fixture_files(directory)))


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--verbose", "-v", is_flag=True, help="Print every file's verdict.")
def conformance(directory: Path, verbose: bool) -> None:
    """Check every file in DIR/valid is accepted and every file in DIR/invalid rejected."""
    if not (directory / "valid").is_dir() or not (directory / "invalid").is_dir():
        raise click.BadParameter(f"{directory} has no valid/ and invalid/ folders")
    result = run_suite(directory)
    for outcome in result.outcomes:
        if verbose or not outcome.passed:
            verdict = "ok  " if outcome.passed else "FAIL"
            expected = "valid" if outcome.expected_valid else "invalid"
            if outcome.crashed is not None:
                where = f" crashed: {outcome.crashed}"
            elif outcome.problems:
                where = f" at {outcome.first_path}: {outcome.problems[0].message}"
            else:
                where = ""
            click.echo(f"{verdict} {expected:7} {outcome.name}{where}")
    click.echo(result.summary_line())
    sys.exit(0 if result.passed else 1)


"""The `timeledger` command: one group, with each command in its own module."""

from __future__ import annotations

import importlib
import logging

import click

COMMAND_MODULES = (
    "timeledger.cli.serve",
    "timeledger.cli.clients",
    "timeledger.cli.transfer",
    "timeledger.cli.rebuild",
    "timeledger.cli.courses",
    "timeledger.cli.conformance",
    "timeledger.cli.db",
    "timeledger.cli.admin",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="timeledger")
def cli() -> None:
    """timeledger: track learning time and achievement (Timeback-compatible Caliper)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli()

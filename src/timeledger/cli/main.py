"""The `timeledger` command: one group whose commands load only when they run (fast start)."""

from __future__ import annotations

import importlib
import logging

import click

# name -> "module:attribute"; importing a command pulls in the server, so it waits until needed.
COMMANDS = {
    "serve": "timeledger.cli.serve:serve",
    "clients": "timeledger.cli.clients:clients",
    "import": "timeledger.cli.transfer:import_",
    "export": "timeledger.cli.transfer:export",
    "rebuild": "timeledger.cli.rebuild:rebuild_command",
    "project": "timeledger.cli.project:project",
    "compact": "timeledger.cli.compact:compact",
    "courses": "timeledger.cli.courses:courses",
    "conformance": "timeledger.cli.conformance:conformance",
    "db": "timeledger.cli.db:db",
    "admin": "timeledger.cli.admin:admin",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="timeledger")
def cli() -> None:
    """timeledger: track learning time and achievement (Timeback-compatible Caliper)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Alembic's INFO lines ("Context impl PostgresqlImpl.") are noise next to what our commands say.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def main() -> None:
    cli()

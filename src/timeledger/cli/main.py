"""The `timeledger` command: one group whose commands load only when they run (fast start)."""

from __future__ import annotations

import importlib
import logging

import click

# name -> "module:attribute"; importing a command pulls in the server, so it waits until needed
# (and after `pip install timeledger` without the platform, a command says what to install).
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
    "roster": "timeledger.cli.roster:roster",
}


def needs_platform(name: str, missing: ModuleNotFoundError) -> click.Command:
    """A stand-in for a command whose libraries are missing: `pip install timeledger` has the SDK
    but not the platform's libraries, so it says in one line which extra to install."""
    hint = (f"timeledger {name} needs the platform: pip install 'timeledger[server]' "
            f"(no module named {missing.name!r})")

    def refuse() -> None:
        raise click.ClickException(hint)

    return click.Command(name, callback=refuse, help=hint, add_help_option=False,
                         short_help="needs the platform: pip install 'timeledger[server]'",
                         context_settings={"ignore_unknown_options": True,
                                           "allow_extra_args": True})


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            if (missing.name or "timeledger").split(".")[0] == "timeledger":
                raise
            return needs_platform(cmd_name, missing)
        command: click.Command = getattr(module, attribute)
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

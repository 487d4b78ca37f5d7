"""`serve --demo` on the console: a progress bar while the demo is sent, then what it sent."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from timeledger.server.demo import SCHOOL_DAYS, fill_demo
from timeledger.server.platform import Platform


def fill_demo_showing_progress(platform: Platform, console: Console) -> int:
    """Fill an empty platform with the demo; the number of events sent (0 if it had events)."""
    with Progress(TextColumn("[bold]demo[/] {task.description}"), BarColumn(),
                  MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task("sending a school week", total=None)

        def advance(sent: int, total: int) -> None:
            progress.update(task, completed=sent, total=total)

        filled = fill_demo(platform, advance)
    if filled is None:
        console.print("[yellow]--demo: the store already has events; leaving it as it is[/]")
        return 0
    console.print(f"[green]demo:[/] {filled.events:,} events for {filled.learners} learners in "
                  f"{filled.courses} courses, the last {SCHOOL_DAYS} days up to now; "
                  f"{filled.roster_users} roster users (examples/oneroster/sample)")
    return filled.events

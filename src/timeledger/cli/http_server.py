"""Run the platform's app under uvicorn within its connection limits, and stop it cleanly.

SIGTERM and SIGINT both stop the server the same way: it stops accepting connections, lets the
requests in flight finish (up to `--shutdown-timeout`), then runs the closers it was given (the
store's last WAL checkpoint among them) and the process exits 0.
"""

from __future__ import annotations

import functools
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any, TypeVar

import click
import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from timeledger.cli.stop_signals import STOP_SIGNALS
from timeledger.server.api.host_check import normalize_host
from timeledger.server.connection_limits import ConnectionLimits, ServerConfig

F = TypeVar("F", bound=Callable[..., Any])
Closer = Callable[[], None]
log = logging.getLogger("timeledger.server")
DEFAULTS = ConnectionLimits()


def _check_hosts(_ctx: click.Context, _param: click.Parameter,
                 values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(value if value == "*" else normalize_host(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_OPTIONS = (
    click.option("--allowed-host", "allowed_hosts", multiple=True, callback=_check_hosts,
                 envvar="TIMELEDGER_ALLOWED_HOSTS", metavar="NAME",
                 help="A Host name clients use besides localhost, 127.0.0.1, [::1] and the "
                      "--host address (repeatable; '*' turns the check off)."),
    click.option("--max-header-bytes", type=click.IntRange(min=1024),
                 default=DEFAULTS.max_header_bytes, show_default=True,
                 help="Longest request line and headers; longer gets 431."),
    click.option("--header-timeout", type=click.FloatRange(min=0, min_open=True),
                 default=DEFAULTS.header_timeout, show_default=True,
                 help="Seconds a client may take to send a request's headers."),
    click.option("--body-timeout", type=click.FloatRange(min=0, min_open=True),
                 default=DEFAULTS.body_timeout, show_default=True,
                 help="Seconds a client may take to send a request's body, after its headers."),
    click.option("--keep-alive-timeout", type=click.FloatRange(min=0, min_open=True),
                 default=DEFAULTS.keep_alive_timeout, show_default=True,
                 help="Seconds an idle connection stays open."),
    click.option("--limit-concurrency", type=click.IntRange(min=1),
                 default=DEFAULTS.limit_concurrency, show_default=True,
                 help="Connections and requests at once (per process); more get 503."),
    click.option("--shutdown-timeout", type=click.FloatRange(min=0),
                 default=DEFAULTS.shutdown_timeout, show_default=True,
                 help="Seconds requests in flight may take to finish on SIGTERM or SIGINT."),
)


def connection_options(func: F) -> F:
    """The options above; the command gets `allowed_hosts` and one `limits`."""

    @functools.wraps(func)
    def command(*args: Any, max_header_bytes: int, header_timeout: float, body_timeout: float,
                keep_alive_timeout: float, limit_concurrency: int, shutdown_timeout: float,
                **kwargs: Any) -> Any:
        limits = ConnectionLimits(
            max_header_bytes=max_header_bytes, header_timeout=header_timeout,
            body_timeout=body_timeout, keep_alive_timeout=keep_alive_timeout,
            limit_concurrency=limit_concurrency, shutdown_timeout=shutdown_timeout)
        return func(*args, limits=limits, **kwargs)

    for option in reversed(_OPTIONS):
        command = option(command)
    return command  # type: ignore[return-value]


class Closers:
    """Cleanup steps run once when serving ends, last added first; one failing stops none."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Closer]] = []
        self._closed = False

    def add(self, name: str, step: Closer) -> None:
        self._steps.append((name, step))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for name, step in reversed(self._steps):
            try:
                step()
            except Exception:
                log.exception("Closing %s failed", name)

    def lifespan(self) -> Callable[[FastAPI], Any]:
        """An app lifespan that closes these once the server has finished its requests."""

        @asynccontextmanager
        async def run(_app: FastAPI) -> AsyncIterator[None]:
            yield
            self.close()

        return run


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@contextmanager
def _stop_signals_exit_cleanly() -> Iterator[None]:
    """uvicorn handles SIGTERM and SIGINT while it serves, then raises the signal again: with
    the default handlers that kills the process (SIGTERM) before anything after the server
    runs. Here it ends in SystemExit(0), so the closers still run."""
    previous = {sig: signal.signal(sig, _exit_cleanly) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_app(app: FastAPI, *, host: str, port: int, limits: ConnectionLimits,
              closers: Closers) -> None:
    """Serve `app` (built with `closers.lifespan()`) until SIGTERM or SIGINT."""
    config = ServerConfig(app, limits=limits, host=host, port=port, log_level="warning",
                          access_log=False)
    try:
        with _stop_signals_exit_cleanly():
            uvicorn.Server(config).run()
    finally:
        closers.close()  # if the lifespan did not run (a second Ctrl+C forces the exit)


def serve_workers(factory: str, *, workers: int, host: str, port: int,
                  limits: ConnectionLimits) -> None:
    """`workers` processes, each building its app from the import string `factory` (each app
    closes its own platform in its lifespan)."""
    config = ServerConfig(factory, limits=limits, factory=True, workers=workers, host=host,
                          port=port, log_level="warning", access_log=False)
    with _stop_signals_exit_cleanly():
        Multiprocess(config, sockets=[config.bind_socket()]).run()

"""A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir) and the per-backend fixtures."""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ("sqlite", "pg")
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
# Unix socket only (no TCP port to collide on); the socket lives in the cluster's own dir.
PORT = 5432
TEMPLATE_DB = "timeledger_template"
ROOT_PREFIX = "tlpg-"
OWNER_FILE = "owner.pid"  # the pid of the session that started the cluster
# A throwaway cluster for tests need not survive a power cut.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not on this machine."""


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres (PATH first, then Debian's layout)."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if all((folder / name).exists() for name in SERVER_BINARIES):
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
        "install them (Debian: apt-get install postgresql-15)")


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: then it runs as `postgres` (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "postgres"], check=True)
    return "postgres"


@dataclass
class PostgresCluster:
    """initdb'd into a temp dir, served on a unix socket in that dir, removed on stop."""

    settings: dict[str, str] = field(default_factory=lambda: dict(FAST_SETTINGS))
    max_connections: int = 300
    root: Path | None = None
    _bindir: Path | None = None
    _user: str | None = None
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _template_ready: bool = False

    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "cluster not started"
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None, "cluster not started"
        return self.root

    def url(self, database: str = "postgres") -> str:
        """A libpq-style URL over the unix socket, as `timeledger --db` takes it."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={PORT}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self._bindir is not None
        command = [str(self._bindir / args[0]), *args[1:]]
        extra: dict[str, Any] = {}
        if self._user:
            extra = {"user": self._user, "group": self._user, "extra_groups": []}
        done = subprocess.run(command, capture_output=True, text=True, cwd="/", timeout=120,
                              env={**os.environ, "LC_ALL": "C", "TZ": "UTC"}, **extra)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}")
        return done

    def start(self) -> PostgresCluster:
        self._bindir = find_bindir()
        self._user = _server_user()
        self._stop_orphans()
        # A short path: a unix socket path must fit in ~100 bytes.
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "--username=postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-sync")
        conf = {"listen_addresses": "''", "port": str(PORT),
                "unix_socket_directories": f"'{self.socket_dir}'",
                "max_connections": str(self.max_connections), "timezone": "'UTC'",
                **self.settings}
        with (self.data_dir / "postgresql.auto.conf").open("a") as out:
            out.writelines(f"{key} = {value}\n" for key, value in conf.items())
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")
        atexit.register(self.stop)
        return self

    def halt(self) -> None:
        """Stop the server as an operator would (fast shutdown), keeping its data for resume()."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        assert self.root is not None, "cluster not started"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")

    def _stop_orphans(self) -> None:
        """Clusters left running by a session that was killed (pg_ctl's server outlives it)."""
        for owner in Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*/{OWNER_FILE}"):
            try:
                os.kill(int(owner.read_text()), 0)
                continue  # its session is alive
            except ProcessLookupError:
                pass
            except (ValueError, OSError):
                continue
            orphan = PostgresCluster(root=owner.parent, _bindir=self._bindir, _user=self._user)
            orphan.stop()

    def server_running(self) -> bool:
        """Whether a live postmaster holds the data dir (a stale postmaster.pid does not count)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        # pg_ctl status: 0 running, 3 not running (a stale pid file included), 4 no data dir.
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def stop(self) -> None:
        """Stop the server if one is running (a machine restored from a snapshot has none) and
        remove the cluster's folder."""
        if self.root is None:
            return
        try:
            if self.server_running():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            root, self.root = self.root, None
            shutil.rmtree(root, ignore_errors=True)

    def execute(self, *statements: str, database: str = "postgres") -> None:
        """Run statements in autocommit (CREATE/DROP DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=PORT, user="postgres",
                             dbname=database, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())  # our own literal SQL

    def new_database(self, prefix: str = "tl", *, empty: bool = False) -> str:
        """A fresh database's URL: migrated to head (copied from a template), or empty."""
        name = f"{prefix}_{next(self._names)}"
        if empty:
            self.execute(f'CREATE DATABASE "{name}"')
        else:
            self._ensure_template()
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
        return self.url(name)

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        from timeledger.server.store.database import create_engine
        from timeledger.server.store.migrate import upgrade

        self.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        engine = create_engine(self.url(TEMPLATE_DB))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        self._template_ready = True

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Backend:
    """Which database a platform under test runs on; `new_db_url()` gives each its own."""

    name: str
    cluster: PostgresCluster | None = None

    def new_db_url(self, *, empty: bool = False) -> str | None:
        """None for SQLite (the platform's data dir holds the file); a fresh database on pg."""
        if self.cluster is None:
            return None
        return self.cluster.new_database(empty=empty)


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


# --- pytest plugin: registered by tests/conftest.py ------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=(*BACKENDS, "both"), default="both",
                     help="Database the platform fixtures run on (default: both).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*names): run only on these backends ('sqlite', 'pg')")


def selected_backends(config: pytest.Config) -> Sequence[str]:
    chosen = config.getoption("--backend")
    return BACKENDS if chosen == "both" else (chosen,)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that (indirectly) uses `backend` runs once per selected backend."""
    if "backend" not in metafunc.fixturenames:
        return
    names = list(selected_backends(metafunc.config))
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        names = [name for name in names if name in marker.args]
    if not names:
        metafunc.parametrize("backend", [pytest.param(None, id="unselected", marks=pytest.mark.skip(
            reason="its backends are not selected by --backend"))], indirect=True, scope="session")
        return
    metafunc.parametrize("backend", names, indirect=True, ids=names, scope="session")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway cluster for the session; skips without the binaries (fails in CI)."""
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    """`sqlite` or `pg` (parametrized by pytest_generate_tests)."""
    name = getattr(request, "param", "sqlite")
    if name == "pg":
        return Backend("pg", request.getfixturevalue("postgres_cluster"))
    return Backend("sqlite")

"""The projector processes `serve` starts beside its API, and stops with it."""

from __future__ import annotations

import os
import subprocess
import sys

#: How far below the API's CPU priority serve's projectors run (docs/pipeline.md, "Priority").
DEFAULT_PROJECTOR_NICE = 0
#: How long a stopping projector may take to finish its batch before it is killed.
STOP_TIMEOUT_SECONDS = 15.0


class ProjectorProcesses:
    """`timeledger project` children of this process; each exits if this process dies."""

    def __init__(self, db_url: str, count: int, niceness: int = 0) -> None:
        self._db_url = db_url
        self._count = count
        self._niceness = niceness
        self._children: list[subprocess.Popen[bytes]] = []

    def start(self) -> ProjectorProcesses:
        command = [sys.executable, "-m", "timeledger", "project", "--db", self._db_url,
                   "--parent-pid", str(os.getpid())]
        self._children = [subprocess.Popen(command) for _ in range(self._count)]
        if self._niceness and hasattr(os, "setpriority"):  # POSIX; elsewhere all run alike
            lowered = min(19, os.getpriority(os.PRIO_PROCESS, 0) + self._niceness)
            for child in self._children:
                os.setpriority(os.PRIO_PROCESS, child.pid, lowered)
        return self

    def stop(self) -> None:
        """SIGTERM each (it finishes its batch and commits), then wait for it."""
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        for child in self._children:
            try:
                child.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._children = []

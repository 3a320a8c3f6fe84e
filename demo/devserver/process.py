"""What every local service the tests and the demo start has in common: one child process, a log file
to show when it fails, and start/stop as a context manager."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
from abc import ABC, abstractmethod
from collections import deque
from pathlib import Path
from types import FrameType, TracebackType
from typing import NoReturn, Self


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, span: tuple[int, int] | None = None) -> int:
    """A port on 127.0.0.1 that is free right now (released on return): the kernel's pick, or one within
    ``span`` for a listener that refuses ephemeral ports (the swarm's data path takes 1024-49151 only).

    Every listener a local service opens takes one, so tests never collide with a service already on
    the machine (a host's own Synapse, or the swarm of a cc-ci node)."""
    candidates = [0] if span is None else random.sample(range(span[0], span[1] + 1), k=min(200, span[1] - span[0] + 1))
    for port in candidates:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port in {span}")


class LocalService(ABC):
    log_path: Path
    _proc: subprocess.Popen[bytes] | None

    @property
    def pid(self) -> int | None:
        """Process id of the running service (also its process group id), None when stopped."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    @abstractmethod
    def start(self, timeout: float = 60.0) -> None: ...

    @abstractmethod
    def stop(self, timeout: float = 30.0) -> None: ...

    def _spawn(self, argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        """Start the service's one child in a session of its own (so stopping signals its whole group),
        its output appended to ``log_path``; it becomes ``_proc``."""
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self._proc

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the service's log (shown when it fails to start or dies)."""
        try:
            with self.log_path.open(encoding="utf-8", errors="replace") as log:
                return "".join(deque(log, maxlen=lines))
        except FileNotFoundError:
            return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a service's whole process group; a group already gone is not an error."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    """A SIGTERM handler for the devserver CLIs: stop as cleanly as on Ctrl-C."""
    raise KeyboardInterrupt

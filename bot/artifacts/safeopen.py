"""Opening a file of a run dir as someone hostile may have arranged it.

The runner executes recipes' code, so anything under a run dir may be a symlink to ``/etc/shadow``,
a FIFO that blocks the reader forever, or ``/dev/zero``. Every read of a run's files goes through
:func:`open_in_run` (or :func:`dir_in_run` for a directory such as a recipe clone): the path's real
location must be inside the run's real dir (links that stay inside the run are fine), and the file is
opened without following a last-component link and without blocking (``O_NOFOLLOW | O_NONBLOCK``),
then ``fstat`` must say it is a regular file. Whatever fails is an :class:`Unsafe` whose ``reason``
becomes a note on the run — never content.

The containment check and the open are two steps, but the open refuses a link and a non-regular file
itself, so swapping the file between them can at worst make the open fail.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Unsafe(Exception):
    """A run-dir path that is not a regular file inside the run; ``reason`` is safe to show."""

    def __init__(self, relative: str, what: str) -> None:
        self.relative = relative
        self.reason = f"{relative} is not a regular file inside the run ({what})"
        super().__init__(self.reason)


class TooLarge(Unsafe):
    """A regular file inside the run that is bigger than the cap set for it."""

    def __init__(self, relative: str, limit: int) -> None:
        super().__init__(relative, "")
        self.reason = f"{relative} is larger than the {limit:,}-byte cap; not read"
        self.args = (self.reason,)


class UnsafeDir(Unsafe):
    """A run-dir path that should be a directory inside the run and is not (a link elsewhere)."""

    def __init__(self, relative: str, what: str) -> None:
        super().__init__(relative, what)
        self.reason = f"{relative} is not a directory inside the run ({what})"
        self.args = (self.reason,)


def inside(path: str, parent: str) -> bool:
    """Whether the real path ``path`` is ``parent`` or below it (both already real)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def real_in_run(run_dir: Path | str, relative: str) -> str:
    """The real path of ``relative`` under ``run_dir``; :class:`Unsafe` if it leads outside the run.

    Raises ``FileNotFoundError`` when the path (or the run dir) does not exist, once it is known to be
    inside: a missing file is ordinary (no log yet), a path outside is not.
    """
    real_run = os.path.realpath(run_dir)
    real = os.path.realpath(Path(real_run, relative))
    if real == real_run or not inside(real, real_run):
        raise Unsafe(relative, "it leads outside the run dir")
    if not os.path.lexists(real):
        raise FileNotFoundError(relative)
    return real


def open_regular(path: Path | str, relative: str | None = None) -> io.BufferedReader:
    """Open a file that must be regular, without following a final link and without blocking."""
    name = relative if relative is not None else Path(path).name
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP: a link; ENXIO: a FIFO without writer (with O_NONBLOCK), …
        if Path(path).is_dir():
            raise Unsafe(name, "a directory") from None
        raise Unsafe(name, exc.strerror or "cannot open") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise Unsafe(name, kind)
        os.set_blocking(fd, True)  # regular files never block; later reads behave as usual
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_in_run(run_dir: Path | str, relative: str) -> io.BufferedReader:
    """Open ``run_dir/relative`` for reading if it is a regular file inside the run (see module doc)."""
    return open_regular(real_in_run(run_dir, relative), relative)


def open_confined(path: Path, root: Path | None) -> io.BufferedReader:
    """``open_in_run(root, path relative to root)``, or only :func:`open_regular` when there is no root."""
    if root is None:
        return open_regular(path)
    try:
        relative = os.path.relpath(path, root)
    except ValueError:
        relative = os.fspath(path)
    return open_in_run(root, relative)


def open_dir_in_run(run_dir: str, name: str) -> int:
    """A descriptor to list ``run_dir/name`` (one path component, such as the JUnit dir) by.

    A directory that is not a link is opened as it is (``O_NOFOLLOW``: a link swapped in since the
    ``lstat`` fails the open); a link must lead to a directory inside the run, like any file's. Raises
    :class:`UnsafeDir` when it leads outside the run, ``OSError`` when it is absent or not a directory.
    """
    path = f"{run_dir}/{name}"
    if not stat.S_ISLNK(os.lstat(path).st_mode):
        return os.open(path, _DIR_FLAGS)
    try:
        real = real_in_run(run_dir, name)
    except Unsafe as exc:
        raise UnsafeDir(name, "it leads outside the run dir") from exc
    return os.open(real, _DIR_FLAGS & ~os.O_NOFOLLOW)


def dir_in_run(run_dir: Path | str, relative: str) -> Path | None:
    """The real path of a directory inside the run (a recipe clone), or None if absent or elsewhere."""
    try:
        real = real_in_run(run_dir, relative)
    except (Unsafe, FileNotFoundError):
        return None
    return Path(real) if Path(real).is_dir() else None


def read_bytes_in_run(run_dir: Path | str, relative: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a run's file; :class:`Unsafe` if it is bigger (a cap, not a cut)."""
    with open_in_run(run_dir, relative) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(relative, limit)
    return data

"""Which file an artifact URL may open: only a regular file inside a run dir that is inside a runs root;
and which of a run's files the pages offer (:func:`run_files`).

The relative path comes from a URL, so it is hostile until checked: it is refused outright if it could
name anything outside by its spelling (absolute, ``..``, NUL, backslash), and then again after every
symlink in it is resolved, so a link inside a run dir pointing at ``/etc/passwd`` or at another run is
refused too. Links that stay inside the run dir are followed.

What is refused and what is missing are distinct errors (403 and 404). A missing target is only reported
as missing after its resolved path was found to be inside the run, so a probe cannot learn whether some
path outside exists.

The check and the later ``open`` are two steps; this protects against hostile URLs, not against
someone who can rewrite the runs dir between them (who could change the artifacts anyway).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bot.artifacts.layout import Layout
from bot.artifacts.rundir import snapshot
from bot.config import CcciConfig
from bot.errors import Failure


class ArtifactError(Failure):
    """Base of the two answers below; ``reason`` is safe to show (it never names paths outside the run)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ArtifactRefused(ArtifactError):
    """The path may not be served: it escapes the run, or is not a regular file (HTTP 403)."""


class ArtifactMissing(ArtifactError):
    """The path is inside the run but nothing is there (HTTP 404)."""


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or path.is_relative_to(parent)


def _check_spelling(relative: str) -> PurePosixPath:
    if not relative:
        raise ArtifactRefused("empty path")
    if "\x00" in relative:
        raise ArtifactRefused("NUL in path")
    if "\\" in relative:
        raise ArtifactRefused("backslash in path")
    if relative.endswith("/"):
        raise ArtifactRefused("a directory (no listings)")
    pure = PurePosixPath(relative)
    if pure.is_absolute():
        raise ArtifactRefused("absolute path")
    if ".." in pure.parts:
        raise ArtifactRefused("'..' in path")
    if not pure.parts:  # "." or "./"
        raise ArtifactRefused("the run dir itself")
    return pure


def resolve_artifact(run_dir: Path, roots: Sequence[Path], relative: str) -> Path:
    """The real path of ``relative`` inside ``run_dir``, which must itself be inside one of ``roots``.

    ``relative`` is the already URL-decoded path. Raises :class:`ArtifactRefused` or
    :class:`ArtifactMissing`; returns a path with no symlinks left in it.
    """
    pure = _check_spelling(relative)
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    real_run = Path(os.path.realpath(run_dir))
    if not any(real_run != root and _inside(real_run, root) for root in real_roots):
        raise ArtifactRefused("run dir is not inside a runs root")
    if not real_run.is_dir():
        raise ArtifactMissing("no such run")
    real = Path(os.path.realpath(real_run.joinpath(*pure.parts)))
    if real == real_run or not _inside(real, real_run):
        raise ArtifactRefused("path leads outside the run")
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        raise ArtifactMissing("no such artifact") from None
    except OSError as exc:
        raise ArtifactRefused(f"cannot read ({exc.strerror or 'error'})") from None
    if stat.S_ISDIR(mode):
        raise ArtifactRefused("a directory (no listings)")
    if not stat.S_ISREG(mode):
        raise ArtifactRefused("not a regular file")
    return real


def run_roots(cfg: CcciConfig) -> list[Path]:
    """Where a run dir may be: under cc-ci's runs dir or its warm dir."""
    return [cfg.runs_dir, cfg.warm_dir]


def served_file(cfg: CcciConfig, run_dir: Path, relative: str) -> Path:
    """:func:`resolve_artifact` with the run roots the config names."""
    return resolve_artifact(run_dir, run_roots(cfg), relative)


def run_files(cfg: CcciConfig, run_dir: Path) -> list[tuple[str, int]]:
    """The files the pages offer for a run, with their sizes: its results, its log, its JUnit files (under
    the configured names) — each only if it would be served (a regular file inside the run), so a link to
    a file elsewhere is not even listed. The JUnit dir is listed as ingest lists it (confined to the run)."""
    layout = Layout.of(cfg)
    names = [layout.results, layout.log, *(layout.junit(name) for name in snapshot(run_dir, cfg).junit_files)]
    found: list[tuple[str, int]] = []
    for name in names:
        try:
            found.append((name, served_file(cfg, run_dir, name).stat().st_size))
        except (ArtifactError, OSError):
            continue
    return found

"""cc-ci's file layout under the names the config gives it (``ccci.results_name``, ``log_name``,
``junit_dir``, ``canonical_name``): where a run's dir is, and what a path inside it is.

Code outside :mod:`bot.artifacts` asks here instead of spelling a file name or joining a path, so a
cc-ci that names its files otherwise needs a config change, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from bot.config import CcciConfig


class RunFile(StrEnum):
    """The files of a run dir the bot reads (and the web serves)."""

    RESULTS = "results"
    LOG = "log"
    JUNIT = "junit"


@dataclass(frozen=True)
class Layout:
    """The names of cc-ci's files, as configured; paths are relative to a run dir (the canonical's to
    ``<warm_dir>/<recipe>/``)."""

    results: str
    log: str
    junit_dir: str
    canonical: str

    @classmethod
    def of(cls, cfg: CcciConfig) -> Layout:
        return cls(cfg.results_name, cfg.log_name, cfg.junit_dir, cfg.canonical_name)

    def junit(self, name: str) -> str:
        """The path of the JUnit file ``name`` inside a run dir."""
        return f"{self.junit_dir}/{name}"

    def kind(self, relative: str) -> RunFile | None:
        """Which of the bot's files ``relative`` (a path inside a run dir) is, or None for any other."""
        if relative == self.results:
            return RunFile.RESULTS
        if relative == self.log:
            return RunFile.LOG
        parts = PurePosixPath(relative).parts  # "junit//x.xml" is the JUnit dir's x.xml too
        return RunFile.JUNIT if len(parts) == 2 and parts[0] == self.junit_dir else None


def run_dir_of(cfg: CcciConfig, run_id: str, stored: str | None = None) -> Path:
    """A run's dir: where ingest read it (``stored``, the store's record), else ``<runs_dir>/<run_id>``."""
    return Path(stored) if stored else cfg.runs_dir / run_id


def canonical_path(cfg: CcciConfig, recipe: str) -> Path:
    """Where cc-ci keeps a recipe's canonical record: ``<warm_dir>/<recipe>/<canonical_name>``."""
    return cfg.warm_dir / recipe / cfg.canonical_name

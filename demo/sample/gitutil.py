"""Running git for the sample world, isolated from the caller's git configuration.

Recipe repos must come out identical on every machine (stable tags, no signing prompts), so
git runs with no system/global config and a fixed author.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

from demo.sample.clock import iso_z

AUTHOR = ("Co-op Cloud recipe maintainers", "maintainers@coopcloud.example")


def git_env(date: datetime | None = None) -> dict[str, str]:
    """Environment for a reproducible git call (fixed author, optional fixed date)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": AUTHOR[0],
        "GIT_AUTHOR_EMAIL": AUTHOR[1],
        "GIT_COMMITTER_NAME": AUTHOR[0],
        "GIT_COMMITTER_EMAIL": AUTHOR[1],
    }
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = iso_z(date)
    return env


def git(*args: str, cwd: Path, date: datetime | None = None) -> str:
    """Run `git args...` in `cwd` and return its stdout; raise on failure."""
    done = subprocess.run(["git", *args], cwd=cwd, env=git_env(date), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout

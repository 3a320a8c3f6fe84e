"""Run ids for isolation reruns: unique whatever the store remembers.

The store's rerun counter starts again with a lost, restored or second data dir, so
``manual-ccci-{rerun}-{n}`` alone can name a run that already exists, and the runner would write
into it. Each id gets a random suffix, and one the runs dir already holds (a dir, a file, a
dangling link) is never handed out.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def _token() -> str:
    return secrets.token_hex(4)


def new_run_id(runs_dir: Path, rerun_id: int, n: int, token: Callable[[], str] = _token) -> str:
    """``manual-ccci-{rerun_id}-{n}-{8 hex digits}``, not yet in ``runs_dir``."""
    while True:
        run_id = f"manual-ccci-{rerun_id}-{n}-{token()}"
        if not os.path.lexists(runs_dir / run_id):
            return run_id

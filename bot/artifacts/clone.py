"""A run's recipe clone: where it is (``abra/recipes/<recipe>`` inside the run, else the operator's
``recipes_dir``), and the release tag it is checked out at, read from ``.git`` without running git.

The tag is only needed when the results file is missing: the clone still says which version the runner tested.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.artifacts.safeopen import Unsafe, dir_in_run, open_confined

_MAX_REF_FILE = 16 * 1024 * 1024


def recipe_clone(run_dir: Path, recipe: str, recipes_dir: Path | None) -> Path | None:
    """The recipe's git clone: the run's own only when its real path is inside the run (git must not be
    pointed elsewhere), else ``<recipes_dir>/<recipe>`` (the operator's, trusted); None when neither is one."""
    in_run = dir_in_run(run_dir, f"abra/recipes/{recipe}") if "/" not in recipe else None
    candidates = [in_run] if in_run is not None and dir_in_run(in_run, ".git") is not None else []
    if recipes_dir is not None and "/" not in recipe and recipe not in ("", ".", ".."):
        candidates.append(recipes_dir / recipe)
    return next((c for c in candidates if (c / ".git").exists()), None)


def _read(path: Path, root: Path | None) -> str | None:
    """A small file of the clone, confined to the run dir; None when absent or not a plain file inside."""
    try:
        with open_confined(path, root) as handle:
            return handle.read(_MAX_REF_FILE).decode("utf-8", errors="replace")
    except (OSError, Unsafe):
        return None


def _head_commit(git_dir: Path, root: Path | None) -> str | None:
    head = (_read(git_dir / "HEAD", root) or "").strip()
    if not head.startswith("ref: "):
        return head or None
    ref = head[5:].strip()
    if ".." in ref.split("/") or ref.startswith("/"):
        return None
    loose = _read(git_dir / ref, root)
    if loose is not None:
        return loose.strip()
    return _packed(git_dir, root).get(ref)


def _packed(git_dir: Path, root: Path | None) -> dict[str, str]:
    """ref name → commit, with annotated tags peeled to the commit they point at."""
    refs: dict[str, str] = {}
    text = _read(git_dir / "packed-refs", root)
    if text is None:
        return refs
    last: str | None = None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("^") and last:
            refs[last] = line[1:].strip()
            continue
        sha, _, name = line.partition(" ")
        refs[name.strip()] = sha.strip()
        last = name.strip()
    return refs


def checked_out_tag(clone: Path, root: Path | None = None) -> str | None:
    """The tag whose commit is HEAD, or None (no clone, not on a tag, or unreadable).

    ``root``: the run dir every file read must stay inside (the clone is the runner's, so hostile).
    """
    git_dir = clone / ".git"
    try:
        head = _head_commit(git_dir, root)
        if head is None:
            return None
        tags = {name: sha for name, sha in _packed(git_dir, root).items() if name.startswith("refs/tags/")}
        loose = git_dir / "refs" / "tags"
        if loose.is_dir() and not loose.is_symlink():
            for dirpath, _dirs, files in os.walk(loose):  # does not follow directory links
                for filename in files:
                    path = Path(dirpath) / filename
                    text = _read(path, root)
                    if text is not None:
                        tags.setdefault("refs/tags/" + path.relative_to(loose).as_posix(), text.strip())
    except OSError:
        return None
    matches = sorted(name[len("refs/tags/") :] for name, sha in tags.items() if sha == head)
    return matches[-1] if matches else None

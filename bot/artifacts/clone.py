"""The release tag a run's recipe clone is checked out at, read from ``.git`` without running git.

Only needed when results.json is missing: the clone still says which version the runner tested.
"""

from __future__ import annotations

from pathlib import Path


def _head_commit(git_dir: Path) -> str | None:
    head = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    if not head.startswith("ref: "):
        return head or None
    ref = head[5:].strip()
    ref_file = git_dir / ref
    if ref_file.is_file():
        return ref_file.read_text(encoding="utf-8", errors="replace").strip()
    return _packed(git_dir).get(ref)


def _packed(git_dir: Path) -> dict[str, str]:
    """ref name → commit, with annotated tags peeled to the commit they point at."""
    refs: dict[str, str] = {}
    path = git_dir / "packed-refs"
    if not path.is_file():
        return refs
    last: str | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("^") and last:
            refs[last] = line[1:].strip()
            continue
        sha, _, name = line.partition(" ")
        refs[name.strip()] = sha.strip()
        last = name.strip()
    return refs


def checked_out_tag(clone: Path) -> str | None:
    """The tag whose commit is HEAD, or None (no clone, not on a tag, or unreadable)."""
    git_dir = clone / ".git"
    try:
        head = _head_commit(git_dir)
        if head is None:
            return None
        tags = {name: sha for name, sha in _packed(git_dir).items() if name.startswith("refs/tags/")}
        loose = git_dir / "refs" / "tags"
        if loose.is_dir():
            for path in loose.rglob("*"):
                if path.is_file():
                    name = "refs/tags/" + path.relative_to(loose).as_posix()
                    tags.setdefault(name, path.read_text(encoding="utf-8", errors="replace").strip())
    except OSError:
        return None
    matches = sorted(name[len("refs/tags/") :] for name, sha in tags.items() if sha == head)
    return matches[-1] if matches else None

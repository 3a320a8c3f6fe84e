"""Noticing that the knowledge base changed under a running bot: `learn --apply` on the CLI beside it, or
an operator's edit of a file in ``knowledge.dirs``.

Each poll compares the name, size, inode and mtime of every YAML file there with the previous poll's (one
``stat`` per file, nothing parsed); only when they moved are the files loaded again. A file that no longer
loads does not throw the working knowledge base away: the bot keeps the one it has, warns once (until the
files change again), and takes the files up as soon as they load. The shipped signatures change only with
the bot itself, so they are not watched.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from bot.kb import KnowledgeBase, read_kb

log = logging.getLogger(__name__)
# What an operator does about a signature that does not load (the doctor's `knowledge` check says it too).
FIX = "correct or remove it; patterns are RE2 syntax (docs/knowledge-base.md)"

_SKIPPED = re.compile(r"; (?:file |signature )?skipped$")
Entry = tuple[str, str, int, int, int]  # (directory, file name, size, mtime_ns, inode); -1s: cannot be read
Stamp = tuple[Entry, ...]


def stamp(dirs: Iterable[Path]) -> Stamp:
    """What the YAML files in ``dirs`` look like from outside: enough to tell that one was added, removed,
    replaced or written to, without reading any."""
    entries: list[Entry] = []
    for directory in dirs:
        try:
            with os.scandir(directory) as found:
                for entry in found:
                    if not entry.name.endswith((".yaml", ".yml")):
                        continue
                    try:
                        st = entry.stat()  # follows a link, as loading does
                    except OSError:
                        entries.append((str(directory), entry.name, -1, -1, -1))
                        continue
                    entries.append((str(directory), entry.name, st.st_size, st.st_mtime_ns, st.st_ino))
        except OSError:  # missing or unreadable: loading says which
            entries.append((str(directory), "", -1, -1, -1))
    return tuple(sorted(entries))


class KnowledgeWatch:
    """The last look at ``knowledge.dirs``, and loading them again when that look is out of date."""

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.dirs = tuple(dirs)
        self._seen = stamp(self.dirs)
        self._lock = threading.Lock()  # polls run in worker threads
        self.loads = 0  # how often the files were read again (nothing changed → it stays)

    def moved(self) -> bool:
        """Whether the files changed since the last look; this look becomes the last one."""
        now = stamp(self.dirs)
        with self._lock:
            if now == self._seen:
                return False
            self._seen = now
            return True

    def reload(self, current: KnowledgeBase) -> KnowledgeBase | None:
        """The knowledge base as the files are now; None when it is ``current`` already or when a file no
        longer loads (a problem ``current`` did not have): then ``current`` stays in force, with a warning."""
        self.loads += 1
        files = read_kb(self.dirs)  # the version first: the bot's own `learn` moves the files to what it has
        if files.version == current.version:
            return None
        kb = files.load()
        had = set(current.problems)
        fresh = [p for p in kb.problems if p not in had]
        if fresh:
            for problem in fresh:
                said = _SKIPPED.sub("", problem)  # not skipped: the whole previous knowledge base stays
                log.warning("knowledge base not reloaded, %s stays in force: %s; %s", current.version, said, FIX)
            return None
        said = changes(current, kb)
        log.info("knowledge base reloaded (knowledge.dirs changed): %s → %s; %s", current.version, kb.version, said)
        return kb


def changes(before: KnowledgeBase, after: KnowledgeBase) -> str:
    """Which signatures came and went, by id, in a few words for the log."""
    old = {s.id for s in before.signatures}
    new = {s.id for s in after.signatures}
    added, removed = sorted(new - old), sorted(old - new)
    parts = [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    return "; ".join(parts) or "signatures edited"

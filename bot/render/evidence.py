"""Evidence as a reader should get it: each fact once, under one header, and no host path.

The answers keep every item as found (JSON shows them all); only what is shown is folded here, so the
chat thread, the terminal and the pages fold the same way:

- a log line quoted under two headers (``[log]`` and ``[signature]``) is quoted once; the second
  names its signature and points back;
- items of one kind with the same header (four ``[peer-labels] … compose.yml vs …``) share it;
- pytest's progress line (``FFF`` padded to 200 characters before ``[100%]``) loses its padding;
- a path is shown only when it is a file of a run (relative to its dir): a host path (the warm dir's
  ``canonical.json``, a recipe clone) is no use to anyone reading chat or a page, so it is not shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.model.records import EvidenceItem, EvidenceKind

# An excerpt line as logscan numbers it: "    51> text" (the cited line) or "    50  text".
_NUMBERED = re.compile(r"^\s*(\d+)[> ] ")
_PADDING = re.compile(r"(?<=\S) {20,}(?=\S)")  # inside a line, after its first word: never indentation


def shown_path(path: str) -> str | None:
    """The path as shown: a run's relative path, or None for a host path (absolute) and an empty one."""
    if not path or path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", path):
        return None
    return path


def where(e: EvidenceItem) -> str | None:
    """``run.log:51``, ``junit/x.xml``, or None when the item's path is not for showing."""
    path = shown_path(e.path)
    if path is None:
        return None
    return f"{path}:{e.line}" if e.line else path


def squeeze(excerpt: str) -> str:
    """Long runs of padding inside a line become two spaces (pytest's progress line); indentation stays."""
    return "\n".join(_PADDING.sub("  ", line).rstrip() for line in excerpt.splitlines())


def _numbered(excerpt: str) -> set[int]:
    found = set()
    for line in excerpt.splitlines():
        m = _NUMBERED.match(line)
        if m:
            found.add(int(m.group(1)))
    return found


@dataclass
class Block:
    """One header (kind, where, link) and the excerpts shown under it, in order."""

    kind: EvidenceKind
    where: str | None
    url: str | None
    excerpts: list[str] = field(default_factory=list)


def blocks(
    evidence: list[EvidenceItem], skip: frozenset[EvidenceKind] = frozenset({EvidenceKind.FAILURE})
) -> list[Block]:
    """The evidence folded for showing (see the module's docstring), in the answer's order."""
    quoted: dict[tuple[str | None, str], set[int]] = {}  # (run, file) → line numbers quoted so far
    out: list[Block] = []
    for e in evidence:
        if e.kind in skip:
            continue
        excerpt = squeeze(e.excerpt)
        lines = quoted.setdefault((e.run_id, e.path), set())
        if e.line is not None and e.line in lines:
            label = excerpt.splitlines()[0].strip() if excerpt else ""
            label = label if label and not _NUMBERED.match(label) else str(e.kind)
            excerpt = f"{label.rstrip(':')} (line {e.line}, quoted above)"
        else:
            lines |= _numbered(excerpt)
        header = where(e)
        last = out[-1] if out else None
        if last is not None and (last.kind, last.where, last.url) == (e.kind, header, e.url):
            last.excerpts.append(excerpt)
        else:
            out.append(Block(e.kind, header, e.url, [excerpt]))
    return out

"""Writing an accepted proposal as a signature file, in the format docs/knowledge-base.md documents.

The file name is the signature's id (``learned-<recipe>-<hash>.yaml``: lowercase letters, digits and
'-' only, so it cannot leave the directory); the data goes through ``yaml.safe_dump``, never through
string formatting; who and when go in a comment with control characters taken out. The file is written
beside its final name and renamed into place, so the knowledge base never loads half of one, and it is
loaded back before it counts: a file that would not load is removed again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from bot.artifacts.timefmt import iso
from bot.kb import parse_signature
from bot.linear_regex import PatternRefused, compile_signature
from bot.model.learn import LearnProposal

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_ID = re.compile(r"^learned-[a-z0-9-]{1,60}$")


def _comment(text: str) -> str:
    return _UNPRINTABLE.sub(" ", text)[:300]


def no_match_example(proposal: LearnProposal) -> str:
    """A text the signature must not match (the loader wants one): the failing test passing, else nothing."""
    compiled = compile_signature(proposal.request.pattern)
    if isinstance(compiled, PatternRefused):
        return ""
    return next((t for t in (f"{proposal.failure} passed", "PASSED") if compiled.search(t) is None), "")


def document(proposal: LearnProposal, by: str, at: float) -> str:
    """The YAML file's text: a comment saying who taught it, when and from what; then the signature."""
    request = proposal.request
    greens = proposal.greens
    checked = f"; it matched none of {greens.checked} green runs" if greens is not None else ""
    description = (
        f"Taught by {_comment(by)} from {request.recipe}'s failure in {proposal.failure} (run {proposal.run_id})."
    )
    data = {
        "signatures": [
            {
                "id": proposal.signature_id,
                "category": request.category.value,
                "description": description,
                "match": [{"failure": request.pattern}],
                "examples": {"match": [proposal.example or ""], "no_match": [no_match_example(proposal)]},
            }
        ]
    }
    run, failure = _comment(proposal.run_id or "?"), _comment(proposal.failure or "?")
    header = (
        f"# Taught with `learn` by {_comment(by)} on {iso(at)}\n"
        f"# from {request.recipe}'s run {run} ({failure}){checked}.\n"
        "# Edit or delete this file to change or forget the signature; `reclassify` applies the change.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write(directory: Path, proposal: LearnProposal, by: str, at: float) -> Path:
    """Write the signature file into ``directory`` (made if missing); returns its path."""
    if not _ID.match(proposal.signature_id):
        raise ValueError(f"not a taught signature id: {proposal.signature_id!r}")
    text = document(proposal, by, at)
    parse_signature(yaml.safe_load(text)["signatures"][0], proposal.signature_id)  # raises if it would not load
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{proposal.signature_id}.yaml"
    if path.parent != directory:
        raise ValueError(f"{path} is not in {directory}")
    temporary = directory / f".{proposal.signature_id}.{os.getpid()}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    return path

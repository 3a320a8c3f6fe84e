"""A running bot takes up a knowledge base changed beside it at its next poll: a signature taught with the
CLI's `learn --apply` in another process, or an operator's edit of a file in ``knowledge.dirs``. A file
that no longer loads keeps the working knowledge base (one warning), and a poll with nothing changed loads
nothing. The polls are `Service.ingest()`, as the bot's report loop and `ccci-bot web` call it.

Sample world facts used: outline's current red (run 760) fails custom/test_collection_export_completes with
``assert 'failed' == 'complete'``, which no shipped signature explains (unknown).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from msgspec.structs import replace

from bot.kb import load_kb
from bot.kb.watch import KnowledgeWatch
from bot.model.records import Category
from bot.service import Service
from tests.conftest import Site
from tests.test_commands import cli_dirs

OUTLINE_ASSERT = "assert 'failed' == 'complete'"
SIGNATURE = {
    "id": "outline-export-fails",
    "category": "recipe-defect",
    "description": "The collection export ends in 'failed'.",
    "match": [{"failure": "assert 'failed' == 'complete'"}],
    "examples": {"match": ["assert 'failed' == 'complete'"], "no_match": ["assert 'complete' == 'complete'"]},
}


@pytest.fixture
def running(site: Site, tmp_path: Path) -> Iterator[tuple[Service, Path]]:
    """A service as the bot runs it, with an empty knowledge dir of its own, after its first poll."""
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    service = Service(replace(site.config, knowledge=replace(site.config.knowledge, dirs=(kb_dir,))))
    asyncio.run(service.ingest())
    yield service, kb_dir
    service.close()


def outline_category(service: Service) -> Category:
    return asyncio.run(service.why("outline")).verdict.category  # type: ignore[union-attr]


def test_a_signature_taught_by_the_cli_beside_the_bot_reclassifies_its_red_at_the_next_poll(
    running: tuple[Service, Path], site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service, kb_dir = running
    assert outline_category(service) is Category.UNKNOWN
    started = service.kb.version
    config = tmp_path / "cli.yaml"
    config.write_text(yaml.safe_dump({"knowledge": {"dirs": [str(kb_dir)]}, "links": {"base_url": None}}))
    cli = [sys.executable, "-m", "bot.cli", "learn", "outline", "recipe-defect", OUTLINE_ASSERT, "--apply", "--json"]
    done = subprocess.run(
        [*cli, "--no-ingest", "--config", str(config), *cli_dirs(site)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    taught = json.loads(done.stdout)
    assert service.kb.version == started  # nothing is read between polls
    with caplog.at_level(logging.INFO, logger="bot.kb.watch"):
        asyncio.run(service.ingest())
    assert service.kb.version == taught["taught"]["kb_version"] != started
    assert service.verdicts.kb is service.kb
    assert outline_category(service) is Category.RECIPE_DEFECT
    stored = service.store.verdicts.get("760")
    assert stored is not None and stored.kb_version == service.kb.version  # decided again, not only on asking
    assert f"{started} → {service.kb.version}; added {taught['signature_id']}" in caplog.text


def test_a_hand_edit_is_taken_up_and_a_removed_file_takes_its_signature_along(running: tuple[Service, Path]) -> None:
    service, kb_dir = running
    (kb_dir / "mine.yml").write_text(yaml.safe_dump({"signatures": [SIGNATURE]}))
    asyncio.run(service.ingest())
    assert outline_category(service) is Category.RECIPE_DEFECT
    assert any(s.id == "outline-export-fails" for s in service.kb.signatures)
    (kb_dir / "mine.yml").unlink()
    asyncio.run(service.ingest())
    assert outline_category(service) is Category.UNKNOWN
    assert service.knowledge.watch.loads == 2


def test_a_file_that_no_longer_loads_keeps_the_working_knowledge_base_and_warns_once(
    running: tuple[Service, Path], caplog: pytest.LogCaptureFixture
) -> None:
    service, kb_dir = running
    mine = kb_dir / "mine.yaml"
    mine.write_text(yaml.safe_dump({"signatures": [SIGNATURE]}))
    asyncio.run(service.ingest())
    working = service.kb.version
    broken = dict(SIGNATURE, match=[{"failure": "(a)\\1 'failed'"}])  # a backreference: RE2 refuses it
    mine.write_text(yaml.safe_dump({"signatures": [broken]}))
    with caplog.at_level(logging.WARNING, logger="bot.kb.watch"):
        asyncio.run(service.ingest())
        asyncio.run(service.ingest())
    assert service.kb.version == working
    assert outline_category(service) is Category.RECIPE_DEFECT  # still the signature that loaded
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"knowledge base not reloaded, {working} stays in force: " in warnings[0]
    assert "backreferences" in warnings[0] and "correct or remove it; patterns are RE2 syntax" in warnings[0]
    assert not warnings[0].endswith("skipped")
    mine.write_text("signatures: [unclosed\n")  # another bad state is news again
    with caplog.at_level(logging.WARNING, logger="bot.kb.watch"):
        asyncio.run(service.ingest())
    assert "not valid YAML" in caplog.records[-1].getMessage() and service.kb.version == working
    mine.write_text(yaml.safe_dump({"signatures": [dict(SIGNATURE, category="flake")]}))  # mended
    asyncio.run(service.ingest())
    assert service.kb.version != working and outline_category(service) is Category.FLAKE


def test_a_poll_with_nothing_changed_loads_nothing(running: tuple[Service, Path]) -> None:
    service, kb_dir = running
    (kb_dir / "notes.txt").write_text("not a signature file")  # not YAML: not watched
    before = service.kb
    for _ in range(3):
        asyncio.run(service.ingest())
    assert service.knowledge.watch.loads == 0 and service.kb is before
    (kb_dir / "mine.yaml").write_text(yaml.safe_dump({"signatures": [SIGNATURE]}))
    for _ in range(3):
        asyncio.run(service.ingest())
    assert service.knowledge.watch.loads == 1 and service.kb is not before


def test_a_learn_in_the_bot_itself_is_not_loaded_twice(tmp_path: Path) -> None:
    """The running bot's own `learn` reloads at once; the next poll sees the same version and keeps it."""
    watch = KnowledgeWatch([tmp_path])
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"signatures": [SIGNATURE]}))
    current = load_kb([tmp_path])  # what `learn` put in force
    assert watch.moved() and not watch.moved()
    assert watch.reload(current) is None and watch.loads == 1


def test_a_missing_dir_appearing_is_a_change(tmp_path: Path) -> None:
    kb_dir = tmp_path / "made-later"
    watch = KnowledgeWatch([kb_dir])
    before = load_kb([kb_dir])
    assert not watch.moved() and "knowledge directory not found" in before.problems[0]
    kb_dir.mkdir()
    assert watch.moved()
    (kb_dir / "mine.yaml").write_text(yaml.safe_dump({"signatures": [SIGNATURE]}))
    assert watch.moved()
    after = watch.reload(before)  # its "not found" problem is gone, none new: taken up
    assert after is not None and any(s.id == "outline-export-fails" for s in after.signatures)

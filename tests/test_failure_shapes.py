"""Failure shapes the sample world never produces, from real tool output and real processes:
restic and HTTP output captured by scripts/capture_tool_output.py, a runner really killed at its
deadline, compose files read from real git clones, and shared causes across recipes of a sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from msgspec.structs import replace

from bot.artifacts.compose import read_effective
from bot.artifacts.logtail import read_tail
from bot.config import Config
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.store import Store
from bot.verdicts.cache import Verdicts
from bot.verdicts.clusters import machinery, shared_causes
from bot.verdicts.labels import compare, evidence
from bot.verdicts.staletest import GitRecipeSearch
from tests.junit_maker import run_pytest_junit
from tests.test_verdicts import git as _git

FIXTURES = Path(__file__).parent / "fixtures" / "tool-output"
KB = load_kb()
CAPTURED = {
    "restic-repository-missing": "backup-repository-missing",
    "restic-repository-locked": "backup-repository-locked",
    "http-404-requests": "proxy-no-router",
    "http-404-urllib": "proxy-no-router",
    "http-502-requests": "proxy-bad-gateway",
    "http-502-urllib": "proxy-bad-gateway",
    "http-504-requests": "proxy-gateway-timeout",
    "http-504-urllib": "proxy-gateway-timeout",
    "swarm-no-such-image": "swarm-no-such-image",
    "swarm-task-oom": "swarm-task-oom",
    "swarm-no-suitable-node": "swarm-task-rejected",
}
# Real output that must NOT be read as the named signature: a task exiting 3 was not killed for memory.
CAPTURED_NOT = {"swarm-task-exit": "swarm-task-oom"}


@pytest.mark.parametrize("case", sorted(CAPTURED))
def test_captured_tool_output_matches_its_signature_and_no_other_category(case: str) -> None:
    text = (FIXTURES / f"{case}.txt").read_text(encoding="utf-8")
    by_id = {s.id: s for s in KB.signatures}
    sig = by_id[CAPTURED[case]]
    assert sig.matches_failure(text), (case, text)
    others = [s.id for s in KB.signatures if s.category != sig.category and s.matches_failure(text)]
    assert others == [], (case, others)


@pytest.mark.parametrize("case", sorted(CAPTURED_NOT))
def test_captured_tool_output_is_not_read_as_a_lookalike(case: str) -> None:
    text = (FIXTURES / f"{case}.txt").read_text(encoding="utf-8")
    sig = {s.id: s for s in KB.signatures}[CAPTURED_NOT[case]]
    assert not sig.matches_failure(text), (case, text)


def test_every_captured_file_is_in_the_table() -> None:
    assert {p.stem for p in FIXTURES.glob("*.txt")} == set(CAPTURED) | set(CAPTURED_NOT)


# -- a runner cut off at its deadline -------------------------------------------------------------

RUNNER = """
import subprocess, sys, time
tier_files = {"install": "test_install", "upgrade": "test_upgrade", "backup": "test_backup"}
for tier, name in tier_files.items():
    print(f"===== tier {tier} (cc-ci) =====", flush=True)
    print(f"harness: pytest tests/{name}.py --junitxml=junit/{tier}__cc-ci__{name}.xml", flush=True)
    if tier == "backup":
        print("backupbot: restic backup --host ci /var/lib/docker/volumes ...", flush=True)
        time.sleep(600)  # hangs until the deadline ends it
    print(f"tier {tier} (cc-ci): pass (pytest rc=0, 1 tests)", flush=True)
"""


def _cut_off_run(run_dir: Path) -> None:
    """Really run a runner and end it at its 'deadline' the way a supervisor does (SIGTERM, exit 143)."""
    for tier in ("install", "upgrade"):
        junit = run_pytest_junit(run_dir / "suite", f"{tier}__cc-ci__test_{tier}", "def test_ok():\n    assert True\n")
        (run_dir / "junit").mkdir(exist_ok=True)
        junit.rename(run_dir / "junit" / junit.name)
    log = (run_dir / "run.log").open("w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", RUNNER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # the runner's own output tells when it is inside the backup tier
        log.write(line)
        if line.startswith("backupbot:"):
            break
    proc.send_signal(signal.SIGTERM)  # the deadline
    proc.wait(timeout=60)
    rc = 128 - proc.returncode if proc.returncode < 0 else proc.returncode
    log.write(f"runner: killed at its deadline (rc={rc})\n")
    log.close()


def test_a_runner_cut_off_at_its_deadline_is_infra_naming_the_running_tier(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_dir = runs / "901"
    run_dir.mkdir(parents=True)
    _cut_off_run(run_dir)
    tail = read_tail(run_dir, "run.log")
    assert tail is not None and tail.tier == "backup" and tail.source == "cc-ci" and tail.exit_code == 143
    old = 1_750_000_000
    for path in [run_dir, *run_dir.rglob("*")]:
        os.utime(path, (old, old))  # settled long ago
    (tmp_path / "warm").mkdir()
    (tmp_path / "active").mkdir()
    config = Config(data_dir=tmp_path / "state").with_overrides(runs_dir=runs, warm_dir=tmp_path / "warm")
    config = replace(config, ccci=replace(config.ccci, active_dir=tmp_path / "active"))
    store = Store(config.db_path)
    try:
        ingest(store, config)
        run = store.runs.get("901")
        assert run is not None and run.recipe  # the recipe comes from the run dir when results.json is missing
        verdicts = Verdicts(store, config, KB, GitRecipeSearch())
        done = {c.recipe: c for c in verdicts.decide_again()}
        verdict = done[run.recipe].verdict
        assert verdict.category == "infra", verdict
        assert "cut off while tier backup (cc-ci) was running, exit 143" in verdict.reason
        assert any(e.kind == "cut-off" for e in done[run.recipe].evidence)
    finally:
        store.close()


# -- label evidence from a peer --------------------------------------------------------------------


def _recipe(path: Path, tag: str, compose: dict[str, object], later: dict[str, object] | None = None) -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    (path / "compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
    _git(path, "add", ".")
    _git(path, "commit", "-qm", tag)
    _git(path, "tag", tag)
    if later is not None:  # main moves on: the tested tag must be what is read
        (path / "compose.yml").write_text(yaml.safe_dump(later, sort_keys=False))
        _git(path, "commit", "-qam", "later")
    return path


PEER = {
    "services": {
        "app": {"image": "ghcr.io/immich-app/immich-server:v1.138.0", "deploy": {"labels": ["traefik.enable=true"]}},
        "database": {
            "image": "ghcr.io/immich-app/postgres:14",
            "volumes": ["postgres:/var/lib/postgresql/data"],
            "deploy": {
                "labels": [
                    "backupbot.backup=true",
                    "backupbot.backup.pre-hook=/pg_backup.sh backup",
                    "backupbot.restore.post-hook=/pg_backup.sh restore",
                ]
            },
        },
    }
}
OURS = {
    "services": {
        "app": {"image": "mattermost/mattermost-enterprise-edition:10.11.15", "environment": ["X=${DOMAIN}"]},
        "postgres": {
            "image": "postgres:15.13",
            "volumes": ["postgres:/var/lib/postgresql/data"],
            "deploy": {
                "labels": {
                    "backupbot.backup": "true",
                    "backupbot.backup.pre-hook": "pg_dump -U ${POSTGRES_USER} > /var/lib/postgresql/data/backup.sql",
                }
            },
        },
    }
}


def test_backup_labels_of_the_databases_are_compared_at_the_tested_tags(tmp_path: Path) -> None:
    fixed_later = {"services": {**OURS["services"], "postgres": PEER["services"]["database"]}}  # type: ignore[dict-item]
    ours_clone = _recipe(tmp_path / "mattermost-lts", "2.1.9+10.11.15", OURS, later=fixed_later)
    peer_clone = _recipe(tmp_path / "immich", "1.9.0+v1.138.0", PEER)
    ours = read_effective(ours_clone, "2.1.9+10.11.15", "mattermost-lts")
    theirs = read_effective(peer_clone, "1.9.0+v1.138.0", "immich")
    assert ours is not None and theirs is not None
    assert "${POSTGRES_USER}" in str(ours.services["postgres"].body)  # variables without a value stay as text
    result = compare(ours, theirs, "restore")
    diffs = {d.key: d for d in result.differences}
    assert diffs["backupbot.restore.post-hook"].ours is None
    assert diffs["backupbot.restore.post-hook"].theirs == "/pg_backup.sh restore"
    assert (diffs["backupbot.restore.post-hook"].service, diffs["backupbot.restore.post-hook"].peer_service) == (
        "postgres",
        "database",
    )
    items = evidence(result, "restore", "test_restore_returns_state")
    text = "\n".join(i.excerpt for i in items)
    assert "immich's database service (compose.yml) has backupbot.restore.post-hook: /pg_backup.sh restore" in text
    assert "mattermost-lts's postgres service (compose.yml) has none" in text
    assert "paired as postgres databases" in text
    assert all("1.9.0+v1.138.0:compose.yml" in i.path and "2.1.9+10.11.15:compose.yml" in i.path for i in items)
    # outside backup/restore: the tested service's labels and healthcheck, by presence
    install = {d.key for d in compare(ours, theirs, "install").differences}
    assert install == {"traefik.enable"}


def test_unreadable_or_absent_compose_gives_no_evidence(tmp_path: Path) -> None:
    clone = _recipe(tmp_path / "r", "1.0.0+1", OURS)
    (tmp_path / "bad").mkdir()
    assert read_effective(tmp_path / "bad", "1.0.0+1", "bad") is None  # not a git repository
    fallback = read_effective(clone, "9.9.9+9", "r")  # an unknown tag falls back to the checkout
    assert fallback is not None and fallback.ref == "HEAD"


# -- shared causes ---------------------------------------------------------------------------------


def test_three_recipes_failing_the_same_way_in_shared_machinery_are_one_shared_cause() -> None:
    locked = (FIXTURES / "restic-repository-locked.txt").read_text(encoding="utf-8").splitlines()[1]
    failures = [
        (recipe, "backup", locked.replace("8603", str(pid)))
        for recipe, pid in (("gitea", 11), ("outline", 12), ("wordpress", 13))
    ] + [("hedgedoc", "backup", "assert 'ok' == 'failed'"), ("mumble", "custom", locked)]
    groups = shared_causes(failures)
    assert [(g.tier, g.machinery, g.recipes) for g in groups] == [
        ("backup", "backups", ("gitea", "outline", "wordpress"))
    ]
    assert shared_causes(failures[:2] + failures[3:]) == []  # two recipes are not enough
    assert machinery("custom", "assert 'failed' == 'complete'") is None  # not shared machinery


def test_shared_cause_reaches_each_verdict_through_the_store(tmp_path: Path) -> None:
    """Three recipes of one sweep red in backup with the same restic lock error: each verdict cites it."""
    locked = (FIXTURES / "restic-repository-locked.txt").read_text(encoding="utf-8").splitlines()[1]
    runs = tmp_path / "runs"
    suite = textwrap.dedent(
        f"""
        def test_backup_completes():
            raise RuntimeError({locked!r})
        """
    )
    for i, recipe in enumerate(("gitea", "outline", "wordpress", "hedgedoc")):
        run_dir = runs / f"70{i}"
        junit = run_pytest_junit(run_dir / "suite", "backup__cc-ci__test_backup", suite)
        (run_dir / "junit").mkdir()
        junit.rename(run_dir / "junit" / junit.name)
        started, finished = f"2026-06-14T03:{i:02d}:00Z", f"2026-06-14T03:{20 + i:02d}:00Z"  # overlapping: a sweep
        stages = [
            {"name": "install", "status": "pass", "tests": []},
            {"name": "backup", "status": "fail", "tests": [{"name": "test_backup_completes", "status": "fail"}]},
        ]
        if recipe == "hedgedoc":  # green: not part of the cause
            stages[1] = {"name": "backup", "status": "pass", "tests": []}
            (run_dir / "junit" / junit.name).unlink()
        results = {"recipe": recipe, "version": "1.0.0+1", "run_id": f"70{i}", "started": started, "finished": finished}
        results["stages"] = stages
        (run_dir / "results.json").write_text(json.dumps(results))
        (run_dir / "run.log").write_text("runner\n")
    old = 1_750_000_000
    for path in runs.rglob("*"):
        os.utime(path, (old, old))
    (tmp_path / "warm").mkdir()
    (tmp_path / "active").mkdir()
    config = Config(data_dir=tmp_path / "state").with_overrides(runs_dir=runs, warm_dir=tmp_path / "warm")
    config = replace(config, ccci=replace(config.ccci, active_dir=tmp_path / "active"))
    store = Store(config.db_path)
    try:
        ingest(store, config)
        done = {c.recipe: c for c in Verdicts(store, config, KB, GitRecipeSearch()).decide_again()}
        assert set(done) == {"gitea", "outline", "wordpress"}
        for recipe, c in done.items():
            assert c.verdict.category == "infra", (recipe, c.verdict)
            shared = [e for e in c.evidence if e.kind == "shared-cause"]
            assert shared and "3 recipes" in shared[0].excerpt and "in backups they share" in shared[0].excerpt
            assert "gitea, outline, wordpress" in shared[0].excerpt
    finally:
        store.close()

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from bot.ingest.scan import ingest
from bot.model.records import RunKind, RunStatus, ScanScope
from bot.store.ingest import DirMark
from demo.sample.generate import GeneratedData
from tests.conftest import Site
from tests.junit_maker import run_pytest_junit


def test_full_ingest_reads_every_run_as_generated(site: Site, sample: GeneratedData) -> None:
    report = ingest(site.store, site.config)
    assert sorted(report.ingested) == sorted(r.run_id for r in sample.runs)
    assert report.in_progress == []
    for gen in sample.runs:
        row = site.store.runs.get(gen.run_id)
        assert row is not None
        assert row.recipe == gen.recipe
        assert row.status is (RunStatus.RED if gen.red else RunStatus.GREEN), gen.run_id
        assert row.derived is (not gen.has_results)
        assert row.version == gen.version  # from results.json, or from the clone's tag when it is missing


def test_kinds_come_from_times_not_ids(site: Site, sample: GeneratedData) -> None:
    ingest(site.store, site.config)
    sweep_ids: dict[int, set[str | None]] = {}
    for gen in sample.runs:
        row = site.store.runs.get(gen.run_id)
        assert row is not None
        assert row.kind.value == gen.kind, gen.run_id
        if gen.sweep is not None:
            sweep_ids.setdefault(gen.sweep, set()).add(row.sweep_id)
    assert all(len(ids) == 1 for ids in sweep_ids.values())
    assert len({next(iter(ids)) for ids in sweep_ids.values()}) == len(sweep_ids)
    last = max(sweep_ids)
    assert site.store.sweeps.latest_id() == next(iter(sweep_ids[last]))


def test_broken_artifacts_are_reported_and_the_rest_used(site: Site, sample: GeneratedData) -> None:
    report = ingest(site.store, site.config)
    missing = [g for g in sample.runs if not g.has_results]
    assert missing, "the sample has a run whose runner died before results.json"
    for gen in missing:
        kinds = [e.kind for e in site.store.results.evidence(gen.run_id)]
        assert "results-missing" in kinds
        assert any(gen.run_id in p and "missing" in p for p in report.problems)
    truncated = [p for p in report.problems if "JUnit unreadable" in p and "truncated" in p]
    assert truncated, report.problems


@pytest.mark.writes_runs
def test_reingest_reads_nothing_unchanged_and_only_what_changed(site: Site, sample: GeneratedData) -> None:
    ingest(site.store, site.config)
    counts = site.store.counts()
    again = ingest(site.store, site.config)
    assert again.ingested == []
    assert again.unchanged == len(sample.runs)
    victim = next(g for g in sample.runs if g.has_results and not g.red)
    results = site.runs_dir / victim.run_id / "results.json"
    data = json.loads(results.read_text())
    data["stages"][0]["status"] = "fail"
    results.write_text(json.dumps(data))
    os.utime(results, (time.time() - 3600, time.time() - 3600))
    third = ingest(site.store, site.config)
    assert third.ingested == [victim.run_id]
    row = site.store.runs.get(victim.run_id)
    assert row is not None and row.status is RunStatus.RED
    assert site.store.counts()["testcases"] == counts["testcases"]


def test_ingest_is_idempotent(site: Site) -> None:
    ingest(site.store, site.config)
    counts = site.store.counts()
    with sqlite3.connect(site.config.db_path) as conn:
        conn.execute("UPDATE runs SET fingerprint = 'stale', seal = NULL")  # as a migration forcing re-reads
    again = ingest(site.store, site.config)
    assert len(again.ingested) == counts["runs"]
    assert site.store.counts() == counts


@pytest.mark.writes_runs
def test_a_run_dir_being_written_waits_until_it_settles(site: Site, tmp_path: Path) -> None:
    ingest(site.store, site.config)
    fresh = site.runs_dir / "manual-777"
    junit = run_pytest_junit(tmp_path / "suite", "install__cc-ci__test_install", "def test_ok():\n    assert True\n")
    (fresh / "junit").mkdir(parents=True)
    shutil.copy(junit, fresh / "junit" / junit.name)
    (fresh / "results.json").write_text('{"recipe": "mumble", "stages": [')  # half-written
    now = time.time()
    report = ingest(site.store, site.config, now=now)
    assert report.in_progress == ["manual-777"]
    assert site.store.runs.get("manual-777") is None
    later = ingest(site.store, site.config, now=now + site.config.ccci.settle_s + 1)
    assert later.ingested == ["manual-777"]
    row = site.store.runs.get("manual-777")
    # Only the install tier left a record: the other standard tiers should have run and did not.
    assert row is not None and row.status is RunStatus.RED and row.unverified and row.kind is RunKind.ISOLATION
    assert "results-unreadable" in [e.kind for e in site.store.results.evidence("manual-777")]


@pytest.mark.writes_runs
def test_unknown_tiers_and_junk_logs_do_not_break_ingest(site: Site, sample: GeneratedData, tmp_path: Path) -> None:
    red = next(g for g in sample.runs if g.red and g.has_results)
    run_dir = site.runs_dir / red.run_id
    smoke = run_pytest_junit(
        tmp_path / "smoke", "smoke__cc-ci__test_smoke", "def test_smoke_fails():\n    assert 'up' == 'down'\n"
    )
    shutil.copy(smoke, run_dir / "junit" / smoke.name)
    with (run_dir / "run.log").open("ab") as log:
        log.write(bytes(range(256)) * 100 + b"\nFAILED smoke::test_smoke_fails\n" + b"\xff" * 10_000)
    old = time.time() - 3600
    for path in (run_dir / "run.log", run_dir / "junit" / smoke.name):
        os.utime(path, (old, old))
    report = ingest(site.store, site.config)
    assert red.run_id in report.ingested
    assert "smoke" in [t.name for t in site.store.results.tiers(red.run_id)]
    failures = site.store.results.failures(red.run_id)
    assert any(f.test == "test_smoke_fails" and f.tier == "smoke" for f in failures)
    logs = [e for e in site.store.results.evidence(red.run_id) if e.kind == "log" and "test_smoke_fails" in e.excerpt]
    assert logs and logs[-1].line is not None


@pytest.mark.writes_runs
def test_history_survives_a_deleted_run_dir(site: Site, sample: GeneratedData) -> None:
    ingest(site.store, site.config)
    gone = sample.runs[0].run_id
    shutil.rmtree(site.runs_dir / gone)
    ingest(site.store, site.config)
    assert site.store.runs.get(gone) is not None


def test_parallel_ingest_stores_the_same_as_serial(site: Site, tmp_path: Path) -> None:
    from bot.ingest import scan as ingest_mod
    from bot.store import Store

    serial = ingest(site.store, site.config, workers=1)
    other = Store(tmp_path / "parallel.sqlite3")
    old = ingest_mod.PARALLEL_ABOVE
    ingest_mod.PARALLEL_ABOVE = 0
    try:
        parallel = ingest(other, site.config, workers=2)
    finally:
        ingest_mod.PARALLEL_ABOVE = old
    assert sorted(parallel.ingested) == sorted(serial.ingested)
    assert other.counts() == site.store.counts()
    for run_id in serial.ingested:
        assert other.runs.get(run_id) == site.store.runs.get(run_id)
        assert other.results.evidence(run_id) == site.store.results.evidence(run_id)
    other.close()


def _later(site: Site) -> float:
    """A scan time at which every sample run has settled (so it is sealed when read)."""
    return time.time() + site.config.ccci.settle_s + 60


def test_a_no_change_scan_of_sealed_runs_takes_no_fingerprint(
    site: Site, sample: GeneratedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.ingest import scan as ingest_mod

    ingest(site.store, site.config, now=_later(site))
    seals, unsealed = site.store.ingest.scan_marks()
    with_results = {g.run_id for g in sample.runs if g.has_results}
    assert set(seals) == with_results  # settled runs with results.json are sealed; derived ones are not
    assert set(unsealed) == {g.run_id for g in sample.runs} - with_results
    looked_at: list[str] = []
    real = ingest_mod.snapshot
    monkeypatch.setattr(ingest_mod, "snapshot", lambda path, cfg: looked_at.append(path) or real(path, cfg))
    again = ingest(site.store, site.config, now=_later(site))
    assert again.ingested == [] and again.unchanged == len(sample.runs)
    assert sorted(Path(p).name for p in looked_at) == sorted(unsealed)  # sealed ones: two stats, no listing


@pytest.mark.writes_runs
def test_a_sealed_run_still_shows_a_rewritten_results_file_and_a_new_junit_file(
    site: Site, sample: GeneratedData, tmp_path: Path
) -> None:
    ingest(site.store, site.config, now=_later(site))
    green = [g for g in sample.runs if g.has_results and not g.red]
    rewritten, grown = green[0], green[1]
    assert rewritten.run_id in site.store.ingest.scan_marks()[0] and grown.run_id in site.store.ingest.scan_marks()[0]
    results = site.runs_dir / rewritten.run_id / "results.json"
    data = json.loads(results.read_text())
    data["stages"][0]["status"] = "fail"
    results.write_text(json.dumps(data))  # in place: the dir's entries do not change, the file's stat does
    extra = run_pytest_junit(tmp_path / "late", "smoke__cc-ci__test_late", "def test_late():\n    assert 1 == 2\n")
    shutil.copy(extra, site.runs_dir / grown.run_id / "junit" / extra.name)
    report = ingest(site.store, site.config, now=_later(site))
    assert sorted(report.ingested) == sorted([rewritten.run_id, grown.run_id])
    row = site.store.runs.get(rewritten.run_id)
    assert row is not None and row.status is RunStatus.RED
    assert any(f.test == "test_late" for f in site.store.results.failures(grown.run_id))
    assert {rewritten.run_id, grown.run_id} <= set(site.store.ingest.scan_marks()[0])  # sealed again as read


def _marked(site: Site) -> DirMark:
    """A full scan of runs that settled long ago in a runs dir that did too: its listing is marked."""
    old = time.time() - 3600
    os.utime(site.runs_dir, (old, old))
    ingest(site.store, site.config, now=_later(site))
    mark = site.store.ingest.runs_dir_mark()
    assert mark is not None and mark.mtime_ns == os.stat(site.runs_dir).st_mtime_ns
    return mark


def _sealed_green(site: Site, sample: GeneratedData) -> dict[str, list[str]]:
    """recipe → its sealed green runs (results.json present, so sealed when read settled)."""
    sealed = site.store.ingest.scan_marks().seals
    found: dict[str, list[str]] = {}
    for g in sample.runs:
        if g.has_results and not g.red and g.run_id in sealed:
            found.setdefault(g.recipe, []).append(g.run_id)
    return found


def _fail_first_stage(results: Path) -> str:
    data = json.loads(results.read_text())
    data["stages"][0]["status"] = "fail"
    return json.dumps(data)


@pytest.mark.writes_runs
def test_the_scan_before_why_finds_a_rewritten_or_replaced_results_file_and_a_new_junit_file(
    site: Site,
    sample: GeneratedData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main
    from bot.ingest import scan as ingest_mod
    from tests.test_why import cli_dirs

    mark = _marked(site)
    green = _sealed_green(site, sample)
    recipe = next(r for r, runs in green.items() if len(runs) >= 3)
    in_place, renamed, grown = green[recipe][:3]
    other = next(runs[0] for r, runs in green.items() if r != recipe)
    (site.runs_dir / in_place / "results.json").write_text(_fail_first_stage(site.runs_dir / in_place / "results.json"))
    replacement = site.runs_dir / renamed / "results.json.new"
    replacement.write_text(_fail_first_stage(site.runs_dir / renamed / "results.json"))
    replacement.replace(site.runs_dir / renamed / "results.json")  # a new inode, as an atomic writer leaves it
    extra = run_pytest_junit(tmp_path / "late", "smoke__cc-ci__test_late", "def test_late():\n    assert 1 == 2\n")
    shutil.copy(extra, site.runs_dir / grown / "junit" / extra.name)
    (site.runs_dir / other / "results.json").write_text(_fail_first_stage(site.runs_dir / other / "results.json"))
    listings: list[int] = []
    real = ingest_mod._run_dir_names
    monkeypatch.setattr(ingest_mod, "_run_dir_names", lambda fd: listings.append(fd) or real(fd))

    assert main(["why", recipe, "--json", *cli_dirs(site)]) == 0
    assert json.loads(capsys.readouterr().out)["recipe"] == recipe
    assert listings == []  # nothing was added to the runs dir: its listing was not needed
    assert site.store.ingest.runs_dir_mark() == mark
    for run_id in (in_place, renamed):
        row = site.store.runs.get(run_id)
        assert row is not None and row.status is RunStatus.RED, run_id
    assert any(f.test == "test_late" for f in site.store.results.failures(grown))
    # The scan stored runs, so verdicts are decided again from other recipes' runs too: it checked those.
    row = site.store.runs.get(other)
    assert row is not None and row.status is RunStatus.RED


@pytest.mark.writes_runs
def test_a_scoped_scan_that_stores_nothing_leaves_other_recipes_sealed_runs_to_a_full_scan(
    site: Site, sample: GeneratedData
) -> None:
    _marked(site)
    green = _sealed_green(site, sample)
    recipe, other_recipe = sorted(green)[:2]
    other = green[other_recipe][0]
    (site.runs_dir / other / "results.json").write_text(_fail_first_stage(site.runs_dir / other / "results.json"))
    unsealed = set(site.store.ingest.scan_marks().prints)
    mine = {g.run_id for g in sample.runs if g.recipe == recipe}

    scoped = ingest(site.store, site.config, now=_later(site), scope=ScanScope(recipes=frozenset({recipe})))
    assert scoped.ingested == []
    assert scoped.scanned == len(mine | unsealed) < len(sample.runs)
    row = site.store.runs.get(other)
    assert row is not None and row.status is RunStatus.GREEN  # not looked at: the answer does not read it

    full = ingest(site.store, site.config, now=_later(site))
    assert full.ingested == [other] and full.scanned == len(sample.runs)


@pytest.mark.writes_runs
def test_the_scan_before_a_summary_checks_the_latest_sweeps_sealed_runs(site: Site, sample: GeneratedData) -> None:
    _marked(site)
    latest = max(g.sweep for g in sample.runs if g.sweep is not None)
    member = next(g.run_id for g in sample.runs if g.sweep == latest and g.has_results and not g.red)
    (site.runs_dir / member / "results.json").write_text(_fail_first_stage(site.runs_dir / member / "results.json"))
    report = ingest(site.store, site.config, now=_later(site), scope=ScanScope(latest_sweep=True))
    assert report.ingested == [member]


@pytest.mark.writes_runs
def test_a_dir_still_being_written_when_the_runs_dir_was_marked_is_read_once_it_settles(
    site: Site, tmp_path: Path
) -> None:
    fresh = site.runs_dir / "manual-778"
    junit = run_pytest_junit(tmp_path / "suite", "install__cc-ci__test_install", "def test_ok():\n    assert True\n")
    (fresh / "junit").mkdir(parents=True)
    shutil.copy(junit, fresh / "junit" / junit.name)
    old = time.time() - 3600
    os.utime(site.runs_dir, (old, old))
    now = time.time()
    first = ingest(site.store, site.config, now=now)
    assert first.in_progress == ["manual-778"]
    mark = site.store.ingest.runs_dir_mark()
    assert mark is not None and mark.pending == ("manual-778",)
    # results.json lands inside the run dir: the runs dir's own entries (and mtime) do not change
    (fresh / "results.json").write_text(
        json.dumps({"recipe": "mumble", "stages": [{"name": "install", "status": "pass"}]})
    )
    later = now + site.config.ccci.settle_s + 1
    gitea = ScanScope(recipes=frozenset({"gitea"}))
    report = ingest(site.store, site.config, now=later, scope=gitea)
    assert report.ingested == ["manual-778"]
    assert site.store.ingest.runs_dir_mark() == mark  # a new run was stored, but the dir's entries are as marked
    row = site.store.runs.get("manual-778")
    assert row is not None and row.recipe == "mumble"
    assert ingest(site.store, site.config, now=later, scope=gitea).ingested == []  # stored now: not pending


@pytest.mark.writes_runs
def test_a_runs_dir_that_just_changed_is_not_marked_and_a_new_dir_is_listed(site: Site, tmp_path: Path) -> None:
    ahead = time.time() + 3600  # "just changed" by any clock: its mtime could still be shared by a later change
    os.utime(site.runs_dir, (ahead, ahead))
    ingest(site.store, site.config, now=_later(site))
    assert site.store.ingest.runs_dir_mark() is None
    _marked(site)
    added = site.runs_dir / "manual-779"
    (added / "junit").mkdir(parents=True)
    (added / "results.json").write_text(
        json.dumps({"recipe": "mumble", "stages": [{"name": "install", "status": "pass"}]})
    )
    report = ingest(site.store, site.config, now=_later(site), scope=ScanScope(recipes=frozenset({"gitea"})))
    assert report.ingested == ["manual-779"]


@pytest.mark.writes_runs
def test_a_retired_run_whose_dir_comes_back_is_read_again(site: Site, sample: GeneratedData, tmp_path: Path) -> None:
    ingest(site.store, site.config, now=_later(site))
    run_id = next(g.run_id for g in sample.runs if g.has_results)
    (site.runs_dir / run_id).rename(tmp_path / run_id)
    assert ingest(site.store, site.config, now=_later(site)).retired == [run_id]
    assert run_id not in site.store.ingest.scan_marks().seals  # retired runs are not checked on every scan
    (tmp_path / run_id).rename(site.runs_dir / run_id)
    assert ingest(site.store, site.config, now=_later(site)).ingested == [run_id]
    row = site.store.runs.get(run_id)
    assert row is not None and row.retired_at is None

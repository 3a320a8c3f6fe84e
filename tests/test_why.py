import json
import shutil

import pytest

from bot.answers.suggest import UnknownNameError
from bot.answers.summary import summary
from bot.answers.why import why
from bot.cli import main
from bot.ingest.scan import ingest
from bot.model.records import RunKind, RunStatus
from bot.render import to_json
from bot.store.status_run import status_runs, target_run
from demo.sample.generate import GeneratedData, GeneratedRun
from tests.conftest import Site


def latest_sweep_run(sample: GeneratedData, recipe: str) -> GeneratedRun:
    return [r for r in sample.runs_of(recipe) if r.kind == "sweep"][-1]


def cli_dirs(site: Site) -> list[str]:
    return ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(site.config.data_dir)]


@pytest.fixture
def ingested(site: Site) -> Site:
    ingest(site.store, site.config)
    return site


def test_why_json_has_the_documented_shape_for_every_recipe(ingested: Site, sample: GeneratedData) -> None:
    for recipe in {r.recipe for r in sample.runs}:
        data = to_json(why(ingested.store, ingested.config, recipe))
        assert isinstance(data["recipe"], str)
        assert data["status"] in ("red", "green", "unknown")
        assert data["version"] is None or isinstance(data["version"], str)
        assert data["run_id"] is None or isinstance(data["run_id"], str)
        assert data["verdict"] is None or set(data["verdict"]) >= {"category", "confidence", "reason"}
        for f in data["failures"]:
            assert {k: type(f[k]) for k in ("tier", "source", "test", "message")} == dict.fromkeys(
                ("tier", "source", "test", "message"), str
            )
        for e in data["evidence"]:
            assert isinstance(e["kind"], str) and isinstance(e["path"], str) and isinstance(e["excerpt"], str)
            assert e["line"] is None or isinstance(e["line"], int)
            assert e["run_id"] is None or isinstance(e["run_id"], str)
            assert e["url"] is None or e["url"].startswith("https://ci.example.org/runs/")
        for r in data["reruns"]:
            assert r["status"] in ("red", "green") and isinstance(r["isolated"], bool)
        json.dumps(data)


def test_status_is_the_latest_sweep_run_not_the_highest_id(ingested: Site, sample: GeneratedData) -> None:
    for recipe in {r.recipe for r in sample.runs}:
        expected = latest_sweep_run(sample, recipe)
        answer = why(ingested.store, ingested.config, recipe)
        assert answer.run_id == expected.run_id
        assert answer.status is (RunStatus.RED if expected.red else RunStatus.GREEN)
        assert answer.version == expected.version


def test_every_caller_gets_the_status_run_from_the_one_rule(ingested: Site, sample: GeneratedData) -> None:
    """status_runs (metrics, from each kind's last run) picks what target_run picks from all of a recipe's runs."""
    picked = status_runs(ingested.store.runs)
    expected = {}
    for recipe in ingested.store.runs.recipes():
        target = target_run(ingested.store.runs.runs_of(recipe))
        if target is not None:
            expected[recipe] = target
    assert picked == expected
    assert {r.recipe for r in sample.runs if r.kind is not RunKind.PR} == set(picked)
    assert {why(ingested.store, ingested.config, recipe).run_id for recipe in picked} == {
        r.run_id for r in picked.values()
    }


def test_isolation_reruns_are_evidence_not_status(ingested: Site, sample: GeneratedData) -> None:
    for recipe in {r.recipe for r in sample.runs}:
        target = latest_sweep_run(sample, recipe)
        isolated = [r for r in sample.runs_of(recipe) if r.kind == "isolation" and r.version == target.version]
        answer = why(ingested.store, ingested.config, recipe)
        listed = {r.run_id: r for r in answer.reruns if r.isolated}
        assert set(listed) == {r.run_id for r in isolated}
        for gen in isolated:
            assert listed[gen.run_id].status is (RunStatus.RED if gen.red else RunStatus.GREEN)
            assert any(e.kind == "rerun" and e.run_id == gen.run_id for e in answer.evidence)
        assert answer.status is (RunStatus.RED if target.red else RunStatus.GREEN)


def test_pr_runs_never_make_a_released_version_red(ingested: Site, sample: GeneratedData) -> None:
    prs = [r for r in sample.runs if r.kind == "pr" and r.red]
    assert prs
    for pr in prs:
        answer = why(ingested.store, ingested.config, pr.recipe)
        assert answer.run_id != pr.run_id
        assert answer.status is (RunStatus.RED if latest_sweep_run(sample, pr.recipe).red else RunStatus.GREEN)


def test_red_evidence_starts_from_failing_tests_and_quotes_the_log(ingested: Site, sample: GeneratedData) -> None:
    for recipe in {r.recipe for r in sample.runs if r.red}:
        target = latest_sweep_run(sample, recipe)
        if not target.red:
            continue
        answer = why(ingested.store, ingested.config, recipe)
        assert answer.failures, recipe
        failure_items = [e for e in answer.evidence if e.kind == "failure"]
        assert len(failure_items) == len(answer.failures)
        for f in answer.failures:
            logs = [e for e in answer.evidence if e.kind == "log" and f.test in e.excerpt]
            assert logs, f"{recipe}: no log line names {f.test}"
            for e in logs:
                assert e.line is not None and e.url is not None and e.url.endswith(f"#L{e.line}")
                assert f"{e.line:>6}>" in e.excerpt


def test_red_since_counts_the_current_streak(ingested: Site, sample: GeneratedData) -> None:
    for recipe in {r.recipe for r in sample.runs}:
        sweeps = [r for r in sample.runs_of(recipe) if r.kind == "sweep"]
        streak = []
        for r in reversed(sweeps):
            if not r.red:
                break
            streak.append(r)
        answer = why(ingested.store, ingested.config, recipe)
        assert answer.red_runs == len(streak), recipe
        if streak:
            assert answer.red_since == streak[-1].finished.timestamp()


def test_canonical_written_after_a_red_is_shown_as_such(ingested: Site, sample: GeneratedData) -> None:
    for recipe in {r.recipe for r in sample.runs}:
        answer = why(ingested.store, ingested.config, recipe)
        if answer.canonical is None or answer.finished is None or answer.canonical.ts is None:
            continue
        item = next(e for e in answer.evidence if e.kind == "canonical")
        relation = "after" if answer.canonical.ts > answer.finished else "before"
        assert f"written {relation} run {answer.run_id}" in item.excerpt


@pytest.mark.writes_runs
def test_recipe_never_swept_uses_its_latest_released_run(ingested: Site, sample: GeneratedData) -> None:
    source = next(r for r in sample.runs if r.kind == "isolation" and r.has_results)
    copy = ingested.runs_dir / "manual-31337"
    shutil.copytree(ingested.runs_dir / source.run_id, copy)
    data = json.loads((copy / "results.json").read_text())
    data.update(recipe="brand-new", run_id="manual-31337")
    (copy / "results.json").write_text(json.dumps(data))
    ingest(ingested.store, ingested.config, now=source.finished.timestamp() + 10**6)
    answer = why(ingested.store, ingested.config, "brand-new")
    assert answer.run_id == "manual-31337"
    assert answer.status is (RunStatus.RED if source.red else RunStatus.GREEN)


def test_unknown_recipe_suggests_close_names(ingested: Site) -> None:
    with pytest.raises(UnknownNameError) as info:
        why(ingested.store, ingested.config, "mattermost")
    assert "mattermost-lts" in info.value.suggestions


def test_summary_lists_the_latest_sweep(ingested: Site, sample: GeneratedData) -> None:
    last = max(r.sweep for r in sample.runs if r.sweep is not None)
    members = {r.recipe: r for r in sample.runs if r.sweep == last}
    answer = summary(ingested.store, ingested.config)
    assert {row.recipe: row.run_id for row in answer.rows} == {k: v.run_id for k, v in members.items()}
    for row in answer.rows:
        assert row.status is (RunStatus.RED if members[row.recipe].red else RunStatus.GREEN)
        assert bool(row.failures) == (row.status is RunStatus.RED and not row.unverified)
    assert answer.counts["total"] == len(members)


def test_cli_why_and_summary(ingested: Site, sample: GeneratedData, capsys: pytest.CaptureFixture[str]) -> None:
    dirs = cli_dirs(ingested)
    assert main(["why", "mumble", "--json", *dirs]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run_id"] == latest_sweep_run(sample, "mumble").run_id
    assert main([*dirs, "summary"]) == 0
    out = capsys.readouterr().out
    last = max(r.sweep for r in sample.runs if r.sweep is not None)
    assert all(recipe in out for recipe in {r.recipe for r in sample.runs if r.sweep == last})
    assert main(["why", "mumbel", *dirs]) == 2
    assert "did you mean mumble" in capsys.readouterr().err
    assert main(["why", "../../etc/passwd", *dirs]) == 2
    assert "not a recipe name" in capsys.readouterr().err
    assert main(["ingest", "--json", *dirs]) == 0
    assert json.loads(capsys.readouterr().out)["ingested"] == []


def test_cli_refuses_a_missing_runs_dir(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["why", "mumble", "--runs-dir", "/nonexistent/runs", "--data-dir", str(tmp_path)]) == 2
    assert "ccci.runs_dir: expected a directory, got /nonexistent/runs (does not exist)" in capsys.readouterr().err


def test_cli_reclassify(ingested: Site, capsys: pytest.CaptureFixture[str]) -> None:
    dirs = cli_dirs(ingested)
    assert main(["reclassify", "--json", *dirs]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kb_version"].startswith("kb-") and data["kb_problems"] == []
    categories = {v["recipe"]: v["verdict"]["category"] for v in data["verdicts"]}
    assert categories["mumble"] == "flake"
    assert main(["why", "mumble", "--json", "--no-ingest", *dirs]) == 0
    why_data = json.loads(capsys.readouterr().out)
    assert why_data["verdict"]["category"] == "flake"
    assert why_data["verdict"]["kb_version"] == data["kb_version"]

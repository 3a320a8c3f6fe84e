"""world.yaml, the sample world's data: it reads into the world the tests expect, it ships with the package,
and a slip in it is an error that names its key path."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demo.sample.model import RunFaults
from demo.sample.scenarios import default_world, sweep_starts
from demo.sample.worldfile import WORLD_FILE, WorldFileError, load_world, parse_world

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)
STARTS = sweep_starts(NOW)
TEXT = WORLD_FILE.read_text(encoding="utf-8")


def edited(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, f"{old!r} is not one place in world.yaml"
    return TEXT.replace(old, new)


def test_the_world_file_reads_into_the_default_world() -> None:
    data = load_world(STARTS)
    world = default_world(NOW)
    assert [r.name for r in world.recipes] == [r.name for r in data.recipes] and len(data.recipes) == 13
    assert world.sweeps == STARTS
    assert len({r.run_id for r in world.runs}) == len(world.runs)
    # a service's own key wins over the template it merges (mattermost's hot copy over the dump-restore labels)
    postgres = next(s for s in world.recipe("mattermost-lts").services if s.name == "postgres")
    assert ("backupbot.backup.path", "/var/lib/postgresql/data/") in postgres.labels
    assert not any(key.endswith("restore.post-hook") for key, _ in postgres.labels)
    # offsets count from the first sweep's start; an extra run starts after the recipe it names
    assert world.recipe("discourse").releases[0].released == STARTS[0] - timedelta(days=300)
    assert world.overlays_added == {"tests/discourse/test_upgrade.py": STARTS[0] + timedelta(days=3, hours=14)}
    first = [r.run_id for r in world.runs if r.sweep == 1]
    assert first[first.index("ab-0d17e4") + 1] == "ab-5d0c3f"
    assert world.runs[[r.run_id for r in world.runs].index("ab-5d0c3f")].faults == RunFaults(dies_after="upgrade")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "depends_on: [db, redis, discourse]",
            "depend_on: [db, redis, discourse]",
            "recipes.discourse.services.sidekiq.depend_on: unknown key; did you mean 'depends_on'?",
            id="misspelt key",
        ),
        pytest.param(
            "port: 8065",
            "port: 8065x",
            "recipes.mattermost-lts.services.app.port: expected an integer, got '8065x'",
            id="wrong kind",
        ),
        pytest.param(
            'SMTP_PORT: "587"',
            "SMTP_PORT: 587",
            "recipes.discourse.env_sample.SMTP_PORT: expected text, got 587 (quote it to make it text)",
            id="number for text, through a template",
        ),
        pytest.param(
            "  mumble: flake",
            "  mumbel: flake",
            "verdicts.mumbel: unknown recipe 'mumbel'; did you mean 'mumble'?",
            id="unknown recipe",
        ),
        pytest.param(
            "expect: [green, green, flake]",
            "expect: [green, green, flaky]",
            "sweep_runs.mumble.expect[2]: unknown verdict category 'flaky'; did you mean 'flake'?",
            id="unknown category",
        ),
        pytest.param(
            '"812"',
            '"806"',
            "sweep_runs.mumble.ids[1]: run id '806' is already used at sweep_runs.discourse.ids[1]",
            id="run id twice",
        ),
        pytest.param(
            'ids: [ab-c41e09, "812", m2rr-5e1d]',
            'ids: [ab-c41e09, "812"]',
            "sweep_runs.mumble.ids: expected 3 entries, one per sweep",
            id="a sweep without a run",
        ),
        pytest.param(
            "{tag: 0.1.0+3.4.1, released: -300d}",
            "{tag: 0.1.0+3.4.1, released: -300 days}",
            "recipes.discourse.releases[0].released: expected an offset from the first sweep's start, like -300d"
            " or +3d14h, got '-300 days'",
            id="bad offset",
        ),
        pytest.param(
            "{tag: 0.2.0+3.4.3, released: -240d}",
            "{tag: 0.2.0+3.4.3, released: -340d}",
            "recipes.discourse.releases[1]: released before 0.1.0+3.4.1; releases go oldest first",
            id="releases out of order",
        ),
        pytest.param(
            "{tag: 4.0.0+1.10.3,",
            "{tag: 4.0.0,",
            "recipes.hedgedoc.releases[0].tag: expected a tag <recipe semver>+<upstream>, got '4.0.0'",
            id="tag without upstream",
        ),
        pytest.param(
            "faults: {dies_after: upgrade}",
            "faults: {dies_after: upgrad}",
            "sweeps[0].extra_runs[0].faults.dies_after: unknown tier 'upgrad'; did you mean 'upgrade'?",
            id="unknown tier",
        ),
        pytest.param(
            'pr_run: {recipe: wordpress, run_id: "768", pr: 42,',
            'pr_run: {recipe: wordpress, run_id: "768", pr: 43,',
            "pr_run.pr: wordpress has no PR 43 (see recipes.wordpress.prs)",
            id="unknown PR",
        ),
        pytest.param(
            'pr_run: {recipe: wordpress, run_id: "768", pr: 42,',
            'pr_run: {recipe: wordpress, run_id: "768",',
            "pr_run: missing key 'pr'",
            id="missing key",
        ),
        pytest.param(
            "{service_env: {app: [WORDPRESS_DEBUG]}",
            "{service_env: {web: [WORDPRESS_DEBUG]}",
            "recipes.wordpress.prs.42.service_env.web: no such service in this recipe; its services: app, db",
            id="unknown service",
        ),
        pytest.param(
            "  - tail: []\n",
            "  - tail: []\n  - tail: []\n",
            "sweeps: expected 3 sweeps, as many as the schedule makes",
            id="a sweep too many",
        ),
        pytest.param(
            "verdicts:\n",
            "verdict:\n",
            "verdict: unknown key; did you mean 'verdicts'?",
            id="misspelt top-level key",
        ),
        pytest.param(
            "  mumble: flake\n",
            "  mumble: flake\n  mumble: unknown\n",
            "line 327: key 'mumble' is written twice",
            id="key written twice",
        ),
        pytest.param("templates:\n", "templates: [\n", "not YAML: ", id="not YAML"),
    ],
)
def test_a_slip_in_the_world_file_names_its_key_path(old: str, new: str, message: str) -> None:
    with pytest.raises(WorldFileError, match="^" + re.escape(message)):
        parse_world(edited(old, new), STARTS)


def test_an_error_names_the_file_too(tmp_path: Path) -> None:
    bad = tmp_path / "bad-world.yaml"
    bad.write_text(edited("minutes: 9\n", "minutes: nine\n"), encoding="utf-8")
    with pytest.raises(WorldFileError) as caught:
        default_world(NOW, bad)
    assert str(caught.value) == "bad-world.yaml: recipes.mumble.minutes: expected an integer, got 'nine'"


def test_every_data_file_of_the_demo_is_package_data() -> None:
    """A data file left out of pyproject's package-data would be missing from an installed `ccci-bot demo`."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["demo"]
    package = ROOT / "demo"
    declared = {path for pattern in patterns for path in package.glob(pattern)}
    data = {p for p in package.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert WORLD_FILE in data
    assert data <= declared, sorted(str(p.relative_to(ROOT)) for p in data - declared)

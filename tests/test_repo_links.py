"""Links that lead somewhere: the recipe at the tag tested, the compare from the last green version to
the first red one, and the last cc-ci commit that changed a failing overlay test (read from a real git
checkout made here)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from msgspec.structs import replace

from bot.answers.repolinks import ccci_commits
from bot.answers.why import why
from bot.artifacts.gitrun import last_commit
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.model.answers import WhyAnswer
from bot.model.records import Failure, RunKind
from bot.render import to_chat, to_json
from bot.render.text import BRIEF_LINES
from bot.verdicts.cache import Verdicts
from bot.verdicts.staletest import GitRecipeSearch, overlay_test_path
from demo.sample.generate import GeneratedData, GeneratedRun
from tests.conftest import Site

COMMIT_URL = "https://git.example.org/cc-ci/commit/{commit}?file={path}"
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=_GIT_ENV)
    return done.stdout.strip()


def ccci_checkout(root: Path, test_file: str) -> tuple[Path, str]:
    """A cc-ci checkout: the overlay test committed, then another commit that leaves it alone; the hash of
    the first (the last that touched the test) is returned with it."""
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / test_file).parent.mkdir(parents=True)
    (root / test_file).write_text("def test_upgrade():\n    assert True\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "overlay test")
    touched = _git(root, "rev-parse", "HEAD")
    (root / "README.md").write_text("cc-ci\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "docs")
    assert _git(root, "rev-parse", "HEAD") != touched
    return root, touched


def answers(site: Site, sample: GeneratedData) -> dict[str, WhyAnswer]:
    ingest(site.store, site.config)
    verdicts = Verdicts(site.store, site.config, load_kb(), GitRecipeSearch())
    verdicts.decide_again()
    return {r: why(site.store, site.config, r, verdicts) for r in sorted({g.recipe for g in sample.runs})}


def expected_compare(sample: GeneratedData, recipe: str) -> tuple[str, str] | None:
    """From the ground truth: the last green released run before the current red streak's first sweep
    run, and that first red run's version."""
    released = [r for r in sample.runs_of(recipe) if r.kind != RunKind.PR]
    sweeps = [r for r in released if r.kind == RunKind.SWEEP]
    if not sweeps or not sweeps[-1].red:
        return None
    first_red: GeneratedRun = sweeps[-1]
    for r in reversed(sweeps):
        if not r.red:
            break
        first_red = r
    greens = [r for r in released if not r.red and r.finished < first_red.finished]
    return (greens[-1].version, first_red.version) if greens else None


def test_the_sample_world_links_the_tag_tested_and_the_compare_from_last_green_to_first_red(
    site: Site, sample: GeneratedData
) -> None:
    compared = 0
    found = answers(site, sample)
    for recipe, a in found.items():
        if a.run_id is None:
            continue
        repo = f"https://git.coopcloud.tech/coop-cloud/{recipe}"
        assert a.repo.repository == repo
        assert a.repo.tested == f"{repo}/src/tag/{a.version}"  # a tag's + stays readable in the path
        want = expected_compare(sample, recipe)
        got = (a.repo.compare_from, a.repo.compare_to) if a.repo.compare_from else None
        assert got == want, recipe
        chat = to_chat(a, "!ccci")
        lines = chat.body.splitlines()
        assert len(lines) <= BRIEF_LINES
        assert f"tag: {a.repo.tested}" in lines[-1]
        data = to_json(a)["repo"]
        assert data["repository"] == repo and data["tested"] == a.repo.tested
        if want is not None and want[0] != want[1]:
            compared += 1
            url = f"{repo}/compare/{want[0]}...{want[1]}"
            assert a.repo.compare == url
            assert data["compare"] == {"from": want[0], "to": want[1], "url": url}
            assert f"changes {want[0]}...{want[1]}: {url}" in lines[-1], chat.body
            assert url in (chat.thread or [""])[0]
        else:
            assert a.repo.compare is None
    assert compared >= 1, "the sample has reds that began with a new version"


def test_links_turned_off_give_none(site: Site, sample: GeneratedData) -> None:
    links = replace(site.config.links, recipe_url=None, tag_url=None, compare_url=None)
    site = Site(site.runs_dir, site.warm_dir, replace(site.config, links=links), site.store)
    for a in answers(site, sample).values():
        assert (a.repo.repository, a.repo.tested, a.repo.compare) == (None, None, None)
        assert "coopcloud" not in to_chat(a, "!ccci").body


def test_a_failing_overlay_test_links_cc_cis_last_commit_of_its_file(
    site: Site, sample: GeneratedData, tmp_path: Path
) -> None:
    checkout, touched = ccci_checkout(tmp_path / "cc-ci", "tests/discourse/test_upgrade.py")
    config = replace(
        site.config,
        ccci=replace(site.config.ccci, checkout=checkout),
        links=replace(site.config.links, ccci_commit_url=COMMIT_URL),
    )
    a = answers(Site(site.runs_dir, site.warm_dir, config, site.store), sample)["discourse"]
    overlay = [f for f in a.failures if overlay_test_path("discourse", f) == "tests/discourse/test_upgrade.py"]
    assert overlay, a.failures
    assert [(c.path, c.commit) for c in a.repo.ccci_commits] == [("tests/discourse/test_upgrade.py", touched)]
    url = f"https://git.example.org/cc-ci/commit/{touched}?file=tests/discourse/test_upgrade.py"
    assert a.repo.ccci_commits[0].url == url
    assert to_json(a)["repo"]["ccci_commits"] == [
        {"test": overlay[0].test, "path": "tests/discourse/test_upgrade.py", "commit": touched, "url": url}
    ]
    chat = to_chat(a, "!ccci")
    assert len(chat.body.splitlines()) <= BRIEF_LINES
    assert f"cc-ci commit {touched[:10]}: {url}" in chat.body
    everything = "\n".join([chat.body, chat.html, *(chat.thread or ())])
    assert str(checkout) not in everything and str(tmp_path) not in everything  # no host path in chat


def test_without_a_commit_url_the_hash_is_in_json_and_the_thread_only(
    site: Site, sample: GeneratedData, tmp_path: Path
) -> None:
    checkout, touched = ccci_checkout(tmp_path / "cc-ci", "tests/discourse/test_upgrade.py")
    config = replace(site.config, ccci=replace(site.config.ccci, checkout=checkout))
    a = answers(Site(site.runs_dir, site.warm_dir, config, site.store), sample)["discourse"]
    assert [(c.commit, c.url) for c in a.repo.ccci_commits] == [(touched, None)]
    chat = to_chat(a, "!ccci")
    assert "cc-ci commit" not in chat.body
    assert touched in (chat.thread or [""])[0]


def _overlay_failure(recipe: str) -> Failure:
    return Failure("upgrade", "cc-ci", "test_upgrade", "assert 1 == 2", "", f"junit/upgrade__cc-ci__test_{recipe}.xml")


@pytest.mark.parametrize("shape", ["not configured", "missing", "empty dir", "a file", "no such test file"])
def test_a_checkout_that_is_not_there_or_not_a_repo_gives_no_link_and_no_error(
    site: Site, tmp_path: Path, shape: str
) -> None:
    checkout: Path | None = {
        "not configured": None,
        "missing": tmp_path / "gone",
        "empty dir": tmp_path,
        "a file": tmp_path / "file",
        "no such test file": None,
    }[shape]
    if shape == "a file":
        (tmp_path / "file").write_text("x")
    if shape == "no such test file":
        checkout, _ = ccci_checkout(tmp_path / "cc-ci", "tests/other/test_upgrade.py")
    config = replace(site.config, ccci=replace(site.config.ccci, checkout=checkout))
    failures = [_overlay_failure("upgrade")]
    assert overlay_test_path("discourse", failures[0]) == "tests/discourse/test_upgrade.py"
    assert ccci_commits(config, "discourse", failures) == []
    if checkout is not None:
        assert last_commit(checkout, "tests/discourse/test_upgrade.py") is None


def test_only_cc_cis_overlay_tests_have_a_path_in_its_repository() -> None:
    own = Failure("upgrade", "recipe", "test_upgrade", "", "", "junit/upgrade__recipe__test_upgrade.xml")
    odd = Failure("upgrade", "cc-ci", "test_upgrade", "", "", "junit/results.xml")
    assert overlay_test_path("gitea", own) is None
    assert overlay_test_path("gitea", odd) is None
    assert overlay_test_path("gitea", _overlay_failure("restore")) == "tests/gitea/test_restore.py"


def test_last_commit_takes_a_pathspec_literally(tmp_path: Path) -> None:
    checkout, touched = ccci_checkout(tmp_path / "cc-ci", "tests/gitea/test_upgrade.py")
    assert last_commit(checkout, "tests/gitea/test_upgrade.py") == touched
    assert last_commit(checkout, "tests/gitea/*.py") is None  # a glob is a file name, not a pattern
    assert last_commit(checkout, ":(top)tests") is None  # nor is pathspec magic

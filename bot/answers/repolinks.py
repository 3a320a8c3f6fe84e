"""Links that lead somewhere outside the bot: the recipe's repository at the tag tested, the compare from
the last green version to the first red one, and the last cc-ci commit that changed a failing overlay test.

The templates are ``links.*`` settings (Co-op Cloud's Gitea by default); the commit is read from cc-ci's
checkout (``ccci.checkout``) with git that runs no programs (:func:`bot.artifacts.gitrun.last_commit`).
Blocking (git): built inside ``why``, which the bot runs in a worker thread. Nothing here names a host path.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.artifacts.gitrun import last_commit
from bot.config import Config
from bot.model.answers import CcciCommit, RepoLinks
from bot.model.records import Failure, RunRow
from bot.store import Store

MAX_COMMITS = 3  # failing overlay test files looked up per answer; more add nothing the first ones do not


def _part(value: str) -> str:
    """One path segment: a tag's ``+`` stays readable (RFC 3986 allows it in a path), a ``/`` does not split."""
    return quote(value, safe="+")


def fill(template: str | None, **values: str) -> str | None:
    """``template`` with each placeholder filled in as a path segment; None without a template."""
    if template is None:
        return None
    return template.format_map({name: _part(value) for name, value in values.items()})


def repo_links(
    store: Store, config: Config, target: RunRow, first_red: RunRow | None, failures: list[Failure]
) -> RepoLinks:
    """The links for ``why`` about ``target`` (``first_red``: the first run of its red streak, if red)."""
    links = config.links
    recipe = target.recipe
    tested = fill(links.tag_url, recipe=recipe, version=target.version) if target.version else None
    green = store.runs.last_green_before(first_red) if first_red is not None else None
    start = green.version if green is not None else None
    end = first_red.version if first_red is not None else None
    compare = None
    if start and end and start != end:
        compare = fill(links.compare_url, recipe=recipe, **{"from": start, "to": end})
    return RepoLinks(
        repository=fill(links.recipe_url, recipe=recipe),
        tested=tested,
        compare_from=start,
        compare_to=end,
        compare=compare,
        ccci_commits=ccci_commits(config, recipe, failures),
    )


def ccci_commits(config: Config, recipe: str, failures: list[Failure]) -> list[CcciCommit]:
    """The last commit of each failing overlay test's file in cc-ci's checkout; none when no checkout is
    configured, it is no git repository, or git cannot say."""
    checkout = config.ccci.checkout
    if checkout is None:
        return []
    from bot.verdicts.staletest import overlay_test_path  # here: without a checkout, `why` needs no JUnit names

    found: list[CcciCommit] = []
    seen: set[str] = set()
    for f in failures:
        path = overlay_test_path(recipe, f)
        if path is None or path in seen or len(seen) >= MAX_COMMITS:
            continue
        seen.add(path)
        commit = last_commit(checkout, path)
        if commit is not None:
            url = config.links.ccci_commit_url
            filled = None if url is None else url.format(commit=commit, path=quote(path, safe="/"))
            found.append(CcciCommit(f.test, path, commit, filled))
    return found

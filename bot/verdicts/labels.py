"""Label evidence from a peer: how mattermost-lts's restore defect was found by hand.

When another recipe passes the test this one fails, compare the two compose files at the versions
tested: for backup/restore tests the ``backupbot.*`` labels of the services that hold state (databases
first), otherwise the tested service's labels, healthcheck and image. The files come from each run's
recipe clone (``abra/recipes/<recipe>``, else ``ccci.recipes_dir``) through ``git show <tag>:compose.yml``
(an argv list, never a shell); YAML is parsed safely with ``${VAR}`` left as text.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.model.records import EvidenceItem, EvidenceKind
from bot.verdicts.staletest import git

COMPOSE_FILES = ("compose.yml", "docker-compose.yml")
_DATABASE = re.compile(r"postgres|postgis|mariadb|mysql|mongo|timescale|cockroach|couchdb", re.I)
_CACHE = re.compile(r"redis|valkey|memcached|keydb", re.I)
_NOISE = re.compile(r"^coop-cloud\..*\.version$")  # differs between any two recipes
BACKUP_TIERS = frozenset({"backup", "restore"})
MAX_DIFFERENCES = 4


@dataclass(frozen=True)
class Compose:
    recipe: str
    ref: str
    services: dict[str, dict[str, Any]]


def read_compose(clone: Path, recipe: str, ref: str | None) -> Compose | None:
    """The recipe's compose file at ``ref`` (a release tag), else at the clone's HEAD; None if unreadable."""
    for rev in [r for r in (ref, "HEAD") if r]:
        for name in COMPOSE_FILES:
            try:
                proc = git(clone, ["show", f"{rev}:{name}"])
            except (OSError, subprocess.SubprocessError):
                return None
            if proc.returncode != 0:
                continue
            try:
                data = yaml.safe_load(proc.stdout)
            except yaml.YAMLError:
                return None
            services = data.get("services") if isinstance(data, dict) else None
            if isinstance(services, dict):
                return Compose(recipe, f"{rev}:{name}", {str(k): v for k, v in services.items() if isinstance(v, dict)})
    return None


def labels(service: dict[str, Any]) -> dict[str, str]:
    """A service's labels from ``deploy.labels`` and ``labels``, as a list of ``k=v`` or a mapping."""
    found: dict[str, str] = {}
    deploy = service.get("deploy")
    for raw in (deploy.get("labels") if isinstance(deploy, dict) else None, service.get("labels")):
        if isinstance(raw, dict):
            found.update({str(k): "" if v is None else str(v) for k, v in raw.items()})
        elif isinstance(raw, list):
            for item in raw:
                key, _, value = str(item).partition("=")
                found[key.strip()] = value.strip()
    return found


def _stateful(compose: Compose) -> list[str]:
    """Services that hold state, databases first: backupbot-labelled ones, then ones with volumes."""
    names = [
        n for n, s in compose.services.items() if any(k.startswith("backupbot.") for k in labels(s)) or s.get("volumes")
    ]

    def rank(name: str) -> int:
        image = str(compose.services[name].get("image", ""))
        return 0 if _DATABASE.search(image) or _DATABASE.search(name) else (2 if _CACHE.search(image) else 1)

    return sorted(names, key=rank)


def _databases(compose: Compose) -> list[str]:
    services = compose.services
    return [n for n in _stateful(compose) if _DATABASE.search(str(services[n].get("image", ""))) or _DATABASE.search(n)]


def _app(compose: Compose) -> str | None:
    """The tested service: the one named ``app`` (Co-op Cloud's convention), else the one traefik routes to."""
    if "app" in compose.services:
        return "app"
    routed = [n for n, s in compose.services.items() if labels(s).get("traefik.enable") == "true"]
    return routed[0] if routed else next(iter(compose.services), None)


@dataclass(frozen=True)
class LabelDifference:
    service: str
    peer_service: str
    key: str
    ours: str | None
    theirs: str | None


def _diff(ours: dict[str, str], theirs: dict[str, str], prefix: str) -> list[tuple[str, str | None, str | None]]:
    keys = sorted({k for k in (*ours, *theirs) if k.startswith(prefix) and not _NOISE.match(k)})
    return [(k, ours.get(k), theirs.get(k)) for k in keys if ours.get(k) != theirs.get(k)]


def compare(ours: Compose, theirs: Compose, tier: str) -> list[LabelDifference]:
    """What the peer's compose has that ours has not (or has otherwise), for what the tier exercises."""
    out: list[LabelDifference] = []
    if tier in BACKUP_TIERS:
        pairs = list(zip(_databases(ours), _databases(theirs), strict=False))
        if not pairs:
            pairs = list(zip(_stateful(ours), _stateful(theirs), strict=False))
        for mine, peer in pairs:
            for key, a, b in _diff(labels(ours.services[mine]), labels(theirs.services[peer]), "backupbot."):
                out.append(LabelDifference(mine, peer, key, a, b))
        # The tier's own labels first (restore hooks for a restore test), then what the peer has and we lack.
        return sorted(out, key=lambda d: (f".{tier}." not in d.key, d.ours is not None, d.theirs is None))
    app, peer_app = _app(ours), _app(theirs)
    if app is None or peer_app is None:
        return out
    a_svc, b_svc = ours.services[app], theirs.services[peer_app]
    for key, a, b in _diff(labels(a_svc), labels(b_svc), ""):
        if a is None or b is None:  # values (ports, hosts) differ between any two apps; presence tells
            out.append(LabelDifference(app, peer_app, key, a, b))
    a_hc, b_hc = a_svc.get("healthcheck"), b_svc.get("healthcheck")
    if bool(a_hc) != bool(b_hc):
        out.append(
            LabelDifference(
                app, peer_app, "healthcheck", _short(a_hc) if a_hc else None, _short(b_hc) if b_hc else None
            )
        )
    return out


def _short(value: object) -> str:
    return str(value.get("test", value) if isinstance(value, dict) else value)[:120]


def evidence(ours: Compose, theirs: Compose, tier: str, test: str) -> list[EvidenceItem]:
    """Each difference as an evidence item naming file, service, key and both values."""
    items = []
    for d in compare(ours, theirs, tier)[:MAX_DIFFERENCES]:
        if d.theirs is not None and d.ours is None:
            text = (
                f"{theirs.recipe}'s {d.peer_service} service has {d.key}: {d.theirs}; "
                f"{ours.recipe}'s {d.service} service has none"
            )
        elif d.ours is not None and d.theirs is None:
            text = (
                f"{ours.recipe}'s {d.service} service has {d.key}: {d.ours}; "
                f"{theirs.recipe}'s {d.peer_service} service has none"
            )
        else:
            text = (
                f"{d.key}: {ours.recipe}'s {d.service} service has {d.ours}, "
                f"{theirs.recipe}'s {d.peer_service} service has {d.theirs}"
            )
        items.append(
            EvidenceItem(
                EvidenceKind.PEER_LABELS,
                None,  # no link: the clone is not served (and lives in the peer's run dir)
                f"{theirs.recipe} {theirs.ref} vs {ours.recipe} {ours.ref}",
                None,
                f"{text} ({theirs.recipe} passes {test} ({tier}))",
            )
        )
    return items

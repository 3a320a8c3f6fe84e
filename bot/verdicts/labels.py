"""Label evidence from a peer: how mattermost-lts's restore defect was found by hand.

When another recipe passes the test this one fails, compare the two recipes' effective composes at the
versions tested (:mod:`bot.artifacts.compose`: every file the app's ``COMPOSE_FILE`` names, merged, env
defaults filled in). Services are paired by role, never by name alone: for backup/restore tests the
databases by image family (postgres with postgres or postgis, mariadb with mysql, …), else the services
carrying ``backupbot.*`` labels, and their ``backupbot.*`` labels are compared; otherwise the tested
(app) services' labels and healthcheck. Every difference names the file each side's label came from.
A compose that could not be read in full (a named file missing at the tag, an unreadable app env) is
never said to "have none" of anything: the note says what could not be read instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.artifacts.compose import EffectiveCompose, ServiceView
from bot.model.records import EvidenceItem, EvidenceKind

BACKUP_TIERS = frozenset({"backup", "restore"})
MAX_DIFFERENCES = 4
# Database families by image name, SQL first: the order in which a recipe's databases are paired.
_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("postgres", re.compile(r"postgres|postgis|timescale", re.I)),
    ("mysql", re.compile(r"mariadb|mysql", re.I)),
    ("mongo", re.compile(r"mongo", re.I)),
    ("redis", re.compile(r"redis|valkey|keydb", re.I)),
)
_SQL = frozenset({"postgres", "mysql"})
_NOISE = re.compile(r"^coop-cloud\..*\.version$")  # differs between any two recipes


def family(service: ServiceView) -> str | None:
    """The database family of a service, from its image's name (registry, owner and tag left out); from the
    service's name only when the image says nothing (unset or still a variable)."""
    image = service.image
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    for fam, pattern in _FAMILIES:
        if pattern.search(name):
            return fam
    if not image or "${" in image:
        return next((fam for fam, pattern in _FAMILIES if pattern.search(service.name)), None)
    return None


def _databases(compose: EffectiveCompose) -> list[tuple[str, str]]:
    order = [fam for fam, _ in _FAMILIES]
    found = [(n, fam) for n, s in compose.services.items() if (fam := family(s)) is not None]
    return sorted(found, key=lambda x: order.index(x[1]))


def _backed_up(compose: EffectiveCompose, exclude: set[str]) -> list[str]:
    return [
        n for n, s in compose.services.items() if n not in exclude and any(k.startswith("backupbot.") for k in s.labels)
    ]


def _app(compose: EffectiveCompose) -> str | None:
    """The tested service: the one named ``app`` (Co-op Cloud's convention), else the one traefik routes to."""
    if "app" in compose.services:
        return "app"
    routed = [n for n, s in compose.services.items() if s.label_values().get("traefik.enable") == "true"]
    return routed[0] if routed else next(iter(compose.services), None)


@dataclass(frozen=True)
class Pair:
    """Two services compared, and the role that paired them (said in the evidence)."""

    ours: str
    theirs: str
    role: str  # "postgres databases", "SQL databases", "services with backupbot labels", "app services"


def pair_stateful(ours: EffectiveCompose, theirs: EffectiveCompose) -> list[Pair]:
    """Databases with databases of the same family (else another SQL database for a SQL one); when we have
    no database, the services carrying ``backupbot.*`` labels (same name first, then in order).
    A database is never paired with a service that is not one."""
    pairs: list[Pair] = []
    mine, peer = _databases(ours), _databases(theirs)
    used: set[str] = set()
    for name, fam in mine:
        match = next((t for t, f in peer if f == fam and t not in used), None)
        role = f"{fam} databases"
        if match is None and fam in _SQL:
            match, role = next((t for t, f in peer if f in _SQL and t not in used), None), "SQL databases"
        if match is not None:
            pairs.append(Pair(name, match, role))
            used.add(match)
    if mine or pairs:  # our state is in a database: another kind of service is no comparison
        return pairs
    a = _backed_up(ours, {n for n, _ in mine})
    b = _backed_up(theirs, {n for n, _ in peer})
    role = "services with backupbot labels"
    pairs += [Pair(n, n, role) for n in a if n in b]
    others = zip([n for n in a if n not in b], [n for n in b if n not in a], strict=False)
    pairs += [Pair(x, y, role) for x, y in others]
    return pairs


@dataclass(frozen=True)
class LabelDifference:
    service: str
    peer_service: str
    key: str
    ours: str | None
    theirs: str | None
    ours_file: str  # the file the value came from, or the files defining the service when it has none
    theirs_file: str
    role: str


@dataclass(frozen=True)
class Comparison:
    """What two effective composes differ in for a tier, which services were paired, and what was unreadable."""

    ours: EffectiveCompose
    theirs: EffectiveCompose
    pairs: tuple[Pair, ...]
    differences: tuple[LabelDifference, ...]
    notes: tuple[str, ...]


def _where(service: ServiceView, key: str | None) -> str:
    if key is not None and key in service.labels:
        return service.labels[key].file
    if key is not None and key in service.origin:
        return service.origin[key]
    return ", ".join(service.files) or "no file"


def _partial(compose: EffectiveCompose) -> str:
    more = f" and {len(compose.problems) - 1} more" if len(compose.problems) > 1 else ""
    return (
        f"{compose.recipe}'s compose at {compose.ref} was read only in part ({compose.problems[0]}{more}): "
        f"nothing is said about what it lacks"
    )


def _differences(
    ours: EffectiveCompose, theirs: EffectiveCompose, pair: Pair, mine: dict[str, str], peer: dict[str, str]
) -> list[LabelDifference]:
    a_svc, b_svc = ours.services[pair.ours], theirs.services[pair.theirs]
    keys = sorted({k for k in (*mine, *peer) if not _NOISE.match(k)})
    out = []
    for key in keys:
        a, b = mine.get(key), peer.get(key)
        if a == b or (a is None and not ours.complete) or (b is None and not theirs.complete):
            continue
        where = (_where(a_svc, key if a is not None else None), _where(b_svc, key if b is not None else None))
        out.append(LabelDifference(pair.ours, pair.theirs, key, a, b, *where, pair.role))
    return out


def compare(ours: EffectiveCompose, theirs: EffectiveCompose, tier: str) -> Comparison:
    """What the peer's compose has that ours has not (or has otherwise), for what the tier exercises."""
    notes = [_partial(c) for c in (theirs, ours) if not c.complete]
    out: list[LabelDifference] = []
    if tier in BACKUP_TIERS:
        pairs = pair_stateful(ours, theirs)
        for p in pairs:
            mine = {k: v for k, v in ours.services[p.ours].label_values().items() if k.startswith("backupbot.")}
            peer = {k: v for k, v in theirs.services[p.theirs].label_values().items() if k.startswith("backupbot.")}
            out += _differences(ours, theirs, p, mine, peer)
        unpaired = [n for n, _ in _databases(ours) if n not in {p.ours for p in pairs}]
        if unpaired and not theirs.complete:
            notes.append(f"{ours.recipe}'s {unpaired[0]} was paired with no service of {theirs.recipe}")
        # The tier's own labels first (restore hooks for a restore test), then what the peer has and we lack.
        out.sort(key=lambda d: (f".{tier}." not in d.key, d.ours is not None, d.theirs is None))
        return Comparison(ours, theirs, tuple(pairs), tuple(out), tuple(notes))
    app, peer_app = _app(ours), _app(theirs)
    if app is None or peer_app is None:
        return Comparison(ours, theirs, (), (), tuple(notes))
    pair = Pair(app, peer_app, "app services")
    a_svc, b_svc = ours.services[app], theirs.services[peer_app]
    for d in _differences(ours, theirs, pair, a_svc.label_values(), b_svc.label_values()):
        if d.ours is None or d.theirs is None:  # values (ports, hosts) differ between any two apps; presence tells
            out.append(d)
    a_hc, b_hc = a_svc.body.get("healthcheck"), b_svc.body.get("healthcheck")
    if bool(a_hc) != bool(b_hc) and (a_hc or ours.complete) and (b_hc or theirs.complete):
        out.append(
            LabelDifference(
                app,
                peer_app,
                "healthcheck",
                _short(a_hc) if a_hc else None,
                _short(b_hc) if b_hc else None,
                _where(a_svc, "healthcheck" if a_hc else None),
                _where(b_svc, "healthcheck" if b_hc else None),
                pair.role,
            )
        )
    return Comparison(ours, theirs, (pair,), tuple(out), tuple(notes))


def _short(value: object) -> str:
    return str(value.get("test", value) if isinstance(value, dict) else value)[:120]


def _sentence(d: LabelDifference, ours: str, theirs: str) -> str:
    mine = f"{ours}'s {d.service} service ({d.ours_file})"
    peer = f"{theirs}'s {d.peer_service} service ({d.theirs_file})"
    if d.ours is None:
        return f"{peer} has {d.key}: {d.theirs}; {mine} has none"
    if d.theirs is None:
        return f"{mine} has {d.key}: {d.ours}; {peer} has none"
    return f"{d.key}: {mine} has {d.ours}, {peer} has {d.theirs}"


def evidence(result: Comparison, tier: str, test: str) -> list[EvidenceItem]:
    """Each difference as an evidence item naming both files, services, the key, both values and the pairing."""
    ours, theirs = result.ours, result.theirs
    items = []
    for d in result.differences[:MAX_DIFFERENCES]:
        items.append(
            EvidenceItem(
                EvidenceKind.PEER_LABELS,
                None,  # no link: the clone is not served (and lives in the peer's run dir)
                f"{theirs.recipe} {theirs.ref}:{d.theirs_file.split(', ')[0]} vs "
                f"{ours.recipe} {ours.ref}:{d.ours_file.split(', ')[0]}",
                None,
                f"{_sentence(d, ours.recipe, theirs.recipe)} (paired as {d.role}; "
                f"{theirs.recipe} passes {test} ({tier}))",
            )
        )
    return items


def notes(result: Comparison, tier: str, test: str) -> list[EvidenceItem]:
    """What could not be compared, as peer evidence (never a label difference: it decides nothing)."""
    return [
        EvidenceItem(
            EvidenceKind.PEER,
            None,
            f"{result.theirs.recipe} {result.theirs.ref}",
            None,
            f"{result.theirs.recipe} passes {test} ({tier}); {note}",
        )
        for note in result.notes
    ]

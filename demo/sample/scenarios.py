"""The default sample world: recipes, their releases, and the runs cc-ci made of them.

Everything the generator produces follows from this data, so a scenario is changed here and
nowhere else. Each run also records the verdict category a correct bot should reach for it
(`expect`), which the tests of the bot can check against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from demo.sample.model import (
    TIERS,
    Category,
    Change,
    RecipeSpec,
    Release,
    ResultsStyle,
    RunFaults,
    RunSpec,
    Service,
    World,
    tier_progress,
)

# ---------------------------------------------------------------------------------------------
# The default world
# ---------------------------------------------------------------------------------------------

_PG_DUMP_RESTORE: Final = (
    ("backupbot.backup", "true"),
    ("backupbot.backup.pre-hook", "/pg_backup.sh backup"),
    ("backupbot.backup.volumes.postgres.path", "backup.sql"),
    ("backupbot.restore.post-hook", "/pg_backup.sh restore"),
)
# mattermost-lts: hot-copies PGDATA and never replays the dump on restore (the defect).
_PG_HOT_COPY: Final = (
    ("backupbot.backup", "true"),
    ("backupbot.backup.pre-hook", "pg_dump -U mattermost mattermost > /var/lib/postgresql/data/postgres-backup.sql"),
    ("backupbot.backup.post-hook", "rm -f /var/lib/postgresql/data/postgres-backup.sql"),
    ("backupbot.backup.path", "/var/lib/postgresql/data/"),
)
_MARIADB_DUMP_RESTORE: Final = (
    ("backupbot.backup", "true"),
    (
        "backupbot.backup.pre-hook",
        "sh -c 'mariadb-dump --single-transaction -u root --all-databases > /var/lib/mysql/backup.sql'",
    ),
    ("backupbot.restore.post-hook", "sh -c 'mariadb -u root < /var/lib/mysql/backup.sql'"),
)
_DATA: Final = (("backupbot.backup", "true"),)
_SMTP: Final = {"SMTP_HOST": "mail.example.com", "SMTP_PORT": "587", "SMTP_FROM": "noreply@example.com"}


def _postgres(name: str, image: str, labels: tuple[tuple[str, str], ...] = _PG_DUMP_RESTORE) -> Service:
    return Service(
        name,
        image,
        env=("POSTGRES_DB", "POSTGRES_USER"),
        labels=labels,
        volumes=(("postgres", "/var/lib/postgresql/data"),),
    )


def _mariadb(name: str = "db") -> Service:
    return Service(
        name,
        "mariadb:11.4",
        env=("MARIADB_DATABASE", "MARIADB_USER"),
        labels=_MARIADB_DUMP_RESTORE,
        volumes=(("mariadb", "/var/lib/mysql"),),
    )


def _redis(name: str = "redis", image: str = "redis:7.4-alpine") -> Service:
    return Service(name, image)


def _recipes(s1: datetime) -> tuple[RecipeSpec, ...]:
    """Recipes and release dates; `s1` is the start of the first sweep."""
    d = timedelta(days=1)
    db_env = {"POSTGRES_DB": "app", "POSTGRES_USER": "app", "MARIADB_DATABASE": "app", "MARIADB_USER": "app"}
    return (
        RecipeSpec(
            "discourse",
            (
                Service(
                    "app",
                    "bitnamilegacy/discourse:{upstream}",
                    3000,
                    ("DISCOURSE_HOST", "SMTP_HOST", "SMTP_PORT", "SMTP_FROM"),
                    _DATA,
                    volumes=(("discourse", "/bitnami/discourse"),),
                ),
                _postgres("db", "bitnamilegacy/postgresql:16.4.0"),
                _redis("redis", "bitnamilegacy/redis:7.4.1"),
                # upstream's compose names the web service `discourse`: `docker compose config`
                # rejects it, `docker stack deploy` ignores depends_on.
                Service(
                    "sidekiq",
                    "bitnamilegacy/discourse:{upstream}",
                    env=("DISCOURSE_HOST",),
                    depends_on=("db", "redis", "discourse"),
                ),
            ),
            tuple(
                Release(t, s1 - days * d)
                for t, days in (
                    ("0.1.0+3.4.1", 300),
                    ("0.2.0+3.4.3", 240),
                    ("0.7.0+3.5.0", 120),
                    ("0.8.0+3.5.0", 60),
                    ("0.8.1+3.5.0", 30),
                )
            ),
            {"DISCOURSE_HOST": "discourse.example.com", **_SMTP, **db_env},
            minutes=24,
        ),
        RecipeSpec(
            "mattermost-lts",
            (
                Service(
                    "app",
                    "mattermost/mattermost-enterprise-edition:{upstream}",
                    8065,
                    ("MM_SQLSETTINGS_DRIVERNAME",),
                    _DATA,
                    volumes=(("mattermost", "/mattermost/data"),),
                ),
                _postgres("postgres", "postgres:15.13", _PG_HOT_COPY),
            ),
            tuple(
                Release(t, s1 - days * d)
                for t, days in (("2.1.7+10.11.13", 90), ("2.1.8+10.11.14", 50), ("2.1.9+10.11.15", 20))
            ),
            {"MM_SQLSETTINGS_DRIVERNAME": "postgres", **db_env},
            minutes=19,
        ),
        RecipeSpec(
            "immich",
            (
                Service(
                    "app",
                    "ghcr.io/immich-app/immich-server:{upstream}",
                    2283,
                    ("DB_HOSTNAME",),
                    _DATA,
                    volumes=(("uploads", "/usr/src/app/upload"),),
                ),
                Service(
                    "machine_learning",
                    "ghcr.io/immich-app/immich-machine-learning:{upstream}",
                    volumes=(("model-cache", "/cache"),),
                ),
                _redis("redis", "docker.io/valkey/valkey:8-bookworm"),
                _postgres("database", "ghcr.io/immich-app/postgres:14-vectorchord0.4.3-pgvectors0.2.0"),
            ),
            tuple(Release(t, s1 - days * d) for t, days in (("1.8.0+v1.137.3", 45), ("1.9.0+v1.138.0", 12))),
            {"DB_HOSTNAME": "database", **db_env},
            minutes=21,
        ),
        RecipeSpec(
            "mumble",
            (
                Service(
                    "app",
                    "mumblevoip/mumble-server:{upstream}",
                    None,
                    ("MUMBLE_CONFIG_WELCOMETEXT",),
                    _DATA,
                    volumes=(("data", "/data"),),
                ),
            ),
            tuple(Release(t, s1 - days * d) for t, days in (("0.9.0+v1.5.735-0", 200), ("1.0.0+v1.6.870-0", 25))),
            {"MUMBLE_CONFIG_WELCOMETEXT": "Welcome to the CI server"},
            minutes=9,
        ),
        RecipeSpec(
            "bluesky",
            (
                Service(
                    "app",
                    "ghcr.io/bluesky-social/pds:{upstream}",
                    3000,
                    ("PDS_HOSTNAME", "PDS_DATA_DIRECTORY"),
                    _DATA,
                    volumes=(("pds", "/pds"),),
                ),
            ),
            tuple(Release(t, s1 - days * d) for t, days in (("0.3.0+0.4.158", 150), ("0.4.0+0.4.182", 40))),
            {"PDS_HOSTNAME": "bluesky.example.com", "PDS_DATA_DIRECTORY": "/pds"},
            minutes=11,
        ),
        RecipeSpec(
            "gitea",
            (
                Service(
                    "app",
                    "gitea/gitea:{upstream}",
                    3000,
                    ("GITEA__server__ROOT_URL",),
                    _DATA,
                    volumes=(("git", "/var/lib/gitea"),),
                ),
                _mariadb(),
            ),
            tuple(
                Release(t, s1 - days * d) for t, days in (("3.4.0+1.24.2-rootless", 70), ("3.5.1+1.24.5-rootless", 18))
            ),
            {"GITEA__server__ROOT_URL": "https://gitea.example.com/", **db_env},
            minutes=16,
        ),
        RecipeSpec(
            "outline",
            (
                Service(
                    "app",
                    "outlinewiki/outline:{upstream}",
                    3000,
                    ("FILE_STORAGE", "FILE_STORAGE_UPLOAD_MAX_SIZE", "SMTP_HOST", "SMTP_PORT", "SMTP_FROM"),
                    _DATA,
                    volumes=(("storage", "/var/lib/outline/data"),),
                ),
                _postgres("db", "postgres:16.9"),
                _redis(),
            ),
            (
                Release("0.9.0+0.83.0", s1 - 80 * d),
                Release("0.10.0+0.84.0", s1 - 21 * d),
                # cut between sweeps 2 and 3; lowers the upload limit below an export's size
                Release(
                    "0.11.0+0.85.1",
                    s1 + 10 * d,
                    Change(env_sample={"FILE_STORAGE_UPLOAD_MAX_SIZE": "1000000"}, note="Tighten upload limits"),
                ),
            ),
            {"FILE_STORAGE": "local", "FILE_STORAGE_UPLOAD_MAX_SIZE": "26214400", **_SMTP, **db_env},
            minutes=14,
        ),
        RecipeSpec(
            "keycloak",
            (
                Service(
                    "app",
                    "quay.io/keycloak/keycloak:{upstream}",
                    8080,
                    ("KC_HOSTNAME", "KC_DB"),
                    _DATA,
                    volumes=(("themes", "/opt/keycloak/themes"),),
                ),
                _postgres("db", "postgres:16.9"),
            ),
            (
                Release("1.2.0+26.0.5", s1 - 35 * d),
                # traefik forwards to 8081 while keycloak listens on 8080: fixed in 1.3.1
                Release("1.3.0+26.1.0", s1 + 3 * d, Change(traefik_port=8081, note="Move to the management port")),
                Release("1.3.1+26.1.1", s1 + 9 * d, Change(traefik_port=8080, note="Fix traefik service port")),
            ),
            {"KC_HOSTNAME": "keycloak.example.com", "KC_DB": "postgres", **db_env},
            minutes=17,
        ),
        RecipeSpec(
            "nextcloud",
            (
                Service(
                    "app",
                    "nextcloud:{upstream}-apache",
                    80,
                    ("NEXTCLOUD_TRUSTED_DOMAINS", *_SMTP),
                    _DATA,
                    volumes=(("nextcloud", "/var/www/html"),),
                ),
                _mariadb(),
                _redis("cache"),
            ),
            tuple(Release(t, s1 - days * d) for t, days in (("7.0.0+30.0.4", 110), ("7.1.0+31.0.7", 33))),
            {"NEXTCLOUD_TRUSTED_DOMAINS": "nextcloud.example.com", **_SMTP, **db_env},
            minutes=23,
        ),
        RecipeSpec(
            "wordpress",
            (
                Service(
                    "app",
                    "wordpress:{upstream}",
                    80,
                    ("WORDPRESS_DB_HOST",),
                    _DATA,
                    volumes=(("wordpress", "/var/www/html"),),
                ),
                _mariadb(),
            ),
            tuple(Release(t, s1 - days * d) for t, days in (("2.4.0+6.8.1", 60), ("2.5.0+6.8.2", 16))),
            {"WORDPRESS_DB_HOST": "db", **db_env},
            minutes=12,
            # PR 42 wires a new variable into compose but forgets .env.sample
            prs={42: Change(service_env={"app": ("WORDPRESS_DEBUG",)}, note="Allow enabling WP_DEBUG")},
        ),
        RecipeSpec(
            "hedgedoc",
            (
                Service(
                    "app",
                    "quay.io/hedgedoc/hedgedoc:{upstream}",
                    3000,
                    ("CMD_DOMAIN",),
                    _DATA,
                    volumes=(("uploads", "/hedgedoc/public/uploads"),),
                ),
                _postgres("db", "postgres:16.9"),
            ),
            (Release("4.0.0+1.10.3", s1 - 50 * d),),
            {"CMD_DOMAIN": "hedgedoc.example.com", **db_env},
            minutes=10,
        ),
        RecipeSpec(
            "lasuite-docs",
            (
                Service(
                    "app",
                    "lasuite/impress-frontend:{upstream}",
                    8080,
                    ("DJANGO_ALLOWED_HOSTS",),
                    _DATA,
                    volumes=(("media", "/data/media"),),
                ),
                Service("backend", "lasuite/impress-backend:{upstream}", env=("DJANGO_ALLOWED_HOSTS",)),
                _postgres("db", "postgres:16.9"),
                _redis(),
            ),
            (Release("0.3.0+v3.4.2", s1 - 19 * d),),
            {"DJANGO_ALLOWED_HOSTS": "docs.example.com", **db_env},
            minutes=18,
        ),
        # Written the Co-op Cloud way (after bonfire's recipe): the database only in compose.postgres.yml,
        # which COMPOSE_FILE switches on; labels as a list in compose.yml and a mapping in the override;
        # image and backup switch pinned through env defaults. A peer of mattermost-lts for its restore test.
        RecipeSpec(
            "bonfire",
            (
                Service(
                    "app",
                    "bonfirenetworks/bonfire:${{APP_VERSION:-{upstream}}}-${{APP_FLAVOUR:-social}}-amd64",
                    4000,
                    ("UPLOAD_LIMIT",),
                    (("backupbot.backup", "${ENABLE_BACKUPS:-true}"),),
                    depends_on=("db",),
                    volumes=(("upload-data", "/opt/app/data/uploads"),),
                ),
                Service(
                    "db",
                    "${{DB_DOCKER_IMAGE:-postgis/postgis}}:${{DB_DOCKER_VERSION:-16-3.4}}",
                    env=("POSTGRES_DB", "POSTGRES_USER"),
                    labels=(
                        ("backupbot.backup", "${ENABLE_BACKUPS:-true}"),
                        ("backupbot.backup.pre-hook", "/pg_backup.sh backup"),
                        ("backupbot.backup.volumes.db-data.path", "backup.sql"),
                        ("backupbot.restore.post-hook", "/pg_backup.sh restore"),
                    ),
                    volumes=(("db-data", "/var/lib/postgresql/data"),),
                    file="compose.postgres.yml",
                ),
            ),
            tuple(Release(t, s1 - days * d) for t, days in (("0.9.0+1.0.3", 75), ("1.0.0+1.0.4", 28))),
            {"UPLOAD_LIMIT": "20000000", **db_env},
            minutes=13,
            options=(Service("search", "getmeili/meilisearch:v1.11", file="compose.meilisearch.yml"),),
        ),
    )


# Per recipe: run ids in sweeps 1-3 and the verdict category each run deserves (None = green).
# Ids are deliberately mixed and out of time order (sweep 2's Drone numbers exceed sweep 3's).
_SWEEP_TABLE: Final[tuple[tuple[str, tuple[str, str, str], tuple[Category | None, ...]], ...]] = (
    ("discourse", ("ab-3f9c21", "806", "759"), (None, "stale-test", "stale-test")),
    ("mattermost-lts", ("ab-0d17e4", "803", "753"), ("recipe-defect", "recipe-defect", "recipe-defect")),
    ("immich", ("ab-77a0b2", "811", "761"), (None, None, None)),
    ("mumble", ("ab-c41e09", "812", "m2rr-5e1d"), (None, None, "flake")),
    ("bluesky", ("ab-9b2f60", "801", "755"), (None, "upstream-defect", "upstream-defect")),
    ("gitea", ("ab-12fe7c", "809", "757"), (None, None, "infra")),
    ("outline", ("ab-e50b3a", "804", "760"), (None, None, "unknown")),
    ("keycloak", ("ab-4a6d18", "802", "754"), (None, "recipe-defect", None)),
    ("nextcloud", ("ab-b83c47", "807", "m2rr-0a9c"), (None, None, None)),
    ("wordpress", ("ab-2c90d5", "810", "756"), (None, None, None)),
    ("hedgedoc", ("ab-f01a8e", "805", "758"), (None, None, None)),
    ("lasuite-docs", ("ab-6e3b91", "808", "762"), (None, None, None)),
    ("bonfire", ("ab-8c5e27", "813", "763"), (None, None, None)),
)
# Recipes a sweep started last, as its batch drained: they share the node only in their first
# tiers (mumble's custom tier then ran unloaded in sweeps 1 and 2).
_TAIL: Final = {1: ("mumble",), 2: ("mumble",), 3: ()}
_TAIL_OVERLAP: Final = timedelta(minutes=3)
_CONCURRENCY: Final = 4


@dataclass(frozen=True)
class _Tweak:
    """Per-run overrides beyond the sweep table: harness faults, per-tier env, results style."""

    faults: RunFaults = field(default_factory=RunFaults)
    tier_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    style: ResultsStyle = field(default_factory=ResultsStyle)


_TWEAKS: Final[Mapping[tuple[int, str], _Tweak]] = {
    (1, "hedgedoc"): _Tweak(style=ResultsStyle(time_format="compact", rungs_as_list=True)),
    # The Docker daemon goes away during backup; the tier's pytest is killed mid-write.
    (3, "gitea"): _Tweak(RunFaults(killed_during="backup"), {"backup": {"CCCI_SAMPLE_DOCKER": "down"}}),
}
# An extra sweep-1 attempt of a green recipe whose runner died before results.json.
_DIED: Final = ("nextcloud", "ab-5d0c3f", RunFaults(dies_after="upgrade"))
# After sweep 3: one PR run, then isolation reruns (each alone on the node).
_PR: Final = ("wordpress", "768", 42)
_RERUNS: Final[tuple[tuple[str, str, Category | None], ...]] = (
    ("mumble", "manual-48213", None),
    ("mattermost-lts", "manual-4242", "recipe-defect"),
    ("discourse", "manual-977", "stale-test"),
)
_VERDICTS: Final[Mapping[str, Category]] = {
    "discourse": "stale-test",
    "mattermost-lts": "recipe-defect",
    "mumble": "flake",
    "bluesky": "upstream-defect",
    "gitea": "infra",
    "outline": "unknown",
}


def sweep_starts(now: datetime) -> tuple[datetime, datetime, datetime]:
    """Three weekly sweeps (Sunday 03:00 UTC), the last one at least 12 hours before `now`."""
    now = now.astimezone(UTC)
    last = (now - timedelta(hours=12)).replace(hour=3, minute=0, second=0, microsecond=0)
    while last.weekday() != 6 or last > now - timedelta(hours=12):
        last -= timedelta(days=1)
    return last - timedelta(days=14), last - timedelta(days=7), last


def _duration(recipe: RecipeSpec, salt: int) -> timedelta:
    """A recipe's run length, varied a little per run so runs do not line up."""
    jitter = (sum(map(ord, recipe.name)) * 37 + salt * 101) % 240
    return timedelta(minutes=recipe.minutes, seconds=jitter)


def _sweep_runs(sweep: int, start: datetime, recipes: Mapping[str, RecipeSpec]) -> list[RunSpec]:
    """Schedule one sweep: a batch with `_CONCURRENCY` slots, then the tail as the batch drains."""
    entries: list[tuple[str, str, Category | None, RunFaults]] = []
    for name, ids, expects in _SWEEP_TABLE:
        entries.append((name, ids[sweep - 1], expects[sweep - 1], RunFaults()))
    if sweep == 1:
        entries.insert(2, (_DIED[0], _DIED[1], "infra", _DIED[2]))
    if sweep == 3:
        entries.reverse()
    batch = [e for e in entries if e[0] not in _TAIL[sweep]]
    tail = [e for e in entries if e[0] in _TAIL[sweep]]

    slots = [start + timedelta(seconds=5 + 40 * i) for i in range(_CONCURRENCY)]
    runs: list[RunSpec] = []
    for index, (name, run_id, expect, faults) in enumerate(batch + tail):
        recipe = recipes[name]
        if index < len(batch):
            slot = min(range(_CONCURRENCY), key=lambda i: slots[i])
            began = slots[slot] + timedelta(seconds=20)
        else:
            began = max(r.finished for r in runs[: len(batch)]) - _TAIL_OVERLAP
        length = _duration(recipe, sweep * 10 + index)
        if faults.dies_after:
            length = length * 2 / 5
        run = RunSpec(
            run_id,
            name,
            recipe.latest_at(start).tag,
            "sweep",
            began,
            began + length,
            sweep=sweep,
            expect=expect,
            faults=faults,
        )
        tweak = _TWEAKS.get((sweep, name))
        if tweak is not None:
            run = replace(run, faults=tweak.faults, tier_env=tweak.tier_env, style=tweak.style)
        if index < len(batch):
            slots[slot] = run.finished
        runs.append(run)
    return runs


def _tier_windows(run: RunSpec) -> list[tuple[datetime, datetime]]:
    span = run.finished - run.started
    return [(run.started + span * a, run.started + span * b) for a, b in map(tier_progress, range(len(TIERS)))]


def _with_load(runs: list[RunSpec]) -> list[RunSpec]:
    """Set the load flag on runs that shared the node, and per tier where a tier's load differs."""
    loaded: list[RunSpec] = []
    for run in runs:
        others = [o for o in runs if o is not run]
        load = any(run.overlaps(o) for o in others)
        tier_env = {tier: dict(env) for tier, env in run.tier_env.items()}
        for tier, (begin, end) in zip(TIERS, _tier_windows(run), strict=True):
            busy = any(o.started < end and begin < o.finished for o in others)
            if busy != load:
                tier_env.setdefault(tier, {})["CCCI_SAMPLE_LOAD"] = "1" if busy else "0"
        loaded.append(replace(run, load=load, tier_env=tier_env))
    return loaded


def default_world(now: datetime) -> World:
    """Build the default world: thirteen recipes, three weekly sweeps, a PR run and reruns."""
    s1, s2, s3 = sweep_starts(now)
    recipes = _recipes(s1)
    by_name = {r.name: r for r in recipes}
    runs = [run for i, start in enumerate((s1, s2, s3), 1) for run in _sweep_runs(i, start, by_name)]
    sweep3_end = max(r.finished for r in runs if r.sweep == 3)

    name, run_id, pr = _PR
    began = sweep3_end + timedelta(minutes=50)
    runs.append(
        RunSpec(
            run_id,
            name,
            by_name[name].latest_at(began).tag,
            "pr",
            began,
            began + _duration(by_name[name], 99),
            pr=pr,
            ref=f"refs/pull/{pr}/head",
            expect="recipe-defect",
        )
    )
    began = sweep3_end + timedelta(hours=3)
    for name, run_id, expect in _RERUNS:
        recipe = by_name[name]
        run = RunSpec(
            run_id, name, recipe.latest_at(began).tag, "isolation", began, began + _duration(recipe, 7), expect=expect
        )
        runs.append(run)
        began = run.finished + timedelta(minutes=15)
    if began > now:
        raise ValueError("the default world does not fit before `now`")

    return World(
        now=now,
        recipes=recipes,
        runs=tuple(_with_load(runs)),
        sweeps=(s1, s2, s3),
        withdrawn_images={"ghcr.io/bluesky-social/pds:0.4.182": s1 + timedelta(days=2)},
        overlays_added={"tests/discourse/test_upgrade.py": s1 + timedelta(days=3, hours=14)},
        verdicts=dict(_VERDICTS),
    )

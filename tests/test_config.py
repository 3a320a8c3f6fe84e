import contextlib
import pickle
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_args

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from msgspec import Meta

from bot.cli import main
from bot.config import Config, ConfigError, load_config, parse_config, secret_from_env, values
from bot.config.file import MAX_BYTES, parse_document, parse_yaml
from bot.config.sections import DEFAULT_RUNS_DIR, Section
from bot.config.values import convert
from bot.logsetup import LogFormat
from bot.web.hooks import hook_routes
from scripts import configdoc
from tests.examples import examples

EXAMPLE = Path(__file__).parent.parent / "config.example.yaml"


def test_no_file_means_defaults() -> None:
    config = load_config(None)
    assert config.ccci.runs_dir == DEFAULT_RUNS_DIR
    assert config.ccci.warm_dir == Path("/var/lib/ci-warm")
    assert config.ccci.active_dir == Path("/run/cc-ci-active")
    assert config.ccci.log_name == "run.log"
    assert config.links.base_url is None


def test_values_are_typed(tmp_path: Path) -> None:
    config = parse_config(
        {
            "ccci": {"runs_dir": str(tmp_path), "log_name": "runner.log", "settle_s": 5},
            "links": {"base_url": "https://ci.example/runs/{run_id}/{path}"},
            "data_dir": str(tmp_path / "state"),
        }
    )
    assert config.ccci.runs_dir == tmp_path
    assert config.ccci.log_name == "runner.log"
    assert config.ccci.settle_s == 5.0
    assert config.data_dir == tmp_path / "state"


def test_repository_links_default_to_coop_cloud_and_null_turns_each_off() -> None:
    links = parse_config({}).links
    assert links.recipe_url == "https://git.coopcloud.tech/coop-cloud/{recipe}"
    assert links.compare_url == "https://git.coopcloud.tech/coop-cloud/{recipe}/compare/{from}...{to}"
    assert links.ccci_commit_url is None and parse_config({}).ccci.checkout is None
    off = parse_config({"links": {"recipe_url": None, "tag_url": None, "compare_url": None}}).links
    assert (off.recipe_url, off.tag_url, off.compare_url) == (None, None, None)
    assert parse_config({"links": {"ccci_commit_url": None}}).links.ccci_commit_url is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ccci": {"runs_dir": 3}}, "ccci.runs_dir: expected a path, got int 3"),
        ({"ccci": {"log_name": "a/b"}}, "ccci.log_name: expected a file name without '/'"),
        ({"ccci": {"settle_s": -1}}, "ccci.settle_s: expected a number of seconds >= 0"),
        ({"ccci": {"runz_dir": "/x"}}, "ccci.runz_dir: unknown key"),
        ({"links": {"base_url": "https://x/{path}"}}, "links.base_url: expected a URL template containing {run_id}"),
        ({"links": {"base_url": "https://x/{run_id}/{oops}"}}, "links.base_url: only {run_id} and {path}"),
        (
            {"links": {"compare_url": "https://git/{recipe}/compare/{from}"}},
            "links.compare_url: expected a URL template containing {recipe}, {from} and {to}",
        ),
        ({"links": {"ccci_commit_url": "https://git/cc-ci/{sha}"}}, "links.ccci_commit_url: expected a URL template"),
        ({"ccci": {"checkout": 7}}, "ccci.checkout: expected a path, got int 7"),
        ({"ccci": []}, "ccci: expected a mapping, got list"),
        ({"evidence": {"context_lines": 0}}, "evidence.context_lines: expected an integer >= 1"),
        ({"matrix_password": "hunter2"}, "matrix_password: secrets are not read from the file"),
    ],
)
def test_errors_name_the_key_and_what_was_expected(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert expected in str(info.value)


def test_missing_runs_dir_is_a_problem_that_names_the_key(tmp_path: Path) -> None:
    config = parse_config({"ccci": {"runs_dir": str(tmp_path / "nope")}, "data_dir": str(tmp_path)})
    assert config.problems() == [f"ccci.runs_dir: expected a directory, got {tmp_path / 'nope'} (does not exist)"]


def test_flags_override_the_file(tmp_path: Path) -> None:
    config = Config().with_overrides(runs_dir=tmp_path / "r", data_dir=tmp_path / "d")
    assert config.ccci.runs_dir == tmp_path / "r"
    assert config.data_dir == tmp_path / "d"
    assert config.ccci.warm_dir == Path("/var/lib/ci-warm")


def test_a_config_is_immutable_and_crosses_to_worker_processes_whole() -> None:
    """Ingest workers get the config pickled (forkserver); every checked kind of value must survive it."""
    config = load_config(EXAMPLE)
    with pytest.raises(AttributeError):
        config.ccci.settle_s = 1.0  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(config))
    assert copy == config and hash(copy) == hash(config)
    assert type(copy.reports.cron) is values.Cron and type(copy.runner.env) is values.EnvMap


def test_example_config_is_valid(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    assert config.links.base_url is not None and "{run_id}" in config.links.base_url


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(f"ccci:\n  runs_dir: {tmp_path}\ndata_dir: {tmp_path / 'data'}\n")
    assert main(["check-config", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("ccci:\n  runs_dir: [1, 2]\n")
    assert main(["check-config", str(bad)]) == 2
    assert "ccci.runs_dir: expected a path, got list" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("ccci: {runs_dir: [\n")
    assert main(["check-config", str(broken)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


# --- every kind of value: a good one and a bad one ------------------------------------------------

SECONDS = "expected a number of seconds >= 0 and <= 31536000 (a year)"
GOOD_AND_BAD: list[tuple[Any, Any, Any, Any, str]] = [
    # (kind of value, good raw value, its typed value, bad raw value, expected message fragment)
    (values.Text, "ccci-bot", "ccci-bot", "", "k: expected a non-empty string, got str ''"),
    (Path, "/srv/x", Path("/srv/x"), 3, "k: expected a path, got int 3"),
    (Path, "~/x", Path.home() / "x", "a\0b", "k: expected a path, got str"),
    (values.Paths, ["/a", "/b"], (Path("/a"), Path("/b")), ["/a", 2], "k[1]: expected a path, got int 2"),
    (values.Paths, [], (), "/a", "k: expected a list of paths, got str '/a'"),
    (
        values.RegistryHosts,
        ["127.0.0.1:5000", "registry.example.org"],
        ("127.0.0.1:5000", "registry.example.org"),
        ["https://registry.example.org"],
        "k[0]: expected a registry as host[:port], without a scheme, got 'https://registry.example.org'",
    ),
    (
        values.HttpUrl,
        "https://m.example/",
        "https://m.example",
        "ftp://m",
        "k: expected an http(s) URL, got 'ftp://m'",
    ),
    (
        values.UserId,
        "@bot:example.org",
        "@bot:example.org",
        "bot",
        "k: expected a Matrix user id like @bot:example.org",
    ),
    (values.UserIds, ["@a:x.org"], ("@a:x.org",), ["@a:x.org", "b"], "k[1]: expected a Matrix user id"),
    (values.UserIds, [], (), "@a:x.org", "k: expected a list of Matrix user ids, got str"),
    (
        values.Rooms,
        ["!abc:x.org", "#ops:x.org", "!v12room"],
        ("!abc:x.org", "#ops:x.org", "!v12room"),
        [],
        "k: expected a non-empty list of room ids",
    ),
    (
        values.Rooms,
        ["#ops:x.org"],
        ("#ops:x.org",),
        ["#ops"],
        "k[0]: expected a room id (!id:server) or alias (#name:server), got '#ops'",
    ),
    (values.EnvName, "CCCI_TOKEN", "CCCI_TOKEN", "1X", "k: expected an environment variable name, got '1X'"),
    (
        values.EnvNames,
        ["A", "B_2"],
        ("A", "B_2"),
        ["A", "B-2"],
        "k[1]: expected an environment variable name, got 'B-2'",
    ),
    (values.EnvNames, [], (), "A", "k: expected a list of environment variable names, got str"),
    (values.Prefix, "!ccci", "!ccci", "! ccci", "k: expected a prefix without spaces, got '! ccci'"),
    (values.Integer, -5, -5, True, "k: expected an integer, got bool True"),
    (values.Integer, 50, 50, 1.5, "k: expected an integer, got float 1.5"),
    (values.PositiveInt, 1, 1, 0, "k: expected an integer >= 1, got int 0"),
    (values.Count, 0, 0, -1, "k: expected an integer >= 0, got int -1"),
    (values.Count, 3, 3, "3", "k: expected an integer >= 0, got str '3'"),
    (values.Seconds, 0, 0.0, -1, f"k: {SECONDS}, got int -1"),
    (values.Seconds, 1.5, 1.5, float("nan"), f"k: {SECONDS}, got float nan"),
    (values.Seconds, values.MAX_SECONDS, float(values.MAX_SECONDS), float("inf"), f"k: {SECONDS}, got float inf"),
    (values.Seconds, 60, 60.0, 10**400, f"k: {SECONDS}, got int 1000"),
    (values.Seconds, 60, 60.0, False, f"k: {SECONDS}, got bool False"),
    (values.PositiveSeconds, 0.5, 0.5, 0, "k: expected a number of seconds > 0 and <= 31536000 (a year), got int 0"),
    (values.Flag, False, False, "yes", "k: expected true or false, got str 'yes'"),
    (values.Fraction, 1, 1.0, 1.01, "k: expected a number from 0 to 1, got float 1.01"),
    (values.Fraction, 0.8, 0.8, float("nan"), "k: expected a number from 0 to 1, got float nan"),
    (values.Template, "{recipe}-{version}", "{recipe}-{version}", "{recip}", "k: unknown placeholder(s) ['recip']"),
    (
        values.Template,
        "{{literal}}",
        "{{literal}}",
        "{recipe.__class__}",
        "k: unknown placeholder(s) ['recipe.__class__']",
    ),
    (values.Template, "x", "x", "{recipe:>999999999}", "k: unknown placeholder(s) ['{recipe:>999999999}']"),
    (values.Template, "x", "x", "oops}", "k: not a valid template (Single '}' encountered"),
    (values.Template, "x", "x", 3, "k: expected a string, got int 3"),
    (
        values.Steps,
        [["a", "{run_id}"]],
        (("a", "{run_id}"),),
        "abra recipe x",
        "k: expected a list of argv lists (never a shell string)",
    ),
    (
        values.Steps,
        [["a"]],
        (("a",),),
        [[]],
        "k[0]: expected a non-empty argv list (never a shell string)",
    ),
    (values.Steps, [["a"]], (("a",),), [["a", "{x}"]], "k[0][1]: unknown placeholder(s) ['x']"),
    (
        values.EnvMap,
        {"A": "{recipe}", "B": 1},
        (("A", "{recipe}"), ("B", "1")),
        ["A=1"],
        "k: expected a mapping of environment variables, got list",
    ),
    (values.Argv, ["systemctl", "stop", "--"], ("systemctl", "stop", "--"), "systemctl stop", "k: expected an argv"),
    (values.Argv, [], (), ["systemctl", ""], "k[1]: expected a non-empty string, got str ''"),
    (values.EnvMap, {}, (), {"A": [1]}, "k.A: expected a string, got list [1]"),
    (values.EnvMap, {}, (), {"A-B": "x"}, "k.A-B: expected an environment variable name, got 'A-B'"),
    (values.Regex, "^v[0-9]+$", "^v[0-9]+$", "(", "k: invalid regular expression (missing ), unterminated subpattern"),
    (
        values.DockerUrl,
        "tcp://node:2376",
        "tcp://node:2376",
        "/var/run/docker.sock",
        "k: expected a Docker URL (unix:///var/run/docker.sock, tcp://host:2376), got '/var/run/docker.sock'",
    ),
    (values.Names, ["traefik"], ("traefik",), ["traefik", ""], "k[1]: expected a non-empty string, got str ''"),
    (values.Names, [], (), "traefik", "k: expected a list of names, got str 'traefik'"),
    (values.FileName, "run.log", "run.log", "logs/run.log", "k: expected a file name without '/', got 'logs/run.log'"),
    (values.FileName, "run.log", "run.log", "..", "k: expected a file name without '/', got '..'"),
    (
        values.TimeZone,
        "Europe/Berlin",
        "Europe/Berlin",
        "Mars/Olympus",
        "k: expected an IANA time zone like UTC or Europe/Berlin, got 'Mars/Olympus'",
    ),
    (values.TimeZone, "UTC", "UTC", "../../etc/passwd", "k: expected an IANA time zone"),
    (values.Cron, "*/5 * * * 1-5", "*/5 * * * 1-5", "0 7 * *", "k: expected 5 fields (min hour day month weekday)"),
    (values.Cron, "30 0 7 * * 0", "30 0 7 * * 0", "0 25 * * *", "k: '0 25 * * *':"),
    (
        values.Cron,
        "0 7 * * sun",
        "0 7 * * sun",
        "0 7 * * 9",
        "k: '0 7 * * 9': day of week: expected 0-7 or sun-sat, got '9'",
    ),
    (
        values.ListenAddress,
        "127.0.0.1:8080",
        "127.0.0.1:8080",
        "127.0.0.1:99999",
        "k: expected host:port like 127.0.0.1:8080, got '127.0.0.1:99999'",
    ),
    (values.ListenAddress, "[::1]:0", "[::1]:0", "localhost:²", "k: expected host:port like 127.0.0.1:8080"),
    (values.LogLevel, "WARNING", "warning", "loud", "k: expected one of debug, info, warning, error, critical"),
    (values.Format, "json", LogFormat.JSON, "xml", "k: expected one of text, json, got 'xml'"),
    (
        values.UrlTemplate,
        "https://ci/runs/{run_id}/{path}",
        "https://ci/runs/{run_id}/{path}",
        "https://ci/{path}",
        "k: expected a URL template containing {run_id}",
    ),
    (
        values.UrlTemplate,
        "https://ci/{run_id}",
        "https://ci/{run_id}",
        "https://ci/{run_id}/{oops}",
        "k: only {run_id} and {path} placeholders are allowed (got ['oops'])",
    ),
    (
        values.UrlTemplate,
        "https://ci/{run_id}",
        "https://ci/{run_id}",
        "https://ci/{run_id}/{path:>9999999}",
        "k: only {run_id} and {path} placeholders are allowed",
    ),
    (
        values.UrlTemplate,
        "https://ci/{run_id}",
        "https://ci/{run_id}",
        "https://ci/{run_id",
        "k: not a valid template",
    ),
    (
        values.RecipeUrlTemplate,
        "https://git/{recipe}",
        "https://git/{recipe}",
        "https://git/coop-cloud",
        "k: expected a URL template containing {recipe}, got 'https://git/coop-cloud'",
    ),
    (
        values.RecipeUrlTemplate,
        "https://git/{recipe}",
        "https://git/{recipe}",
        "https://git/{recipe}/{run_id}",
        "k: only {recipe} placeholder is allowed (got ['run_id'])",
    ),
    (
        values.RecipeUrlTemplate,
        "http://git/{recipe}",
        "http://git/{recipe}",
        "git.coopcloud.tech/{recipe}",
        "k: expected an http(s) URL template, got 'git.coopcloud.tech/{recipe}'",
    ),
    (
        values.RecipeTagUrlTemplate,
        "https://git/{recipe}/src/tag/{version}",
        "https://git/{recipe}/src/tag/{version}",
        "https://git/{recipe}/src/tag/main",
        "k: expected a URL template containing {recipe} and {version}",
    ),
    (
        values.CompareUrlTemplate,
        "https://git/{recipe}/compare/{from}...{to}",
        "https://git/{recipe}/compare/{from}...{to}",
        "https://git/{recipe}/compare/{from}...main",
        "k: expected a URL template containing {recipe}, {from} and {to}",
    ),
    (
        values.CompareUrlTemplate,
        "https://git/{recipe}/compare/{from}...{to}",
        "https://git/{recipe}/compare/{from}...{to}",
        "https://git/{recipe}/compare/{from}...{to}{to!r}",
        "k: only {recipe}, {from} and {to} placeholders are allowed (got ['{to!r}'])",
    ),
    (
        values.CommitUrlTemplate,
        "https://git/cc-ci/src/commit/{commit}/{path}",
        "https://git/cc-ci/src/commit/{commit}/{path}",
        "https://git/cc-ci/src/branch/main/{path}",
        "k: expected a URL template containing {commit}",
    ),
    (
        values.CommitUrlTemplate,
        "https://git/cc-ci/commit/{commit}",
        "https://git/cc-ci/commit/{commit}",
        "https://git/cc-ci/commit/{commit}/{recipe}",
        "k: only {commit} and {path} placeholders are allowed (got ['recipe'])",
    ),
]


def _name(kind: Any) -> str:
    return next((name for name, value in vars(values).items() if value is kind), getattr(kind, "__name__", "?"))


@pytest.mark.parametrize(
    ("kind", "good", "typed", "bad", "message"),
    GOOD_AND_BAD,
    ids=[f"{_name(case[0])}-{i}" for i, case in enumerate(GOOD_AND_BAD)],
)
def test_each_kind_accepts_a_good_value_and_names_the_problem_with_a_bad_one(
    kind: Any, good: Any, typed: Any, bad: Any, message: str
) -> None:
    assert convert(good, kind, "k") == typed
    with pytest.raises(ConfigError) as info:
        convert(bad, kind, "k")
    assert message in str(info.value)


def _kind(declared: Any) -> Any:
    """A key's kind of value: its declared type without its description, nor ``| None``."""
    base, *rules = get_args(declared)
    rules = [m for m in rules if not (isinstance(m, Meta) and m.description)]
    kind = Annotated[(base, *rules)] if rules else base
    return next((t for t in get_args(kind) if t is not type(None)), kind) if type(None) in get_args(kind) else kind


def test_every_kind_a_key_uses_is_in_the_table() -> None:
    tested = {case[0] for case in GOOD_AND_BAD}
    used = {_kind(key.type) for key in configdoc.all_keys()}
    assert used - tested == set(), [_name(kind) for kind in used - tested]


def test_a_bad_value_is_named_by_its_full_key_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"web": {"auth": {"basic_password_env": "bad-name"}}})
    assert str(info.value) == "web.auth.basic_password_env: expected an environment variable name, got 'bad-name'"


def test_unknown_keys_are_refused_with_the_allowed_list() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"docker": {"base": "unix:///x"}})
    assert str(info.value) == "docker.base: unknown key (allowed: allowed_stacks, base_url)"
    with pytest.raises(ConfigError) as info:
        parse_config({"webb": {}})
    assert str(info.value).startswith("webb: unknown key (allowed: access, ccci, data_dir, docker, evidence,")


def test_cross_key_rules_and_special_values() -> None:
    with pytest.raises(ConfigError, match=r"^web\.auth\.basic_user: required with web\.auth\.basic_password_env$"):
        parse_config({"web": {"auth": {"basic_password_env": "PW"}}})
    assert parse_config({"docker": {"base_url": None}}).docker.base_url is None  # null: no Docker checks
    assert parse_config({"docker": {}}).docker.base_url == "unix:///var/run/docker.sock"
    assert parse_config({"ccci": {"recipes_dir": None}}).ccci.recipes_dir is None  # null elsewhere: the default
    assert parse_config({"ccci": None}).ccci == Config().ccci  # an empty section: the defaults
    with pytest.raises(ConfigError, match=r"^the file: expected a mapping, got list"):
        parse_config(["ccci"])
    with pytest.raises(ConfigError, match=r"^web\.auth\.bearer_token: secrets are not read from the file; set "):
        parse_config({"web": {"auth": {"bearer_token": "x"}}})


# --- the example file and docs/configuration.md's table come from the declarations------------------------------


def test_the_config_table_and_example_are_generated_from_the_declarations() -> None:
    stale = configdoc.drifted()
    assert stale == [], f"{[p.name for p in stale]} out of date with bot/config/; run: {configdoc.FIX}"


def test_the_example_shows_every_default_or_a_marked_example() -> None:
    example = load_config(EXAMPLE)
    for key in configdoc.all_keys():
        value: Any = example
        for part in key.path.split("."):
            value = getattr(value, part)
        if key.example is None:
            assert value == key.default, key.path
        else:
            assert value == convert(key.example, key.type, key.path) != key.default, key.path
    text = EXAMPLE.read_text()
    assert "  # Default: none. Example:" not in text  # the note ends a sentence of the key's own description
    assert text.count("Example:") == sum(1 for key in configdoc.all_keys() if key.example is not None)


def test_the_readmes_minimal_config_is_valid_and_enough_to_run() -> None:
    readme = (EXAMPLE.parent / "README.md").read_text()
    section = readme[readme.index("## Configuration") : readme.index("## Commands")]
    blocks = re.findall(r"^```yaml\n(.*?)^```", section, re.S | re.M)
    assert len(blocks) == 1, "the README's Configuration section should show one YAML file"
    config = parse_config(yaml.safe_load(blocks[0]))
    required = [key for key in configdoc.all_keys() if "Required for `ccci-bot run`" in key.doc]
    assert {key.path for key in required} >= {"matrix.homeserver", "matrix.user_id", "matrix.rooms"}
    for key in required:
        value: Any = config
        for part in key.path.split("."):
            value = getattr(value, part)
        assert value, f"{key.path} is required to run and missing from the README's minimal config"
    assert config.matrix.access_token_env or config.matrix.password_env


def test_the_generator_refuses_a_page_without_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        configdoc.page_with_table("# no table here\n")


def test_the_table_links_from_docs_and_the_example_from_the_root() -> None:
    """A description links ``docs/knowledge-base.md`` as the example file shows it; the table sits in docs/."""
    linking = [key for key in configdoc.all_keys() if "](docs/" in key.doc]
    assert linking, "no description links into docs/ any more: this test checks nothing"
    table = configdoc.config_table()
    assert "](docs/" not in table
    assert "[format](knowledge-base.md)" in table


# --- hardening: what YAML allows but a config never needs -------------------------------------------


def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + f"\nccci: {{runs_dir: *l{levels - 1}}}\n"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_bomb(), "more than 100000 values once YAML aliases are expanded (an alias bomb?)"),
        ("a: &a [*a]\n", "a value contains itself through a YAML alias"),
        ("ccci:\n  runs_dir: /a\n  runs_dir: /b\n", "line 3, column 3: duplicate key 'runs_dir'"),
        ("ccci: {settle_s: .nan}\n", "line 1, column 18: expected a finite number, got '.nan'"),
        ("reports:\n  poll_s: .inf\n", "line 2, column 11: expected a finite number, got '.inf'"),
        ("reports: {quiet_s: -.Inf}\n", "expected a finite number, got '-.Inf'"),
        ("x: " + "[" * 40 + "]" * 40 + "\n", "nested deeper than 32 levels"),
        ("ccci: {runs_dir: [1\n", "not valid YAML"),
        ("ccci:\n\truns_dir: /x\n", "not valid YAML"),
    ],
    ids=["alias-bomb", "recursive", "duplicate", "nan", "inf", "-inf", "deep", "broken", "tab"],
)
def test_hostile_yaml_is_refused_with_a_clear_error(tmp_path: Path, document: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(document)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_anchors_and_merge_keys_still_work() -> None:
    data = parse_yaml(
        "matrix: {rooms: &rooms ['#ops:x.org']}\n"
        "reports: {rooms: *rooms}\n"
        "base: &base {a: 1, b: 2}\n"
        "merged: {<<: *base, b: 3}\n"
    )
    assert data["reports"]["rooms"] == ["#ops:x.org"]
    assert data["merged"] == {"a": 1, "b": 3}
    # Merges of merges stay as small as their distinct keys (PyYAML's own flattening doubles per level).
    chain = ["m0: &m0 {k0: 0}", *(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: {i}}}" for i in range(1, 40))]
    assert parse_yaml("\n".join(chain))["m39"] == {f"k{i}": i for i in range(40)}


def test_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(ConfigError, match=r"larger than 256 KiB; a config is a few KiB, refused unread"):
        load_config(path)
    just_under = tmp_path / "ok.yaml"
    just_under.write_bytes(b"data_dir: /tmp/x\n" + b"#" * (MAX_BYTES - 18) + b"\n")
    assert just_under.stat().st_size == MAX_BYTES
    assert load_config(just_under).data_dir == Path("/tmp/x")


def test_non_utf8_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("ccci:\n  log_name: café.log\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: not UTF-8 text (byte 0xe9 at offset 21); save it as UTF-8"
    bom = tmp_path / "bom.yaml"
    bom.write_bytes("\ufeffccci:\n  log_name: café.log\n".encode())
    assert load_config(bom).ccci.log_name == "café.log"


def test_an_unreadable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read \(Is a directory\)"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match=r"cannot read \(No such file or directory\)"):
        load_config(tmp_path / "nope.yaml")


def test_an_empty_or_unset_secret_variable_is_an_error() -> None:
    assert secret_from_env(None, "k", {}) is None
    assert secret_from_env("S", "k", {"S": "x"}) == "x"
    with pytest.raises(ConfigError, match=r"^reports\.webhook_secret_env: environment variable S is empty$"):
        secret_from_env("S", "reports.webhook_secret_env", {"S": ""})
    with pytest.raises(ConfigError, match=r"^k: environment variable S is not set$"):
        secret_from_env("S", "k", {})
    config = parse_config(
        {
            "matrix": {"access_token_env": "TOKEN", "password_env": "PASSWORD"},
            "reports": {"webhook_secret_env": "HOOK"},
            "web": {"auth": {"bearer_token_env": "WEB", "basic_user": "ops", "basic_password_env": "WEBPW"}},
        }
    )
    assert config.secret_problems({"TOKEN": "t", "PASSWORD": "", "HOOK": "h", "WEB": "w"}) == [
        "matrix.password_env: environment variable PASSWORD is empty",
        "web.auth.basic_password_env: environment variable WEBPW is not set",
    ]
    assert config.secret_problems({"TOKEN": "t", "PASSWORD": "p", "HOOK": "h", "WEB": "w", "WEBPW": "x"}) == []


def test_the_webhook_never_runs_with_an_empty_key() -> None:
    with pytest.raises(ValueError, match="non-empty secret"):
        hook_routes("", lambda: None)


def test_run_refuses_an_empty_webhook_secret_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCCI_TEST_TOKEN", "t")
    monkeypatch.setenv("CCCI_TEST_HOOK", "")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"ccci: {{runs_dir: {tmp_path}}}\n"
        f"data_dir: {tmp_path / 'state'}\n"
        "matrix: {homeserver: 'http://127.0.0.1:9', user_id: '@bot:x.org', access_token_env: CCCI_TEST_TOKEN,"
        " rooms: ['#ops:x.org']}\n"
        "reports: {webhook_secret_env: CCCI_TEST_HOOK}\n"
        "web: {listen: '127.0.0.1:0'}\n"
    )
    assert main(["--config", str(path), "run"]) == 2
    assert "reports.webhook_secret_env: environment variable CCCI_TEST_HOOK is empty" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # refused before anything started


def test_check_config_on_non_utf8_exits_2_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"ccci:\n  log_name: caf\xe9.log\n")
    cli = Path(sys.executable).parent / "ccci-bot"
    done = subprocess.run([str(cli), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr == f"ccci-bot: {path}: not UTF-8 text (byte 0xe9 at offset 21); save it as UTF-8\n"
    assert done.stdout == ""


@pytest.mark.parametrize("argv", [["summary", "--no-ingest"], ["why", "x"], ["web"], ["run"], ["ingest"]])
def test_every_command_maps_a_bad_config_file_to_exit_2(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("data_dir: /a\ndata_dir: /b\n")
    assert main(["--config", str(path), *argv]) == 2
    assert f"ccci-bot: {path}: line 2, column 1: duplicate key 'data_dir'" in capsys.readouterr().err


# --- property: whatever the bytes, only ConfigError escapes -------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "~", "/x", "{run_id}", "{recipe", "0 7 * * *", "@a:b", "#r:s", "127.0.0.1:1", "UTC"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _section_strategy(cls: type[Section]) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for key in configdoc.keys(cls):
        optional[key.name] = _section_strategy(key.section) | _VALUES if key.section else _VALUES
    return st.fixed_dictionaries({}, optional=optional)


_DOCUMENTS = _section_strategy(Config) | _VALUES
_YAMLISH = st.text(alphabet=st.sampled_from([*"{}[]:,-&*!|>'\"#%@`? \n\tab01._~<=+", "é", "\0"]), max_size=80)


def _only_config_errors(load: Callable[[], Any]) -> None:
    with contextlib.suppress(ConfigError):
        load()


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS)
def test_any_document_gives_a_config_or_a_config_error(document: Any) -> None:
    _only_config_errors(lambda: parse_config(document))


@settings(max_examples=examples(300), deadline=None)
@given(_DOCUMENTS)
def test_any_dumped_document_reads_back_or_gives_a_config_error(document: Any) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    _only_config_errors(lambda: parse_config(parse_document(text.encode())))


@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(_YAMLISH.map(str.encode), st.binary(max_size=80)))
@example(b"0b_")  # YAML 1.1 resolves it as a binary int, which int() then refuses with a ValueError
@example(b"x: 0x_")
def test_any_bytes_give_data_or_a_config_error(raw: bytes) -> None:
    _only_config_errors(lambda: parse_config(parse_document(raw)))

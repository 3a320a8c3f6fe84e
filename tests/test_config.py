from pathlib import Path

import pytest

from bot.cli import main
from bot.config import DEFAULT_RUNS_DIR, Config, ConfigError, load_config, parse_config


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


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ccci": {"runs_dir": 3}}, "ccci.runs_dir: expected a path, got int 3"),
        ({"ccci": {"log_name": "a/b"}}, "ccci.log_name: expected a file name without '/'"),
        ({"ccci": {"settle_s": -1}}, "ccci.settle_s: expected a number of seconds >= 0"),
        ({"ccci": {"runz_dir": "/x"}}, "ccci.runz_dir: unknown key"),
        ({"links": {"base_url": "https://x/{path}"}}, "links.base_url: expected a URL template containing {run_id}"),
        ({"links": {"base_url": "https://x/{run_id}/{oops}"}}, "links.base_url: only {run_id} and {path}"),
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


def test_example_config_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "config.example.yaml"
    config = load_config(example)
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

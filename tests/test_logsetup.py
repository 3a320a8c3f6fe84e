"""Logs under journald (no own timestamps, <N> priority prefixes), as JSON lines, and at the configured
level: the formatter alone, and `ccci-bot run` as a process whose stderr is the "journal stream"."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, LoggingConfig, parse_config
from bot.logsetup import LogFormat, setup_logging, under_journald
from demo.devserver.synapse import free_port


def journal_stream(path: Path) -> str:
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}"


@pytest.fixture
def restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_journald_lines_carry_priority_and_no_timestamp(tmp_path: Path, restore_root_logger: object) -> None:
    out = tmp_path / "stderr"
    with out.open("w") as stream:
        assert under_journald(stream, {"JOURNAL_STREAM": journal_stream(out)})
        setup_logging(logging.DEBUG, LogFormat.TEXT, stream, {"JOURNAL_STREAM": journal_stream(out)})
        log = logging.getLogger("ccci.test")
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    lines = out.read_text().splitlines()
    assert lines[:4] == ["<7>ccci.test: d", "<6>ccci.test: i", "<4>ccci.test: w", "<3>ccci.test: e"]
    assert lines[4] == "<3>ccci.test: failed"
    assert all(line.startswith("<3>") for line in lines[4:])  # traceback lines keep the priority
    assert "<3>ValueError: boom" in lines


def test_another_stream_is_not_the_journal(tmp_path: Path, restore_root_logger: object) -> None:
    out, other = tmp_path / "stderr", tmp_path / "other"
    other.write_text("")
    with out.open("w") as stream:
        assert not under_journald(stream, {"JOURNAL_STREAM": journal_stream(other)})  # inherited, not ours
        setup_logging(logging.INFO, LogFormat.TEXT, stream, {"JOURNAL_STREAM": journal_stream(other)})
        logging.getLogger("ccci.test").warning("w")
    line = out.read_text().strip()
    assert line.endswith(" WARNING ccci.test: w")
    assert line[:4].isdigit()  # a timestamp of our own outside the journal


def test_json_lines(tmp_path: Path, restore_root_logger: object) -> None:
    out = tmp_path / "stderr"
    with out.open("w") as stream:
        setup_logging(logging.INFO, LogFormat.JSON, stream, {"JOURNAL_STREAM": journal_stream(out)})
        logging.getLogger("ccci.test").info("hello %s", "there")
        logging.getLogger("ccci.test").debug("not at info")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 1
    assert records[0]["level"] == "info"
    assert records[0]["logger"] == "ccci.test"
    assert records[0]["message"] == "hello there"
    assert records[0]["ts"].endswith("Z")


def test_logging_config_keys() -> None:
    assert parse_config({}).logging == LoggingConfig("info", LogFormat.TEXT)
    assert parse_config({"logging": {"level": "DEBUG", "format": "json"}}).logging == LoggingConfig(
        "debug", LogFormat.JSON
    )
    with pytest.raises(ConfigError, match=r"logging.format: expected one of text, json, got 'xml'"):
        parse_config({"logging": {"format": "xml"}})
    with pytest.raises(ConfigError, match=r"logging.level: expected one of debug, info"):
        parse_config({"logging": {"level": "loud"}})


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_run_logs_for_the_journal(tmp_path: Path, fmt: str) -> None:
    """`ccci-bot run` against a homeserver that is down: its retry warning, formatted for where it goes."""
    (tmp_path / "runs").mkdir()
    config = {
        "ccci": {"runs_dir": str(tmp_path / "runs")},
        "data_dir": str(tmp_path / "state"),
        "matrix": {
            "homeserver": f"http://127.0.0.1:{free_port()}",
            "user_id": "@bot:localhost",
            "password_env": "CCCI_TEST_PW",
            "rooms": ["#ops:localhost"],
            "backoff_min_s": 30,
        },
        "docker": {"base_url": None},
        "logging": {"format": fmt},
    }
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(config))
    err = tmp_path / "stderr"
    err.write_text("")
    env = {**os.environ, "CCCI_TEST_PW": "x", "JOURNAL_STREAM": journal_stream(err)}
    with err.open("a") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(tmp_path / "bot.yaml")],
            stderr=handle,
            stdout=subprocess.DEVNULL,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while "unreachable" not in err.read_text():
            assert proc.poll() is None, err.read_text()
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    assert code == 0
    lines = [line for line in err.read_text().splitlines() if "unreachable" in line]
    if fmt == "text":
        assert lines[0].startswith("<4>bot.runtime.bot: homeserver http://127.0.0.1:")
    else:
        record = json.loads(lines[0])
        assert record["level"] == "warning"
        assert record["logger"] == "bot.runtime.bot"

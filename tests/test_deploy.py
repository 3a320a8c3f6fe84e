"""The deploy files: the systemd unit passes `systemd-analyze verify` with ExecStart pointed at this
venv's console script; the host config's rerun steps render to a systemd-run argv whose options this
systemd-run knows and whose unit properties are real directives; the NixOS files parse.

systemd-run itself cannot start a unit here (PID 1 is not systemd in this sandbox), so the transient
rerun is checked as far as its argv and properties, not run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "ccci-bot.service"
CONSOLE_SCRIPT = Path(sys.executable).parent / "ccci-bot"


def needs(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (scripts/test.sh installs it best effort)")
    return path


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_unit_verifies(tmp_path: Path) -> None:
    analyze = needs("systemd-analyze")
    assert CONSOLE_SCRIPT.exists(), "install the project into this venv (pip install -e '.[test]')"
    text = UNIT.read_text()
    assert "ExecStart=/opt/ccci-bot/bin/ccci-bot run" in text
    unit = tmp_path / "ccci-bot.service"
    unit.write_text(text.replace("/opt/ccci-bot/bin/ccci-bot", str(CONSOLE_SCRIPT)))
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # unknown keys and bad values are only warned about


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above has teeth: a missing executable fails, an unknown directive warns."""
    analyze = needs("systemd-analyze")
    unit = tmp_path / "ccci-bot.service"
    unit.write_text(UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0  # /opt/ccci-bot/bin/ccci-bot does not exist here
    assert "Unknown key" in proc.stderr and "NoNewPrivilege" in proc.stderr


def test_unit_has_what_the_issue_asks() -> None:
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["WatchdogSec"] == ["60s"]
    assert d["Restart"] == ["on-failure"]
    assert d["User"] == ["ccci-bot"]
    assert d["StateDirectory"] == ["ccci-bot"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert d[key] == ["yes"], key
    assert d["ProtectSystem"] == ["strict"]
    assert d["ReadOnlyPaths"] == ["-/var/lib/cc-ci-runs -/var/lib/ci-warm -/run/cc-ci-active"]
    assert d["EnvironmentFile"] == ["/etc/ccci-bot/env"]
    config = load_config(DEPLOY / "config.yaml")
    assert d["ExecStart"] == ["/opt/ccci-bot/bin/ccci-bot run --config /etc/ccci-bot/config.yaml"]
    assert str(config.data_dir) == "/var/lib/ccci-bot"  # = StateDirectory
    assert d["TimeoutStopSec"] == ["15s"]  # the bot stops within 10 s (tests/test_sdnotify.py)


def test_the_open_files_limit_leaves_the_web_server_all_its_connections() -> None:
    """Issue 25: 1,100 stalled connections exhausted systemd's default 1,024 files. The unit and the
    NixOS module raise the limit so that web.max_connections fits beside what the bot keeps for itself."""
    from bot.config import WebConfig
    from bot.fdlimit import FD_RESERVE

    (limit,) = directives(UNIT.read_text())["LimitNOFILE"]
    assert int(limit) - FD_RESERVE >= 4 * WebConfig().max_connections
    assert f"LimitNOFILE = {limit};" in (DEPLOY / "nixos" / "module.nix").read_text()


def rendered_steps() -> list[list[str]]:
    config = load_config(DEPLOY / "config.yaml")
    values = {"recipe": "mumble", "version": "1.0.0+v1.6.870-0", "run_id": "manual-ccci-7-1"}
    return [[arg.format(**values) for arg in step] for step in config.runner.steps]


def test_reruns_render_as_transient_units() -> None:
    steps = rendered_steps()
    assert steps == [
        [
            "systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--unit=ccci-rerun-manual-ccci-7-1-checkout",
            "--property=RuntimeMaxSec=600", "--property=BindsTo=ccci-bot.service",
            "--property=After=ccci-bot.service", "--working-directory=/srv/cc-ci", "--",
            "abra", "recipe", "checkout", "mumble", "1.0.0+v1.6.870-0",
        ],
        [
            "systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--unit=ccci-rerun-manual-ccci-7-1-run",
            "--property=RuntimeMaxSec=3600", "--property=BindsTo=ccci-bot.service",
            "--property=After=ccci-bot.service", "--working-directory=/srv/cc-ci", "--setenv=RECIPE=mumble",
            "--setenv=CCCI_SKIP_FETCH=1", "--", "cc-ci-run", "runner/run_recipe_ci.py",
        ],
    ]  # fmt: skip
    config = load_config(DEPLOY / "config.yaml")
    assert config.runner.timeout_s > 3600  # systemd's RuntimeMaxSec acts before the bot's own deadline


def test_systemd_run_knows_the_options_and_the_properties_are_directives(tmp_path: Path) -> None:
    run = needs("systemd-run")
    analyze = needs("systemd-analyze")
    help_text = subprocess.run([run, "--help"], capture_output=True, text=True, timeout=60).stdout
    properties = []
    for step in rendered_steps():
        options = step[1 : step.index("--")]
        for option in options:
            name = option.split("=", 1)[0]
            assert re.search(rf"(^|\s){re.escape(name)}[\s=\[]", help_text), f"systemd-run has no {name}"
            if name == "--property":
                properties.append(option.split("=", 1)[1])
            if name == "--unit":
                assert re.fullmatch(r"[A-Za-z0-9:_.\\-]+", option.split("=", 1)[1])
    # The same properties in a unit file: systemd-analyze warns about any key it does not know.
    unit = tmp_path / "ccci-rerun-probe.service"
    service = [p for p in properties if not p.startswith(("BindsTo=", "After="))]
    unit_lines = [p for p in properties if p.startswith(("BindsTo=", "After="))]
    unit.write_text(
        "[Unit]\n" + "\n".join(unit_lines) + "\n[Service]\n" + "\n".join(service) + f"\nExecStart={sys.executable}\n"
    )
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert "Unknown key" not in proc.stderr, proc.stderr
    assert "Failed to parse" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["package.nix", "module.nix"])
def test_nix_files_parse(name: str) -> None:
    nix = needs("nix-instantiate")
    proc = subprocess.run([nix, "--parse", str(DEPLOY / "nixos" / name)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_nixos_module_matches_the_unit() -> None:
    """The module renders the same notify/watchdog and hardening settings as the unit file."""
    module = (DEPLOY / "nixos" / "module.nix").read_text()
    unit = directives(UNIT.read_text())
    for key in ("Type", "NotifyAccess", "WatchdogSec", "Restart", "ProtectSystem", "ProtectProc", "UMask"):
        assert f'{key} = "{unit[key][0]}";' in module, key
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID"):
        assert unit[key] == ["yes"]
        assert f"{key} = true;" in module, key
    for option in ("enable", "settings", "environmentFile", "package"):
        assert re.search(rf"^    {option} = lib\.mk", module, re.M), option

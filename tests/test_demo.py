import subprocess
import sys
from pathlib import Path


def test_demo_command_runs_the_main_job_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "== ccci-bot summary" in text and "== ccci-bot why discourse" in text and "== ccci-bot why mumble" in text
    assert "bitnamilegacy/discourse" in text  # discourse's real failing assertion, from pytest's JUnit
    assert "canonical" in text
    assert (out / "state" / "ccci-bot.sqlite3").is_file()
    # A second run replaces its own output instead of refusing or mixing old and new data.
    again = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr


def test_demo_never_deletes_a_dir_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(precious)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert (precious / "notes.txt").read_text() == "keep me"

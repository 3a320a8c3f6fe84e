import re
import subprocess
import sys
from pathlib import Path

import pytest

# A log record as bot/logsetup.py writes it (TEXT_FORMAT): "2026-… 01:26:42,959 ERROR bot.x: …".
ERROR_RECORD = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) [\w.]+: .*$", re.MULTILINE)


def synapse_processes(workdir: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-af", "synapse.app.homeserver"], capture_output=True, text=True, check=False)
    return [line for line in found.stdout.splitlines() if str(workdir) in line]


@pytest.mark.synapse
@pytest.mark.slow
def test_demo_command_runs_the_main_job_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert (
        "== ccci-bot report sweep" in text and "== ccci-bot why discourse" in text and "== ccci-bot why mumble" in text
    )
    # the sample's last sweep: its reds by what they need, each in a few words
    assert "\nNeed a look: bluesky (red 2 sweeps): upstream-defect" in text and "outline (new): unknown" in text
    assert "\nNo action: gitea (infra: the next sweep tests it again); mumble (flake, settled by" in text
    assert "bitnamilegacy/discourse" in text  # discourse's real failing assertion, from pytest's JUnit
    assert "canonical" in text
    assert (out / "state" / "ccci-bot.sqlite3").is_file()
    # The chat part: a local Synapse, the bot and a scripted operator; the transcript is printed.
    for question in ("!ccci help", "!ccci why outline", "!ccci status"):
        assert f"<@operator:localhost> {question}" in text
    # unasked: the sweep summary, its details in the thread, the verdict its automatic rerun settled
    assert "<@ccci-bot:localhost> Sweep sweep-" in text
    assert "<@ccci-bot:localhost> Verdict update for sweep-" in text
    assert "outline: unknown (nothing decides it yet) → unknown (reproduced alone)" in text
    # gitea's sweep run lost its Docker daemon (tested nothing): rerun at once, it passes alone — infra, settled
    assert "gitea: infra (the run's own record) → infra (settled by isolation reruns)" in text
    # Before that sweep the operator links bluesky's red to its issue; bluesky fails the same way in the
    # sweep, so the summary lists it as known (by its issue), after what needs a look.
    link = "!ccci link bluesky https://git.coopcloud.tech/coop-cloud/bluesky-pds/issues/12 image withdrawn upstream"
    before_sweep, summary = text.split("<@ccci-bot:localhost> Sweep sweep-", 1)
    assert f"<@operator:localhost> {link}" in before_sweep
    assert (
        "<@ccci-bot:localhost> Linked bluesky's current failure (install/test_stack_converges: AssertionError: "
        "tasks rejected: {'app': 'manifest for <host> not found" in before_sweep
    )
    assert "to https://git.coopcloud.tech/coop-cloud/bluesky-pds/issues/12 — image withdrawn upstream." in before_sweep
    headline = summary.split("\n\n", 1)[0]
    # the counts name the same groups as the lines below them
    assert "6 red: 2 need a look, 2 rerunning, 1 known, 0 muted, 1 no action" in headline
    assert (
        "\n    Known: bluesky: https://git.coopcloud.tech/coop-cloud/bluesky-pds/issues/12 — image withdrawn upstream\n"
        in (headline + "\n")
    )
    need_look = re.search(r"^    Need a look: (.*)$", headline, re.MULTILINE)
    assert need_look is not None and "bluesky" not in need_look.group(1) and "discourse" in need_look.group(1)
    assert headline.index("    Need a look: ") < headline.index("    Known: ")
    # The operator reruns discourse (a red that needs a look) while the stand-in runner plays cc-ci: the room
    # shows its status message as posted when the rerun starts (the tier running, the time so far, who asked,
    # the live log page), the same message as last edited, then the report compared with the sweep.
    rerun = text.split("<@operator:localhost> !ccci rerun discourse\n", 1)[1].split("<@operator:localhost> ", 1)[0]
    assert re.search(r"^<@ccci-bot:localhost> Queued: isolation rerun of discourse \S+", rerun, re.M)
    live = re.search(
        r"^<@ccci-bot:localhost> Isolation rerun of discourse (\S+): running, now install; 0 s so far; "
        r"asked by @operator:localhost — live log: (http://127\.0\.0\.1:\d+/reruns/manual-[\w.-]+/log)$",
        rerun,
        re.M,
    )
    assert live is not None, rerun
    version, live_log = map(re.escape, live.groups())
    edited = re.search(
        rf"^<@ccci-bot:localhost> \(edited\) Isolation rerun of discourse {version}: "
        rf"ended after (\d+ min \d\d s|\d+ s) \(done: install[^)]*\); asked by @operator:localhost — log: {live_log}$",
        rerun,
        re.M,
    )
    report = re.search(rf"^<@ccci-bot:localhost> Isolation rerun of discourse {version}: 0 of 1 green\.$", rerun, re.M)
    assert edited is not None and report is not None, rerun
    assert live.start() < edited.start() < report.start()
    assert re.search(
        rf"^    Compared with sweep run \d+ of {version}: red \(upgrade/test_head_runs_official_image_not_bitnamilegacy"
        r".*\) → 0 of 1 green alone\.$",
        rerun,
        re.M,
    )
    assert text.count("<@ccci-bot:localhost> ") == 12
    assert "verdict: flake" in text
    assert "(end-to-end encrypted)" in text and "events in the room were all end-to-end encrypted" in text
    # The showcase shows a cross-signed device: the bot made its keys with the password it was given,
    # `!ccci status` says so, and the operator's client checks the signatures (not-cross-signed stays
    # tested in tests/test_cross_signing_start.py and tests/test_e2ee_matrix.py).
    status = text.split("<@operator:localhost> !ccci status", 1)[1]
    assert re.search(r"E2EE on, device \w+ cross-signed \(new cross-signing keys made and uploaded\)", status)
    assert re.search(r"== the bot's device \w+ is cross-signed: its account's master key signed", text)
    assert "not cross-signed" not in text
    assert ERROR_RECORD.findall(proc.stderr + text) == []
    assert "nothing is left running" in text
    assert synapse_processes(out) == []
    # A second run replaces its own output instead of refusing or mixing old and new data.
    again = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(out), "--no-chat"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "<@operator:localhost>" not in again.stdout


def test_demo_never_deletes_a_dir_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(precious)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert (precious / "notes.txt").read_text() == "keep me"

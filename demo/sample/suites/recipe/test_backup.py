"""Backup tier: backupbot knows what to back up and a snapshot holds it."""


def test_backup_labels_present(stack):
    assert stack.backup_services(), "no service has the label backupbot.backup=true"


def test_backup_creates_snapshot(stack):
    for volume in stack.backed_up_volumes():
        stack.files[volume]["ci-probe.txt"] = f"probe of {volume}"
    snapshot = stack.backup()
    assert sorted(snapshot.files) == sorted(stack.backed_up_volumes())

"""Restore tier: files written before a backup come back after a restore."""


def test_restore_roundtrip_volume_files(stack):
    volume = stack.backed_up_volumes()[0]
    stack.files[volume]["ci-restore-probe.txt"] = "written before backup"
    snapshot = stack.backup()
    del stack.files[volume]["ci-restore-probe.txt"]
    stack.restore(snapshot)
    assert stack.files[volume].get("ci-restore-probe.txt") == "written before backup"

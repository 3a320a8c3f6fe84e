"""A tier step that waits without a timeout for something that never happens: only the caller's timeout ends it."""

import threading


def test_backup_job_finishes(live):
    print(f"waiting for the backup job of {live.name} to report completion", flush=True)
    threading.Event().wait()  # nothing ever sets it

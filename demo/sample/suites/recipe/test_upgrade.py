"""Upgrade tier: the previous release deploys and the stack moves to the tested version."""

import os

import pytest


def test_upgrade_from_previous_release(stack, previous_release):
    if previous_release is None:
        pytest.skip(f"{os.environ['VERSION']} is the first release: nothing to upgrade from")
    tag, images = previous_release
    assert stack.pull_errors(images) == {}, f"cannot deploy {tag} before upgrading"
    assert stack.update_status == "completed"


def test_version_label_matches_release(stack):
    assert stack.version_label == os.environ["VERSION"]

"""What the operators know, as the store keeps it: links, hand verdicts, mutes, lapses and the audit
trail, each change with its audit row in one transaction, all of it still there after a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.model.knowledge import AuditAction, Fingerprint, KnowledgeKind
from bot.model.records import Category
from bot.store import Store
from tests import rawdb

A = Fingerprint("install", "test_login", "assert <n> == <n>")
B = Fingerprint("upgrade", "test_version", "expected <host> got <hex>")


def test_a_fingerprint_key_is_stable_short_and_tells_the_three_parts_apart() -> None:
    assert A.key == Fingerprint("install", "test_login", "assert <n> == <n>").key
    assert len(A.key) == 24
    assert A.key != B.key
    assert Fingerprint("a", "bc", "").key != Fingerprint("ab", "c", "").key  # parts are separated
    assert A.shape == "install/test_login: assert <n> == <n>"
    assert Fingerprint("", "", "").shape == "red without a failing test"


def test_link_unlink_verdict_mute_unmute_survive_a_restart_with_their_audit_trail(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.knowledge.link("mumble", A, "https://git.example/mumble/issues/7", "waits for upstream", "@op:x", "r1", 100.0)
    store.knowledge.link("mumble", A, "https://git.example/mumble/issues/7", "note changed", "@op:x", "r1", 101.0)
    store.knowledge.link("mumble", B, "https://git.example/mumble/issues/9", "", "alice", "r2", 102.0)
    store.knowledge.set_verdict("mumble", A, Category.STALE_TEST, "the test pins 1.4", "@op:x", "r1", 103.0)
    store.knowledge.set_verdict("mumble", A, Category.UPSTREAM_DEFECT, "image gone", "bob", "r1", 104.0)
    store.knowledge.mute("mumble", A, 1000.0, "known", "@op:x", "r1", 105.0)
    store.close()

    store = Store(tmp_path / "db.sqlite3")
    known = store.knowledge.of("mumble")
    assert [(link.url, link.note) for link in known.links] == [
        ("https://git.example/mumble/issues/7", "note changed"),
        ("https://git.example/mumble/issues/9", ""),
    ]
    assert [link.url for link in known.links_for(A.key)] == ["https://git.example/mumble/issues/7"]
    verdict = known.verdict_for(A.key)
    assert verdict is not None and verdict.category is Category.UPSTREAM_DEFECT and verdict.by == "bob"
    assert known.verdict_for(B.key) is None
    assert known.mute is not None and known.mute.until == 1000.0 and known.mute.fingerprint == A.key
    assert known.mute.active(999.0) and not known.mute.active(1000.0)

    gone = store.knowledge.unlink("mumble", "https://git.example/mumble/issues/9", "alice", 106.0)
    assert [link.url for link in gone] == ["https://git.example/mumble/issues/9"]
    lifted = store.knowledge.unmute("mumble", "alice", 107.0)
    assert lifted is not None and lifted.reason == "known"
    assert store.knowledge.unmute("mumble", "alice", 108.0) is None  # nothing to lift: nothing recorded
    assert store.knowledge.unlink("mumble", "https://nowhere.example/1", "alice", 108.0) == []

    trail = store.knowledge.audit("mumble")
    assert [e.action for e in trail] == [
        AuditAction.UNMUTE,
        AuditAction.UNLINK,
        AuditAction.MUTE,
        AuditAction.VERDICT,
        AuditAction.VERDICT,
        AuditAction.LINK,
        AuditAction.LINK,
        AuditAction.LINK,
    ]
    replaced = trail[3]
    assert replaced.by == "bob" and replaced.detail["before"] == "stale-test"
    assert replaced.detail["before_by"] == "@op:x"
    assert store.knowledge.audit("gitea") == []
    assert set(store.knowledge.everything()) == {"mumble"}
    store.close()


def test_a_failed_change_leaves_neither_the_change_nor_its_audit_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    rawdb.refuse_writes(store)
    with pytest.raises(sqlite3.Error):
        store.knowledge.link("mumble", A, "https://git.example/1", "", "@op:x", None, 1.0)
    rawdb.refuse_writes(store, False)
    assert rawdb.rows(store, "SELECT COUNT(*) FROM known_links") == [(0,)]
    assert rawdb.rows(store, "SELECT COUNT(*) FROM knowledge_audit") == [(0,)]
    store.close()


def test_a_lapse_is_recorded_once_and_told_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    found = [(KnowledgeKind.LINK, "mumble", A.key, B.key, B.shape, "r9")]
    first = store.knowledge.record_lapses(found, 200.0)
    again = store.knowledge.record_lapses(found, 300.0)
    assert [lapse.kind for lapse in first] == [KnowledgeKind.LINK] and again == []
    assert [lapse.run_id for lapse in store.knowledge.lapses(untold=True)] == ["r9"]
    store.knowledge.mark_told([first[0].id], 400.0)
    assert store.knowledge.lapses(untold=True) == []
    assert store.knowledge.lapses("mumble")[0].told_at == 400.0
    store.knowledge.mark_told([first[0].id], 500.0)  # told once: the first telling stays
    assert store.knowledge.lapses("mumble")[0].told_at == 400.0
    assert [e.action for e in store.knowledge.audit("mumble")] == [AuditAction.LAPSE]
    store.close()

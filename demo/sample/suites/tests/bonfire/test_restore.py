"""cc-ci overlay: a restore brings back database state written before the backup."""


def test_restore_returns_state(stack):
    db = stack.database()
    db.execute("CREATE TABLE ci_marker (note text)")
    db.execute("INSERT INTO ci_marker VALUES ('seeded before backup')")
    snapshot = stack.backup()
    db.execute("DROP TABLE ci_marker")
    stack.restore(snapshot)
    assert db.execute("SELECT note FROM ci_marker") == [("seeded before backup",)]

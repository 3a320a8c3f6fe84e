"""cc-ci overlay: exporting a seeded collection completes."""

SEEDED_COLLECTION_BYTES = 2_400_000


def test_collection_export_completes(stack):
    assert stack.export_collection(SEEDED_COLLECTION_BYTES) == "complete"

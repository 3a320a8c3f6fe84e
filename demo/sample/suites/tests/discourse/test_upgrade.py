"""cc-ci overlay: the head of the bitnamilegacy -> official image migration PR.

These check that the upgraded head runs upstream's official image without sidekiq.
"""

HEAD_IMAGE = "discourse/discourse:3.5.3"


def test_head_runs_official_image_not_bitnamilegacy(stack):
    assert stack.image("app") == HEAD_IMAGE


def test_sidekiq_service_dropped_by_head(stack):
    assert stack.service_names == ["app", "db", "redis"]

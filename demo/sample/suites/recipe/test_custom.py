"""Custom tier: the recipe's configuration is complete."""

import pytest


def test_env_sample_covers_compose_vars(stack):
    missing = sorted(stack.compose_vars() - set(stack.env_sample))
    assert not missing, f"compose.yml uses variables missing from .env.sample: {missing}"


def test_smtp_settings_documented(stack):
    smtp = {key for key in stack.env_sample if key.startswith("SMTP_")}
    if not smtp:
        pytest.skip("recipe sends no mail")
    assert smtp >= {"SMTP_HOST", "SMTP_PORT", "SMTP_FROM"}

"""Install tier: the stack converges and the app answers."""

import pytest


def test_stack_converges(stack):
    assert stack.update_status == "completed", f"tasks rejected: {stack.pull_errors()}"


def test_all_services_running(stack):
    assert stack.replicas() == dict.fromkeys(stack.service_names, "1/1")


def test_app_serves_http(stack):
    if stack.web_service() is None:
        pytest.skip("recipe has no web service")
    status, reason = stack.http_get("/")
    assert status == 200, reason

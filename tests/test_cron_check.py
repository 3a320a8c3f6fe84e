"""Config checks plain crontab lines without APScheduler; what it lets through APScheduler must accept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config.cron import CronError, _plainly_valid, check_cron, parse_cron
from tests.examples import examples

part = st.one_of(
    st.just("*"),
    st.integers(0, 70).map(str),
    st.tuples(st.integers(0, 70), st.integers(0, 70)).map(lambda ab: f"{ab[0]}-{ab[1]}"),
    st.tuples(st.integers(0, 70), st.integers(0, 70), st.integers(0, 70)).map(lambda t: f"{t[0]}-{t[1]}/{t[2]}"),
    st.integers(0, 70).map(lambda n: f"*/{n}"),
)
field = st.lists(part, min_size=1, max_size=3).map(",".join)
line = st.lists(field, min_size=5, max_size=6).map(" ".join)


@settings(max_examples=examples(600), deadline=None)
@given(line)
def test_a_line_passed_without_apscheduler_is_one_apscheduler_schedules(expr: str) -> None:
    if _plainly_valid(expr):
        parse_cron(expr, "UTC")  # raises CronError if the cheap check let a bad line through


def test_the_default_and_common_lines_need_no_apscheduler_and_bad_ones_still_fail() -> None:
    for good in ("0 7 * * *", "*/5 * * * *", "0 9 * * 1-5", "30 6 1,15 * *", "0 0 7 * * *"):
        assert _plainly_valid(good)
    check_cron("0 7 * * mon-fri")  # names: decided by APScheduler, and accepted
    for bad in ("61 * * * *", "0 7 * *", "0 7 * * funday", "*/0 * * * *"):
        try:
            check_cron(bad)
        except CronError:
            continue
        raise AssertionError(f"{bad!r} was accepted")

"""The cron expression parser and the scheduler, on their own (no app)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from core.cron import CronSyntaxError, Schedule, Scheduler


@pytest.mark.parametrize(
    ("expression", "due", "not_due"),
    [
        ("* * * * *", "2025-01-15 10:07", None),
        ("0 * * * *", "2025-01-15 10:00", "2025-01-15 10:01"),
        ("@hourly", "2025-01-15 10:00", "2025-01-15 10:30"),
        ("@daily", "2025-01-16 00:00", "2025-01-16 01:00"),
        ("@midnight", "2025-01-16 00:00", "2025-01-16 00:01"),
        ("@weekly", "2025-01-19 00:00", "2025-01-20 00:00"),  # the 19th is a Sunday
        ("@monthly", "2025-02-01 00:00", "2025-02-02 00:00"),
        ("@yearly", "2025-01-01 00:00", "2025-02-01 00:00"),
        ("@annually", "2026-01-01 00:00", "2026-01-01 00:01"),
        ("0 */6 * * *", "2025-01-15 18:00", "2025-01-15 19:00"),
        ("5-10/5 1,3 * * 1-5", "2025-01-15 03:10", "2025-01-15 03:07"),
        ("30 12 15 1 3", "2025-01-15 12:30", "2025-01-16 12:30"),
    ],
)
def test_schedule_is_due(expression: str, due: str, not_due: str | None) -> None:
    schedule = Schedule.parse(expression)
    assert schedule.is_due(datetime.strptime(due, "%Y-%m-%d %H:%M").replace(tzinfo=UTC))
    if not_due:
        assert not schedule.is_due(datetime.strptime(not_due, "%Y-%m-%d %H:%M").replace(tzinfo=UTC))


def test_macros_expand_in_the_expression() -> None:
    assert Schedule.parse("@hourly").expression == "0 * * * *"
    assert Schedule.parse("*/5 * * * *").expression == "*/5 * * * *"


# the raw messages the 0.40.6 binary gives (as `backups.cron` validation errors, sentence-cased)
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "* * * *",
            "invalid cron expression - must be a valid macro or to have exactly 5 space separated segments",
        ),
        (
            "0  * * * *",
            "invalid cron expression - must be a valid macro or to have exactly 5 space separated segments",
        ),
        (
            "@every 5m",
            "invalid cron expression - must be a valid macro or to have exactly 5 space separated segments",
        ),
        ("60 * * * *", "invalid segment value - must be between the min and max of the segment"),
        ("* * * * 7", "invalid segment value - must be between the min and max of the segment"),
        ("*/0 * * * *", "invalid segment step boundary - the step must be between 1 and the 59"),
        (
            "1/2 * * * *",
            "invalid segment step - step > 1 could be used only with the wildcard or range format",
        ),
        ("5-1 * * * *", "invalid segment range maximum - must be between 5 and 59"),
        ("* 30-31 * * *", "invalid segment range minimum - must be between 0 and 23"),
        ("a * * * *", 'strconv.Atoi: parsing "a": invalid syntax'),
        ("1-2-3 * * * *", "invalid segment range format - the range must have 1 or 2 parts"),
        ("*/1/2 * * * *", "invalid segment step format - must be in the format */n or 1-30/n"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(CronSyntaxError) as err:
        Schedule.parse(expression)
    assert str(err.value) == message


def test_scheduler_registry_order_and_replace() -> None:
    s = Scheduler()
    s.add("__pbB__", "0 * * * *", lambda: None)
    s.add("zeta", "* * * * *", lambda: None)
    s.add("__pbA__", "0 0 * * *", lambda: None)
    s.add("alpha", "* * * * *", lambda: None)
    assert [j.id for j in s.jobs()] == ["alpha", "zeta", "__pbB__", "__pbA__"]
    s.add("__pbB__", "@daily", lambda: None)  # replaced, moves to the end
    assert [j.to_json() for j in s.jobs()][-1] == {"id": "__pbB__", "expression": "0 0 * * *"}
    s.remove("zeta")
    assert s.find("zeta") is None
    with pytest.raises(CronSyntaxError):
        s.add("bad", "nope", lambda: None)


async def test_scheduler_runs_due_jobs_in_threads() -> None:
    ran: list[str] = []
    main = threading.get_ident()

    def job(name: str) -> None:
        assert threading.get_ident() != main  # never on the event loop
        ran.append(name)

    def broken() -> None:
        raise RuntimeError("boom")

    s = Scheduler()
    s.add("hourly", "0 * * * *", lambda: job("hourly"))
    s.add("every", "* * * * *", lambda: job("every"))
    s.add("broken", "* * * * *", broken)
    s.run_due(datetime(2025, 1, 15, 10, 7, tzinfo=UTC))
    await s.wait_idle()
    assert ran == ["every"]  # a failing job does not stop the others
    s.run_due(datetime(2025, 1, 15, 11, 0, tzinfo=UTC))
    await asyncio.to_thread(s.join, 5)
    assert sorted(ran) == ["every", "every", "hourly"]
    s.start()
    await s.stop()

"""Rate limits and cooldowns shared by worker processes: two tables on one file stand for two
processes (each maps the file itself)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.app import App
from core.auth import shared_limits
from core.auth.ratelimit import RateLimiters
from core.auth.shared_limits import SharedCooldowns, SharedRateLimiters, SharedTable
from core.config import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tables(tmp_path: Path, clock: Clock) -> Iterator[tuple[SharedTable, SharedTable]]:
    a, b = SharedTable(tmp_path / "limits", clock), SharedTable(tmp_path / "limits", clock)
    yield a, b
    a.close()
    b.close()


def test_a_window_is_counted_across_processes(tables: tuple[SharedTable, SharedTable], clock: Clock) -> None:
    first, second = SharedRateLimiters(tables[0]), SharedRateLimiters(tables[1])
    allowed = [lim.allow("users:auth", "10.0.0.1", 3, 10) for lim in (first, second, first, second)]
    assert allowed == [True, True, True, False]
    assert first.allow("users:auth", "10.0.0.2", 3, 10)  # another client has its own window
    clock.now += 10
    assert second.allow("users:auth", "10.0.0.1", 3, 10)  # the window refilled


def test_same_answers_as_the_in_process_limiter(
    tables: tuple[SharedTable, SharedTable], clock: Clock
) -> None:
    shared, local = SharedRateLimiters(tables[0]), RateLimiters(clock)
    for step in range(40):
        clock.now += 0.7
        assert shared.allow("x", "ip", 4, 3) == local.allow("x", "ip", 4, 3), step


def test_cooldowns_are_shared(tables: tuple[SharedTable, SharedTable], clock: Clock) -> None:
    first, second = SharedCooldowns(tables[0]), SharedCooldowns(tables[1])
    assert not second.active("reset:user1")
    first.start("reset:user1", 120)
    assert second.active("reset:user1")
    second.clear("reset:user1")
    assert not first.active("reset:user1")
    first.start("verify:user1", 120)
    clock.now += 121
    assert not second.active("verify:user1")


def test_a_full_table_forgets_the_oldest_windows(
    tables: tuple[SharedTable, SharedTable], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_limits, "PROBE", 4)
    table = tables[0]
    table.clear()
    limiter = SharedRateLimiters(table)
    for i in range(shared_limits.SLOTS + 500):  # more clients than slots: every call still answers
        clock.now += 0.001
        assert limiter.allow("flood", f"client-{i}", 1, 60)
    assert limiter.allow("flood", "newcomer", 1, 60)


def test_workers_share_limits_and_the_leader_forgets_old_counters(tmp_path: Path) -> None:
    leader = App(Settings(data_dir=tmp_path, workers=2, worker=0))
    follower = App(Settings(data_dir=tmp_path, workers=2, worker=1))
    assert leader.auth.limiters.allow("@pb_otp_x", "", 1, 60)
    assert not follower.auth.limiters.allow("@pb_otp_x", "", 1, 60)
    restarted = App(Settings(data_dir=tmp_path, workers=2, worker=0))
    assert restarted.auth.limiters.allow("@pb_otp_x", "", 1, 60)
    single = App(Settings(data_dir=tmp_path))
    assert isinstance(single.auth.limiters, RateLimiters)

"""One `core serve` per fuzz module, with the fuzz schema built and seeded over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz import checks
from tests.fuzz.schema import Fixture, build
from tests.servers import start_core


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    with start_core(tmp_path_factory.mktemp("fuzz") / "data") as server:
        fixture = build(server)
        try:
            yield fixture
        finally:
            fixture.superuser.close()
            fixture.http.close()
        # a 5xx may be logged and answered fine; a crash would not be: the server must still live
        assert server.is_running(), server.log_tail()


@pytest.fixture
def raising(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks raise even in a CORE_FUZZ_COLLECT run: for the tests of the harness itself."""
    monkeypatch.setattr(checks, "COLLECT", "")

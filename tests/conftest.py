from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.app import App
from core.config import Settings
from tests import fixture_data


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixture")
    fixture_data.build(root / "pocketbase")
    return root


@contextlib.contextmanager
def fixture_app(fixture_dir: Path, data: Path) -> Iterator[App]:
    """An App on a fresh copy of the fixture data set (each scenario starts from it)."""
    shutil.copytree(fixture_dir, data)
    core = App(Settings(data_dir=data))
    core.open()
    try:
        yield core
    finally:
        core.close()


@pytest.fixture
def app(fixture_dir: Path, tmp_path: Path) -> Iterator[App]:
    with fixture_app(fixture_dir, tmp_path / "data") as core:
        yield core


@pytest.fixture
def tokens(app: App) -> dict[str, str]:
    out: dict[str, str] = {}
    su = app.store.find("_superusers")
    users = app.store.find("users")
    assert su is not None and users is not None

    def first(col: Any, where: str, arg: str) -> dict[str, Any]:
        from core.store.record_view import fetch_dicts

        def q(conn: Any) -> dict[str, Any]:
            return fetch_dicts(conn, f"SELECT * FROM `{col.name}` WHERE {where} = ?", (arg,))[0]

        return app.store.db.read_sync(q)

    out["superuser"] = app.auth.issue(su, first(su, "email", fixture_data.SUPERUSER[0]))
    out["user1"] = app.auth.issue(users, first(users, "id", fixture_data.USER1_ID))
    out["user2"] = app.auth.issue(users, first(users, "id", fixture_data.USER2_ID))
    return out


@pytest.fixture
async def client(app: App) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=build_asgi(app)) as c:
        yield c

"""The Cluster page: absent without --ha; on a real one-node `core serve --ha` in Chromium, the
node with its region and the applied sequence the JSON API's X-Core-Seq reports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.admin.conftest import new_context, shot, sign_in
from tests.admin.test_session import sign_in as sign_in_client
from tests.servers import ServerProcess, start_core, superuser_client


async def test_no_cluster_without_ha(client: AsyncTestClient[Any]) -> None:
    await sign_in_client(client)
    home = await client.get("/_/")
    assert 'id="nav-superusers"' in home.text and 'id="nav-cluster"' not in home.text
    page = await client.get("/_/cluster")
    assert page.status_code == 404 and "does not run with --ha" in page.text


@pytest.fixture(scope="module")
def ha_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("admin-ha") / "data"
    server = start_core(data, extra_args=["--ha", "--name", "n0", "--region", "iad"], health_timeout=90)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_cluster_page(browser: Any, ha_server: ServerProcess) -> None:
    from playwright.sync_api import expect

    api = superuser_client(ha_server)
    created = api.post(
        "/api/collections/users/records",
        json={"email": "ha@example.com", "password": "ha-password-1", "passwordConfirm": "ha-password-1"},
    )
    assert created.status_code == 200, created.text
    seq = int(created.headers["x-core-seq"])
    api.close()
    ctx, problems = new_context(browser, ha_server.url)
    try:
        page = ctx.new_page()
        sign_in(page)
        page.click("#nav-cluster")
        row = page.locator("#node-n0")
        expect(row).to_contain_text("iad")
        expect(page.locator("#cluster-stream")).to_contain_text(f"n0: applied {seq}")
        # the node's own report (published every couple of seconds) catches up to the same entry
        deadline = time.monotonic() + 30
        while row.locator("td").nth(3).inner_text() != str(seq):
            assert time.monotonic() < deadline, row.inner_text()
            page.click("#cluster-refresh")
            page.wait_for_timeout(200)
        expect(row.locator("td").nth(4)).to_have_text("0")
        shot(page, "cluster")
    finally:
        ctx.close()
    assert not problems.items, "\n".join(problems.items)

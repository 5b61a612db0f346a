"""`_authOrigins` and the "Login from a new location" mail."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from core.app import App
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.auth.conftest import Mailbox

U = "/api/collections/users"
USER1, USER1_PASSWORD = fixture_data.USER1
LOGIN = {"identity": USER1, "password": USER1_PASSWORD}


async def _login(client: Any, agent: str) -> int:
    resp = await client.post(U + "/auth-with-password", json=LOGIN, headers={"User-Agent": agent})
    return int(resp.status_code)


async def _origins(app: App) -> list[dict[str, Any]]:
    return await app.store.db.read(
        lambda conn: fetch_dicts(
            conn, "SELECT * FROM _authOrigins WHERE recordRef = ?", (fixture_data.USER1_ID,)
        )
    )


async def test_alert_only_for_a_new_origin(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    assert await _login(auth_client, "agent-A") == 200  # first login: recorded, no mail
    await mailbox.quiet(0.1)
    (first,) = await _origins(app)
    assert first["collectionRef"] == "_pb_users_auth_"

    assert await _login(auth_client, "agent-A") == 200  # known origin: no mail
    await mailbox.quiet(0.1)

    assert await _login(auth_client, "agent-B <b>") == 200  # new origin: mailed during the request
    assert mailbox.count() == 1
    mail = await mailbox.next(timeout=0)
    assert mail.subject == "Login from a new location" and mail.recipients == [USER1]
    # "<date> - <ip> <user agent>"
    found = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z - (\S+) agent-B <b>", mail.text)
    assert found, mail.text
    ip = found.group(1)  # the test client's address
    assert first["fingerprint"] == hashlib.md5(f"{ip}agent-A".encode()).hexdigest()
    assert "agent-B &lt;b&gt;" in mail.html  # the user agent is the caller's text: escaped
    assert len(await _origins(app)) == 2


async def test_at_most_five_origins(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    for i in range(7):
        assert await _login(auth_client, f"agent-{i}") == 200
    assert len(await _origins(app)) == 5
    assert len(await mailbox.wait(6)) == 6  # every login after the first was new


async def test_disabled_alert_records_nothing(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await app.store.update_collection("users", {"authAlert": {"enabled": False}})
    assert await _login(auth_client, "a") == 200
    assert await _login(auth_client, "b") == 200
    await mailbox.quiet(0.1)
    assert await _origins(app) == []


async def test_failed_alert_does_not_fail_the_login(auth_client: Any, app: App) -> None:
    from tests.servers import free_port

    assert await _login(auth_client, "a") == 200
    await app.store.update_settings({"smtp": {"port": free_port()}})
    assert await _login(auth_client, "b") == 200
    assert len(await _origins(app)) == 1  # the new origin stays unknown: the next login alerts again


async def test_password_change_forgets_the_origins(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    assert await _login(auth_client, "a") == 200
    users = app.store.find("users")
    assert users is not None
    body = {"password": USER1_PASSWORD, "passwordConfirm": USER1_PASSWORD}
    await app.store.update_record(users, fixture_data.USER1_ID, body, app.auth.system_context())
    assert await _origins(app) == []
    assert await _login(auth_client, "b") == 200  # a first login again: no mail
    await mailbox.quiet(0.1)


async def test_refresh_and_impersonation_do_not_alert(
    auth_client: Any, app: App, tokens: dict[str, str], mailbox: Mailbox
) -> None:
    assert await _login(auth_client, "a") == 200
    headers = {"Authorization": tokens["user1"], "User-Agent": "other"}
    assert (await auth_client.post(U + "/auth-refresh", headers=headers)).status_code == 200
    su = {"Authorization": tokens["superuser"], "User-Agent": "other"}
    resp = await auth_client.post(U + f"/impersonate/{fixture_data.USER1_ID}", headers=su, json={})
    assert resp.status_code == 200
    await mailbox.quiet(0.1)
    assert len(await _origins(app)) == 1

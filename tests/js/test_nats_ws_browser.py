"""nats.ws in Chromium: a page signs in to core, trades its auth token for a NATS JWT and uses
its own subjects over the websocket listener; another user's subject is refused. (Expiry and
the full refusal list run in Node: test_nats_ws.py.)"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port, start_core, superuser_client
from tests.ui.test_browser import browser  # noqa: F401 - the fixture that launches Chromium

JS_DIR = Path(__file__).resolve().parent
NATS_WS_ESM = JS_DIR / "node_modules" / "nats.ws" / "esm"

pytestmark = [pytest.mark.js, pytest.mark.slow]

PAGE_SCRIPT = """
async ({ pbUrl, wsUrl, email, password, otherId }) => {
    const { connect, jwtAuthenticator, StringCodec } = await import('/nats.js');
    const post = async (path, body, token) => {
        const headers = { 'Content-Type': 'application/json' };
        if (token) headers.Authorization = token;
        const resp = await fetch(pbUrl + path, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
        return await resp.json();
    };
    const auth = await post('/api/collections/users/auth-with-password', { identity: email, password });
    const token = await post('/api/nats/token', {}, auth.token);
    const nc = await connect({
        servers: wsUrl,
        authenticator: jwtAuthenticator(token.jwt, new TextEncoder().encode(token.seed)),
        reconnect: false,
    });
    const sc = StringCodec();
    const own = `app.users.${auth.record.id}.inbox`;
    const sub = nc.subscribe(own, { max: 1 });
    await nc.flush();
    nc.publish(own, sc.encode('from the browser'));
    let received = null;
    for await (const m of sub) received = sc.decode(m.data);
    let refused = null;
    try {
        for await (const _m of nc.subscribe(`app.users.${otherId}.inbox`)) break;
    } catch (err) {
        refused = String(err?.message ?? err);
    }
    await nc.close();
    return { received, refused };
}
"""


@pytest.fixture
def static_server() -> Iterator[str]:
    """The nats.ws ES module bundle, served on loopback for the page to import."""
    if not (NATS_WS_ESM / "nats.js").exists():
        pytest.fail("tests/js/node_modules/nats.ws is missing: run `npm ci` in tests/js")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(NATS_WS_ESM))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_browser_uses_its_own_subjects(browser: Any, static_server: str, node: str, tmp_path: Path) -> None:  # noqa: F811
    ws_port = free_port()
    args = [
        "--nats-port", str(free_port()),
        "--nats-leaf-port", str(free_port()),
        "--nats-monitor-port", "0",
        "--nats-ws-port", str(ws_port),
    ]  # fmt: skip
    with start_core(tmp_path / "data", extra_args=args) as srv:
        admin = superuser_client(srv)
        password = "browser-pass-123"
        ids = []
        for email in ("browser@example.com", "other@example.com"):
            resp = admin.post(
                "/api/collections/users/records",
                json={"email": email, "password": password, "passwordConfirm": password},
            )
            assert resp.status_code == 200, resp.text
            ids.append(resp.json()["id"])
        resp = admin.put(
            "/api/nats/permissions/users",
            json={"publish": ["app.users.{{id}}.>"], "subscribe": ["app.users.{{id}}.>"]},
        )
        assert resp.status_code == 200, resp.text
        page = browser.new_page()
        try:
            page.goto(static_server + "/")
            result = page.evaluate(
                PAGE_SCRIPT,
                {
                    "pbUrl": srv.url,
                    "wsUrl": f"ws://127.0.0.1:{ws_port}",
                    "email": "browser@example.com",
                    "password": password,
                    "otherId": ids[1],
                },
            )
        finally:
            page.close()
            admin.close()
    assert result["received"] == "from the browser", result
    assert result["refused"] and "permissions violation" in result["refused"].lower(), result

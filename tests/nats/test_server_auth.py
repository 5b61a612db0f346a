"""A real nats-server in operator mode: creds from `core nats creds` work, everything else is refused."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from core.nats import cli, creds, jwt, nkey
from core.nats.auth import AuthStore
from tests.nats.conftest import StartNode, run_cli


async def connect(url: str, creds_file: Path | None = None) -> Client:
    kwargs = {"user_credentials": str(creds_file)} if creds_file else {}
    return await nats.connect(
        url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=0, **kwargs
    )


async def assert_rejected(url: str, creds_file: Path | None) -> None:
    with pytest.raises(Exception) as caught:  # noqa: B017 - nats-py raises various types for auth errors
        nc = await connect(url, creds_file)
        await nc.close()
    assert "authorization violation" in str(caught.value).lower()


def issue(data_dir: Path, out: Path, *argv: str) -> Path:
    assert cli.main(["creds", "--dir", str(data_dir), "-o", str(out), *argv]) == 0
    return out


async def test_creds_from_the_cli_publish_subscribe_and_use_jetstream(
    start_node: StartNode, tmp_path: Path
) -> None:
    node = await start_node(tmp_path)
    user = issue(tmp_path, tmp_path / "alice.creds", "alice")
    assert (user.stat().st_mode & 0o777) == 0o600
    nc = await connect(node.client_url, user)
    try:
        sub = await nc.subscribe("greet.*")
        await nc.publish("greet.bob", b"hi")
        assert (await sub.next_msg(timeout=2)).data == b"hi"
        js = nc.jetstream()
        await js.add_stream(name="orders", subjects=["orders.>"])
        acks = [await js.publish("orders.new", f"{i}".encode()) for i in range(5)]
        assert [a.seq for a in acks] == [1, 2, 3, 4, 5] and acks[0].stream == "orders"
        # another user of the app account sees the same stream; core's own connection, in its
        # internal account, does not
        other = await connect(node.client_url, issue(tmp_path, tmp_path / "bob.creds", "bob"))
        try:
            assert (await other.jetstream().stream_info("orders")).state.messages == 5
        finally:
            await other.close()
        with pytest.raises(nats.js.errors.NotFoundError):
            await node.js.stream_info("orders")
    finally:
        await nc.close()


async def test_pub_sub_permissions_are_enforced(start_node: StartNode, tmp_path: Path) -> None:
    node = await start_node(tmp_path)
    user = issue(
        tmp_path, tmp_path / "narrow.creds", "narrow", "--pub", "in.>", "--sub", "out.>", "--expires", "1h"
    )
    claims = jwt.decode(creds.parse(user.read_text()).jwt)
    assert abs(claims["exp"] - (time.time() + 3600)) < 60
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(
        node.client_url, user_credentials=str(user), error_cb=on_error, allow_reconnect=False
    )
    try:
        await nc.subscribe("secret.>")
        await nc.publish("in.ok", b"x")
        await nc.flush()
        await asyncio.sleep(0.2)
        assert any("permissions violation" in str(e).lower() for e in errors)
    finally:
        await nc.close()


async def test_strangers_are_rejected(start_node: StartNode, tmp_path: Path) -> None:
    node = await start_node(tmp_path)
    url = node.client_url
    bundle = AuthStore(tmp_path / "nats-auth").load()
    app = bundle.accounts["app"]

    # 1. no creds at all
    # 2. a user signed by an account the operator never signed
    # 3. a user whose JWT expired
    # 4. a user whose JWT was edited after signing (here: permissions widened)
    stranger = tmp_path / "stranger.creds"
    stranger.write_text(creds.issue(nkey.new_seed("account"), "eve").text())
    expired = tmp_path / "expired.creds"
    expired.write_text(creds.issue(app.seed, "old", expires_in=60, now=int(time.time()) - 3600).text())
    honest = creds.issue(app.seed, "mallory", pub_allow=["public.>"])
    head, payload, sig = honest.jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["nats"]["pub"] = {}
    forged = ".".join([head, jwt._b64(json.dumps(claims).encode()), sig])
    tampered = tmp_path / "tampered.creds"
    tampered.write_text(creds.Creds(forged, honest.seed).text())

    await asyncio.gather(*(assert_rejected(url, c) for c in (None, stranger, expired, tampered)))
    # and the honest version of the tampered one does connect
    (tmp_path / "honest.creds").write_text(honest.text())
    nc = await connect(url, tmp_path / "honest.creds")
    await nc.close()


async def test_account_add_pushes_to_the_running_server(start_node: StartNode, tmp_path: Path) -> None:
    node = await start_node(tmp_path)
    port = node.settings.port
    result = await asyncio.to_thread(
        run_cli, "account", "add", "tenant1", "--dir", str(tmp_path), "--nats-port", str(port)
    )
    assert result.returncode == 0, result.stderr
    assert "pushed to 1 server(s)" in result.stdout
    user = issue(tmp_path, tmp_path / "t1.creds", "t1user", "--account", "tenant1")
    nc = await connect(node.client_url, user)
    try:
        js = nc.jetstream()
        await js.add_stream(name="t1", subjects=["t1.>"])
        assert (await js.publish("t1.x", b"1")).seq == 1
        # accounts are isolated: an app user does not see tenant1's stream
        app_user = await connect(node.client_url, issue(tmp_path, tmp_path / "a.creds", "a"))
        try:
            with pytest.raises(nats.js.errors.NotFoundError):
                await app_user.jetstream().stream_info("t1")
        finally:
            await app_user.close()
    finally:
        await nc.close()


async def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    cases = [
        (["creds", "x", "--dir", str(empty)], "--dir: no NATS auth in"),
        (["auth", "export", "--dir", str(empty)], "--dir: no NATS auth in"),
        (["auth", "import", "--dir", str(empty)], "FILE: give a bundle file"),
    ]
    results = await asyncio.gather(*(asyncio.to_thread(run_cli, *argv) for argv, _ in cases))
    for (_, expected), result in zip(cases, results, strict=True):
        assert result.returncode == 2
        assert result.stderr.startswith(f"core: error: {expected}") and result.stderr.count("\n") == 1


async def test_creds_work_with_the_nats_js_client(start_node: StartNode, tmp_path: Path) -> None:
    import shutil
    import subprocess

    script = Path(__file__).with_name("creds_nats_js.mjs")
    node_modules = Path(__file__).parents[1] / "js" / "node_modules" / "nats"
    assert shutil.which("node"), "node is required (see .ci/run)"
    assert node_modules.is_dir(), "run `npm ci` in tests/js (scripts/test does)"
    node = await start_node(tmp_path)
    user = issue(tmp_path, tmp_path / "js.creds", "jsuser")
    proc = await asyncio.create_subprocess_exec(
        "node", str(script), node.client_url, str(user), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result == {"received": "hi from nats.js", "stream": "jsorders", "seq": 1}


def test_auth_init_creates_the_bundle_without_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["auth", "init", "--dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert "created" in first and "app" in first
    assert cli.main(["auth", "init", "--dir", str(tmp_path)]) == 0
    again = capsys.readouterr().out
    assert "exists" in again and again.split()[1] == first.split()[1]
    assert cli.main(["auth", "export", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("corenats1.")

"""The flags of this feature: the websocket listener in the rendered config (nats-server accepts
it), the token lifetime and the log stream's limits, with errors that name the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.nats import auth, topology
from core.nats.errors import NatsConfigError
from tests.nats.test_config import make, nats_server_accepts, render


@pytest.fixture(scope="module")
def bundle() -> auth.AuthBundle:
    return auth.create_bundle()


def test_websocket_off_by_default(bundle: auth.AuthBundle, tmp_path: Path) -> None:
    s = make()
    assert s.ws_port == 0
    assert "websocket: {" not in render(topology.plan(s, {}), bundle, tmp_path)


def test_websocket_listener_on_the_nats_host(bundle: auth.AuthBundle, tmp_path: Path) -> None:
    s = make("--nats-host", "0.0.0.0", "--nats-ws-port", "4280")
    text = render(topology.plan(s, {}), bundle, tmp_path, ws_port=s.ws_port)
    assert 'websocket: {\n  listen: "0.0.0.0:4280"\n  no_tls: true\n}' in text
    nats_server_accepts(text, tmp_path)


def test_env_and_defaults() -> None:
    s = make(env={"NATS_WS_PORT": "4281", "NATS_TOKEN_TTL": "5m", "CORE_LOGS_STREAM_MAX_AGE": "12h"})
    assert (s.ws_port, s.token_ttl, s.logs_max_age, s.logs_max_bytes) == (4281, 300, 12 * 3600, 1 << 30)
    assert make("--logs-stream-max-bytes", "512MiB").logs_max_bytes == 512 << 20
    assert make("--logs-stream-max-bytes", "0").logs_max_bytes == 0
    assert make().token_ttl == 15 * 60 and make().logs_max_age == 7 * 86400


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--nats-ws-port", "http"], "--nats-ws-port"),
        (["--nats-token-ttl", "soon"], "--nats-token-ttl"),
        (["--logs-stream-max-age", "0s"], "--logs-stream-max-age"),
        (["--logs-stream-max-bytes", "lots"], "--logs-stream-max-bytes"),
    ],
)
def test_bad_values_name_their_flag(argv: list[str], names: str) -> None:
    with pytest.raises(NatsConfigError, match=names):
        make(*argv)


def test_websocket_needs_the_embedded_server() -> None:
    with pytest.raises(NatsConfigError, match="--nats-ws-port: core starts no nats-server with --nats-url"):
        make("--nats-ws-port", "4280", "--nats-url", "nats://127.0.0.1:4222")


def test_websocket_variable_is_left_to_the_leader() -> None:
    # a --workers follower joins its leader with --nats-url and inherits the environment
    s = make("--nats-url", "nats://127.0.0.1:4222", env={"NATS_WS_PORT": "4280"})
    assert s.url and s.ws_port == 4280

"""The nats-auth dir: created once, reused, 0600/0700, exported and imported as one bundle."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from core.nats import auth, cli, creds, jwt
from core.nats.errors import NatsConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_then_reuses(tmp_path: Path) -> None:
    store = auth.AuthStore(tmp_path / "nats-auth")
    bundle = store.load_or_create()
    assert set(bundle.accounts) == {"SYS", "app"}
    op = jwt.decode(bundle.operator_jwt, kind="operator")
    assert op["nats"]["system_account"] == bundle.system_account.public_key
    assert len(op["nats"]["signing_keys"]) == 1
    app = jwt.decode(bundle.accounts["app"].jwt, kind="account")
    assert app["iss"] == op["nats"]["signing_keys"][0]  # accounts are signed by the signing key
    assert app["nats"]["limits"]["disk_storage"] == -1
    service = store.user_creds(bundle.internal_account, auth.SERVICE_CREDS, "core")
    assert mode(store.dir) == 0o700
    assert {p.name: mode(p) for p in store.dir.iterdir()} == {
        "auth.json": 0o600,
        "operator.jwt": 0o600,
        "core.creds": 0o600,
    }
    assert store.load_or_create() == bundle
    assert (
        store.user_creds(bundle.internal_account, auth.SERVICE_CREDS, "core").read_text()
        == service.read_text()
    )


def test_export_import_roundtrip_and_merge(tmp_path: Path) -> None:
    first = auth.AuthStore(tmp_path / "a")
    bundle = first.load_or_create()
    bundle, extra = bundle.with_account("tenant1")
    first.save(bundle)
    text = bundle.export_text()
    assert text.startswith(auth.BUNDLE_PREFIX) and "\n" not in text
    second = auth.AuthStore(tmp_path / "b")
    assert second.load_or_create(text) == bundle
    # auth.json itself is accepted too, as a copied dir would be
    assert auth.AuthBundle.import_text(first.file.read_text(), "file") == bundle
    # same operator: accounts merge
    more, _ = bundle.with_account("tenant2")
    merged = auth.merge(second.load(), more, "test")
    assert set(merged.accounts) == {"SYS", "app", "tenant1", "tenant2"}
    assert merged.accounts["tenant1"] == extra


def test_import_of_another_operator_is_refused(tmp_path: Path) -> None:
    store = auth.AuthStore(tmp_path / "nats-auth")
    store.load_or_create()
    other = auth.create_bundle().export_text()
    with pytest.raises(NatsConfigError, match="^CORE_NATS_AUTH: holds operator"):
        store.load_or_create(other)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (
            lambda d: d | {"operator": d["operator"] | {"seed": auth.create_bundle().operator_seed}},
            "operator seed",
        ),
        (
            lambda d: d | {"accounts": {k: v for k, v in d["accounts"].items() if k != "SYS"}},
            "system account",
        ),
        (lambda d: d | {"cluster_secret": ""}, "route secret"),
        (lambda d: {"operator": d["operator"]}, "missing"),
    ],
)
def test_broken_bundles_are_refused(mangle, message) -> None:  # type: ignore[no-untyped-def]
    data = mangle(auth.create_bundle().to_json())
    with pytest.raises(NatsConfigError, match=message):
        auth.AuthBundle.import_text(json.dumps(data), "bundle")


def test_garbage_bundle(tmp_path: Path) -> None:
    with pytest.raises(NatsConfigError, match="^CORE_NATS_AUTH: not a core NATS auth bundle"):
        auth.AuthStore(tmp_path).load_or_create("corenats1.!!!")


def test_account_from_another_operator_is_refused() -> None:
    bundle = auth.create_bundle()
    stranger = auth.create_bundle().accounts["app"]
    bad = auth.AuthBundle(**{**bundle.__dict__, "accounts": {**bundle.accounts, "x": stranger}})
    with pytest.raises(NatsConfigError, match="signed by another operator"):
        bad.validate("test")


def test_account_names(tmp_path: Path) -> None:
    bundle = auth.create_bundle()
    for bad in ("", "a b", "SYS", "CORE", "x.y", "app"):
        with pytest.raises(NatsConfigError):
            bundle.with_account(bad)
    with pytest.raises(NatsConfigError, match="^--account: no account named 'nope'"):
        bundle.account("nope")


def test_user_creds_are_reminted_when_the_account_changes(tmp_path: Path) -> None:
    store = auth.AuthStore(tmp_path)
    old = auth.create_bundle()
    path = store.user_creds(old.accounts["app"], "x.creds", "core")
    new = auth.create_bundle()
    store.user_creds(new.accounts["app"], "x.creds", "core")
    iss = jwt.decode(creds.parse(path.read_text()).jwt)["iss"]
    assert iss == new.accounts["app"].public_key


def test_cli_export_then_import_from_stdin_env_and_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = auth.AuthStore(tmp_path / "a" / "nats-auth")
    bundle = source.load_or_create()
    assert cli.main(["auth", "export", "--dir", str(tmp_path / "a")]) == 0
    out = capsys.readouterr()
    assert out.out.startswith(auth.BUNDLE_PREFIX) and "keep it secret" in out.err
    text = out.out.strip()

    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert cli.main(["auth", "import", "-", "--dir", str(tmp_path / "b")]) == 0
    monkeypatch.setenv("CORE_NATS_AUTH", text)
    assert cli.main(["auth", "import", "--dir", str(tmp_path / "c")]) == 0
    for name in ("b", "c"):
        assert auth.AuthStore(tmp_path / name / "nats-auth").load() == bundle

    other = tmp_path / "other.txt"
    other.write_text(auth.create_bundle().export_text())
    assert cli.main(["auth", "import", str(other), "--dir", str(tmp_path / "b")]) == 2
    assert "holds operator" in capsys.readouterr().err
    assert cli.main(["auth", "import", str(other), "--dir", str(tmp_path / "b"), "--force"]) == 0
    assert auth.AuthStore(tmp_path / "b" / "nats-auth").load() != bundle


def test_the_internal_account_follows_the_operator_wherever_the_bundle_goes(tmp_path: Path) -> None:
    bundle = auth.create_bundle()
    internal = bundle.internal_account
    assert internal.name == auth.INTERNAL_ACCOUNT and auth.INTERNAL_ACCOUNT not in bundle.accounts
    claims = jwt.decode(internal.jwt, kind="account")
    assert claims["sub"] == internal.public_key
    assert claims["iss"] == jwt.decode(bundle.operator_jwt)["nats"]["signing_keys"][0]
    assert claims["nats"]["limits"]["disk_storage"] == -1  # JetStream on: the --ha changelog lives here
    # the same account, byte for byte, after export/import, a merge, an added account, a reload
    imported = auth.AuthBundle.import_text(bundle.export_text(), "test")
    grown, _ = bundle.with_account("tenant")
    merged = auth.merge(imported, grown, "test")
    store = auth.AuthStore(tmp_path)
    store.save(merged)
    for other in (imported, grown, merged, store.load(), store.load_or_create(bundle.export_text())):
        assert other.internal_account == internal
    assert [a.name for a in merged.server_accounts()] == ["SYS", "app", "tenant", "CORE"]
    # another operator, another internal account; its seed says nothing about the operator's
    assert auth.create_bundle().internal_account.public_key != internal.public_key
    assert internal.seed != bundle.operator_seed and internal.seed.startswith("SA")

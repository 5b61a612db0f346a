"""The operator, its accounts and core's own users, kept in `<data dir>/nats-auth/` (NSC-style).

Layout (directory 0700, every file 0600):
- auth.json: operator seed + signing seed + JWT, every account's seed + JWT, the route secret.
  This is the bundle `core nats auth export` prints and `auth import`/CORE_NATS_AUTH read.
- operator.jwt: what nats-server's `operator:` setting points at.
- *.creds: users core mints for itself (the service user, a system user for claim pushes, leaf
  users). They are not part of the bundle: any node holding the account seeds can mint its own.

Core's own traffic (realtime bus, worker coordination, later the --ha changelog) lives in an
account of its own, CORE, where only core's users exist: NATS accounts are separate subject
spaces, so no user of `app` or of an added account can read or forge it, whatever its
permissions say. CORE is not stored in the bundle: its seed is derived from the operator seed,
so every node holding the operator (an old bundle included, upgraded on each node alone)
arrives at the same account without any exchange.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from core.nats import creds, jwt, nkey
from core.nats.errors import NatsConfigError

AUTH_FILE = "auth.json"
OPERATOR_JWT = "operator.jwt"
SYSTEM_ACCOUNT = "SYS"
APP_ACCOUNT = "app"
BUNDLE_PREFIX = "corenats1."
INTERNAL_ACCOUNT = "CORE"
SERVICE_CREDS = "core.creds"
SYSTEM_CREDS = "sys.creds"
INTERNAL_LEAF_CREDS = "core-leaf.creds"  # not leaf-<name>.creds: an old bundle may hold an account "CORE"
# Subjects of core's own traffic. They live in CORE; users issued for other accounts are also
# denied them, so that trying them fails loudly instead of talking to nobody.
INTERNAL_PREFIX = "core."
INTERNAL_SUBJECTS = (f"{INTERNAL_PREFIX}>",)
_INTERNAL_SEED_LABEL = "core/nats internal account v1"
# The internal account's JWT is signed with this fixed iat, so that every node renders the same
# bytes (ed25519 signatures are deterministic). nats-server keeps the account JWT with the newest
# iat: raise this whenever the internal account's claims change.
_INTERNAL_CLAIMS_ISSUED_AT = 1796601600  # 2026-12-07


@dataclass(frozen=True)
class Account:
    name: str
    seed: str
    jwt: str

    @property
    def public_key(self) -> str:
        return nkey.public_key(self.seed)


@dataclass(frozen=True)
class AuthBundle:
    operator_name: str
    operator_seed: str
    operator_signing_seed: str
    operator_jwt: str
    accounts: Mapping[str, Account] = field(default_factory=dict)
    cluster_secret: str = ""

    @property
    def operator_public_key(self) -> str:
        return nkey.public_key(self.operator_seed)

    @property
    def system_account(self) -> Account:
        return self.accounts[SYSTEM_ACCOUNT]

    @cached_property
    def internal_account(self) -> Account:
        """CORE: derived from the operator seed, the same on every node of this operator."""
        seed = nkey.derived_seed(self.operator_seed, _INTERNAL_SEED_LABEL, "account")
        claims = jwt.account_claims(INTERNAL_ACCOUNT, nkey.public_key(seed), jetstream=True)
        token = jwt.encode(claims, self.operator_signing_seed, now=_INTERNAL_CLAIMS_ISSUED_AT)
        return Account(INTERNAL_ACCOUNT, seed, token)

    def server_accounts(self) -> list[Account]:
        """Every account nats-server must know: the bundle's and core's internal one."""
        return [*self.accounts.values(), self.internal_account]

    def account(self, name: str) -> Account:
        """An account that users may be issued for (never the internal one)."""
        if name == INTERNAL_ACCOUNT and name not in self.accounts:
            raise NatsConfigError(
                f"--account: {INTERNAL_ACCOUNT} is core's internal account; no credentials are issued for it"
            )
        if name not in self.accounts:
            known = ", ".join(sorted(self.accounts))
            raise NatsConfigError(f"--account: no account named {name!r} (known: {known})")
        return self.accounts[name]

    def with_account(self, name: str, *, jetstream: bool = True) -> tuple[AuthBundle, Account]:
        """A copy with a new account signed by the operator's signing key."""
        if name in self.accounts:
            raise NatsConfigError(f"account {name!r} exists already")
        if not name or any(c in name for c in " .*>\t\n") or name in (SYSTEM_ACCOUNT, INTERNAL_ACCOUNT):
            raise NatsConfigError(f"NAME: {name!r} is not a valid account name")
        seed = nkey.new_seed("account")
        claims = jwt.account_claims(name, nkey.public_key(seed), jetstream=jetstream)
        account = Account(name, seed, jwt.encode(claims, self.operator_signing_seed))
        return replace(self, accounts={**self.accounts, name: account}), account

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "operator": {
                "name": self.operator_name,
                "seed": self.operator_seed,
                "signing_seed": self.operator_signing_seed,
                "jwt": self.operator_jwt,
            },
            "accounts": {a.name: {"seed": a.seed, "jwt": a.jwt} for a in self.accounts.values()},
            "cluster_secret": self.cluster_secret,
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> AuthBundle:
        try:
            op = data["operator"]
            bundle = cls(
                operator_name=str(op["name"]),
                operator_seed=str(op["seed"]),
                operator_signing_seed=str(op["signing_seed"]),
                operator_jwt=str(op["jwt"]),
                accounts={
                    str(name): Account(str(name), str(a["seed"]), str(a["jwt"]))
                    for name, a in dict(data["accounts"]).items()
                },
                cluster_secret=str(data["cluster_secret"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NatsConfigError(f"{source}: not a core NATS auth bundle (missing {exc})") from None
        bundle.validate(source)
        return bundle

    def validate(self, source: str) -> None:
        """Every seed matches its JWT and every JWT verifies; a broken bundle must never reach the server."""
        try:
            op_claims = jwt.decode(self.operator_jwt, kind="operator")
            if op_claims["sub"] != self.operator_public_key:
                raise ValueError("the operator JWT does not belong to the operator seed")
            signing_pub = nkey.public_key(self.operator_signing_seed)
            if signing_pub not in op_claims["nats"].get("signing_keys", []):
                raise ValueError("the operator signing key is not in the operator JWT")
            for account in self.accounts.values():
                claims = jwt.decode(account.jwt, kind="account")
                if claims["sub"] != account.public_key:
                    raise ValueError(f"account {account.name}: JWT and seed do not match")
                if claims["iss"] not in (self.operator_public_key, signing_pub):
                    raise ValueError(f"account {account.name}: signed by another operator")
            if SYSTEM_ACCOUNT not in self.accounts or op_claims["nats"].get("system_account") != (
                self.system_account.public_key
            ):
                raise ValueError("the system account is missing")
            if not self.cluster_secret:
                raise ValueError("the route secret is missing")
        except (ValueError, KeyError, nkey.NkeyError) as exc:
            raise NatsConfigError(f"{source}: invalid NATS auth bundle: {exc}") from None

    def export_text(self) -> str:
        """One line (for a Fly.io secret): prefix + base64url(zlib(JSON))."""
        raw = json.dumps(self.to_json(), separators=(",", ":")).encode()
        return BUNDLE_PREFIX + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode()

    @classmethod
    def import_text(cls, text: str, source: str) -> AuthBundle:
        body = text.strip()
        try:
            if body.startswith(BUNDLE_PREFIX):
                data = json.loads(zlib.decompress(base64.urlsafe_b64decode(body[len(BUNDLE_PREFIX) :])))
            else:
                data = json.loads(body)  # auth.json itself is accepted too
        except (ValueError, zlib.error, binascii.Error):
            raise NatsConfigError(
                f"{source}: not a core NATS auth bundle (expected {BUNDLE_PREFIX}…)"
            ) from None
        return cls.from_json(data, source)


def create_bundle(operator_name: str = "core") -> AuthBundle:
    """A new operator with a signing key, the system account and the JetStream-enabled `app` account."""
    operator_seed = nkey.new_seed("operator")
    signing_seed = nkey.new_seed("operator")
    system_seed = nkey.new_seed("account")
    system_claims = jwt.account_claims(SYSTEM_ACCOUNT, nkey.public_key(system_seed), jetstream=False)
    system = Account(SYSTEM_ACCOUNT, system_seed, jwt.encode(system_claims, signing_seed))
    op_claims = jwt.operator_claims(
        operator_name,
        nkey.public_key(operator_seed),
        signing_keys=[nkey.public_key(signing_seed)],
        system_account=system.public_key,
    )
    bundle = AuthBundle(
        operator_name=operator_name,
        operator_seed=operator_seed,
        operator_signing_seed=signing_seed,
        operator_jwt=jwt.encode(op_claims, operator_seed),
        accounts={SYSTEM_ACCOUNT: system},
        cluster_secret=secrets.token_urlsafe(32),
    )
    return bundle.with_account(APP_ACCOUNT, jetstream=True)[0]


def merge(local: AuthBundle | None, incoming: AuthBundle, source: str) -> AuthBundle:
    """Accounts from `incoming` join `local`; both must belong to the same operator."""
    if local is None:
        return incoming
    if local.operator_public_key != incoming.operator_public_key:
        raise NatsConfigError(
            f"{source}: holds operator {incoming.operator_public_key[:12]}… but this node has "
            f"{local.operator_public_key[:12]}…; remove the nats-auth dir (or import with --force) to switch"
        )
    accounts = dict(local.accounts)
    for name, account in incoming.accounts.items():
        mine = accounts.get(name)
        if mine is not None and mine.public_key != account.public_key:
            raise NatsConfigError(f"{source}: account {name!r} has another key than on this node")
        accounts[name] = account
    return replace(incoming, accounts=accounts)


class AuthStore:
    """The nats-auth directory of one data dir."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @property
    def file(self) -> Path:
        return self.dir / AUTH_FILE

    @property
    def operator_jwt_path(self) -> Path:
        return self.dir / OPERATOR_JWT

    def exists(self) -> bool:
        return self.file.exists()

    def load(self) -> AuthBundle:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NatsConfigError(
                f"--dir: no NATS auth in {self.dir} (run `core serve` once, or `core nats auth import`)"
            ) from None
        except (OSError, ValueError) as exc:
            raise NatsConfigError(f"--dir: cannot read {self.file}: {exc}") from None
        return AuthBundle.from_json(data, str(self.file))

    def save(self, bundle: AuthBundle) -> None:
        self._make_dir()
        creds.write_secret(self.file, json.dumps(bundle.to_json(), indent=2) + "\n")
        creds.write_secret(self.operator_jwt_path, bundle.operator_jwt + "\n")

    def load_or_create(self, imported: str | None = None, source: str = "CORE_NATS_AUTH") -> AuthBundle:
        """The bundle of this node: created on first start, merged with `imported` when given."""
        local = self.load() if self.exists() else None
        if imported:
            bundle = merge(local, AuthBundle.import_text(imported, source), source)
        else:
            bundle = local or create_bundle()
        if bundle != local:
            self.save(bundle)
        elif not self.operator_jwt_path.exists():
            creds.write_secret(self.operator_jwt_path, bundle.operator_jwt + "\n")
        return bundle

    def user_creds(self, issuer: Account, filename: str, user: str) -> Path:
        """A creds file for one of core's own users, minted once and reused while its account stays."""
        path = self.dir / filename
        try:
            current = creds.parse(path.read_text(encoding="utf-8"))
            if jwt.decode(current.jwt, kind="user")["iss"] == issuer.public_key:
                return path
        except (OSError, ValueError):
            pass
        self._make_dir()
        creds.write_secret(path, creds.issue(issuer.seed, user).text())
        return path

    def _make_dir(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir.chmod(0o700)

"""What the pages show: the signed-in user (`$auth`), the collection's sign-in options, the
settings of an account. Read-only views over the auth service and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.app import App
from core.auth import oauth2
from core.store.record_view import fetch_dicts, serialize
from core.store.request import Auth, RequestContext
from core.store.schema import Collection

# the profile form edits these field types (the others have their own flows or need richer inputs)
PROFILE_TYPES = ("text", "url", "number", "bool", "file", "email")
# never edited through the profile form: each has a flow of its own
PROFILE_EXCLUDED = ("email", "password", "tokenKey", "verified", "id")


@dataclass
class Viewer:
    """Who a page or stream shows: a guest (auth None) or an auth record, as its owner sees it."""

    auth: Auth | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.auth is not None

    @property
    def subject(self) -> tuple[str, str] | None:
        return (self.auth.collection.id, self.auth.id) if self.auth else None

    def signals(self) -> dict[str, Any]:
        """`$auth`: what the page may know. Never the token, a password hash or the tokenKey."""
        r = self.record
        return {
            "auth": {
                "signedIn": self.signed_in,
                "id": str(r.get("id") or ""),
                "collection": self.auth.collection.name if self.auth else "",
                "email": str(r.get("email") or ""),
                "name": str(r.get("name") or "") if isinstance(r.get("name"), str) else "",
                "verified": bool(r.get("verified")),
                "superuser": bool(self.auth and self.auth.is_superuser),
                "impersonated": self.claims.get("refreshable") is False,
            }
        }


async def viewer(app: App, token: str) -> Viewer:
    resolved = await app.auth.resolve(token) if token else None
    if resolved is None:
        return Viewer()
    auth, claims = resolved
    record = serialize(auth.collection, auth.record, RequestContext(auth=auth))
    return Viewer(auth=auth, claims=claims, record=record)


@dataclass
class Provider:
    name: str
    title: str


@dataclass
class Methods:
    """The sign-in options of an auth collection (what the login page offers)."""

    password: bool = False
    identity_label: str = "Email"
    otp: bool = False
    mfa: bool = False
    providers: list[Provider] = field(default_factory=list)


def methods(app: App, col: Collection) -> Methods:
    password = col.auth.get("passwordAuth") or {}
    identity = [str(f) for f in password.get("identityFields") or ["email"]]
    label = " or ".join(name.capitalize() for name in identity) or "Email"
    providers = []
    if oauth2.enabled(col, app.settings.env):
        for cfg in oauth2.configs(col, app.settings.env):
            provider = oauth2.provider(col, app.settings.env, str(cfg["name"]))
            if provider is not None:
                providers.append(Provider(str(cfg["name"]), provider.title or str(cfg["name"])))
    return Methods(
        password=bool(password.get("enabled")),
        identity_label=label,
        otp=bool((col.auth.get("otp") or {}).get("enabled")),
        mfa=bool((col.auth.get("mfa") or {}).get("enabled")),
        providers=providers,
    )


@dataclass
class ProfileField:
    name: str
    type: str
    value: Any
    required: bool
    url: str = ""  # files: where the current file can be seen


def profile_fields(col: Collection, record: dict[str, Any]) -> list[ProfileField]:
    out = []
    for f in col.fields:
        if f.hidden or f.name in PROFILE_EXCLUDED or f.type not in PROFILE_TYPES:
            continue
        if f.system and f.name != "emailVisibility":
            continue
        if f.type == "file" and (f.is_multi or f.opt("protected")):
            continue  # a single public file (the avatar) is all the form handles
        value = record.get(f.name)
        link = ""
        if f.type == "file" and value:
            link = f"/api/files/{col.id}/{record.get('id')}/{value}"
        out.append(ProfileField(f.name, f.type, value, bool(f.required), link))
    return out


async def linked_providers(app: App, auth: Auth) -> list[str]:
    def q(conn: Any) -> list[str]:
        rows = fetch_dicts(
            conn,
            "SELECT provider FROM `_externalAuths` WHERE collectionRef = ? AND recordRef = ? ORDER BY provider",
            (auth.collection.id, auth.id),
        )
        return [str(r["provider"]) for r in rows]

    return await app.store.db.read(q)


def app_name(app: App) -> str:
    return str((app.store.settings.get().get("meta") or {}).get("appName") or "core")


def auth_collections(app: App) -> list[str]:
    return [c.name for c in app.store.registry.all() if c.is_auth]


async def settings_view(app: App, who: Viewer) -> dict[str, Any]:
    """The context of the settings body (see partials/settings_body.html)."""
    if who.auth is None:
        return {"profile": [], "methods": Methods(), "linked": [], "collections": []}
    col = who.auth.collection
    return {
        "profile": profile_fields(col, who.record),
        "methods": methods(app, col),
        "linked": await linked_providers(app, who.auth),
        "collections": auth_collections(app) if who.auth.is_superuser else [],
    }


def signup_view(col: Collection) -> dict[str, Any]:
    name = col.get_field("name")
    password = col.get_field("password")
    return {
        "name_field": name is not None and name.type == "text" and not name.hidden,
        "min_password": int(password.opt("min") or 8) if password else 8,
    }

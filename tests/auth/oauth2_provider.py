"""A small but real OAuth2 / OpenID Connect provider on loopback, for the OAuth2 tests.

It speaks the authorization-code flow the way Google, GitHub, Microsoft, Apple and generic OIDC
providers do, with the checks a real provider makes: the token endpoint wants HTTP Basic client
auth, the exact redirect_uri of the authorize step and a PKCE verifier matching the S256
challenge; a code works once. Tests choose who "logs in" with `provider.login(claims)`. Every
token request is recorded so tests can assert what the server sent.

Plain stdlib HTTP server in a thread: no framework needed for five endpoints.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlparse

import jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
KID = "test-key-1"
# a 1x1 transparent PNG, the avatar the provider serves at /avatar.png
AVATAR_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@dataclass
class Grant:
    claims: dict[str, Any]
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    used: bool = False


@dataclass
class TokenRequest:
    basic_client: str  # client id from the Authorization: Basic header ("" when missing)
    form: dict[str, str]
    status: int = 0


@dataclass
class Provider:
    url: str = ""
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    claims: dict[str, Any] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[TokenRequest] = field(default_factory=list)
    key: Any = None
    userinfo_status: int = 200  # set to an error status to make the user endpoints fail
    _server: ThreadingHTTPServer | None = None

    def login(self, claims: dict[str, Any]) -> None:
        """The user the next authorize request signs in as (OIDC claims: sub, email, name...)."""
        self.claims = dict(claims)

    async def authorize(self, auth_url: str, redirect_uri: str) -> dict[str, str]:
        """Open an authURL as the browser would (the redirect URL appended, encoded as the SDK
        does) and return the query the provider redirects back with (`code`, `state`)."""
        import httpx

        async with httpx.AsyncClient() as client:
            resp = await client.get(auth_url + quote(redirect_uri, safe=""), follow_redirects=False)
        assert resp.status_code == 302, resp.text
        location = resp.headers["location"]
        assert location.startswith(redirect_uri), location
        return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}

    # -- endpoints -------------------------------------------------------------------------------
    def config(self, name: str = "oidc", **extra: Any) -> dict[str, Any]:
        """The collection's oauth2.providers[] entry pointing at this provider."""
        cfg: dict[str, Any] = {
            "name": name,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "authURL": f"{self.url}/authorize",
            "tokenURL": f"{self.url}/token",
            "userInfoURL": f"{self.url}/userinfo",
        }
        if name == "github":
            cfg["userInfoURL"] = f"{self.url}/user"
        elif name == "microsoft":
            cfg["userInfoURL"] = f"{self.url}/me"
        elif name == "apple":
            cfg["userInfoURL"] = ""
            cfg["extra"] = {"jwksURL": f"{self.url}/keys"}
        cfg.update(extra)
        return cfg

    def start(self) -> Provider:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="oauth2-provider", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def id_token(self, claims: dict[str, Any], audience: str) -> str:
        now = int(time.time())
        body = {"iss": "https://appleid.apple.com", "aud": audience, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": KID})

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()

        def b64(n: int) -> str:
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": KID,
                    "use": "sig",
                    "alg": "RS256",
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                }
            ]
        }


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _json(self, status: int, data: Any) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _bearer(self) -> dict[str, Any] | None:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                return None
            return provider.tokens.get(header[7:])

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/authorize":
                return self._authorize(query)
            if url.path == "/keys":
                return self._json(200, provider.jwks())
            if url.path == "/avatar.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(AVATAR_PNG)))
                self.end_headers()
                self.wfile.write(AVATAR_PNG)
                return None
            claims = self._bearer()
            if claims is None:
                return self._json(401, {"error": "invalid_token"})
            if provider.userinfo_status != 200:
                return self._json(provider.userinfo_status, {"error": "server_error"})
            if url.path == "/userinfo":
                return self._json(200, claims)
            if url.path == "/user":  # GitHub
                return self._json(200, {k: v for k, v in claims.items() if k != "emails"})
            if url.path == "/user/emails":
                return self._json(200, claims.get("emails", []))
            if url.path == "/me":  # Microsoft Graph
                return self._json(200, claims)
            return self._json(404, {"error": "not_found"})

        def _authorize(self, query: dict[str, str]) -> None:
            if query.get("client_id") != provider.client_id or query.get("response_type") != "code":
                return self._json(400, {"error": "invalid_request"})
            code = secrets.token_urlsafe(24)
            provider.grants[code] = Grant(
                claims=dict(provider.claims),
                client_id=query["client_id"],
                redirect_uri=query.get("redirect_uri", ""),
                challenge=query.get("code_challenge", ""),
                method=query.get("code_challenge_method", ""),
            )
            sep = "&" if "?" in query.get("redirect_uri", "") else "?"
            target = (
                query.get("redirect_uri", "")
                + sep
                + urlencode({"code": code, "state": query.get("state", "")})
            )
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            if urlparse(self.path).path != "/token":
                return self._json(404, {"error": "not_found"})
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            basic_client, basic_secret = "", ""
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                basic_client, _, basic_secret = base64.b64decode(header[6:]).decode().partition(":")
            record = TokenRequest(basic_client=basic_client, form=form)
            provider.token_requests.append(record)
            status, data = self._token(form, basic_client, basic_secret)
            record.status = status
            self._json(status, data)

        def _token(self, form: dict[str, str], client: str, secret: str) -> tuple[int, dict[str, Any]]:
            if client != provider.client_id or secret != provider.client_secret:
                return 401, {"error": "invalid_client"}
            grant = provider.grants.get(form.get("code", ""))
            if form.get("grant_type") != "authorization_code" or grant is None or grant.used:
                return 400, {"error": "invalid_grant"}
            grant.used = True
            if grant.redirect_uri != form.get("redirect_uri"):
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
            if grant.challenge and (
                grant.method != "S256"
                or create_s256_code_challenge(form.get("code_verifier", "")) != grant.challenge
            ):
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
            access = secrets.token_urlsafe(24)
            provider.tokens[access] = grant.claims
            return 200, {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "refresh-" + access[:8],
                "id_token": provider.id_token(grant.claims, grant.client_id),
            }

    return Handler

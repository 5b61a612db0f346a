"""The /api/ds/* endpoints, one module per flow (like core/api's record_auth_* modules).

Each answers a page (header `Datastar-Request: true`) with Datastar events, and any other
client with exactly what the PocketBase endpoint it stands for answers.
"""

from __future__ import annotations

from typing import Any

from core.ui.endpoints import account, email, oauth2, otp, password, session, signup, stream

routes: list[Any] = [
    *session.routes,
    *oauth2.routes,
    *otp.routes,
    *signup.routes,
    *password.routes,
    *email.routes,
    *account.routes,
    *stream.routes,
]

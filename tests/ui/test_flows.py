"""The mail flows on /api/ds in both modes: sign-up and verification, password reset, email
change, OTP and MFA. The mails go to the loopback SMTP server; links and codes come from them."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from core.app import App
from tests import fixture_data
from tests.auth.conftest import Mailbox, enable
from tests.ui.conftest import login_cookie
from tests.ui.helpers import DS, DsAnswer, U, same_answer, set_cookies

EMAIL, PASSWORD = fixture_data.USER1
NEW = {"email": "new@example.com", "password": "new-password-1", "passwordConfirm": "new-password-1"}


# -- signup ----------------------------------------------------------------------------------
async def test_signup_plain_is_create_record(client: AsyncTestClient[Any], mailbox: Mailbox) -> None:
    pb = await client.post(f"{U}/records", json={**NEW, "email": "pb@example.com", "name": "P"})
    ds = await client.post("/api/ds/signup", json={**NEW, "name": "P"})
    assert pb.status_code == ds.status_code == 200
    assert {**pb.json(), "email": "*"} | {"id": "*", "created": "*", "updated": "*"} == {
        **ds.json(),
        "email": "*",
    } | {"id": "*", "created": "*", "updated": "*"}
    # and, as a client would do next, the verification mail went out (for the /ds sign-up only)
    mail = await mailbox.next()
    assert mail.recipients == [NEW["email"]] and "Verify" in mail.subject
    await mailbox.quiet()
    for bad in ({**NEW, "passwordConfirm": "x"}, {**NEW, "email": EMAIL}, {}):
        same_answer(
            await client.post(f"{U}/records", json=bad), await client.post("/api/ds/signup", json=bad)
        )


async def test_signup_datastar(client: AsyncTestClient[Any], mailbox: Mailbox) -> None:
    bad = DsAnswer(await client.post("/api/ds/signup", data={**NEW, "passwordConfirm": "other"}, headers=DS))
    form = bad.fragment("signup")
    assert 'id="signup-form-passwordConfirm-error">The passwords do not match.' in form
    assert f'value="{NEW["email"]}"' in form and NEW["password"] not in form
    taken = DsAnswer(await client.post("/api/ds/signup", data={**NEW, "email": EMAIL}, headers=DS))
    assert 'id="signup-form-email-error"' in taken.fragment("signup")

    ok = DsAnswer(await client.post("/api/ds/signup", data={**NEW, "name": "Nia"}, headers=DS))
    assert "Check your mail" in ok.fragment("signup") and NEW["email"] in ok.fragment("signup")
    mail = await mailbox.next()
    assert mail.recipients == [NEW["email"]]
    created = (
        await client.post("/api/ds/login", json={"identity": NEW["email"], "password": NEW["password"]})
    ).json()
    assert created["record"]["name"] == "Nia" and created["record"]["verified"] is False


# -- verification ----------------------------------------------------------------------------
async def test_verification_plain(client: AsyncTestClient[Any], mailbox: Mailbox) -> None:
    email = fixture_data.USER2[0]  # not verified
    for body in ({"email": ""}, {"email": "nope"}, {"email": "unknown@example.com"}):
        same_answer(
            await client.post(f"{U}/request-verification", json=body),
            await client.post("/api/ds/request-verification", json=body),
        )
    resp = await client.post("/api/ds/request-verification", json={"email": email})
    assert resp.status_code == 204
    token = (await mailbox.next()).token("confirm-verification")
    for body in ({}, {"token": "garbage"}):
        same_answer(
            await client.post(f"{U}/confirm-verification", json=body),
            await client.post("/api/ds/confirm-verification", json=body),
        )
    assert (await client.post("/api/ds/confirm-verification", json={"token": token})).status_code == 204
    # reused: still valid, so 204 in both
    same_answer(
        await client.post(f"{U}/confirm-verification", json={"token": token}),
        await client.post("/api/ds/confirm-verification", json={"token": token}),
    )


async def test_verification_datastar(client: AsyncTestClient[Any], mailbox: Mailbox) -> None:
    email = fixture_data.USER2[0]
    sent = DsAnswer(
        await client.post("/api/ds/request-verification", data={"email": email, "mode": "ask"}, headers=DS)
    )
    form = sent.fragment("resend-form")
    assert "Sent. Check your inbox." in form and 'name="email" type="email"' in form
    token = (await mailbox.next()).token("confirm-verification")
    bad_email = DsAnswer(
        await client.post("/api/ds/request-verification", data={"email": "x", "mode": "ask"}, headers=DS)
    )
    assert 'id="resend-form-email-error">Must be a valid email address.' in bad_email.fragment("resend-form")
    hidden = DsAnswer(await client.post("/api/ds/request-verification", data={"email": "x"}, headers=DS))
    assert 'id="resend-form-error" role="alert">Must be a valid email address.' in hidden.fragment(
        "resend-form"
    )

    failed = DsAnswer(
        await client.post("/api/ds/confirm-verification", data={"token": "garbage"}, headers=DS)
    )
    assert "This link did not work" in failed.fragment("verify")
    empty = DsAnswer(await client.post("/api/ds/confirm-verification", data={"token": ""}, headers=DS))
    assert "needs the link from your email" in empty.fragment("verify")
    ok = DsAnswer(await client.post("/api/ds/confirm-verification", data={"token": token}, headers=DS))
    assert "Your email is verified" in ok.fragment("verify")
    login = await client.post("/api/ds/login", json={"identity": email, "password": fixture_data.USER2[1]})
    assert login.json()["record"]["verified"] is True


# -- password reset --------------------------------------------------------------------------
async def test_password_reset_plain(client: AsyncTestClient[Any], mailbox: Mailbox) -> None:
    for body in ({"email": ""}, {"email": "nope"}, {"email": "unknown@example.com"}):
        same_answer(
            await client.post(f"{U}/request-password-reset", json=body),
            await client.post("/api/ds/request-password-reset", json=body),
        )
    assert (await client.post("/api/ds/request-password-reset", json={"email": EMAIL})).status_code == 204
    token = (await mailbox.next()).token("confirm-password-reset")
    bad = {"token": "garbage", "password": "a-new-password", "passwordConfirm": "mismatch"}
    same_answer(
        await client.post(f"{U}/confirm-password-reset", json=bad),
        await client.post("/api/ds/confirm-password-reset", json=bad),
    )
    old_session = await login_cookie(client)
    good = {"token": token, "password": "a-new-password", "passwordConfirm": "a-new-password"}
    resp = await client.post("/api/ds/confirm-password-reset", json=good)
    assert resp.status_code == 204 and resp.content == b""
    # every session ended with it
    assert (await client.post(f"{U}/auth-refresh", headers={"Authorization": old_session})).status_code == 401


async def test_password_reset_datastar(client: AsyncTestClient[Any], mailbox: Mailbox) -> None:
    sent = DsAnswer(await client.post("/api/ds/request-password-reset", data={"email": EMAIL}, headers=DS))
    assert "Check your mail" in sent.fragment("reset-request")
    invalid = DsAnswer(await client.post("/api/ds/request-password-reset", data={"email": "x@"}, headers=DS))
    assert 'id="reset-form-email-error"' in invalid.fragment("reset-request")
    token = (await mailbox.next()).token("confirm-password-reset")

    mismatch = {"token": token, "password": "another-pass-1", "passwordConfirm": "another-pass-2"}
    bad = DsAnswer(await client.post("/api/ds/confirm-password-reset", data=mismatch, headers=DS))
    form = bad.fragment("reset-confirm")
    assert 'id="reset-confirm-form-passwordConfirm-error"' in form
    assert f'value="{token}"' in form  # kept for the next try
    garbage = DsAnswer(
        await client.post(
            "/api/ds/confirm-password-reset",
            data={"token": "garbage", "password": "another-pass-1", "passwordConfirm": "another-pass-1"},
            headers=DS,
        )
    )
    assert "This link is invalid or has expired." in garbage.fragment("reset-confirm")
    good = {"token": token, "password": "another-pass-1", "passwordConfirm": "another-pass-1"}
    await login_cookie(client)
    ok = DsAnswer(await client.post("/api/ds/confirm-password-reset", data=good, headers=DS))
    assert "Your password has changed" in ok.fragment("reset-confirm")
    # the session this browser had ended with the reset: its cookie is dropped
    assert "Max-Age=0" in set_cookies(ok.resp)["pb_auth"]
    login = await client.post("/api/ds/login", json={"identity": EMAIL, "password": "another-pass-1"})
    assert login.status_code == 200


# -- change password (a record update) --------------------------------------------------------
async def test_change_password_plain_is_update(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    headers = {"Authorization": tokens["user1"]}
    wrong = {"oldPassword": "wrong", "password": "changed-pass-1", "passwordConfirm": "changed-pass-1"}
    same_answer(
        await client.patch(f"{U}/records/{fixture_data.USER1_ID}", json=wrong, headers=headers),
        await client.post("/api/ds/change-password", json=wrong, headers=headers),
    )
    assert (await client.post("/api/ds/change-password", json=wrong)).status_code == 401
    good = {"oldPassword": PASSWORD, "password": "changed-pass-1", "passwordConfirm": "changed-pass-1"}
    resp = await client.post("/api/ds/change-password", json=good, headers=headers)
    assert resp.status_code == 200 and resp.json()["id"] == fixture_data.USER1_ID
    # as with PocketBase, the token used is dead now
    assert (await client.post(f"{U}/auth-refresh", headers=headers)).status_code == 401


async def test_change_password_datastar_keeps_this_browser_signed_in(client: AsyncTestClient[Any]) -> None:
    old = await login_cookie(client)
    wrong = {"oldPassword": "wrong", "password": "changed-pass-1", "passwordConfirm": "changed-pass-1"}
    bad = DsAnswer(await client.post("/api/ds/change-password", data=wrong, headers=DS))
    assert 'id="password-form-oldPassword-error"' in bad.fragment("password-form")
    good = {"oldPassword": PASSWORD, "password": "changed-pass-1", "passwordConfirm": "changed-pass-1"}
    ok = DsAnswer(await client.post("/api/ds/change-password", data=good, headers=DS))
    assert ok.signals["auth"]["signedIn"] is True
    assert "Your password has changed" in ok.notice()
    assert "settings-body" in ok.ids()
    new = client.cookies.get("pb_auth")
    assert new and new != old
    assert (await client.get("/api/ds/whoami")).status_code == 200
    assert (await client.post(f"{U}/auth-refresh", headers={"Authorization": old})).status_code == 401


# -- email change ----------------------------------------------------------------------------
async def test_email_change_plain(
    client: AsyncTestClient[Any], mailbox: Mailbox, tokens: dict[str, str]
) -> None:
    headers = {"Authorization": tokens["user1"]}
    for body, h in (
        ({"newEmail": "x@example.com"}, {}),
        ({"newEmail": fixture_data.USER2[0]}, headers),
        ({}, headers),
    ):
        same_answer(
            await client.post(f"{U}/request-email-change", json=body, headers=h),
            await client.post("/api/ds/request-email-change", json=body, headers=h),
        )
    resp = await client.post(
        "/api/ds/request-email-change", json={"newEmail": "moved@example.com"}, headers=headers
    )
    assert resp.status_code == 204
    mail = await mailbox.next()
    assert mail.recipients == ["moved@example.com"]
    token = mail.token("confirm-email-change")
    wrong = {"token": token, "password": "wrong"}
    same_answer(
        await client.post(f"{U}/confirm-email-change", json=wrong),
        await client.post("/api/ds/confirm-email-change", json=wrong),
    )
    assert (
        await client.post("/api/ds/confirm-email-change", json={"token": token, "password": PASSWORD})
    ).status_code == 204
    login = await client.post("/api/ds/login", json={"identity": "moved@example.com", "password": PASSWORD})
    assert login.status_code == 200


async def test_email_change_datastar(client: AsyncTestClient[Any], mailbox: Mailbox) -> None:
    await login_cookie(client)
    taken = DsAnswer(
        await client.post(
            "/api/ds/request-email-change", data={"newEmail": fixture_data.USER2[0]}, headers=DS
        )
    )
    assert 'id="email-form-newEmail-error"' in taken.fragment("email-form")
    sent = DsAnswer(
        await client.post("/api/ds/request-email-change", data={"newEmail": "moved@example.com"}, headers=DS)
    )
    assert "moved@example.com" in sent.notice()
    token = (await mailbox.next()).token("confirm-email-change")
    wrong = DsAnswer(
        await client.post(
            "/api/ds/confirm-email-change", data={"token": token, "password": "nope"}, headers=DS
        )
    )
    form = wrong.fragment("verify")
    assert 'id="email-confirm-form-password-error"' in form and f'value="{token}"' in form
    ok = DsAnswer(
        await client.post(
            "/api/ds/confirm-email-change", data={"token": token, "password": PASSWORD}, headers=DS
        )
    )
    assert "Your email address has changed" in ok.fragment("verify")
    # the new tokenKey ended this browser's session too
    assert client.cookies.get("pb_auth") in (None, "")


async def test_email_change_needs_the_session(client: AsyncTestClient[Any]) -> None:
    guest = DsAnswer(
        await client.post("/api/ds/request-email-change", data={"newEmail": "a@example.com"}, headers=DS)
    )
    assert "Please sign in again." in guest.fragment("email-form")


# -- OTP -------------------------------------------------------------------------------------
async def test_otp_plain(client: AsyncTestClient[Any], app: App, mailbox: Mailbox) -> None:
    body = {"email": EMAIL}
    same_answer(
        await client.post(f"{U}/request-otp", json=body), await client.post("/api/ds/request-otp", json=body)
    )
    await enable(app, "users", otp={"enabled": True})
    for bad in ({"email": ""}, {"email": "unknown@example.com"}):
        same_answer(
            await client.post(f"{U}/request-otp", json=bad),
            await client.post("/api/ds/request-otp", json=bad),
        )
    resp = await client.post("/api/ds/request-otp", json=body)
    assert set(resp.json()) == {"otpId"}
    code = (await mailbox.next()).otp()
    wrong = {"otpId": resp.json()["otpId"], "password": "00000000" if code != "00000000" else "11111111"}
    same_answer(
        await client.post(f"{U}/auth-with-otp", json=wrong),
        await client.post("/api/ds/auth-with-otp", json=wrong),
    )
    ok = await client.post("/api/ds/auth-with-otp", json={"otpId": resp.json()["otpId"], "password": code})
    assert ok.status_code == 200 and ok.json()["record"]["email"] == EMAIL
    assert "pb_auth" in set_cookies(ok)


async def test_otp_datastar(client: AsyncTestClient[Any], app: App, mailbox: Mailbox) -> None:
    off = DsAnswer(await client.post("/api/ds/request-otp", data={"email": EMAIL}, headers=DS))
    assert "Signing in with a code is not enabled here." in off.fragment("otp-form")
    await enable(app, "users", otp={"enabled": True})
    step = DsAnswer(
        await client.post("/api/ds/request-otp", data={"email": EMAIL, "form": "otp-form"}, headers=DS)
    )
    form = step.fragment("otp-form")
    assert "Enter your code" in form and 'name="otpId" value="' in form
    otp_id = form.split('name="otpId" value="', 1)[1].split('"', 1)[0]
    code = (await mailbox.next()).otp()
    wrong = DsAnswer(
        await client.post(
            "/api/ds/auth-with-otp", data={"otpId": otp_id, "password": "1", "email": EMAIL}, headers=DS
        )
    )
    assert "That code is wrong or has expired." in wrong.fragment("otp-form")
    ok = DsAnswer(
        await client.post(
            "/api/ds/auth-with-otp", data={"otpId": otp_id, "password": code, "email": EMAIL}, headers=DS
        )
    )
    assert ok.signals["auth"]["email"] == EMAIL
    assert "Sign in with a code by email" in ok.fragment("otp-form")  # back to step one


# -- MFA -------------------------------------------------------------------------------------
async def test_mfa_password_then_code(client: AsyncTestClient[Any], app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True})
    first = DsAnswer(
        await client.post("/api/ds/login", data={"identity": EMAIL, "password": PASSWORD}, headers=DS)
    )
    mfa = first.fragment("mfa")
    assert "One more step" in mfa and 'id="mfa-otp"' in mfa and 'id="mfa-password"' not in mfa
    assert first.signals == {} and "pb_auth" not in set_cookies(first.resp)
    mfa_id = mfa.split('name="mfaId" value="', 1)[1].split('"', 1)[0]
    step = DsAnswer(
        await client.post(
            "/api/ds/request-otp", data={"email": EMAIL, "form": "mfa-otp", "mfaId": mfa_id}, headers=DS
        )
    )
    form = step.fragment("mfa-otp")
    otp_id = form.split('name="otpId" value="', 1)[1].split('"', 1)[0]
    assert f'name="mfaId" value="{mfa_id}"' in form
    code = (await mailbox.next()).otp()
    done = DsAnswer(
        await client.post(
            "/api/ds/auth-with-otp",
            data={"otpId": otp_id, "password": code, "email": EMAIL, "form": "mfa-otp", "mfaId": mfa_id},
            headers=DS,
        )
    )
    assert done.signals["auth"]["signedIn"] is True
    assert done.fragment("mfa").count("<") <= 2  # the second step is cleared
    # plain mode answers PocketBase's 401 {mfaId}
    plain = await client.post("/api/ds/login", json={"identity": EMAIL, "password": PASSWORD})
    assert plain.status_code == 401 and set(plain.json()) == {"mfaId"}

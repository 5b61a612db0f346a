// Auth flows through the SDK, with a real SMTP server and a real OAuth2 provider on loopback
// (both started here, so the same script runs against core and the reference binary): SMTP is
// configured through the settings API, and every link and code is read from the mails.
//
// verification, password reset, email change, OTP, MFA (password + OTP), OAuth2 with
// authWithOAuth2Code and with the realtime popup flow (authWithOAuth2 + /api/oauth2-redirect),
// the new-login alert and the settings test email.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

import { client, eq, ok, rejects, run, step, suffix, superuser } from './lib.mjs';

const APP_URL = 'http://app.test';
const REDIRECT = 'http://app.test/oauth2-callback';
const PASSWORD = 'password-123';

// -- a minimal SMTP server ----------------------------------------------------------------------
function startSmtp() {
    const mails = [];
    const server = net.createServer((sock) => {
        let buf = '';
        let inData = false;
        let data = '';
        let from = '';
        let rcpt = [];
        sock.setEncoding('latin1');
        sock.write('220 localhost ESMTP test\r\n');
        sock.on('error', () => {});
        sock.on('data', (chunk) => {
            buf += chunk;
            let idx;
            while ((idx = buf.indexOf('\r\n')) >= 0) {
                const line = buf.slice(0, idx);
                buf = buf.slice(idx + 2);
                if (inData) {
                    if (line === '.') {
                        inData = false;
                        mails.push(parseMail(from, rcpt, data));
                        data = '';
                        sock.write('250 OK\r\n');
                    } else {
                        data += (line.startsWith('..') ? line.slice(1) : line) + '\r\n';
                    }
                    continue;
                }
                const verb = line.slice(0, 4).toUpperCase();
                if (verb === 'EHLO') sock.write('250-localhost\r\n250 8BITMIME\r\n');
                else if (verb === 'HELO') sock.write('250 localhost\r\n');
                else if (verb === 'MAIL') {
                    from = /<([^>]*)>/.exec(line)?.[1] ?? '';
                    rcpt = [];
                    sock.write('250 OK\r\n');
                } else if (verb === 'RCPT') {
                    rcpt.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
                    sock.write('250 OK\r\n');
                } else if (verb === 'DATA') {
                    inData = true;
                    sock.write('354 go ahead\r\n');
                } else if (verb === 'QUIT') {
                    sock.end('221 bye\r\n');
                } else sock.write('250 OK\r\n');
            }
        });
    });
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
            let seen = 0;
            resolve({
                port: server.address().port,
                mails,
                close: () => server.close(),
                // the next unseen mail matching `match`; unmatched ones before it are skipped
                async next(match = () => true, what = 'a mail') {
                    for (let i = 0; i < 500; i++) {
                        for (; seen < mails.length; seen++) {
                            if (match(mails[seen])) return mails[seen++];
                        }
                        await new Promise((r) => setTimeout(r, 20));
                    }
                    throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(mails.map((m) => m.subject))}`);
                },
                count: () => mails.length,
            });
        });
    });
}

function decodeQP(text) {
    const bytes = Buffer.from(text.replace(/=\r\n/g, ''), 'latin1');
    const out = [];
    for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] === 0x3d && /^[0-9A-F]{2}$/i.test(bytes.toString('latin1', i + 1, i + 3))) {
            out.push(parseInt(bytes.toString('latin1', i + 1, i + 3), 16));
            i += 2;
        } else out.push(bytes[i]);
    }
    return Buffer.from(out).toString('utf8');
}

function parseMail(from, rcpt, raw) {
    const header = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    const subject = /^Subject: (.*)$/m.exec(header)?.[1] ?? '';
    // the text/plain part: its headers, a blank line, the quoted-printable body up to the boundary
    const part = /Content-Type: text\/plain[^]*?\r\n\r\n([^]*?)\r\n--/i.exec(raw);
    const qp = /quoted-printable/i.test(raw.slice(0, part ? part.index + part[0].length : 0));
    const text = part ? (qp ? decodeQP(part[1]) : part[1]) : '';
    return { from, rcpt, raw, subject, text };
}

function linkToken(mail, action) {
    const m = new RegExp(`${APP_URL}/_/#/auth/${action}/([\\w.-]+)`).exec(mail.text);
    ok(m, `${action} link in the mail`, mail.text);
    return m[1];
}

// -- a minimal OAuth2 provider (authorize -> code, token with Basic auth + PKCE, userinfo) --------
function startProvider() {
    const grants = new Map();
    const tokens = new Map();
    const state = { user: null, tokenRequests: [] };
    const server = http.createServer((req, res) => {
        const url = new URL(req.url, 'http://x');
        const json = (status, body) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
        };
        if (url.pathname === '/authorize') {
            const q = url.searchParams;
            const code = randomBytes(16).toString('hex');
            grants.set(code, {
                user: state.user,
                redirect: q.get('redirect_uri'),
                challenge: q.get('code_challenge'),
                clientId: q.get('client_id'),
            });
            const target = new URL(q.get('redirect_uri'));
            target.searchParams.set('code', code);
            target.searchParams.set('state', q.get('state'));
            res.writeHead(302, { location: target.toString() });
            res.end();
            return;
        }
        if (url.pathname === '/token') {
            let body = '';
            req.on('data', (c) => (body += c));
            req.on('end', () => {
                const form = new URLSearchParams(body);
                const basic = Buffer.from((req.headers.authorization || '').replace(/^Basic /, ''), 'base64')
                    .toString()
                    .split(':')
                    .map(decodeURIComponent);
                state.tokenRequests.push({ basic, form: Object.fromEntries(form) });
                const grant = grants.get(form.get('code'));
                grants.delete(form.get('code'));
                if (basic[0] !== 'js-client' || basic[1] !== 'js-secret') return json(401, { error: 'invalid_client' });
                const verifier = form.get('code_verifier') || '';
                const challenge = createHash('sha256').update(verifier).digest('base64url');
                if (!grant || grant.redirect !== form.get('redirect_uri') || grant.challenge !== challenge) {
                    return json(400, { error: 'invalid_grant' });
                }
                const access = randomBytes(16).toString('hex');
                tokens.set(access, grant.user);
                json(200, { access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: 'r-' + access });
            });
            return;
        }
        if (url.pathname === '/userinfo') {
            const user = tokens.get((req.headers.authorization || '').replace(/^Bearer /, ''));
            return user ? json(200, user) : json(401, { error: 'invalid_token' });
        }
        json(404, {});
    });
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
            const base = `http://127.0.0.1:${server.address().port}`;
            resolve({ base, state, close: () => server.close() });
        });
    });
}

// the browser's part of the OAuth2 flow: open authURL (redirect URL appended) and read where
// the provider sends the user back
async function authorize(authURL, redirect) {
    const resp = await fetch(authURL + encodeURIComponent(redirect), { redirect: 'manual' });
    eq(resp.status, 302, 'provider redirects');
    return new URL(resp.headers.get('location')).searchParams;
}

await run('auth_flows', async () => {
    const smtp = await startSmtp();
    const provider = await startProvider();
    const su = await superuser();
    const tag = suffix();
    const alice = { email: `alice_${tag}@example.com`, name: 'Alice' };
    const isFor = (email, subject) => (m) => m.rcpt.includes(email) && (!subject || m.subject === subject);

    try {
        await step('configure SMTP and the users collection', async () => {
            await su.settings.update({
                smtp: { enabled: true, host: '127.0.0.1', port: smtp.port, tls: false },
                meta: { appURL: APP_URL, appName: 'Acme', senderName: 'Support', senderAddress: 'support@example.com' },
            });
            await su.collections.update('users', {
                otp: { enabled: true },
                oauth2: {
                    enabled: true,
                    providers: [
                        {
                            name: 'oidc',
                            clientId: 'js-client',
                            clientSecret: 'js-secret',
                            authURL: provider.base + '/authorize',
                            tokenURL: provider.base + '/token',
                            userInfoURL: provider.base + '/userinfo',
                        },
                    ],
                },
            });
            const created = await client().collection('users').create({
                ...alice,
                password: PASSWORD,
                passwordConfirm: PASSWORD,
            });
            alice.id = created.id;
            eq(created.verified, false, 'new user unverified');
        });

        await step('settings test email', async () => {
            ok(await su.settings.testEmail('users', `test_${tag}@example.com`, 'verification'), 'sent');
            const mail = await smtp.next(isFor(`test_${tag}@example.com`), 'test mail');
            eq(mail.subject, 'Verify your Acme email', 'test mail subject');
            eq(mail.from, 'support@example.com', 'envelope sender');
            ok(/^From: Support <support@example\.com>$/m.test(mail.raw), 'From header', mail.raw.slice(0, 300));
            ok(/multipart\/alternative/.test(mail.raw) && /text\/html/.test(mail.raw), 'text + html parts');
        });

        await step('verification', async () => {
            ok(await client().collection('users').requestVerification(alice.email), 'requested');
            const mail = await smtp.next(isFor(alice.email, 'Verify your Acme email'), 'verification mail');
            ok(mail.text.includes('[Verify](' + APP_URL), 'markdown-style link in the text part', mail.text);
            const token = linkToken(mail, 'confirm-verification');
            await client().collection('users').confirmVerification(token);
            // still valid: confirming again is fine
            await client().collection('users').confirmVerification(token);
            await rejects(client().collection('users').confirmVerification('garbage'), 400, 'garbage token');
            const pb = client();
            const auth = await pb.collection('users').authWithPassword(alice.email, PASSWORD);
            eq(auth.record.verified, true, 'verified');
        });

        await step('password reset', async () => {
            const before = client();
            await before.collection('users').authWithPassword(alice.email, PASSWORD);
            ok(await client().collection('users').requestPasswordReset(alice.email), 'requested');
            ok(await client().collection('users').requestPasswordReset(`nobody_${tag}@example.com`), 'unknown: 204');
            const mail = await smtp.next(isFor(alice.email, 'Reset your Acme password'), 'reset mail');
            const token = linkToken(mail, 'confirm-password-reset');
            const err = await rejects(
                client().collection('users').confirmPasswordReset(token, 'new-password-1', 'different'),
                400,
                'confirm mismatch',
            );
            ok('passwordConfirm' in err.response.data, 'passwordConfirm error', err.response);
            alice.password = 'new-password-1';
            await client().collection('users').confirmPasswordReset(token, alice.password, alice.password);
            await rejects(before.collection('users').authRefresh(), 401, 'older token revoked');
            await rejects(
                client().collection('users').confirmPasswordReset(token, alice.password, alice.password),
                400,
                'token reused',
            );
            await rejects(client().collection('users').authWithPassword(alice.email, PASSWORD), 400, 'old password');
        });

        await step('email change', async () => {
            const pb = client();
            await pb.collection('users').authWithPassword(alice.email, alice.password);
            await rejects(client().collection('users').requestEmailChange(`x_${tag}@example.com`), 401, 'guest');
            await rejects(pb.collection('users').requestEmailChange(alice.email), 400, 'same address');
            const newEmail = `alice2_${tag}@example.com`;
            ok(await pb.collection('users').requestEmailChange(newEmail), 'requested');
            const mail = await smtp.next(isFor(newEmail), 'email change mail');
            eq(mail.subject, 'Confirm your Acme new email address', 'subject');
            eq(mail.rcpt, [newEmail], 'sent to the new address only');
            const token = linkToken(mail, 'confirm-email-change');
            await rejects(client().collection('users').confirmEmailChange(token, 'wrong-password'), 400, 'wrong password');
            await client().collection('users').confirmEmailChange(token, alice.password);
            await rejects(pb.collection('users').authRefresh(), 401, 'older token revoked');
            alice.email = newEmail;
            const auth = await client().collection('users').authWithPassword(alice.email, alice.password);
            eq(auth.record.email, newEmail, 'new email');
            eq(auth.record.verified, true, 'still verified');
        });

        const otpLogin = async (email, options) => {
            const { otpId } = await client().collection('users').requestOTP(email);
            const mail = await smtp.next(isFor(email, 'OTP for Acme'), 'OTP mail');
            const code = /Your one-time password is: (\d{8})/.exec(mail.text)?.[1];
            ok(code, 'code in the mail', mail.text);
            return { otpId, code, result: client().collection('users').authWithOTP(otpId, code, options) };
        };

        await step('OTP', async () => {
            const { otpId, code, result } = await otpLogin(alice.email);
            const auth = await result;
            eq(auth.record.id, alice.id, 'OTP login');
            await rejects(client().collection('users').authWithOTP(otpId, code), 400, 'code reused');
            const unknown = await client().collection('users').requestOTP(`nobody_${tag}@example.com`);
            ok(typeof unknown.otpId === 'string' && unknown.otpId.length === 15, 'random otpId', unknown);
        });

        await step('MFA: password then OTP', async () => {
            await su.collections.update('users', { mfa: { enabled: true } });
            const err = await rejects(
                client().collection('users').authWithPassword(alice.email, alice.password),
                401,
                'first factor',
            );
            const mfaId = err.response.mfaId;
            ok(typeof mfaId === 'string' && mfaId.length === 15, 'mfaId', err.response);
            eq(Object.keys(err.response), ['mfaId'], 'the 401 body is just {mfaId}');
            const same = await rejects(
                client().collection('users').authWithPassword(alice.email, alice.password, { mfaId }),
                400,
                'same method again',
            );
            eq(same.response.message, 'A different authentication method is required.', 'message');
            const { result } = await otpLogin(alice.email, { mfaId });
            const auth = await result;
            eq(auth.record.id, alice.id, 'second factor completes');
            const { result: reused } = await otpLogin(alice.email, { mfaId });
            const bad = await rejects(reused, 400, 'used mfaId');
            eq(bad.response.message, 'Invalid or expired MFA session.', 'message');
            await su.collections.update('users', { mfa: { enabled: false } });
        });

        await step('new-login alert', async () => {
            await client().collection('users').authWithPassword(alice.email, alice.password, {
                headers: { 'User-Agent': `agent-A-${tag}` },
            });
            await client().collection('users').authWithPassword(alice.email, alice.password, {
                headers: { 'User-Agent': `agent-A-${tag}` },
            });
            await client().collection('users').authWithPassword(alice.email, alice.password, {
                headers: { 'User-Agent': `agent-B-${tag}` },
            });
            // agent-A may itself have been new (earlier steps logged in with node's own agent);
            // the known agent-A second login mails nothing, the agent-B one does
            const mail = await smtp.next(
                (m) => isFor(alice.email, 'Login from a new location')(m) && m.text.includes(`agent-B-${tag}`),
                'alert for agent-B',
            );
            ok(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z - \S+ agent-B-/.test(mail.text), 'alert line', mail.text);
            const agentA = smtp.mails.filter((m) => m.text.includes(`agent-A-${tag}`));
            ok(agentA.length <= 1, 'one alert per new origin', agentA.map((m) => m.text));
        });

        const oidcUser = {
            sub: `sub-${tag}`,
            email: `oscar_${tag}@example.com`,
            email_verified: true,
            name: 'Oscar',
            preferred_username: 'oscar',
        };

        await step('OAuth2 with authWithOAuth2Code', async () => {
            provider.state.user = oidcUser;
            const methods = await client().collection('users').listAuthMethods();
            const info = methods.oauth2.providers.find((p) => p.name === 'oidc');
            ok(info, 'oidc listed', methods.oauth2);
            eq(info.codeChallengeMethod, 'S256', 'PKCE method');
            ok(info.authURL.endsWith('&redirect_uri='), 'authURL waits for the redirect URL', info.authURL);
            const query = await authorize(info.authURL, REDIRECT);
            eq(query.get('state'), info.state, 'state round-trip');
            const pb = client();
            const auth = await pb.collection('users').authWithOAuth2Code('oidc', query.get('code'), info.codeVerifier, REDIRECT, {
                emailVisibility: true,
            });
            eq(auth.meta.isNew, true, 'new record');
            eq([auth.meta.id, auth.meta.email, auth.meta.username], [oidcUser.sub, oidcUser.email, 'oscar'], 'meta');
            eq([auth.record.email, auth.record.name, auth.record.verified], [oidcUser.email, 'Oscar', true], 'record');
            eq(auth.record.emailVisibility, true, 'createData applied');
            const sent = provider.state.tokenRequests.at(-1);
            eq(sent.basic, ['js-client', 'js-secret'], 'HTTP Basic client auth');
            eq([sent.form.redirect_uri, sent.form.code_verifier], [REDIRECT, info.codeVerifier], 'redirect + verifier');
            const links = await pb.collection('users').listExternalAuths(auth.record.id);
            eq(links.map((l) => [l.provider, l.providerId]), [['oidc', oidcUser.sub]], 'external auth link');

            const again = await client().collection('users').listAuthMethods();
            const info2 = again.oauth2.providers.find((p) => p.name === 'oidc');
            const q2 = await authorize(info2.authURL, REDIRECT);
            const err = await rejects(
                client().collection('users').authWithOAuth2Code('oidc', q2.get('code'), 'wrong-verifier', REDIRECT),
                400,
                'wrong verifier',
            );
            eq(err.response.message, 'Failed to fetch OAuth2 token.', 'message');
            const unknown = await rejects(
                client().collection('users').authWithOAuth2Code('nope', 'x', 'y', REDIRECT),
                400,
                'unknown provider',
            );
            eq(unknown.response.data.provider.code, 'validation_invalid_provider', 'provider error code');
        });

        await step('OAuth2 popup flow through realtime and /api/oauth2-redirect', async () => {
            provider.state.user = oidcUser;
            const pb = client();
            const auth = await pb.collection('users').authWithOAuth2({
                provider: 'oidc',
                // the "popup": follow the provider's redirect to /api/oauth2-redirect, as a browser would
                urlCallback: async (url) => {
                    const consent = await fetch(url, { redirect: 'manual' });
                    eq(consent.status, 302, 'provider redirects');
                    const back = await fetch(consent.headers.get('location'), { redirect: 'manual' });
                    eq(back.status, 307, 'redirect endpoint answers 307');
                    const location = back.headers.get('location');
                    ok(location.endsWith('oauth2-redirect-success'), 'success page', location);
                },
            });
            eq(auth.meta.isNew, false, 'existing link');
            eq(auth.record.email, oidcUser.email, 'same record');
            ok(pb.authStore.isValid, 'auth store filled');
        });
    } finally {
        smtp.close();
        provider.close();
    }
    return { mails: smtp.count() };
});

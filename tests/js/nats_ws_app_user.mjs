// An app user's NATS access through the official nats.ws client over core's websocket listener:
// sign in with the PocketBase SDK, trade the auth token for a NATS JWT (POST /api/nats/token),
// connect with it, use the record's own subjects, be refused others and, once the JWT expired,
// be refused altogether. Needs NATS_WS_URL; the server runs with a short --nats-token-ttl.

import { WebSocket } from 'ws';
import { run, step, eq, ok, superuser, client, suffix, config } from './lib.mjs';

// nats.ws speaks the browser's WebSocket API, which Node 20 lacks
globalThis.WebSocket ??= WebSocket;
const { connect, jwtAuthenticator, StringCodec, Events } = await import('nats.ws');

const sc = StringCodec();
const wsUrl = process.env.NATS_WS_URL;

function natsConnect(token, options = {}) {
    return connect({
        servers: wsUrl,
        authenticator: jwtAuthenticator(token.jwt, new TextEncoder().encode(token.seed)),
        reconnect: false,
        ...options,
    });
}

/** Wait for the server's permissions violation of one operation on one subject. */
async function permissionViolation(nc, operation, subject) {
    for await (const s of nc.status()) {
        const context = s.permissionContext ?? {};
        if (s.type === Events.Error && context.operation === operation && context.subject === subject) {
            return s.data;
        }
    }
    throw new Error(`${operation} ${subject}: the connection ended without a permissions violation`);
}

/** The error a subscription ends with (a refused SUB ends its iterator with one). */
async function subscriptionError(nc, subject) {
    const sub = nc.subscribe(subject);
    try {
        for await (const _m of sub) return null;
    } catch (err) {
        return String(err?.message ?? err);
    }
    return null;
}

run('nats.ws app user', async () => {
    ok(wsUrl, 'NATS_WS_URL is set');
    const admin = await superuser();
    const email = `nats_${suffix()}@example.com`;
    const password = 'nats-user-pass-123';
    const user = await step('create a user', () =>
        admin.collection('users').create({ email, password, passwordConfirm: password }),
    );
    const other = await step('create another user', () =>
        admin.collection('users').create({ email: `o${email}`, password, passwordConfirm: password }),
    );
    await step('grant the users collection its subjects', () =>
        admin.send('/api/nats/permissions/users', {
            method: 'PUT',
            body: { publish: ['app.users.{{id}}.>', 'app.public.>'], subscribe: ['app.users.{{id}}.>', 'app.public.>'] },
        }),
    );
    const pb = client();
    await step('sign in', () => pb.collection('users').authWithPassword(email, password));
    const token = await step('get a NATS token', () => pb.send('/api/nats/token', { method: 'POST' }));
    ok(token.jwt && token.seed && token.expires, 'token shape', token);

    const nc = await step('connect over websocket', () => natsConnect(token));
    const own = `app.users.${user.id}.inbox`;
    await step('own subject: publish and receive', async () => {
        const sub = nc.subscribe(own, { max: 1 });
        await nc.flush();
        nc.publish(own, sc.encode('hello me'));
        for await (const m of sub) eq(sc.decode(m.data), 'hello me', 'message on own subject');
    });
    await step('public subject: publish and receive', async () => {
        const sub = nc.subscribe('app.public.news', { max: 1 });
        await nc.flush();
        nc.publish('app.public.news', sc.encode('hi all'));
        for await (const m of sub) eq(sc.decode(m.data), 'hi all', 'message on public subject');
    });
    await step("another user's subject: subscribe refused", async () => {
        const err = await subscriptionError(nc, `app.users.${other.id}.inbox`);
        ok(err && err.toLowerCase().includes('permissions violation'), 'subscribe refused', err);
    });
    await step("another user's subject: publish refused", async () => {
        const subject = `app.users.${other.id}.inbox`;
        const refused = permissionViolation(nc, 'publish', subject);
        nc.publish(subject, sc.encode('intrusion'));
        eq(await refused, 'PERMISSIONS_VIOLATION', 'publish refused');
    });
    for (const subject of ['core.>', 'pb.logs.>', '$JS.API.STREAM.LIST']) {
        await step(`${subject}: subscribe refused`, async () => {
            const err = await subscriptionError(nc, subject);
            ok(err && err.toLowerCase().includes('permissions violation'), `${subject} refused`, err);
        });
    }
    await step('the connection is still usable after refusals', async () => {
        const sub = nc.subscribe(own, { max: 1 });
        await nc.flush();
        nc.publish(own, sc.encode('still here'));
        for await (const m of sub) eq(sc.decode(m.data), 'still here', 'message after refusals');
    });
    await nc.close();

    const expiring = await step('get a fresh token', () => pb.send('/api/nats/token', { method: 'POST' }));
    const nc2 = await step('connect with it', () => natsConnect(expiring));
    const closed = await step('the server ends the connection when the JWT expires', async () => {
        const err = await nc2.closed();
        return String(err?.message ?? err);
    });
    ok(Date.now() / 1000 >= expiring.expires - 1, 'closed at expiry, not before', { closed, expires: expiring.expires });
    await step('a new connection with the expired JWT is refused', async () => {
        // seen with nats-server 2.15: a connection is closed as the second of `exp` begins, but a
        // new one within that second is still accepted (and closed at once); after it, refused
        while (Date.now() / 1000 < expiring.expires + 1.05) await new Promise((r) => setTimeout(r, 100));
        try {
            const nc3 = await natsConnect(expiring);
            await nc3.close();
        } catch (err) {
            const text = String(err?.message ?? err).toLowerCase();
            ok(text.includes('authorization') || text.includes('expired'), 'refused', text);
            return;
        }
        throw new Error('connected with an expired JWT');
    });
    return { closed, ws: wsUrl, url: config.url };
});

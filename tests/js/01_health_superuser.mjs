// Health check, superuser password login on `_superusers`, and token refresh.

import { claims, client, config, eq, keys, ok, rejects, run, step } from './lib.mjs';

await run('health_superuser', async () => {
    const pb = client();

    const health = await step('guest health check', async () => {
        const h = await pb.health.check();
        // /api/health is the one route that says `code` instead of `status`.
        eq(h.code, 200, 'health code');
        eq(h.message, 'API is healthy.', 'health message');
        eq(h.data, {}, 'guest health data');
        return h;
    });

    const auth = await step('superuser authWithPassword', async () => {
        const a = await pb.collection('_superusers').authWithPassword(config.email, config.password);
        ok(typeof a.token === 'string' && a.token.length > 20, 'token is a JWT string', a.token);
        eq(a.record.email, config.email, 'record.email');
        eq(a.record.collectionName, '_superusers', 'record.collectionName');
        ok(!('password' in a.record) && !('tokenKey' in a.record), 'secrets hidden', keys(a.record));
        ok(pb.authStore.isValid && pb.authStore.isSuperuser, 'authStore holds a superuser');
        const c = claims(a.token);
        eq(c.type, 'auth', 'token type');
        eq(c.id, a.record.id, 'token id');
        eq(c.collectionId, a.record.collectionId, 'token collectionId');
        eq(c.refreshable, true, 'token refreshable');
        return a;
    });

    await step('superuser health check shows extra data', async () => {
        const h = await pb.health.check();
        ok('canBackup' in h.data, 'superuser health data has canBackup', h.data);
    });

    const refreshed = await step('superuser authRefresh', async () => {
        const r = await pb.collection('_superusers').authRefresh();
        eq(r.record.id, auth.record.id, 'refreshed record id');
        eq(r.record.email, config.email, 'refreshed record email');
        eq(claims(r.token).type, 'auth', 'refreshed token type');
        eq(pb.authStore.token, r.token, 'authStore token updated');
        return r;
    });

    await step('wrong password gives 400', async () => {
        await rejects(
            client().collection('_superusers').authWithPassword(config.email, 'wrong-password'),
            400,
            'wrong password',
        );
    });

    await step('guest authRefresh gives 401', async () => {
        await rejects(client().collection('_superusers').authRefresh(), 401, 'guest refresh');
    });

    return {
        health: { code: health.code, message: health.message },
        superuser: { email: refreshed.record.email, collectionName: refreshed.record.collectionName },
        recordKeys: keys(refreshed.record),
    };
});

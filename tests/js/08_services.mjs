// Superuser services through the SDK: settings, logs, crons and backups.
//
// Only behaviour both servers share is asserted (this file runs against PocketBase too):
// e.g. the logs are searched for a failed request on a real route, because PocketBase writes
// its logs in debounced batches and a fresh PocketBase skips some successful requests.

import { client, eq, keys, ok, rejects, run, step, suffix, superuser } from './lib.mjs';

const BUILTIN_CRONS = [
    { id: '__pbDBOptimize__', expression: '0 0 * * *' },
    { id: '__pbMFACleanup__', expression: '0 * * * *' },
    { id: '__pbOTPCleanup__', expression: '0 * * * *' },
    { id: '__pbLogsCleanup__', expression: '0 */6 * * *' },
];

async function poll(what, fn, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await fn();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

await run('services', async () => {
    const pb = await superuser();
    const guest = client();
    const s = suffix();

    // -- settings ---------------------------------------------------------------------------
    await step('settings.getAll', async () => {
        const settings = await pb.settings.getAll();
        eq(
            keys(settings),
            ['backups', 'batch', 'logs', 'meta', 'rateLimits', 's3', 'smtp', 'superuserIPs', 'trustedProxy'],
            'settings sections',
        );
        eq(keys(settings.logs), ['logAuthId', 'logIP', 'maxDataSize', 'maxDays', 'minLevel'], 'logs keys');
        ok(!('password' in settings.smtp), 'smtp password hidden', settings.smtp);
        ok(!('secret' in settings.s3) && !('secret' in settings.backups.s3), 's3 secrets hidden');
    });

    await step('settings as guest', () => rejects(guest.settings.getAll(), 401, 'guest getAll'));

    await step('settings.update', async () => {
        const updated = await pb.settings.update({
            meta: { senderName: `SDK ${s}` },
            smtp: { password: `secret-${s}` },
            logs: { maxDays: 7 },
        });
        eq(updated.meta.senderName, `SDK ${s}`, 'senderName saved');
        eq(updated.meta.appName, 'Acme', 'other meta keys kept');
        eq(updated.logs.maxDays, 7, 'logs.maxDays saved');
        ok(!JSON.stringify(updated).includes(`secret-${s}`), 'password not echoed');
        const again = await pb.settings.getAll();
        eq(again.meta.senderName, `SDK ${s}`, 'senderName read back');
    });

    await step('settings.update invalid', async () => {
        const err = await rejects(pb.settings.update({ smtp: { port: -1 }, meta: { appURL: 'nope' } }), 400, 'invalid');
        eq(err.response.message, 'An error occurred while saving the new settings.', 'message');
        eq(err.response.data.smtp.port.code, 'validation_min_greater_equal_than_required', 'port code');
        eq(err.response.data.meta.appURL.code, 'validation_is_url', 'appURL code');
    });

    // -- logs -------------------------------------------------------------------------------
    const missing = `nope_${s}`;
    await step('a failed request', () => rejects(guest.collection(missing).getList(1, 5), 404, 'unknown collection'));

    const logged = await step('logs.getList finds it', () =>
        poll('the request log', async () => {
            const list = await pb.logs.getList(1, 10, { filter: `data.url ~ "${missing}"`, sort: '-created' });
            return list.items[0];
        }),
    );
    await step('log shape', async () => {
        eq(keys(logged), ['created', 'data', 'id', 'level', 'message'], 'log keys');
        eq(logged.data.status, 404, 'status');
        eq(logged.data.method, 'GET', 'method');
        eq(logged.data.type, 'request', 'type');
        eq(logged.data.auth, '', 'guest auth');
        ok(logged.message.startsWith(`GET /api/collections/${missing}/records`), 'message', logged.message);
        ok(logged.level > 0, 'error level', logged.level);
    });
    await step('logs.getOne', async () => {
        const one = await pb.logs.getOne(logged.id);
        eq(one, logged, 'same log');
    });
    await step('logs.getStats', async () => {
        const stats = await pb.logs.getStats({ filter: `data.url ~ "${missing}"` });
        ok(Array.isArray(stats) && stats.length >= 1, 'stats rows', stats);
        eq(keys(stats[0]), ['date', 'total'], 'stats keys');
        ok(/^\d{4}-\d\d-\d\d \d\d:00:00\.000Z$/.test(stats[0].date), 'hourly date', stats[0].date);
    });
    await step('logs as guest', () => rejects(guest.logs.getList(), 401, 'guest logs'));
    await step('logs bad filter', () => rejects(pb.logs.getList(1, 5, { filter: '(((' }), 400, 'bad filter'));

    // -- crons ------------------------------------------------------------------------------
    await step('crons.getFullList', async () => {
        eq(await pb.crons.getFullList(), BUILTIN_CRONS, 'built-in jobs');
    });
    await step('crons.run', async () => {
        eq(await pb.crons.run('__pbOTPCleanup__'), true, 'run');
        await rejects(pb.crons.run(`nope_${s}`), 404, 'unknown job');
    });

    // -- backups ----------------------------------------------------------------------------
    const name = `sdk_${s}.zip`;
    await step('backups.create', async () => {
        eq(await pb.backups.create(name), true, 'create');
        const err = await rejects(pb.backups.create(name), 400, 'same name again');
        eq(err.response.data.name.code, 'validation_backup_name_exists', 'name exists');
        await rejects(pb.backups.create('Bad Name.zip'), 400, 'invalid name');
    });
    const listed = await step('backups.getFullList', async () => {
        const list = await pb.backups.getFullList();
        const found = list.find((b) => b.key === name);
        ok(found, 'new backup listed', list);
        eq(keys(found), ['key', 'modified', 'size'], 'backup keys');
        ok(found.size > 0, 'size', found);
        return found;
    });
    await step('backups.getDownloadURL', async () => {
        const token = await pb.files.getToken();
        const resp = await fetch(pb.backups.getDownloadURL(token, name));
        eq(resp.status, 200, 'download status');
        const bytes = new Uint8Array(await resp.arrayBuffer());
        eq(bytes.length, listed.size, 'downloaded size');
        eq(String.fromCharCode(bytes[0], bytes[1]), 'PK', 'zip magic');
        const denied = await fetch(pb.backups.getDownloadURL('', name));
        eq(denied.status, 403, 'download without a token');
    });
    await step('backups.delete', async () => {
        eq(await pb.backups.delete(name), true, 'delete');
        ok(!(await pb.backups.getFullList()).some((b) => b.key === name), 'gone');
        await rejects(pb.backups.delete(name), 400, 'delete again');
    });
    await step('backups as guest', () => rejects(guest.backups.getFullList(), 401, 'guest backups'));
});

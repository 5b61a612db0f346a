// Batch through the SDK: pb.createBatch() with create/update/upsert/delete, all-or-nothing,
// rules with the batch's auth, files, expand/fields, and the settings switch.

import { client, eq, keys, ok, postsCollection, rejects, run, step, suffix, superuser } from './lib.mjs';

const PASSWORD = 'password123';

await run('batch', async () => {
    const su = await superuser();
    const tag = suffix();
    const users = await su.collections.getOne('users');
    const posts = await su.collections.create({
        ...postsCollection(users.id, `posts_${tag}`),
        deleteRule: 'author = @request.auth.id',
    });
    const files = await su.collections.create({
        name: `files_${tag}`,
        type: 'base',
        listRule: '',
        viewRule: '',
        createRule: '',
        fields: [
            { name: 'title', type: 'text' },
            { name: 'f', type: 'file', maxSelect: 2 },
        ],
    });
    const alice = client();
    const email = `alice_${tag}@example.com`;
    await alice.collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD });
    const aliceId = (await alice.collection('users').authWithPassword(email, PASSWORD)).record.id;
    const count = async () => (await su.collection(posts.name).getList(1, 1)).totalItems;

    await step('disabled by default', async () => {
        eq((await su.settings.getAll()).batch, { enabled: false, maxRequests: 50, timeout: 3, maxBodySize: 0 }, 'defaults');
        const batch = alice.createBatch();
        batch.collection(posts.name).create({ title: 'x' });
        const err = await rejects(batch.send(), 403, 'disabled');
        eq(err.response.message, 'Batch requests are not allowed.', 'message');
    });

    await step('enable in the settings', async () => {
        const s = await su.settings.update({ batch: { enabled: true, maxRequests: 10 } });
        eq(s.batch.enabled, true, 'enabled');
    });

    let first;
    await step('create, update, upsert and delete in one transaction', async () => {
        first = await alice.collection(posts.name).create({ title: 'existing', author: aliceId });
        const batch = alice.createBatch();
        batch.collection(posts.name).create({ id: `new${tag}000000`.slice(0, 15), title: 'one', views: 1 });
        batch.collection(posts.name).update(first.id, { title: 'changed' }, { fields: 'id,title' });
        batch.collection(posts.name).upsert({ id: first.id, 'views+': 5 });
        batch.collection(posts.name).upsert({ title: 'upserted' });
        batch.collection(posts.name).delete(first.id);
        const results = await batch.send();
        eq(results.map((r) => r.status), [200, 200, 200, 200, 204], 'statuses');
        eq(results[0].body.title, 'one', 'created');
        eq(results[1].body, { id: first.id, title: 'changed' }, 'fields applied');
        eq(results[2].body.views, 5, 'upsert of an existing id updates');
        eq(results[3].body.title, 'upserted', 'upsert without id creates');
        eq(results[4].body, null, 'delete has no body');
        eq(await count(), 2, 'two posts left');
    });

    await step('a failing request rolls everything back', async () => {
        const before = await count();
        const batch = alice.createBatch();
        batch.collection(posts.name).create({ title: 'ok' });
        batch.collection(posts.name).create({ title: '' });
        const err = await rejects(batch.send(), 400, 'invalid second request');
        eq(err.response.message, 'Batch transaction failed.', 'message');
        const failed = err.response.data.requests['1'];
        eq([failed.code, failed.message], ['batch_request_failed', 'Batch request failed.'], 'failed item');
        eq(failed.response.status, 400, 'inner status');
        ok('title' in failed.response.data, 'inner field error', failed.response);
        eq(await count(), before, 'nothing was written');
    });

    await step("rules use the batch's auth", async () => {
        const batch = client().createBatch();
        batch.collection(posts.name).create({ title: 'guest' });
        const err = await rejects(batch.send(), 400, 'guest create');
        eq(err.response.data.requests['0'].response.message, 'Failed to create record.', 'inner message');
    });

    await step('files in a batch', async () => {
        const batch = alice.createBatch();
        batch.collection(files.name).create({ title: 'with files', f: [new Blob(['a']), new Blob(['b'])] });
        batch.collection(files.name).create({ title: 'no files' });
        const [withFiles, without] = await batch.send();
        eq(withFiles.body.f.length, 2, 'two files stored');
        eq(without.body.f, [], 'none');
        eq(keys(withFiles.body), ['collectionId', 'collectionName', 'f', 'id', 'title'], 'record keys');
        const resp = await fetch(alice.files.getURL(withFiles.body, withFiles.body.f[0]));
        eq(resp.status, 200, 'file served');
    });

    await step('limits', async () => {
        const batch = alice.createBatch();
        for (let i = 0; i < 11; i++) batch.collection(posts.name).create({ title: `t${i}` });
        const err = await rejects(batch.send(), 400, 'too many requests');
        eq(err.response.data.requests.code, 'validation_length_too_long', 'code');
    });

    await su.settings.update({ batch: { enabled: false } });
});

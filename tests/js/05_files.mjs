// Files through the SDK: FormData uploads, pb.files.getURL (thumb, download, token),
// protected files and file tokens, +/- modifiers, upload limits.

import { client, eq, ok, rejects, run, step, suffix, superuser } from './lib.mjs';

const PASSWORD = 'password123';
// a 40x20 red PNG
const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAACgAAAAUCAIAAABwJOjsAAAAJElEQVR42mP8zzAwgIlh1OJRi0ctHrV41OJRi0ctHrV4xFgMADCnASfSk5uWAAAAAElFTkSuQmCC',
    'base64',
);

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes) {
    const b = Buffer.from(bytes);
    return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

async function get(url) {
    const resp = await fetch(url);
    return { status: resp.status, headers: resp.headers, body: Buffer.from(await resp.arrayBuffer()) };
}

await run('files', async () => {
    const su = await superuser();
    const tag = suffix();
    const users = await su.collections.getOne('users');
    const docs = await su.collections.create({
        name: `docs_${tag}`,
        type: 'base',
        listRule: '',
        viewRule: 'owner = @request.auth.id',
        createRule: '',
        updateRule: '',
        deleteRule: '',
        fields: [
            { name: 'title', type: 'text' },
            { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
            { name: 'one', type: 'file', maxSelect: 1, maxSize: 1000, thumbs: ['20x0'] },
            { name: 'many', type: 'file', maxSelect: 3 },
            { name: 'priv', type: 'file', maxSelect: 1, protected: true },
        ],
    });

    const people = {};
    for (const name of ['alice', 'bob']) {
        const pb = client();
        const email = `${name}_${tag}@example.com`;
        await pb.collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD });
        people[name] = { pb, record: (await pb.collection('users').authWithPassword(email, PASSWORD)).record };
    }
    const { alice, bob } = people;
    const guest = client();

    let doc;
    await step('upload with FormData', async () => {
        const form = new FormData();
        form.append('title', 'first');
        form.append('owner', alice.record.id);
        form.append('one', new Blob([PNG], { type: 'image/png' }), 'My Photo.png');
        form.append('many', new Blob(['hello']), 'a.txt');
        form.append('many', new Blob(['world']), 'b.txt');
        form.append('priv', new Blob(['topsecret']), 'secret.txt');
        doc = await alice.pb.collection(docs.name).create(form);
        ok(/^my_photo_[a-z0-9]{10}\.png$/.test(doc.one), 'stored name of one', doc.one);
        eq(doc.many.length, 2, 'two files');
        ok(/^a[a-z0-9]{10}_[a-z0-9]{10}\.txt$/.test(doc.many[0]), 'a short name gets padded', doc.many[0]);
        ok(/^secret_[a-z0-9]{10}\.txt$/.test(doc.priv), 'stored name of priv', doc.priv);
    });

    await step('serve, thumb and download', async () => {
        const original = await get(guest.files.getURL(doc, doc.one));
        eq(original.status, 200, 'status');
        eq(original.headers.get('content-type'), 'image/png', 'content type');
        eq(original.headers.get('content-disposition'), `inline; filename="${doc.one}"`, 'disposition');
        ok(original.body.equals(PNG), 'same bytes');
        const thumb = await get(guest.files.getURL(doc, doc.one, { thumb: '100x100' }));
        eq(pngSize(thumb.body), [100, 100], 'default thumb size');
        const own = await get(guest.files.getURL(doc, doc.one, { thumb: '20x0' }));
        eq(pngSize(own.body), [20, 10], "the field's own thumb size");
        const other = await get(guest.files.getURL(doc, doc.one, { thumb: '7x7' }));
        eq(pngSize(other.body), [40, 20], 'an unknown size serves the original');
        const download = await get(guest.files.getURL(doc, doc.one, { download: true }));
        eq(download.headers.get('content-disposition'), `attachment; filename="${doc.one}"`, 'download');
        const text = await get(guest.files.getURL(doc, doc.many[0]));
        eq(text.headers.get('content-type'), 'text/plain; charset=utf-8', 'text content type');
        eq(text.body.toString(), 'hello', 'text body');
        eq((await get(guest.files.getURL(doc, 'nope.txt'))).status, 404, 'missing file');
    });

    await step('protected files need a file token that passes the viewRule', async () => {
        eq((await get(guest.files.getURL(doc, doc.priv))).status, 404, 'no token');
        await rejects(guest.files.getToken(), 401, 'a guest gets no file token');
        const aliceToken = await alice.pb.files.getToken();
        const ok200 = await get(alice.pb.files.getURL(doc, doc.priv, { token: aliceToken }));
        eq([ok200.status, ok200.body.toString()], [200, 'topsecret'], 'owner with token');
        const bobToken = await bob.pb.files.getToken();
        eq((await get(bob.pb.files.getURL(doc, doc.priv, { token: bobToken }))).status, 404, 'another user');
        const suToken = await su.files.getToken();
        eq((await get(su.files.getURL(doc, doc.priv, { token: suToken }))).status, 200, 'superuser');
        eq((await get(guest.files.getURL(doc, doc.many[0], { token: 'garbage' }))).status, 200, 'public file');
    });

    await step('append and remove with modifiers', async () => {
        const form = new FormData();
        form.append('many+', new Blob(['third']), 'c.txt');
        const appended = await alice.pb.collection(docs.name).update(doc.id, form);
        eq(appended.many.slice(0, 2), doc.many, 'kept the old files');
        eq(appended.many.length, 3, 'appended one');
        const removed = await alice.pb.collection(docs.name).update(doc.id, { 'many-': [doc.many[0]] });
        eq(removed.many, appended.many.slice(1), 'removed the first');
        eq((await get(guest.files.getURL(doc, doc.many[0]))).status, 404, 'a removed file is gone');
        const cleared = await alice.pb.collection(docs.name).update(doc.id, { one: null });
        eq(cleared.one, '', 'single file cleared');
        eq((await get(guest.files.getURL(doc, doc.one))).status, 404, 'a cleared file is gone');
    });

    await step('limits', async () => {
        const big = new FormData();
        big.append('one', new Blob([Buffer.alloc(1001)]), 'big.bin');
        const tooBig = await rejects(alice.pb.collection(docs.name).create(big), 400, 'too big');
        eq(tooBig.response.data.one.code, 'validation_file_size_limit', 'size error code');
        const many = new FormData();
        for (const n of ['1', '2', '3', '4']) many.append('many', new Blob(['x']), `${n}.txt`);
        const tooMany = await rejects(alice.pb.collection(docs.name).create(many), 400, 'too many');
        eq(tooMany.response.data.many.code, 'validation_too_many_files', 'count error code');
    });

    await step('files go with their record', async () => {
        const url = guest.files.getURL(doc, doc.priv);
        await alice.pb.collection(docs.name).delete(doc.id);
        const suToken = await su.files.getToken();
        eq((await get(`${url}?token=${suToken}`)).status, 404, 'deleted record, deleted files');
    });
});

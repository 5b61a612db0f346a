// Records through the SDK as real users: sign-up, password login, list/filter/sort/paging,
// expand, fields, field modifiers, and what the API rules allow to each caller.

import { claims, client, eq, keys, ok, postsCollection, rejects, run, step, suffix, superuser } from './lib.mjs';

const PASSWORD = 'password123';

await run('records_users', async () => {
    const su = await superuser();
    const usersCollection = await su.collections.getOne('users');
    const postsName = `posts_${suffix()}`;
    await su.collections.create(postsCollection(usersCollection.id, postsName));

    const tag = suffix();
    const alice = { email: `alice_${tag}@example.com`, name: 'Alice' };
    const bob = { email: `bob_${tag}@example.com`, name: 'Bob' };

    for (const u of [alice, bob]) {
        await step(`guest signs up ${u.name}`, async () => {
            const rec = await client().collection('users').create({
                email: u.email,
                password: PASSWORD,
                passwordConfirm: PASSWORD,
                name: u.name,
            });
            ok(/^[a-z0-9]{15}$/.test(rec.id), 'record id is 15 [a-z0-9]', rec.id);
            eq(rec.collectionName, 'users', 'collectionName');
            eq(rec.collectionId, usersCollection.id, 'collectionId');
            eq(rec.name, u.name, 'name');
            eq(rec.verified, false, 'verified');
            eq(rec.emailVisibility, false, 'emailVisibility');
            // A guest is not the owner and emailVisibility is off: no email; never any secret.
            eq(
                keys(rec),
                ['avatar', 'collectionId', 'collectionName', 'created', 'emailVisibility', 'id', 'name', 'updated', 'verified'],
                'sign-up response keys',
            );
            u.id = rec.id;
        });
    }

    await step('sign-up validation errors', async () => {
        const mismatch = await rejects(
            client().collection('users').create({ email: `x_${tag}@example.com`, password: PASSWORD, passwordConfirm: 'nope12345' }),
            400,
            'password mismatch',
        );
        ok('passwordConfirm' in mismatch.response.data, 'passwordConfirm error', mismatch.response);
        const dup = await rejects(
            client().collection('users').create({ email: alice.email, password: PASSWORD, passwordConfirm: PASSWORD }),
            400,
            'duplicate email',
        );
        ok('email' in dup.response.data, 'email error', dup.response);
    });

    const pbA = client();
    const pbB = client();

    await step('users log in with password', async () => {
        const a = await pbA.collection('users').authWithPassword(alice.email, PASSWORD);
        eq(a.record.id, alice.id, 'alice id');
        // The owner always sees their own email, whatever emailVisibility says.
        eq(a.record.email, alice.email, 'alice sees own email');
        eq(claims(a.token).collectionId, usersCollection.id, 'token collectionId');
        await pbB.collection('users').authWithPassword(bob.email, PASSWORD);
        await rejects(client().collection('users').authWithPassword(alice.email, 'wrong-pass'), 400, 'bad password');
    });

    await step('authRefresh', async () => {
        const r = await pbA.collection('users').authRefresh();
        eq(r.record.id, alice.id, 'refreshed id');
        eq(r.record.email, alice.email, 'refreshed email');
        ok(pbA.authStore.isValid && !pbA.authStore.isSuperuser, 'authStore holds a regular user');
    });

    await step('listAuthMethods', async () => {
        const m = await client().collection('users').listAuthMethods();
        eq(m.password, { enabled: true, identityFields: ['email'] }, 'password method');
        eq(m.oauth2.enabled, false, 'oauth2 off');
        eq(m.oauth2.providers, [], 'no providers');
        eq(m.mfa.enabled, false, 'mfa off');
        eq(m.otp.enabled, false, 'otp off');
    });

    // 12 posts by alice: views 0,3,...,33; every other one published.
    const seed = Array.from({ length: 12 }, (_, i) => ({
        title: `post ${i}`,
        views: i * 3,
        published: i % 2 === 0,
        meta: { n: i, even: i % 2 === 0 },
        tags: i % 3 === 0 ? ['a', 'c'] : ['b'],
        due: '2025-01-15 10:00:00.000Z',
        author: alice.id,
    }));
    const posts = pbA.collection(postsName);

    const created = await step('alice creates posts', async () => {
        const out = [];
        for (const body of seed) out.push(await posts.create(body));
        const first = out[0];
        eq(first.title, 'post 0', 'title');
        eq(first.views, 0, 'views');
        eq(first.published, true, 'published');
        eq(first.meta, { n: 0, even: true }, 'json round-trip');
        eq(first.tags, ['a', 'c'], 'multi select');
        eq(first.due, '2025-01-15 10:00:00.000Z', 'date format');
        eq(first.author, alice.id, 'relation');
        ok(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/.test(first.created), 'autodate format', first.created);
        eq(first.collectionName, postsName, 'collectionName');
        eq(
            keys(first),
            ['author', 'collectionId', 'collectionName', 'created', 'due', 'id', 'meta', 'published', 'tags', 'title', 'updated', 'views'],
            'record keys',
        );
        return out;
    });

    await step('zero values on a sparse record', async () => {
        const r = await posts.create({ title: 'sparse', author: alice.id });
        eq(
            [r.views, r.published, r.meta, r.tags, r.due],
            [0, false, null, [], ''],
            'zero values',
        );
        await su.collection(postsName).delete(r.id);
    });

    await step('getList with filter and sort', async () => {
        const page = await client().collection(postsName).getList(1, 30, {
            filter: 'views > 10 && published = true',
            sort: '-views',
        });
        const expected = seed.filter((p) => p.views > 10 && p.published).sort((a, b) => b.views - a.views);
        eq(page.items.map((p) => p.title), expected.map((p) => p.title), 'titles in order');
        eq([page.page, page.perPage, page.totalItems, page.totalPages], [1, 30, expected.length, 1], 'paging meta');
    });

    await step('getList paging', async () => {
        const page = await client().collection(postsName).getList(2, 5, { sort: 'views' });
        eq(page.items.map((p) => p.views), [15, 18, 21, 24, 27], 'page 2 views');
        eq([page.page, page.perPage, page.totalItems, page.totalPages], [2, 5, 12, 3], 'paging meta');
        const skip = await client().collection(postsName).getList(1, 5, { skipTotal: true });
        eq([skip.totalItems, skip.totalPages], [-1, -1], 'skipTotal meta');
    });

    await step('getFullList pages in batches', async () => {
        const guest = client();
        const queries = [];
        guest.beforeSend = (url, options) => {
            queries.push({ ...options.query });
            return { url, options };
        };
        const all = await guest.collection(postsName).getFullList({ batch: 5, sort: 'views' });
        eq(all.map((p) => p.views), seed.map((p) => p.views), 'all items in order');
        // 5 + 5 + 2: the SDK stops at the first short page.
        eq(queries.map((q) => [q.page, q.perPage, q.skipTotal]), [[1, 5, 1], [2, 5, 1], [3, 5, 1]], 'requests');
    });

    await step('getFirstListItem', async () => {
        const hit = await client().collection(postsName).getFirstListItem('title = "post 3"');
        eq(hit.views, 9, 'found item');
        await rejects(client().collection(postsName).getFirstListItem('title = "nope"'), 404, 'no match');
    });

    await step('filters on json, select and text', async () => {
        const c = client().collection(postsName);
        const even = await c.getFullList({ filter: 'meta.even = true' });
        eq(even.length, 6, 'json path filter');
        const tagged = await c.getFullList({ filter: "tags:each ?= 'a'", sort: 'views' });
        eq(tagged.map((p) => p.views), [0, 9, 18, 27], 'select :each filter');
        const like = await c.getFullList({ filter: "title ~ 'post 1'", sort: 'views' });
        eq(like.map((p) => p.title), ['post 1', 'post 10', 'post 11'], 'like filter');
    });

    await step('expand author', async () => {
        const id = created[0].id;
        const mine = await posts.getOne(id, { expand: 'author' });
        eq(mine.expand.author.id, alice.id, 'expanded id');
        eq(mine.expand.author.name, 'Alice', 'expanded name');
        eq(mine.expand.author.email, alice.email, 'owner sees email in expand');
        // users' viewRule is `id = @request.auth.id`: bob may not see alice. PocketBase then
        // still sends `expand`, as an empty object; an unknown relation name is ignored the same way.
        const theirs = await pbB.collection(postsName).getOne(id, { expand: 'author,nosuchfield' });
        eq(theirs.expand, {}, 'expand left out for bob');
        eq(theirs.author, alice.id, 'relation id still shown');
        const list = await posts.getList(1, 2, { expand: 'author', sort: 'views' });
        ok(list.items.every((p) => p.expand.author.id === alice.id), 'expand in list', list.items);
    });

    await step('fields picks keys', async () => {
        const one = await posts.getOne(created[0].id, { fields: 'id,title' });
        eq(keys(one), ['id', 'title'], 'getOne fields');
        const page = await posts.getList(1, 3, { fields: 'id,title' });
        eq(keys(page), ['items', 'page', 'perPage', 'totalItems', 'totalPages'], 'list meta kept');
        ok(page.items.every((p) => keys(p).join() === 'id,title'), 'list item fields', page.items);
    });

    await step("update with 'views+'", async () => {
        const target = created[4];
        const r = await posts.update(target.id, { 'views+': 5, title: 'bumped' });
        eq(r.views, target.views + 5, 'views added');
        eq(r.title, 'bumped', 'title set');
        const r2 = await posts.update(target.id, { 'views-': 2, 'tags+': 'c' });
        eq(r2.views, target.views + 3, 'views subtracted');
        eq(r2.tags, ['b', 'c'], 'tag appended');
    });

    await step('validation error on update', async () => {
        const err = await rejects(posts.update(created[0].id, { title: '' }), 400, 'blank required title');
        eq(err.response.data.title.code, 'validation_required', 'error code');
    });

    await step("another user's update gives 404", async () => {
        await rejects(pbB.collection(postsName).update(created[0].id, { title: 'hacked' }), 404, 'bob update');
        eq((await posts.getOne(created[0].id)).title, 'post 0', 'unchanged');
    });

    await step('guest create gives 400', async () => {
        await rejects(client().collection(postsName).create({ title: 'guest', author: alice.id }), 400, 'guest create');
    });

    await step('delete by a non-superuser gives 403', async () => {
        const err = await rejects(posts.delete(created[0].id), 403, 'alice delete');
        eq(err.response.message, 'Only superusers can perform this action.', 'message');
        eq(await su.collection(postsName).delete(created[1].id), true, 'superuser delete');
        await rejects(client().collection(postsName).getOne(created[1].id), 404, 'deleted record');
    });

    await step('users see only themselves', async () => {
        const seen = await pbB.collection('users').getFullList();
        eq(seen.map((u) => u.id), [bob.id], 'bob lists only bob');
        await rejects(pbB.collection('users').getOne(alice.id), 404, 'bob views alice');
    });

    await step('superuser impersonate', async () => {
        const imp = await su.collection('users').impersonate(alice.id, 3600);
        eq(imp.authStore.record.id, alice.id, 'impersonated record');
        const c = claims(imp.authStore.token);
        eq(c.refreshable, false, 'impersonation token is not refreshable');
        ok(c.exp - Math.floor(Date.now() / 1000) <= 3600, 'duration honoured', c);
        const r = await imp.collection(postsName).update(created[2].id, { title: 'as alice' });
        eq(r.title, 'as alice', 'acts as alice');
        const refreshed = await imp.collection('users').authRefresh();
        eq(refreshed.token, imp.authStore.token, 'refresh returns the same token');
        await rejects(pbA.collection('users').impersonate(bob.id, 60), 403, 'non-superuser impersonate');
    });

    await su.collections.delete(postsName);
    return { users: [alice.name, bob.name], posts: created.length };
});

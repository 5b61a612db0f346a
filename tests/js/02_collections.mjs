// Collections API: create a base collection with one field of each common type and rules,
// view, update (add a field), list, scaffolds, truncate, import, delete.

import { client, eq, keys, ok, postsCollection, rejects, run, step, superuser } from './lib.mjs';

await run('collections', async () => {
    const pb = await superuser();
    const users = await step('view users collection', () => pb.collections.getOne('users'));
    eq(users.type, 'auth', 'users type');

    const posts = await step('create posts', async () => {
        const c = await pb.collections.create(postsCollection(users.id));
        eq(c.name, 'posts', 'name');
        eq(c.type, 'base', 'type');
        eq(c.system, false, 'system');
        ok(/^pbc_\d+$/.test(c.id), 'collection id looks like pbc_<number>', c.id);
        eq(c.listRule, '', 'listRule');
        eq(c.viewRule, '', 'viewRule');
        eq(c.createRule, "@request.auth.id != ''", 'createRule');
        eq(c.updateRule, 'author = @request.auth.id', 'updateRule');
        eq(c.deleteRule, null, 'deleteRule');
        // The implicit primary key comes first, then the fields in the order given.
        eq(
            c.fields.map((f) => [f.name, f.type]),
            [
                ['id', 'text'],
                ['title', 'text'],
                ['views', 'number'],
                ['published', 'bool'],
                ['meta', 'json'],
                ['tags', 'select'],
                ['due', 'date'],
                ['author', 'relation'],
                ['created', 'autodate'],
                ['updated', 'autodate'],
            ],
            'fields',
        );
        const byName = Object.fromEntries(c.fields.map((f) => [f.name, f]));
        eq(byName.id.primaryKey, true, 'id.primaryKey');
        eq(byName.id.system, true, 'id.system');
        eq(byName.id.pattern, '^[a-z0-9]+$', 'id.pattern');
        eq(byName.title.required, true, 'title.required');
        eq(byName.title.max, 200, 'title.max');
        eq(byName.views.onlyInt, true, 'views.onlyInt');
        eq(byName.tags.values, ['a', 'b', 'c'], 'tags.values');
        eq(byName.tags.maxSelect, 3, 'tags.maxSelect');
        eq(byName.author.collectionId, users.id, 'author.collectionId');
        eq(byName.author.maxSelect, 1, 'author.maxSelect');
        eq(byName.author.cascadeDelete, false, 'author.cascadeDelete default');
        for (const f of c.fields) {
            for (const k of ['id', 'name', 'type', 'system', 'hidden', 'presentable']) {
                ok(k in f, `field ${f.name} has ${k}`, f);
            }
            ok(typeof f.id === 'string' && f.id.length > 0, `field ${f.name} got an id`, f);
        }
        eq(c.indexes, [], 'indexes');
        return c;
    });

    await step('duplicate name gives 400 with data.name', async () => {
        const err = await rejects(pb.collections.create(postsCollection(users.id)), 400, 'duplicate');
        ok('name' in err.response.data, 'error names the field', err.response);
    });

    await step('getOne by name and by id', async () => {
        const byName = await pb.collections.getOne('posts');
        const byId = await pb.collections.getOne(posts.id);
        eq(byName.id, posts.id, 'id by name');
        eq(byId.name, 'posts', 'name by id');
    });

    await step('update adds a field and keeps the rest', async () => {
        const fields = [...posts.fields, { name: 'subtitle', type: 'text' }];
        const c = await pb.collections.update('posts', { fields, viewRule: "published = true" });
        eq(c.fields.at(-1).name, 'subtitle', 'new last field');
        eq(c.fields.length, posts.fields.length + 1, 'field count');
        eq(c.viewRule, 'published = true', 'viewRule updated');
        eq(c.listRule, '', 'listRule untouched');
        // Field ids are stable across updates: they are how renames are told from drop+add.
        eq(c.fields[1].id, posts.fields[1].id, 'title field id kept');
    });

    await step('getList with filter', async () => {
        const page = await pb.collections.getList(1, 50, { filter: "name = 'posts'" });
        eq(keys(page), ['items', 'page', 'perPage', 'totalItems', 'totalPages'], 'list keys');
        eq(page.page, 1, 'page');
        eq(page.perPage, 50, 'perPage');
        eq(page.totalItems, 1, 'totalItems');
        eq(page.items.map((c) => c.name), ['posts'], 'items');
    });

    await step('getFullList holds the system and default collections', async () => {
        const all = await pb.collections.getFullList({ sort: 'name' });
        const names = all.map((c) => c.name);
        for (const n of ['_authOrigins', '_externalAuths', '_mfas', '_otps', '_superusers', 'posts', 'users']) {
            ok(names.includes(n), `has ${n}`, names);
        }
        eq(all.find((c) => c.name === '_superusers').system, true, '_superusers is system');
        eq(all.find((c) => c.name === 'users').id, '_pb_users_auth_', 'users id');
    });

    const scaffolds = await step('getScaffolds', async () => {
        const s = await pb.collections.getScaffolds();
        eq(keys(s), ['auth', 'base', 'view'], 'scaffold types');
        eq(s.base.type, 'base', 'base scaffold type');
        eq(s.base.fields.map((f) => f.name), ['id'], 'base scaffold fields');
        eq(s.view.type, 'view', 'view scaffold type');
        eq(s.auth.type, 'auth', 'auth scaffold type');
        const authFields = s.auth.fields.map((f) => f.name);
        for (const n of ['id', 'password', 'tokenKey', 'email', 'emailVisibility', 'verified']) {
            ok(authFields.includes(n), `auth scaffold has ${n}`, authFields);
        }
        return s;
    });

    await step('truncate removes all records', async () => {
        const author = await pb.collection('users').create({
            email: 'trunc@example.com',
            password: 'password123',
            passwordConfirm: 'password123',
        });
        for (let i = 0; i < 3; i++) {
            await pb.collection('posts').create({ title: `t${i}`, author: author.id, published: true });
        }
        eq((await pb.collection('posts').getList(1, 10)).totalItems, 3, 'before truncate');
        eq(await pb.collections.truncate('posts'), true, 'truncate result');
        eq((await pb.collection('posts').getList(1, 10)).totalItems, 0, 'after truncate');
    });

    await step('import adds a collection and keeps the others', async () => {
        const result = await pb.collections.import(
            [{ name: 'imported', type: 'base', fields: [{ name: 'label', type: 'text' }] }],
            false,
        );
        eq(result, true, 'import result');
        const imported = await pb.collections.getOne('imported');
        eq(imported.fields.map((f) => f.name), ['id', 'label'], 'imported fields');
        eq(imported.listRule, null, 'rules default to superuser-only');
        await pb.collections.getOne('posts');
    });

    await step('import validation error gives 400', async () => {
        await rejects(
            pb.collections.import([{ name: 'bad name!', type: 'base', fields: [] }], false),
            400,
            'invalid import',
        );
    });

    await step('guests and users cannot touch collections', async () => {
        await rejects(client().collections.getList(1, 10), 401, 'guest list');
        const user = client();
        await user.collection('users').authWithPassword('trunc@example.com', 'password123');
        await rejects(user.collections.getList(1, 10), 403, 'non-superuser list');
    });

    await step('delete collections', async () => {
        eq(await pb.collections.delete('imported'), true, 'delete imported');
        eq(await pb.collections.delete('posts'), true, 'delete posts');
        await rejects(pb.collections.getOne('posts'), 404, 'deleted posts');
        await rejects(pb.collections.delete('_superusers'), 400, 'system collection delete');
    });

    return {
        postsFields: posts.fields.map((f) => f.name),
        scaffoldTypes: keys(scaffolds),
    };
});

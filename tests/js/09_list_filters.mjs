// List filters through the SDK: the filters the SDK's helpers send to /api/collections and to a
// records list (|| from getFullList, parentheses, numbers, <, >, ?=), and what a bad one returns.

import { client, eq, keys, rejects, run, step, suffix, superuser } from './lib.mjs';

await run('list_filters', async () => {
    const pb = await superuser();
    const s = suffix();
    const a = `fa_${s}`;
    const b = `fb_${s}`;

    await step('create two collections', async () => {
        for (const name of [a, b]) {
            await pb.collections.create({
                name,
                type: 'base',
                listRule: '',
                fields: [
                    { name: 'title', type: 'text' },
                    { name: 'n', type: 'number' },
                ],
            });
        }
    });

    await step('collections getFullList with ||', async () => {
        const list = await pb.collections.getFullList({ filter: `name = "${a}" || name = "${b}"`, sort: 'name' });
        eq(
            list.map((c) => c.name),
            [a, b],
            'names',
        );
        eq(keys(list[0]).includes('fields'), true, 'full collection objects');
    });

    await step('collections getList with parentheses, != and &&', async () => {
        const page = await pb.collections.getList(1, 10, {
            filter: `(name = "${a}" || name = "${b}") && name != "${b}" && system = false && type ?= "base"`,
        });
        eq(page.totalItems, 1, 'totalItems');
        eq(page.items[0].name, a, 'name');
    });

    await step('collections getFirstListItem', async () => {
        const c = await pb.collections.getFirstListItem(`name = "${b}" && created > 0`);
        eq(c.name, b, 'name');
    });

    await step('collections: a field the list does not expose is a 400', async () => {
        const err = await rejects(pb.collections.getList(1, 10, { filter: 'fields ~ "title"' }), 400, 'fields');
        eq(err.response, { data: {}, message: 'Something went wrong while processing your request.', status: 400 }, 'body');
    });

    await step('records: numbers, <, >, parentheses', async () => {
        for (const n of [1, 5, 9]) {
            await pb.collection(a).create({ title: `t${n}`, n });
        }
        const rows = await client()
            .collection(a)
            .getFullList({ filter: '(n < 2 || n > 8) && title != "x"', sort: '-n' });
        eq(
            rows.map((r) => r.n),
            [9, 1],
            'n',
        );
    });
});

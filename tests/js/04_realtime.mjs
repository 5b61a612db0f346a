// Realtime through the SDK (EventSource polyfill): subscribe/unsubscribe, topics with options,
// rule-checked delivery per subscriber, create/update/delete events.

import { client, eq, keys, ok, run, step, suffix, superuser } from './lib.mjs';

const PASSWORD = 'password123';

/** Resolve once `items()` holds an item matching `predicate`; fail after `ms`. */
async function waitFor(items, predicate, what, ms = 5000) {
    const deadline = Date.now() + ms;
    let list = items();
    while (Date.now() < deadline) {
        list = items();
        const found = list.find(predicate);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(list)}`);
}

await run('realtime', async () => {
    const su = await superuser();
    const tag = suffix();
    const users = await su.collections.getOne('users');
    const fields = [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
        { name: 'secret', type: 'text', hidden: true },
    ];
    const open = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };
    const notes = await su.collections.create({ name: `notes_${tag}`, type: 'base', fields, ...open });
    const mine = await su.collections.create({
        name: `mine_${tag}`,
        type: 'base',
        fields,
        ...open,
        listRule: 'owner = @request.auth.id',
        viewRule: 'owner = @request.auth.id',
    });
    // every client also listens here: once a ping arrived, earlier events that did not never will
    const pings = await su.collections.create({ name: `pings_${tag}`, type: 'base', fields, ...open });

    const email = `rt_${tag}@example.com`;
    await client().collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD });
    const bob = await client()
        .collection('users')
        .create({ email: `rt2_${tag}@example.com`, password: PASSWORD, passwordConfirm: PASSWORD });
    const alice = client();
    const alicesRecord = (await alice.collection('users').authWithPassword(email, PASSWORD)).record;
    const guest = client();

    const got = { guest: [], alice: [], su: [] };
    const listeners = { guest, alice, su };
    let pingCount = 0;
    async function barrier() {
        const title = `ping-${++pingCount}`;
        await su.collection(pings.name).create({ title });
        for (const name of Object.keys(got)) {
            await waitFor(() => got[name], (e) => e.record.title === title, `${name} ${title}`);
        }
    }
    const real = (name, topic) => got[name].filter((e) => e.topic === topic);

    await step('subscribe to a collection and the barrier', async () => {
        for (const [name, pb] of Object.entries(listeners)) {
            await pb.collection(pings.name).subscribe('*', (e) => got[name].push({ topic: 'pings', ...e }));
            await pb.collection(notes.name).subscribe('*', (e) => got[name].push({ topic: 'notes/*', ...e }));
            await pb.collection(mine.name).subscribe('*', (e) => got[name].push({ topic: 'mine/*', ...e }));
            ok(pb.realtime.isConnected, `${name} connected`);
            ok(/^[A-Za-z0-9]{40}$/.test(pb.realtime.clientId), 'clientId is 40 alphanumerics', pb.realtime.clientId);
        }
        await barrier();
    });

    let note;
    await step('create event', async () => {
        note = await su.collection(notes.name).create({ title: 'n1', secret: 's' });
        const e = await waitFor(() => real('guest', 'notes/*'), (x) => x.record.id === note.id, 'guest create');
        eq(e.action, 'create', 'action');
        eq(keys(e.record), ['collectionId', 'collectionName', 'id', 'owner', 'title'], 'guest record keys');
        const s = await waitFor(() => real('su', 'notes/*'), (x) => x.record.id === note.id, 'su create');
        eq(s.record.secret, 's', 'superusers see hidden fields');
    });

    await step('record topic and options', async () => {
        const byId = [];
        const picked = [];
        await guest.collection(notes.name).subscribe(note.id, (e) => byId.push(e));
        await guest.collection(notes.name).subscribe('*', (e) => picked.push(e), { fields: 'id,title' });
        await su.collection(notes.name).update(note.id, { title: 'n1b' });
        const e = await waitFor(() => byId, (x) => x.record.title === 'n1b', 'record topic update');
        eq(e.action, 'update', 'action');
        const p = await waitFor(() => picked, (x) => x.record.title === 'n1b', 'fields option');
        eq(keys(p.record), ['id', 'title'], 'fields option keys');
        await guest.collection(notes.name).unsubscribe(note.id);
    });

    await step('rules decide who gets what', async () => {
        const theirs = await su.collection(mine.name).create({ title: 'for alice', owner: alicesRecord.id });
        await su.collection(mine.name).create({ title: 'for bob', owner: bob.id });
        await barrier();
        eq(real('alice', 'mine/*').map((e) => e.record.title), ['for alice'], 'alice sees her record only');
        eq(real('guest', 'mine/*'), [], 'a guest sees neither');
        eq(real('su', 'mine/*').length, 2, 'a superuser sees both');
        await su.collection(mine.name).delete(theirs.id);
        await barrier();
        eq(real('alice', 'mine/*').map((e) => e.action), ['create', 'delete'], 'alice sees the delete');
    });

    await step('delete event', async () => {
        await su.collection(notes.name).delete(note.id);
        const e = await waitFor(() => real('guest', 'notes/*'), (x) => x.action === 'delete', 'delete');
        eq(e.record.id, note.id, 'deleted id');
        eq(e.record.title, 'n1b', 'deleted record as it was');
    });

    await step('unsubscribe', async () => {
        await guest.collection(notes.name).unsubscribe('*');
        const before = real('guest', 'notes/*').length;
        await su.collection(notes.name).create({ title: 'after unsubscribe' });
        await barrier();
        eq(real('guest', 'notes/*').length, before, 'no events after unsubscribe');
        await guest.collection(pings.name).unsubscribe();
        await guest.collection(mine.name).unsubscribe();
        ok(!guest.realtime.isConnected, 'the SDK disconnects without subscriptions');
    });

    for (const pb of [alice, su]) await pb.realtime.unsubscribe();
});
// open EventSources would keep node alive after a failed step
process.exit(process.exitCode ?? 0);

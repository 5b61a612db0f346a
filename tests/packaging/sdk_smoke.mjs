// The frozen executable through the official PocketBase JS SDK: superuser login, a collection,
// a record create and a list. `node sdk_smoke.mjs URL EMAIL PASSWORD` prints one JSON line
// ({ok, ...}) and exits 1 on the first failure, naming the step.
// The SDK is the one tests/js installs (tests/js/node_modules), imported by path.
import PocketBase from '../js/node_modules/pocketbase/dist/pocketbase.es.mjs';

const [url, email, password] = process.argv.slice(2);
const pb = new PocketBase(url);
pb.autoCancellation(false);
let step = 'superuser login';
try {
    const auth = await pb.collection('_superusers').authWithPassword(email, password);
    step = 'create collection';
    await pb.collections.create({
        name: 'smoke_notes',
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [{ name: 'title', type: 'text', required: true }],
    });
    step = 'create record';
    const created = await pb.collection('smoke_notes').create({ title: 'from the frozen core' });
    step = 'list records';
    const list = await pb.collection('smoke_notes').getList(1, 10);
    console.log(
        JSON.stringify({
            ok: true,
            superuser: auth.record.email,
            created: created.id,
            total: list.totalItems,
            items: list.items.map((r) => ({ id: r.id, title: r.title })),
        }),
    );
} catch (err) {
    console.log(JSON.stringify({ ok: false, step, error: String(err), status: err?.status, response: err?.response }));
    process.exit(1);
}

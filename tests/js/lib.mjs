// Shared helpers for the SDK scenarios: configuration, assertions, and the JSON report.
//
// Every scenario is `node NAME.mjs [URL]` with PB_URL / PB_EMAIL / PB_PASSWORD in the env.
// It prints exactly one JSON object on stdout ({scenario, ok, steps, ...}) and exits 1 on the
// first failed check, naming the step and, for HTTP errors, the request and the server's body.

import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import PocketBase, { ClientResponseError } from 'pocketbase';

// The SDK's realtime service uses the browser's global EventSource, which Node 20 lacks.
globalThis.EventSource ??= EventSource;

export { PocketBase, ClientResponseError };

export const config = {
    url: process.argv[2] || process.env.PB_URL || 'http://127.0.0.1:8090',
    email: process.env.PB_EMAIL || 'admin@example.com',
    password: process.env.PB_PASSWORD || 'password123456',
};

const steps = [];
let currentStep = '(setup)';

/** A fresh SDK client. Auto-cancellation would abort our parallel GETs to the same path. */
export function client() {
    const pb = new PocketBase(config.url);
    pb.autoCancellation(false);
    return pb;
}

export async function superuser() {
    const pb = client();
    await pb.collection('_superusers').authWithPassword(config.email, config.password);
    return pb;
}

/** Run one named step; its name shows up in the report and in any failure. */
export async function step(name, fn) {
    currentStep = name;
    const value = await fn();
    steps.push(name);
    return value;
}

export function eq(actual, expected, what) {
    assert.deepStrictEqual(actual, expected, `${what}: expected ${j(expected)}, got ${j(actual)}`);
}

export function ok(condition, what, detail) {
    assert.ok(condition, detail === undefined ? what : `${what}: ${j(detail)}`);
}

/** The keys of an object, sorted, so shapes compare without caring about order. */
export function keys(obj) {
    return Object.keys(obj).sort();
}

/** Await a call that must fail with `status`; returns the ClientResponseError for more checks. */
export async function rejects(promise, status, what) {
    try {
        const value = await promise;
        assert.fail(`${what}: expected HTTP ${status}, but it succeeded with ${j(value)}`);
    } catch (err) {
        if (!(err instanceof ClientResponseError)) throw err;
        eq(err.status, status, `${what}: status (body ${j(err.response)})`);
        return err;
    }
}

/** The claims of a JWT, without verifying it (the server is the one that verifies). */
export function claims(token) {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** A unique-enough suffix so reruns against a long-lived server don't collide. */
export function suffix() {
    return Math.random().toString(36).slice(2, 8);
}

/** The `posts` collection used by the scenarios: one field of each common type. */
export function postsCollection(usersId, name = 'posts') {
    return {
        name,
        type: 'base',
        fields: [
            { name: 'title', type: 'text', required: true, max: 200 },
            { name: 'views', type: 'number', onlyInt: true },
            { name: 'published', type: 'bool' },
            { name: 'meta', type: 'json' },
            { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
            { name: 'due', type: 'date' },
            { name: 'author', type: 'relation', collectionId: usersId, maxSelect: 1 },
            { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
            { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
        ],
        listRule: '',
        viewRule: '',
        createRule: "@request.auth.id != ''",
        updateRule: 'author = @request.auth.id',
        deleteRule: null,
    };
}

/** Run a scenario: print the JSON report and set the exit code. */
export async function run(scenario, fn) {
    try {
        const result = (await fn()) ?? {};
        console.log(JSON.stringify({ scenario, ok: true, steps, ...result }));
    } catch (err) {
        const report = { scenario, ok: false, step: currentStep, steps, error: String(err?.message ?? err) };
        if (err instanceof ClientResponseError) {
            report.url = err.url;
            report.status = err.status;
            report.response = err.response;
        }
        console.log(JSON.stringify(report));
        console.error(`FAIL ${scenario} at step "${currentStep}": ${report.error}`);
        if (err instanceof ClientResponseError) {
            console.error(`  ${err.status} ${err.url}\n  ${j(err.response)}`);
        } else if (err?.stack) {
            console.error(err.stack);
        }
        process.exitCode = 1;
    }
}

function j(value) {
    return JSON.stringify(value);
}

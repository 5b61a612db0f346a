// A second official client, nats.js, connects with a `.creds` file written by `core nats creds`
// (the `nats` CLI is a Go binary no registry here ships), publishes, subscribes, and uses JetStream.
// Usage: node creds_nats_js.mjs NATS_URL CREDS_FILE
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../js/package.json", import.meta.url));
const { connect, credsAuthenticator, StringCodec } = require("nats");

const [url, credsFile] = process.argv.slice(2);
const nc = await connect({
  servers: url,
  authenticator: credsAuthenticator(readFileSync(credsFile)),
  reconnect: false,
  timeout: 5000,
});
const sc = StringCodec();
const sub = nc.subscribe("greet.*", { max: 1 });
nc.publish("greet.js", sc.encode("hi from nats.js"));
let received = "";
for await (const m of sub) received = sc.decode(m.data);
const jsm = await nc.jetstreamManager();
await jsm.streams.add({ name: "jsorders", subjects: ["jsorders.>"] });
const ack = await nc.jetstream().publish("jsorders.new", sc.encode("1"));
await nc.close();
console.log(JSON.stringify({ received, stream: ack.stream, seq: ack.seq }));

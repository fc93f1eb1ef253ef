// nats.js (v3: @nats-io/transport-node, @nats-io/jetstream), made to fail for real against a
// real nats-server (one node, JetStream, a configuration of the test's own): no responders (a
// JetStream publish on a subject no stream holds), a request timeout (a subscriber that never
// answers), a permission violation (a user denied the subject), a wrong password, and a
// JetStream API error (a stream that does not exist). classify() judges them by
// src/errors/nats-rules.ts, by name and fields.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { assertVerdict } from "../helpers/library-errors.js";
import { natsSkipReason } from "../helpers/nats-cluster.js";
import { NatsServer } from "../helpers/nats-server.js";

const skip = natsSkipReason();
let server: NatsServer | undefined;

before(async () => {
  if (skip !== undefined) return;
  server = await NatsServer.start(
    (port, storeDir) => `
listen: "127.0.0.1:${port}"
jetstream { store_dir: ${JSON.stringify(storeDir)} }
accounts {
  APP: {
    jetstream: enabled
    users: [
      { user: "full", password: "full" }
      { user: "limited", password: "limited", permissions: {
          publish: { allow: ["$JS.API.>"], deny: ["secret.>"] }
          subscribe: { allow: ["_INBOX.>"] } } }
    ]
  }
}
`,
  );
});
after(() => server?.stop());

async function as(user: string, fn: (nc: NatsConnection) => Promise<void>): Promise<void> {
  const nc = await connect({ servers: [`nats://127.0.0.1:${(server as NatsServer).port}`], user, pass: user });
  try {
    await fn(nc);
  } finally {
    await nc.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail("expected a rejection"),
    (err: unknown) => err,
  );
}

test(
  "nats.js: a JetStream publish on a subject no stream holds: no responders, a connection error (not delivered)",
  { skip },
  () =>
    as("full", async (nc) => {
      const err = await rejection(jetstream(nc, { timeout: 2000 }).publish("nowhere.x", "m"));
      assertVerdict(err, { connection: true, kind: "not-connected", code: "NATS_NO_RESPONDERS", delivered: "no" });
    }),
);

test("nats.js: a request nobody answers in time: a timeout, a connection error (maybe delivered)", { skip }, () =>
  as("full", async (nc) => {
    const sub = nc.subscribe("silent.x"); // takes the request, never answers
    const err = await rejection(nc.request("silent.x", "m", { timeout: 300 }));
    sub.unsubscribe();
    assertVerdict(err, { connection: true, kind: "timeout", delivered: "maybe" });
  }),
);

test(
  "nats.js: publishing on a subject the user may not: a permission violation, not a connection error",
  { skip },
  () =>
    as("limited", async (nc) => {
      const err = await rejection(nc.request("secret.x", "m", { timeout: 2000 }));
      assertVerdict(err, { connection: false, kind: "other", code: "NATS_PERMISSION", detail: "auth" });
    }),
);

test("nats.js: a wrong password: an authorization error, not a connection error", { skip }, async () => {
  const err = await rejection(
    connect({ servers: [`nats://127.0.0.1:${(server as NatsServer).port}`], user: "full", pass: "wrong" }),
  );
  assertVerdict(err, { connection: false, code: "NATS_AUTHORIZATION", detail: "auth" });
});

test("nats.js: a JetStream API error for a stream that does not exist: not a connection error", { skip }, () =>
  as("full", async (nc) => {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const err = await rejection(jsm.streams.info("NO_SUCH_STREAM"));
    assertVerdict(err, { connection: false, code: "NATS_API_10059" });
  }),
);

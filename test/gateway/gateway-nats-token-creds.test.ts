/**
 * The two other ways a gateway authenticates to NATS, each against a real nats-server of
 * the test's own configuration:
 * - `--nats-token` (OUTLAST_NATS_TOKEN) against a server with `authorization { token }`;
 * - `--nats-creds FILE` (OUTLAST_NATS_CREDS) against a server in operator mode (JWTs made
 *   by the test with @nats-io/jwt: an operator, a system account, an account with
 *   JetStream, and a user whose .creds file the gateway reads).
 * Each stores through the gateway and reads the stream back; a wrong token and the creds
 * of a user the server does not trust are clear start failures (exit 1), not a hang.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
} from "@nats-io/jwt";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect, credsAuthenticator } from "@nats-io/transport-node";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { freePort, natsSkipReason } from "../helpers/nats-cluster.js";
import { NatsServer } from "../helpers/nats-server.js";
import { openClient } from "../helpers/raw-client.js";
import { GatewayProcess, serveUntilExit } from "./gateway-process.js";

const skip = natsSkipReason();
if (skip !== undefined) process.stdout.write(`# skipping gateway NATS token/creds tests: ${skip}\n`);

const TOKEN = "robot-fleet-token";
let tokenServer: NatsServer | undefined;
let credsServer: NatsServer | undefined;
const creds = { good: "", untrusted: "" };

/** Everything an account or user may do, spelled out: operator-mode limits default to nothing. */
const UNLIMITED = { subs: -1, data: -1, payload: -1 };

before(async () => {
  if (skip !== undefined) return;
  tokenServer = await NatsServer.start(
    (port, storeDir) => `
listen: "127.0.0.1:${port}"
jetstream { store_dir: ${JSON.stringify(storeDir)} }
authorization { token: "${TOKEN}" }
`,
  );

  const operator = createOperator();
  const system = createAccount();
  const app = createAccount();
  const user = createUser();
  const operatorJwt = await encodeOperator("OUTLAST_TEST", operator);
  const systemJwt = await encodeAccount("SYS", system, {}, { signer: operator });
  const appJwt = await encodeAccount(
    "APP",
    app,
    {
      limits: {
        ...UNLIMITED,
        conn: -1,
        leaf: -1,
        imports: -1,
        exports: -1,
        wildcards: true,
        mem_storage: -1,
        disk_storage: -1,
        streams: -1,
        consumer: -1,
      },
    },
    { signer: operator },
  );
  const userJwt = await encodeUser("gateway", user, app, UNLIMITED);
  // A user signed by an account this server was never told about.
  const stranger = createUser();
  const strangerJwt = await encodeUser("stranger", stranger, createAccount(), UNLIMITED);
  credsServer = await NatsServer.start((port, storeDir, dir) => {
    creds.good = join(dir, "gateway.creds");
    creds.untrusted = join(dir, "stranger.creds");
    writeFileSync(creds.good, fmtCreds(userJwt, user));
    writeFileSync(creds.untrusted, fmtCreds(strangerJwt, stranger));
    return `
listen: "127.0.0.1:${port}"
jetstream { store_dir: ${JSON.stringify(storeDir)} }
operator: ${JSON.stringify(operatorJwt)}
system_account: ${system.getPublicKey()}
resolver: MEMORY
resolver_preload: {
  ${app.getPublicKey()}: ${JSON.stringify(appJwt)}
  ${system.getPublicKey()}: ${JSON.stringify(systemJwt)}
}
`;
  });
});
after(async () => {
  await tokenServer?.stop();
  await credsServer?.stop();
});

/** The Outlast-Seq of every message of `stream`, read back with `auth`. */
async function seqsOf(server: NatsServer, auth: Partial<ConnectionOptions>, stream: string): Promise<number[]> {
  const nc = await natsConnect({ servers: [`nats://127.0.0.1:${server.port}`], ...auth });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 5000 });
    const info = await jsm.streams.info(stream);
    const seqs: number[] = [];
    for (let s = info.state.first_seq; s <= info.state.last_seq && info.state.messages > 0; s++) {
      const m = await jsm.streams.getMessage(stream, { seq: s });
      seqs.push(Number(m?.header.get("Outlast-Seq")));
    }
    return seqs;
  } finally {
    await nc.close();
  }
}

/** `outlast serve --forward` to `server` that must fail to start: its exit and stderr. */
function failedStart(server: NatsServer, args: string[]): { status: number | null; stderr: string } {
  return serveUntilExit([
    "--forward",
    `nats://127.0.0.1:${server.port}`,
    "--stream",
    "DENIED",
    "--replicas",
    "1",
    ...args,
  ]);
}

test(
  "serve --forward --nats-token stores through a token-protected NATS; a wrong token is a clear start failure",
  { skip },
  async (t) => {
    const server = tokenServer as NatsServer;
    const gw = new GatewayProcess(await freePort(), [
      "--forward",
      `nats://127.0.0.1:${server.port}`,
      "--stream",
      "TOKEN",
      "--replicas",
      "1",
      "--nats-token",
      TOKEN,
    ]);
    t.after(() => gw.kill());
    await gw.start();
    const raw = await openClient(gw.port, "token-robot");
    t.after(() => raw.client.destroy());
    raw.client.sendMessages(1, 3);
    await raw.client.waitAck(3, 15_000);
    assert.deepEqual(await seqsOf(server, { token: TOKEN }, "TOKEN"), [1, 2, 3]);

    const wrong = failedStart(server, ["--nats-token", "not-the-token"]);
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.match(wrong.stderr, /Authorization Violation/i);
    assert.match(wrong.stderr, /--nats-token/);
  },
);

test(
  "serve --forward with OUTLAST_NATS_CREDS (a .creds file) stores through an operator-mode NATS; an untrusted user is a clear start failure",
  { skip },
  async (t) => {
    const server = credsServer as NatsServer;
    const gw = new GatewayProcess(
      await freePort(),
      ["--forward", `nats://127.0.0.1:${server.port}`, "--stream", "CREDS", "--replicas", "1"],
      { OUTLAST_NATS_CREDS: creds.good },
    );
    t.after(() => gw.kill());
    await gw.start();
    const raw = await openClient(gw.port, "creds-robot");
    t.after(() => raw.client.destroy());
    raw.client.sendMessages(1, 3);
    await raw.client.waitAck(3, 15_000);
    const auth = { authenticator: credsAuthenticator(new Uint8Array(readFileSync(creds.good))) };
    assert.deepEqual(await seqsOf(server, auth, "CREDS"), [1, 2, 3]);

    const untrusted = failedStart(server, ["--nats-creds", creds.untrusted]);
    assert.equal(untrusted.status, 1, untrusted.stderr);
    assert.match(untrusted.stderr, /Authorization Violation/i);
    assert.match(untrusted.stderr, /--nats-creds/);
  },
);

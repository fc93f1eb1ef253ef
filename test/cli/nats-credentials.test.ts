/**
 * A wrong NATS password names the flags that carry it: `outlast serve --forward` (the
 * --nats-* flags) and `outlast send nats://` (--username/--password), not "start NATS" or
 * the outlast server's --token.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { freePort, natsSkipReason } from "../helpers/nats-cluster.js";
import { NatsServer } from "../helpers/nats-server.js";
import { run, tempDir } from "./cli-process.js";

const skip = natsSkipReason();
if (skip !== undefined) process.stdout.write(`# skipping NATS credential CLI tests: ${skip}\n`);

let nats: NatsServer | undefined;
before(async () => {
  if (skip !== undefined) return;
  nats = await NatsServer.start(
    (port, storeDir) => `
listen: "127.0.0.1:${port}"
jetstream { store_dir: ${JSON.stringify(storeDir)} }
authorization { user: "robot", password: "right" }
`,
  );
});
after(async () => {
  await nats?.stop();
});

test("serve --forward with a wrong NATS password: exit 1 naming --nats-user and --nats-pass", { skip }, async (t) => {
  const url = `nats://127.0.0.1:${nats!.port}`;
  const args = ["serve", "--listen", `127.0.0.1:${await freePort()}`, "--forward", url, "--stream", "S"];
  const c = await run(t, [...args, "--nats-user", "robot", "--nats-pass", "wrong"]);
  assert.equal(c.exit.code, 1, c.stderr);
  assert.match(c.stderr, /Authorization Violation; NATS refused our credentials: check --nats-user and --nats-pass/);
  assert.doesNotMatch(c.stderr, /start NATS/);
});

test(
  "send nats:// with a wrong password: exit 1 naming --username and --password, message kept",
  { skip },
  async (t) => {
    const url = `nats://127.0.0.1:${nats!.port}`;
    const outbox = tempDir(t);
    const args = ["send", url, "--subject", "S.r1", "--stream", "S", "--outbox", outbox];
    const c = await run(t, [...args, "--username", "robot", "--password", "wrong"], "one\n");
    assert.equal(c.exit.code, 1, c.stderr);
    assert.match(c.stderr, /rejected our credentials .*check --username and --password/);
    assert.doesNotMatch(c.stderr, /--token/);
    assert.match(c.stderr, /1 message is still stored/);
  },
);

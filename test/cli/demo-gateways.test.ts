/** `outlast demo --gateways`: through 2 gateways and a 3-node cluster with kills, checked; a clear message without nats-server. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { natsSkipReason } from "../helpers/nats-cluster.js";
import { run } from "./cli-process.js";

const skip = natsSkipReason();

test(
  "demo --gateways: every message stored once, in order, through a gateway kill and a stream-leader kill",
  { skip, timeout: 180_000 },
  async (t) => {
    const c = await run(t, ["demo", "--gateways", "--messages", "400", "--duration", "3s", "--json"], "", {}, 150_000);
    assert.equal(c.exit.code, 0, c.stderr);
    const report = JSON.parse(c.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [report["ok"], report["sent"], report["stored"], report["lost"], report["duplicated"], report["reordered"]],
      [true, 400, 400, 0, 0, 0],
    );
    assert.match(c.stderr, /SIGKILL gateway on port \d+/);
    assert.match(c.stderr, /SIGKILL stream leader n\d/);
  },
);

test("demo --gateways without nats-server on the PATH names the Debian package", async (t) => {
  const c = await run(t, ["demo", "--gateways"], "", { PATH: "/nonexistent" });
  assert.equal(c.exit.code, 1, c.stderr);
  assert.match(c.stderr, /--gateways needs nats-server on the PATH \(Debian\/Ubuntu: apt-get install nats-server\)/);
});

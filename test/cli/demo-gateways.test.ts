/** `outlast demo --gateways`: through 2 gateways and a 3-node cluster with kills, checked; a clear message without nats-server. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { painter } from "../../src/cli/live/ansi.js";
import { GatewayDemoView } from "../../src/cli/demo/gateway-demo-view.js";
import type { GatewayDemoSnapshot } from "../../src/cli/demo/gateway-demo.js";
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
    // Off a terminal the live view is a progress line a second, as in the plain demo.
    assert.match(c.stderr, /outlast demo: [\d,]+\/400 stored \(\d+%\), sent [\d,]+, link \w+/);
  },
);

test("demo --gateways live view: progress, the robot's gateway, which gateways and NATS nodes are down", () => {
  const snapshot: GatewayDemoSnapshot = {
    elapsedMs: 4700,
    phase: "sending",
    total: 400,
    sent: 242,
    acknowledged: 220,
    queued: 22,
    inFlight: 20,
    link: "open",
    server: "tcp://127.0.0.1:46873",
    gateways: [
      { port: 42975, up: false },
      { port: 46873, up: true },
    ],
    nodes: [
      { name: "n1", up: true },
      { name: "n2", up: false },
      { name: "n3", up: true },
    ],
    reconnects: { refused: 9 },
    lastEvent: "4.4 s: SIGKILL stream leader n2",
  };
  const view = new GatewayDemoView(painter(false));
  const frame = view.frame(snapshot).join("\n");
  assert.match(frame, /outlast demo --gateways · robot -> 2 gateways -> R3 stream on 3 NATS nodes · sending/);
  assert.match(frame, /█+.*░+ +55% +220 \/ 400 stored +4\.7 s/);
  assert.match(frame, /link +● open via 127\.0\.0\.1:46873 +sent 242 +queue 22 \(in flight 20\)/);
  assert.match(frame, /gateways +:42975 down +:46873 up/);
  assert.match(frame, /nats +n1 up +n2 down +n3 up/);
  assert.match(frame, /causes +refused x 9/);
  assert.match(frame, /last +4\.4 s: SIGKILL stream leader n2/);
  assert.equal(
    view.line(snapshot),
    "outlast demo: 220/400 stored (55%), sent 242, link open via 127.0.0.1:46873, queue 22, down: gateway :42975, n2",
  );
});

test("demo --gateways without nats-server on the PATH names the Debian package", async (t) => {
  const c = await run(t, ["demo", "--gateways"], "", { PATH: "/nonexistent" });
  assert.equal(c.exit.code, 1, c.stderr);
  assert.match(c.stderr, /--gateways needs nats-server on the PATH \(Debian\/Ubuntu: apt-get install nats-server\)/);
});

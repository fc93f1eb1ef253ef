/**
 * The pinned CLI contract: `outlast serve --listen HOST:PORT --forward URLS --stream NAME`
 * against a real 3-node JetStream cluster; flags and OUTLAST_* variables; usage errors
 * naming the flag; NATS unreachable at start.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connect } from "../../src/client/client.js";
import { NatsCluster, freePort, natsSkipReason } from "../helpers/nats-cluster.js";
import { addStream, checkStream, readStream } from "../helpers/nats-stream.js";
import { run, start } from "./cli-process.js";

const skip = natsSkipReason();
if (skip !== undefined) process.stdout.write(`# skipping serve --forward tests: ${skip}\n`);

let cluster: NatsCluster;
before(async () => {
  if (skip === undefined) cluster = await NatsCluster.start();
});
after(async () => {
  await cluster?.stop();
});

test(
  "serve --forward --stream: every message lands once in the stream with Outlast-Client-Id and Outlast-Seq",
  { skip },
  async (t) => {
    const port = await freePort();
    const gw = start(t, ["serve", "--listen", `127.0.0.1:${port}`, "--forward", cluster.urls, "--stream", "CLI"]);
    await gw.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:\d+/, 30_000);
    assert.match(gw.stderr, /forwarding to stream CLI \(created, R3, subjects CLI\.<client>\)/);
    // A second gateway configured through the environment only.
    const port2 = await freePort();
    const gw2 = start(t, ["serve"], {
      envExtra: { OUTLAST_LISTEN: `127.0.0.1:${port2}`, OUTLAST_FORWARD: cluster.urls, OUTLAST_STREAM: "CLI" },
    });
    await gw2.stderrLine(/listening on tcp:\/\//, 30_000);
    assert.match(gw2.stderr, /forwarding to stream CLI \(existing, R3/);

    const a = connect(`tcp://127.0.0.1:${port}`, { clientId: "alpha" });
    const b = connect(`tcp://127.0.0.1:${port2}`, { clientId: "beta" });
    t.after(() => Promise.all([a.destroy(), b.destroy()]));
    for (let i = 1; i <= 100; i++) {
      void a.send(`a${i}`);
      void b.send(`b${i}`);
    }
    await Promise.all([a.flush({ timeoutMs: 30_000 }), b.flush({ timeoutMs: 30_000 })]);
    const records = await readStream(cluster.urls, "CLI");
    const seqs = Array.from({ length: 100 }, (_, i) => i + 1);
    const check = checkStream(
      records,
      new Map([
        ["alpha", seqs],
        ["beta", seqs],
      ]),
    );
    assert.deepEqual([check.lost, check.duplicated, check.reordered, records.length], [[], [], [], 200]);
    for (const r of records) assert.equal(Buffer.from(r.data).toString(), `${r.clientId[0]}${r.seq}`);

    gw.child.kill("SIGTERM");
    const exit = await gw.waitExit();
    assert.equal(exit.code, 0, gw.stderr);
    assert.match(gw.stderr, /stopped; 100 messages stored in CLI/);
  },
);

test("serve --forward: usage errors name the flag", async (t) => {
  const cases: [string[], RegExp][] = [
    [["serve", "--stream", "S"], /--stream needs --forward/],
    [["serve", "--forward", "nats://127.0.0.1:4222"], /--forward needs --stream NAME/],
    [["serve", "--forward", "http://x:1", "--stream", "S"], /--forward: "http:\/\/x:1" is not a NATS URL/],
    [["serve", "--forward", "nats://::::", "--stream", "S"], /--forward: "nats:\/\/::::" is not a NATS URL/],
    [["serve", "--forward", "nats://127.0.0.1:4222", "--stream", "a.b"], /--stream "a\.b": a stream name has no/],
    [
      ["serve", "--forward", "nats://127.0.0.1:4222", "--stream", "S", "--state", "d"],
      /--state does not apply with --forward/,
    ],
    [["serve", "--forward", "nats://127.0.0.1:4222", "--stream", "S", "--replicas", "9"], /--replicas must be 1 to 5/],
    [
      ["serve", "--forward", "nats://127.0.0.1:4222", "--stream", "S", "--duplicate-window", "10ms"],
      /--duplicate-window must be at least 1s/,
    ],
  ];
  for (const [args, re] of cases) {
    const c = await run(t, args);
    assert.equal(c.exit.code, 2, `${args.join(" ")}: ${c.stderr}`);
    assert.match(c.stderr, re);
  }
});

test("serve --forward with no NATS listening: a clear error naming the URLs and the flag, exit 1", async (t) => {
  const port = await freePort();
  const c = await run(t, [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--forward",
    `nats://127.0.0.1:${port}`,
    "--stream",
    "S",
  ]);
  assert.equal(c.exit.code, 1, c.stderr);
  assert.match(
    c.stderr,
    new RegExp(`cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}.*start NATS or fix --forward`),
  );
});

test(
  "serve --forward on a stream someone created with 1 replica: runs, and warns unless --replicas 1 says it is intended",
  { skip },
  async (t) => {
    await addStream(cluster.urls, { name: "R1CLI", subjects: ["R1CLI.>"] });
    const gw = start(t, ["serve", "--listen", "127.0.0.1:0", "--forward", cluster.urls, "--stream", "R1CLI"]);
    await gw.stderrLine(/listening on tcp:\/\//, 30_000);
    assert.match(gw.stderr, /forwarding to stream R1CLI \(existing, R1/);
    assert.match(gw.stderr, /stream R1CLI has 1 replica: .*pass --replicas 1 to say this is intended/);
    const quiet = start(t, [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--forward",
      cluster.urls,
      "--stream",
      "R1CLI",
      "--replicas",
      "1",
    ]);
    await quiet.stderrLine(/listening on tcp:\/\//, 30_000);
    assert.doesNotMatch(quiet.stderr, /has 1 replica/);
  },
);

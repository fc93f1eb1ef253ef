/**
 * nats:// : a client publishing straight into JetStream holds the gateway's promises
 * (one shared cluster, 3 nodes, R3 streams): each message once, in order, with the
 * outlast headers, acknowledged by PubAck; through a stream-leader SIGKILL and restart;
 * a resend past the duplicate window (1 s) is not stored again, whether it comes from a
 * writer whose mark is stale or from a client that reopens an outbox copied before its acks.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "../../../src/client/client.js";
import { systemClock } from "../../../src/errors/clock.js";
import { isOutlastError } from "../../../src/errors/outlast-error.js";
import { ExactlyOnceWriter } from "../../../src/jetstream/exactly-once-writer.js";
import { PublishSlots } from "../../../src/jetstream/publish-slots.js";
import { NatsLink } from "../../../src/jetstream/nats-link.js";
import { addStream, checkStream, readStream, streamLeader } from "../../helpers/nats-stream.js";
import { SharedCluster } from "../../gateway/shared-cluster.js";

const shared = new SharedCluster("nats:// client tests");
const { skip } = shared;

function urls(): string {
  return shared.cluster.urls; // nats://127.0.0.1:p1,nats://...: the client's own server list
}

test(
  "nats:// stores each message once, in order, with the outlast headers; send() resolves on the PubAck",
  { skip },
  async (t) => {
    await addStream(urls(), { name: "DIRECT", subjects: ["DIRECT.>"], num_replicas: 3 });
    const client = connect(urls(), { clientId: "robot-7", subject: "DIRECT.robot-7", stream: "DIRECT" });
    t.after(() => client.destroy());
    const count = 500;
    const sends: Promise<unknown>[] = [];
    for (let i = 1; i <= count; i++) sends.push(client.send(`m${i}`, { wait: "acknowledged" }));
    await Promise.all(sends);
    const records = await readStream(urls(), "DIRECT");
    assert.equal(records.length, count);
    const check = checkStream(records, new Map([["robot-7", Array.from({ length: count }, (_, i) => i + 1)]]));
    assert.deepEqual([check.lost, check.duplicated, check.reordered], [[], [], []]);
    records.forEach((r, i) => {
      assert.equal(r.subject, "DIRECT.robot-7");
      assert.equal(Buffer.from(r.data).toString(), `m${i + 1}`);
    });
  },
);

test(
  "nats:// without subject or stream, or with a stream that does not cover the subject, says so",
  { skip },
  async (t) => {
    assert.throws(
      () => connect(urls(), { stream: "DIRECT" }),
      /invalid option subject: is required for nats:\/\/ URLs/,
    );
    assert.throws(() => connect(urls(), { subject: "DIRECT.x" }), /invalid option stream: is required/);
    assert.throws(() => connect(urls(), { subject: "DIRECT.*", stream: "DIRECT" }), /invalid option subject/);
    const client = connect(urls(), {
      subject: "ELSEWHERE.x",
      stream: "DIRECT",
      backoff: { baseMs: 1000, capMs: 5000 },
    });
    t.after(() => client.destroy());
    const err = await new Promise<Error>((resolve) => client.once("error", resolve));
    assert.ok(isOutlastError(err, "OUTLAST_STREAM_UNSAFE"), String(err));
    assert.match(err.message, /no subject of the stream covers "ELSEWHERE\.x"/);
  },
);

test(
  "nats:// through a stream-leader SIGKILL and restart: 0 lost, 0 duplicated, in order",
  { skip, timeout: 120_000 },
  async (t) => {
    await addStream(urls(), { name: "LEADERKILL", subjects: ["LEADERKILL.>"], num_replicas: 3 });
    const clients = ["k1", "k2"].map((id) =>
      connect(urls(), {
        clientId: id,
        subject: `LEADERKILL.${id}`,
        stream: "LEADERKILL",
        nats: { publishTimeoutMs: 1000 },
      }),
    );
    t.after(() => Promise.all(clients.map((c) => c.destroy())));
    const count = 3000;
    let acked = 0;
    let killed: Promise<void> | undefined;
    const sends: Promise<unknown>[] = [];
    const kill = async (): Promise<void> => {
      const leader = shared.cluster.node(await streamLeader(urls(), "LEADERKILL"));
      await shared.cluster.kill(leader);
      await shared.cluster.startNode(leader);
    };
    for (let i = 1; i <= count; i++)
      for (const c of clients)
        sends.push(
          c.send(`x${i}`, { wait: "acknowledged" }).then(() => {
            if (++acked === count / 2) killed = kill();
          }),
        );
    await Promise.all(sends);
    await killed;
    const records = await readStream(urls(), "LEADERKILL");
    const all = Array.from({ length: count }, (_, i) => i + 1);
    const check = checkStream(records, new Map(["k1", "k2"].map((id) => [id, all])));
    assert.deepEqual([check.lost, check.duplicated, check.reordered], [[], [], []]);
    assert.equal(records.length, 2 * count);
  },
);

test(
  "the shared writer: a resend past the duplicate window from a stale view is not stored again",
  { skip },
  async (t) => {
    await addStream(urls(), { name: "PASTWINDOW", subjects: ["PASTWINDOW.>"], num_replicas: 3, duplicate_window: 1e9 });
    const open = (): Promise<NatsLink> =>
      NatsLink.open({ servers: urls().split(","), connectTimeoutMs: 2000, requestTimeoutMs: 2000 }, "PASTWINDOW");
    const [a, b] = await Promise.all([open(), open()]);
    t.after(() => Promise.all([a.close(), b.close()]));
    const writer = (link: NatsLink): ExactlyOnceWriter =>
      new ExactlyOnceWriter(
        "w1",
        "PASTWINDOW.w1",
        {
          link,
          maxInFlight: 64,
          slots: new PublishSlots(64),
          natsError: () => {},
          retryDelayMs: () => 100,
          setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
          now: () => systemClock.now(),
        },
        { published: 0, acknowledged: 0, recoveries: 0 },
      );
    const stale = writer(a);
    assert.equal((await stale.readMark()).seq, 0); // its view: nothing stored
    const fresh = writer(b);
    const data = new Uint8Array([7]);
    const five = [1, 2, 3, 4, 5].map((seq) => ({ seq, data }));
    await fresh.write(five);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the duplicate window (1 s) passes: msg ids are forgotten
    await stale.write(five); // the expected last subject sequence catches it; the writer re-reads the mark
    assert.equal(stale.storedSeq, 5);
    const records = await readStream(urls(), "PASTWINDOW");
    assert.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3, 4, 5],
    );
  },
);

test(
  "nats://: an outbox copied before its acks, reopened past the duplicate window, sends nothing again",
  { skip },
  async (t) => {
    await addStream(urls(), { name: "COPIED", subjects: ["COPIED.>"], num_replicas: 3, duplicate_window: 1e9 });
    const root = mkdtempSync(join(tmpdir(), "outlast-nats-outbox-"));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const first = join(root, "first");
    const options = { clientId: "copied", subject: "COPIED.copied", stream: "COPIED" };
    // Five messages stored in the outbox while no NATS answers (a closed port), then the client stops.
    const offline = connect("nats://127.0.0.1:1", { ...options, outbox: first });
    offline.on("error", () => {});
    const stored: Promise<unknown>[] = [];
    for (let i = 1; i <= 5; i++) stored.push(offline.send(`c${i}`, { wait: "stored" }));
    await Promise.all(stored);
    await offline.destroy();
    const copy = join(root, "copy");
    cpSync(first, copy, { recursive: true });
    const a = connect(urls(), { ...options, outbox: first });
    await a.flush({ timeoutMs: 30_000 });
    await a.close();
    await new Promise((resolve) => setTimeout(resolve, 1500)); // past the duplicate window
    const b = connect(urls(), { ...options, outbox: copy });
    t.after(() => b.destroy());
    await b.flush({ timeoutMs: 30_000 });
    assert.equal(b.stats().duplicatesSkipped, 5, JSON.stringify(b.stats()));
    const records = await readStream(urls(), "COPIED");
    assert.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3, 4, 5],
    );
  },
);

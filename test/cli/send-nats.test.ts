/**
 * `outlast send nats://...` as a real child process against a real 3-node JetStream
 * cluster: lines stored once, in order, with their identity headers; the flags' usage errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { SharedCluster } from "../gateway/shared-cluster.js";
import { addStream, checkStream, readStream } from "../helpers/nats-stream.js";
import { run, tempDir } from "./cli-process.js";

const shared = new SharedCluster("send nats:// tests");
const { skip } = shared;

test(
  "send nats://: stdin lines are stored once, in order, with Outlast-Client-Id and Outlast-Seq; exit 0",
  { skip },
  async (t) => {
    const dir = tempDir(t);
    await addStream(shared.cluster.urls, { name: "SENDN", subjects: ["SENDN.>"], num_replicas: 3 });
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i + 1}`);
    const send = await run(
      t,
      [
        "send",
        shared.cluster.urls,
        "--subject",
        "SENDN.cli",
        "--stream",
        "SENDN",
        "--outbox",
        join(dir, "ob"),
        "--client-id",
        "cli-robot",
      ],
      `${lines.join("\n")}\n`,
    );
    assert.equal(send.exit.code, 0, send.stderr);
    assert.match(send.stderr, /300 messages acknowledged by nats:\/\/127\.0\.0\.1:\d+/);
    const records = await readStream(shared.cluster.urls, "SENDN");
    const check = checkStream(records, new Map([["cli-robot", Array.from({ length: 300 }, (_, i) => i + 1)]]));
    assert.deepEqual([check.lost, check.duplicated, check.reordered], [[], [], []]);
    assert.deepEqual(
      records.map((r) => Buffer.from(r.data).toString()),
      lines,
    );
  },
);

test(
  "send nats:// without --subject or --stream, or --subject with tcp://, is a usage error naming the flag",
  { skip },
  async (t) => {
    const noSubject = await run(t, ["send", "nats://127.0.0.1:4222", "--stream", "S"], "");
    assert.equal(noSubject.exit.code, 2);
    assert.match(noSubject.stderr, /nats:\/\/ needs --subject S/);
    const noStream = await run(t, ["send", "nats://127.0.0.1:4222", "--subject", "S.x"], "");
    assert.equal(noStream.exit.code, 2);
    assert.match(noStream.stderr, /nats:\/\/ needs --stream NAME/);
    const wrong = await run(t, ["send", "tcp://127.0.0.1:7070", "--subject", "S.x"], "");
    assert.equal(wrong.exit.code, 2);
    assert.match(wrong.stderr, /--subject needs a nats:\/\/ URL/);
  },
);

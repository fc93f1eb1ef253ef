import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { WriteCoalescer } from "../../../src/client/transport/mqtt/write-coalescer.js";

async function pair(t: TestContext): Promise<{ client: net.Socket; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => s.on("data", (d: Buffer) => chunks.push(d)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
  await once(client, "connect");
  t.after(() => {
    client.destroy();
    server.close();
  });
  return { client, received: () => Buffer.concat(chunks) };
}

test("write coalescer: what is written while corked reaches the socket as one write, strings in UTF-8", async (t) => {
  const { client, received } = await pair(t);
  const write = t.mock.method(client, "write");
  const stream = new WriteCoalescer(client);
  stream.cork();
  stream.write(Buffer.from([0x32, 0x01]));
  stream.write("topic/é€😀", "utf8"); // 1-, 2-, 3- and 4-byte UTF-8
  stream.write(Buffer.alloc(300, 0x61));
  stream.write("outlast-seq");
  process.nextTick(() => stream.uncork());
  const expected = Buffer.concat([
    Buffer.from([0x32, 0x01]),
    Buffer.from("topic/é€😀", "utf8"),
    Buffer.alloc(300, 0x61),
    Buffer.from("outlast-seq"),
  ]);
  while (received().length < expected.length) await new Promise((r) => setImmediate(r));
  assert.deepEqual(received(), expected);
  assert.deepEqual(
    write.mock.calls.map((c) => (c.arguments[0] as Buffer).length),
    [expected.length],
    "one socket write for the corked batch",
  );
});

test("write coalescer: reads pass through; the socket's close ends the stream", async (t) => {
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => s.end(Buffer.from("hello")));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const client = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
  const stream = new WriteCoalescer(client);
  stream.on("data", (d: Buffer) => chunks.push(d));
  await once(stream, "close");
  assert.equal(Buffer.concat(chunks).toString(), "hello");
  assert.equal(client.destroyed, true);
});

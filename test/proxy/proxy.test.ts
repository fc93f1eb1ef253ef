import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { test } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { createProxy } from "../../src/proxy/index.js";
import { normalizeFault } from "../../src/proxy/faults/catalog.js";
import { Recorder, connectClient, startProxy, startUpstream, within } from "./helpers.js";

test("forwards bytes both ways and counts them", async (t) => {
  const up = await startUpstream(t, "echo");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  client.write("hello proxy");
  await rec.bytesAtLeast(11);
  assert.equal(rec.text(), "hello proxy");
  const stats = proxy.stats();
  assert.deepEqual(stats.bytes, { upstream: 11, downstream: 11 });
  assert.equal(stats.connections.accepted, 1);
  assert.equal(stats.connections.open, 1);
  const [c] = proxy.connections();
  assert.equal(c?.state, "open");
  assert.deepEqual(c?.bytes, { upstream: 11, downstream: 11 });
  assert.equal(c?.upstream.port, up.port);
});

test("a large transfer arrives intact through backpressure", async (t) => {
  const up = await startUpstream(t, "echo");
  const { port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  const payload = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
  client.write(payload);
  await rec.bytesAtLeast(payload.length, 30_000);
  assert.ok(Buffer.concat(rec.chunks).equals(payload), "the echoed bytes differ");
});

test("a FIN is passed on in order; the link closes when both sides closed", async (t) => {
  const up = await startUpstream(t, "echo");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  const closed = within(once(proxy, "connectionClosed"), 5000, "connectionClosed");
  client.end("bye");
  await rec.endedOrClosed();
  const [info] = (await closed) as [{ bytes: { upstream: number } }];
  assert.equal(rec.text(), "bye");
  assert.equal(info.bytes.upstream, 3);
  assert.equal(proxy.connections().length, 0);
});

test("upstream down: the client gets ECONNRESET and upstreamFailed reports ECONNREFUSED", async (t) => {
  const dead = createServer();
  dead.listen(0, "127.0.0.1");
  await once(dead, "listening");
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((resolve) => dead.close(() => resolve()));
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: deadPort } });
  const failed = within(once(proxy, "upstreamFailed"), 5000, "upstreamFailed");
  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  const [event] = (await failed) as [{ error: NodeJS.ErrnoException }];
  assert.equal(event.error.code, "ECONNREFUSED");
  await rec.closedNow();
  assert.equal(rec.error?.code, "ECONNRESET");
  assert.equal(proxy.stats().connections.upstreamFailed, 1);
});

test("close() ends every connection with FIN, stops listening, and is idempotent", async (t) => {
  const up = await startUpstream(t, "echo");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  await up.accepted();
  const a = proxy.close();
  const b = proxy.close();
  assert.equal(a, b);
  await within(a, 5000, "close()");
  await rec.endedOrClosed();
  assert.equal(rec.ended, true);
  assert.equal(rec.error, undefined);
  await assert.rejects(proxy.listen(), (err) => isOutlastError(err, "OUTLAST_CLOSED"));
  await proxy.destroy();
});

test("invalid options and faults throw OUTLAST_INVALID_OPTION naming the field", () => {
  const bad = (fn: () => unknown, option: string): void => {
    assert.throws(
      fn,
      (err) => isOutlastError(err, "OUTLAST_INVALID_OPTION") && err.details["option"] === option,
      option,
    );
  };
  bad(() => createProxy({ upstream: { host: "127.0.0.1", port: 0 } }), "upstream.port");
  bad(() => createProxy({ upstream: { host: "", port: 80 } }), "upstream.host");
  bad(() => createProxy({ upstream: { host: "h", port: 80 }, seed: -1 }), "seed");
  const proxy = createProxy({ upstream: { host: "127.0.0.1", port: 80 }, seed: 1 });
  bad(() => proxy.addFault({ kind: "latency", latencyMs: -1 }), "latencyMs");
  bad(() => proxy.addFault({ kind: "latency" } as never), "latencyMs");
  bad(() => proxy.addFault({ kind: "latency", latencyMs: 1, latency: 3 } as never), "latency");
  bad(() => proxy.addFault({ kind: "bandwidth", bytesPerSecond: 0 }), "bytesPerSecond");
  bad(() => proxy.addFault({ kind: "blackhole", direction: "sideways" } as never), "direction");
  bad(() => proxy.addFault({ kind: "reset", probability: 2 }), "probability");
  bad(() => proxy.addFault({ kind: "nope" } as never), "kind");
  bad(() => proxy.addFault({ kind: "schedule", everyMs: 10, downMs: 20, fault: { kind: "reset" } }), "downMs");
  bad(
    () => proxy.addFault({ kind: "schedule", everyMs: 10, downMs: 1, fault: { kind: "schedule" } } as never),
    "fault.kind",
  );
  bad(() => proxy.updateFault("f404", {}), "id");
  assert.equal(proxy.faults().length, 0, "a rejected fault was added");
});

test("defaults are filled in, updates are JSON merge patches, and the kind cannot change", () => {
  const proxy = createProxy({ upstream: { host: "127.0.0.1", port: 80 } });
  const f = proxy.addFault({ kind: "slicer" });
  assert.deepEqual(f.info().fault, {
    kind: "slicer",
    direction: "both",
    probability: 1,
    averageSizeBytes: 16,
    sizeVariationBytes: 0,
    delayMs: 1,
  });
  assert.deepEqual(proxy.updateFault(f.id, { delayMs: 5, direction: "upstream" }).fault, {
    kind: "slicer",
    direction: "upstream",
    probability: 1,
    averageSizeBytes: 16,
    sizeVariationBytes: 0,
    delayMs: 5,
  });
  proxy.updateFault(f.id, { delayMs: null });
  const after = proxy.faults()[0]?.fault;
  assert.equal(after?.kind === "slicer" ? after.delayMs : -1, 1, "null did not restore the default");
  assert.throws(
    () => proxy.updateFault(f.id, { kind: "latency" }),
    (err) => isOutlastError(err, "OUTLAST_INVALID_OPTION"),
  );
  const s = proxy.addFault({ kind: "schedule", everyMs: 100, downMs: 10, fault: { kind: "latency", latencyMs: 5 } });
  const patched = proxy.updateFault(s.id, { fault: { jitterMs: 2 } }).fault;
  assert.deepEqual(patched.kind === "schedule" ? patched.fault : undefined, {
    kind: "latency",
    direction: "both",
    probability: 1,
    latencyMs: 5,
    jitterMs: 2,
  });
  assert.deepEqual(normalizeFault({ kind: "hold" }), { kind: "hold", probability: 1 });
  void proxy.destroy();
});

test("a probability below 1 applies a stream fault to some connections only, decided by the seed", async (t) => {
  const up = await startUpstream(t, "echo");
  const pattern = async (): Promise<string> => {
    const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port }, seed: 5 });
    proxy.addFault({ kind: "blackhole", probability: 0.5, direction: "upstream" });
    let out = "";
    for (let i = 0; i < 12; i++) {
      const client = await connectClient(t, port);
      const applied = new Promise<boolean>((resolve) => {
        proxy.once("faultApplied", () => resolve(true));
        new Recorder(client).bytesAtLeast(1, 5000).then(
          () => resolve(false),
          () => resolve(true),
        );
      });
      client.write("?");
      out += (await within(applied, 6000, "echo or blackhole")) ? "B" : ".";
      proxy.removeAllListeners("faultApplied");
      client.destroy();
    }
    await proxy.destroy();
    return out;
  };
  const a = await pattern();
  assert.equal(await pattern(), a);
  assert.match(a, /B/);
  assert.match(a, /\./);
});

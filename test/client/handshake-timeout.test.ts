/**
 * A server that did not get our HELLO within its handshake timeout answers ERROR
 * OUTLAST_TIMEOUT (a slow or lossy link, a server behind on a reconnect storm). For the
 * client that is a connection fault: it reconnects with its backoff and reports no `error`
 * event (a person has nothing to fix). A real server with a 300 ms handshake timeout sits
 * behind a FaultProxy that delays what the client sends by 1 s.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { classify, connect, isOutlastError } from "../../src/index.js";
import { OutlastError } from "../../src/errors/outlast-error.js";
import { FaultProxy } from "../../src/proxy/index.js";
import { createServer } from "../../src/server/index.js";
import { waitFor, within } from "./helpers.js";

test("classify: OUTLAST_TIMEOUT is a connection error (wait and retry)", () => {
  const c = classify(
    new OutlastError("OUTLAST_TIMEOUT", "handshake not completed within handshakeTimeoutMs 5000", {
      details: { timeoutMs: 5000 },
    }),
  );
  assert.equal(c.connection, true);
  assert.equal(c.kind, "timeout");
});

test("server's handshake timeout (ERROR OUTLAST_TIMEOUT): the client reconnects without an error event and delivers", async () => {
  const handled: string[] = [];
  const server = createServer({
    handshakeTimeoutMs: 300,
    onMessage: (m) => void handled.push(Buffer.from(m.data).toString()),
  });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const proxy = new FaultProxy({ upstream: { host: "127.0.0.1", port } });
  const relay = await proxy.listen();
  const slow = proxy.addFault({ kind: "latency", direction: "upstream", latencyMs: 1000, jitterMs: 0 });
  const client = connect(`tcp://127.0.0.1:${relay.port}`);
  const errors: Error[] = [];
  client.on("error", (err) => errors.push(err));
  try {
    const lost = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting", 10_000);
    assert.ok(isOutlastError(lost.error, "OUTLAST_TIMEOUT"), String(lost.error));
    assert.equal(lost.classification?.connection, true);
    slow.remove();
    await within(client.send("after"), 10_000, "send after the fault");
    assert.deepEqual(handled, ["after"]);
    assert.deepEqual(errors, [], "no error event");
  } finally {
    await client.destroy();
    await proxy.destroy();
    await server.close();
  }
});

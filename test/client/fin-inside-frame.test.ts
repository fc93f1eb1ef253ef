import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect } from "../../src/index.js";
import { encodeFrame } from "../../src/protocol/index.js";
import { waitFor } from "./helpers.js";

// A link cut in the middle of a server frame (a NAT box, a proxy, a server killed mid-write) is a
// connection error: the client waits and reconnects; it is not a peer's protocol bug to report.
test("client: a FIN inside a server frame is a connection error (reconnect, no error event)", async () => {
  const server = net.createServer((socket) => {
    socket.once("data", () => {
      const welcome = encodeFrame({ type: "welcome", version: 1, clientId: "fin", lastSeq: 0, maxFrameBytes: 1 << 20 });
      const ack = encodeFrame({ type: "ack", seq: 1, duplicates: 0 });
      socket.end(Buffer.concat([welcome, ack.subarray(0, ack.length - 3)]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = connect(`tcp://127.0.0.1:${port}`, { clientId: "fin" });
  const errors: Error[] = [];
  client.on("error", (err: Error) => errors.push(err));
  try {
    const lost = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.from === "open");
    assert.equal(lost.to, "waiting");
    assert.equal(lost.classification?.code, "OUTLAST_CONNECTION_CLOSED");
    assert.equal(lost.classification?.connection, true, lost.classification?.reason);
    assert.deepEqual(errors, []);
  } finally {
    await client.destroy();
    server.close();
  }
});

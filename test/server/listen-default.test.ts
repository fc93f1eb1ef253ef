/** server.listen() without a host binds loopback only, the same default as `outlast serve`. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createServer } from "../../src/server/index.js";

test("server.listen() without a host binds 127.0.0.1, not every interface", async (t) => {
  const server = createServer({ onMessage: () => {} });
  t.after(() => server.destroy());
  const bound = await server.listen();
  assert.equal(bound.host, "127.0.0.1");
  const explicit = createServer({ onMessage: () => {} });
  t.after(() => explicit.destroy());
  assert.equal((await explicit.listen({ host: "0.0.0.0" })).host, "0.0.0.0");
});

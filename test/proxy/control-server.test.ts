import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { createControlServer, createProxy, type FaultProxy } from "../../src/proxy/index.js";
import { Recorder, connectClient, startUpstream, within } from "./helpers.js";

async function start(t: TestContext, upstreamPort = 9): Promise<{ proxy: FaultProxy; base: string }> {
  const proxy = createProxy({ upstream: { host: "127.0.0.1", port: upstreamPort } });
  t.after(() => proxy.destroy());
  const control = createControlServer(proxy);
  t.after(() => control.close());
  const { host, port } = await control.listen();
  assert.equal(host, "127.0.0.1", "the control endpoint must bind to loopback by default");
  return { proxy, base: `http://${host}:${port}` };
}

async function call(
  url: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  const { json, ...rest } = init;
  const res = await within(
    fetch(
      url,
      json === undefined
        ? rest
        : { ...rest, body: JSON.stringify(json), headers: { "content-type": "application/json", ...rest.headers } },
    ),
    5000,
    `${init.method ?? "GET"} ${url}`,
  );
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

test("control endpoint round trip: add, list, change, stats, remove", async (t) => {
  const up = await startUpstream(t, "echo");
  const { proxy, base } = await start(t, up.port);
  const { port } = await proxy.listen();

  const added = await call(`${base}/faults`, {
    method: "POST",
    json: { kind: "latency", latencyMs: 40, direction: "upstream" },
  });
  assert.equal(added.status, 201);
  assert.deepEqual(added.body, {
    id: "f1",
    fault: { kind: "latency", direction: "upstream", probability: 1, latencyMs: 40, jitterMs: 0 },
    active: true,
    applied: 0,
  });
  assert.equal(proxy.faults().length, 1, "the fault did not reach the proxy");

  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  const started = performance.now();
  client.write("via control");
  await rec.bytesAtLeast(11);
  assert.ok(performance.now() - started >= 40, "the latency added over HTTP did not act");

  const patched = await call(`${base}/faults/f1`, { method: "PATCH", json: { latencyMs: 5, jitterMs: 1 } });
  assert.equal(patched.status, 200);
  assert.equal((patched.body as { fault: { latencyMs: number } }).fault.latencyMs, 5);
  const listed = await call(`${base}/faults`);
  assert.equal((listed.body as { fault: { jitterMs: number }; applied: number }[])[0]?.fault.jitterMs, 1);

  const one = await call(`${base}/faults/f1`);
  assert.equal((one.body as { id: string }).id, "f1");

  const stats = await call(`${base}/stats`);
  assert.equal(stats.status, 200);
  const s = stats.body as {
    connections: { accepted: number };
    bytes: { upstream: number };
    faults: { latency: number };
  };
  assert.equal(s.connections.accepted, 1);
  assert.equal(s.bytes.upstream, 11);
  assert.equal(s.faults.latency, 1);

  const conns = await call(`${base}/connections`);
  assert.equal((conns.body as unknown[]).length, 1);

  const deleted = await call(`${base}/faults/f1`, { method: "DELETE" });
  assert.equal(deleted.status, 204);
  assert.deepEqual((await call(`${base}/faults`)).body, []);
  assert.equal((await call(`${base}/faults/f1`, { method: "DELETE" })).status, 404);
});

test("control endpoint errors: bad fault 400 with the code, unknown 404, wrong method 405, not JSON 415, web page 403", async (t) => {
  const { base } = await start(t);
  const bad = await call(`${base}/faults`, { method: "POST", json: { kind: "latency", latencyMs: -5 } });
  assert.equal(bad.status, 400);
  const err = (bad.body as { error: { code: string; message: string } }).error;
  assert.equal(err.code, "OUTLAST_INVALID_OPTION");
  assert.match(err.message, /latencyMs/);
  assert.equal(
    (await call(`${base}/faults`, { method: "POST", body: "{", headers: { "content-type": "application/json" } }))
      .status,
    400,
  );
  assert.equal(
    (await call(`${base}/faults`, { method: "POST", body: "{}", headers: { "content-type": "text/plain" } })).status,
    415,
  );
  assert.equal((await call(`${base}/faults/f9`, { method: "PATCH", json: {} })).status, 404);
  assert.equal((await call(`${base}/faults`, { method: "PUT", json: {} })).status, 405);
  assert.equal((await call(`${base}/nope`)).status, 404);
  assert.equal((await call(`${base}/faults`, { headers: { origin: "https://evil.example" } })).status, 403);
});

test("a non-loopback control address needs dangerouslyAllowRemote", () => {
  const proxy = createProxy({ upstream: { host: "127.0.0.1", port: 9 } });
  assert.throws(
    () => createControlServer(proxy, { host: "0.0.0.0" }),
    (err) => isOutlastError(err, "OUTLAST_INVALID_OPTION") && /dangerouslyAllowRemote/.test(err.message),
  );
  assert.doesNotThrow(() => createControlServer(proxy, { host: "0.0.0.0", dangerouslyAllowRemote: true }));
  assert.doesNotThrow(() => createControlServer(proxy, { host: "::1" }));
});

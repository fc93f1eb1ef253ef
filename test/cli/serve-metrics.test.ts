/**
 * `outlast serve --metrics`: /metrics scraped during a real run matches what the
 * handler wrote (stdout lines) and what the clients saw (ACK duplicates); /healthz;
 * /readyz flips while the state directory is locked by another server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { RawClient, openClient } from "../helpers/raw-client.js";
import { run, start, tempDir } from "./cli-process.js";
import { get, scrape, scrapeUntil, startServeWithMetrics } from "./ops-helpers.js";

test("/metrics counts what the handler wrote, duplicates, connections and protocol errors", async (t) => {
  const dir = tempDir(t);
  const { serve, port, metricsUrl } = await startServeWithMetrics(t, ["--state", join(dir, "state")]);
  let m = await scrape(metricsUrl);
  assert.equal(m.get('outlast_messages_total{result="handled"}'), 0);
  assert.equal(m.get("outlast_connections"), 0);
  assert.ok(m.has("process_cpu_user_seconds_total"), "the process's default metrics");

  // 40 messages through the real `outlast send`.
  const lines = Array.from({ length: 40 }, (_, i) => `m${i}`).join("\n");
  const sent = await run(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", join(dir, "outbox")], `${lines}\n`);
  assert.equal(sent.exit.code, 0, sent.stderr);

  // A raw client: 10 messages, then (on a second connection) 4 of them again.
  const first = await openClient(port, "raw");
  first.client.sendMessages(1, 10);
  await first.client.waitAck(10);
  const held = await openClient(port, "held"); // stays connected for the gauge
  await first.client.close();
  const again = await openClient(port, "raw");
  again.client.sendMessages(7, 4);
  const { duplicates } = await again.client.waitAck(10);
  assert.equal(duplicates, 4);

  // Garbage: one protocol error.
  const bad = await RawClient.connect({ port });
  bad.sendRaw("GET / HTTP/1.1\r\n\r\n");
  await bad.waitClosed();

  await serve.until("50 lines on stdout", () => (serve.stdout.split("\n").length - 1 >= 50 ? true : undefined));
  m = await scrapeUntil(metricsUrl, "2 connections", (x) => x.get("outlast_connections") === 2);
  const written = serve.stdout.split("\n").filter((l) => l !== "").length;
  assert.equal(written, 50);
  assert.equal(m.get('outlast_messages_total{result="handled"}'), written);
  assert.equal(m.get('outlast_messages_total{result="duplicate"}'), 4);
  assert.equal(m.get('outlast_messages_total{result="rejected"}'), 0);
  assert.equal(m.get('outlast_messages_total{result="dead_letter"}'), 0);
  assert.equal(m.get("outlast_connections"), 2, "held and again are connected");
  assert.equal(m.get("outlast_protocol_errors_total"), 1);
  assert.equal(m.get("outlast_handler_seconds_count"), written);
  assert.equal(m.get("outlast_ack_latency_seconds_count"), written, "every handled message was acknowledged");
  assert.ok((m.get("outlast_state_commit_seconds_count") ?? 0) >= 1);
  assert.ok((m.get("outlast_connections_accepted_total") ?? 0) >= 5);

  const health = await get(`${metricsUrl}/healthz`);
  assert.equal(health.status, 200);
  const ready = await get(`${metricsUrl}/readyz`);
  assert.equal(ready.status, 200, ready.body);
  assert.match(ready.body, /^ready\n/);
  const metrics = await get(`${metricsUrl}/metrics`);
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.body, /# TYPE outlast_connections gauge/);
  assert.match(metrics.body, /# TYPE outlast_messages_total counter/);
  assert.match(metrics.body, /# TYPE outlast_handler_seconds histogram/);
  assert.equal((await get(`${metricsUrl}/nope`)).status, 404);

  await again.client.close();
  await held.client.close();
  serve.child.kill("SIGTERM");
  assert.deepEqual(await serve.waitExit(), { code: 0, signal: null });
});

test("--state-wait: /readyz is 503 while the state directory is locked by another server, 200 once it is free", async (t) => {
  const dir = tempDir(t);
  const state = join(dir, "state");
  const holder = start(t, ["serve", "--listen", "127.0.0.1:0", "--state", state], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await holder.stderrLine(/listening on/);

  const waiting = start(
    t,
    ["serve", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--state", state, "--state-wait", "10m"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = (await waiting.stderrLine(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1] as string;
  await waiting.stderrLine(/is locked by pid \d+.*waiting up to 600000 ms for it \(--state-wait; not ready\)/);
  const notReady = await get(`${url}/readyz`);
  assert.equal(notReady.status, 503);
  assert.match(notReady.body, /FAIL state: state directory .* is locked by pid \d+/);
  assert.equal((await get(`${url}/healthz`)).status, 200, "alive while not ready");

  holder.child.kill("SIGTERM");
  assert.equal((await holder.waitExit()).code, 0);
  await waiting.stderrLine(/listening on tcp:\/\//);
  const ready = await get(`${url}/readyz`);
  assert.equal(ready.status, 200, ready.body);

  waiting.child.kill("SIGTERM");
  assert.equal((await waiting.waitExit()).code, 0);
});

test("a locked state directory: exit 1 at once with or without --metrics; after --state-wait, exit 1 naming it", async (t) => {
  const dir = tempDir(t);
  const state = join(dir, "state");
  const holder = start(t, ["serve", "--listen", "127.0.0.1:0", "--state", state], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await holder.stderrLine(/listening on/);
  const atOnce = await run(t, ["serve", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--state", state]);
  assert.equal(atOnce.exit.code, 1, atOnce.stderr);
  assert.match(atOnce.stderr, /state directory .* is locked by pid \d+; stop that server or pass another --state\n$/);
  const waited = await run(t, ["serve", "--listen", "127.0.0.1:0", "--state", state, "--state-wait", "1s"]);
  assert.equal(waited.exit.code, 1, waited.stderr);
  assert.match(waited.stderr, /waiting up to 1000 ms for it \(--state-wait; not ready\)/);
  assert.match(waited.stderr, /is locked by pid \d+; .*; waited --state-wait 1000 ms for it\n$/);
  const usage = await run(t, ["serve", "--state-wait", "5s"]);
  assert.equal(usage.exit.code, 2);
  assert.match(usage.stderr, /--state-wait waits for a locked --state: pass --state DIR with it/);
  holder.child.kill("SIGTERM");
  assert.equal((await holder.waitExit()).code, 0);
});

test("--metrics on an address in use fails with one line naming the flag", async (t) => {
  const first = await startServeWithMetrics(t);
  const addr = first.metricsUrl.replace("http://", "");
  const r = await run(t, ["serve", "--listen", "127.0.0.1:0", "--metrics", addr]);
  assert.equal(r.exit.code, 1);
  assert.match(r.stderr, new RegExp(`cannot serve --metrics on ${addr.replace(/\./g, "\\.")}: .*EADDRINUSE`));
  first.serve.child.kill("SIGTERM");
  await first.serve.waitExit();
});

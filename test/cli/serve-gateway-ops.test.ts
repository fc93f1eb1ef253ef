/**
 * Gateway mode (`serve --forward`) with --metrics and --log-format json: /readyz
 * checks the stream is reachable and flips to 503 when NATS goes away; /metrics
 * counts what was stored in the stream; the status page (/status.json) shows the
 * same as for a plain server; every stderr line is one JSON object. Skips,
 * saying why, without nats-server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { NatsCluster, natsSkipReason } from "../helpers/nats-cluster.js";
import { run, start, tempDir } from "./cli-process.js";
import { get, scrape } from "./ops-helpers.js";

test("serve --forward --metrics: /readyz is ready with the stream reachable, 503 once NATS is gone", async (t) => {
  const skip = natsSkipReason();
  if (skip !== undefined) return t.skip(skip);
  const cluster = await NatsCluster.start();
  t.after(() => cluster.stop());
  const serve = start(
    t,
    [
      "serve",
      "--forward",
      cluster.urls,
      "--stream",
      "OPS",
      "--listen",
      "127.0.0.1:0",
      "--metrics",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--drain-window",
      "1s",
      "--drain-timeout",
      "20s",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = (await serve.stderrLine(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1] as string;
  const port = Number((await serve.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/))[1]);

  const sent = await run(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", join(tempDir(t), "o")], "a\nb\nc\n");
  assert.equal(sent.exit.code, 0, sent.stderr);
  const m = await scrape(url);
  assert.equal(m.get('outlast_messages_total{result="handled"}'), 3);
  // The gateway runs its messages through the server's registry: the same histograms as a plain serve.
  assert.equal(m.get("outlast_handler_seconds_count"), 3, "one observation per message stored");
  assert.equal(m.get("outlast_ack_latency_seconds_count"), 3, "every stored message was acknowledged");
  assert.equal(m.get("outlast_gateway_nats_connected"), 1);
  assert.ok(
    (m.get("outlast_connections_accepted_total") ?? 0) >= 1,
    "the gateway's accepted sockets are counted as a plain serve's",
  );
  const status = JSON.parse((await get(`${url}/status.json`)).body) as {
    totals: { handled: number };
    readiness: { name: string; ok: boolean }[];
  };
  assert.equal(status.totals.handled, 3, "the status page counts what the stream stored");
  assert.deepEqual(
    status.readiness.map((c) => [c.name, c.ok]),
    [
      ["listening", true],
      ["stream", true],
    ],
  );
  const page = await get(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.contentType, /^text\/html/);
  const ready = await get(`${url}/readyz`);
  assert.equal(ready.status, 200, ready.body);
  assert.match(ready.body, /ok stream: NATS connected/);

  await Promise.all(cluster.nodes.map((n) => cluster.kill(n)));
  await serve.stderrLine(/lost the NATS connection/);
  const notReady = await get(`${url}/readyz`);
  assert.equal(notReady.status, 503, notReady.body);
  assert.match(notReady.body, /FAIL stream: the NATS connection is down/);
  assert.equal((await get(`${url}/healthz`)).status, 200);
  serve.child.kill("SIGTERM");
  assert.deepEqual(await serve.waitExit(), { code: 0, signal: null }, serve.stderr);
  const lines = serve.stderr.split("\n").filter((l) => l !== "");
  for (const line of lines) {
    const entry = JSON.parse(line) as Record<string, unknown>;
    for (const key of ["level", "time", "msg"]) assert.ok(key in entry, `${key} in ${line}`);
  }
  const events = lines.map((l) => (JSON.parse(l) as { event?: string }).event);
  const draining = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l["event"] === "serve.draining");
  assert.equal(draining?.["windowMs"], 1000, "gateway mode drains over --drain-window like a plain serve");
  for (const event of [
    "gateway.stream",
    "serve.listening",
    "connection.authenticated",
    "connection.closed",
    "nats.disconnected",
    "serve.draining",
    "serve.stopped",
  ])
    assert.ok(events.includes(event), `a ${event} line in:\n${serve.stderr}`);
});

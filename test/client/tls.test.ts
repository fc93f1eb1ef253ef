import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { waitFor, within } from "./helpers.js";

/** A CA and a server certificate for "localhost" / 127.0.0.1, made with the openssl CLI. */
async function makeCerts(dir: string): Promise<{ ca: Buffer; key: Buffer; cert: Buffer }> {
  const run = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  };
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=outlast test CA",
  );
  run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  await import("node:fs/promises").then((fs) =>
    fs.writeFile(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
  );
  run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  );
  return {
    ca: await readFile(join(dir, "ca.pem")),
    key: await readFile(join(dir, "server.key")),
    cert: await readFile(join(dir, "server.pem")),
  };
}

test("tls: verified certificate works; an unknown CA emits error once and does not hot-loop", async (t) => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    t.skip("the openssl CLI is not installed; cannot generate certificates");
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "outlast-client-tls-"));
  const { ca, key, cert } = await makeCerts(dir);
  const seen: string[] = [];
  const server = createServer({ tls: { key, cert }, onMessage: (m) => void seen.push(Buffer.from(m.data).toString()) });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const good = connect(`tls://localhost:${port}`, { tls: { ca } });
  const bad = connect(`tls://127.0.0.1:${port}`, { backoff: { capMs: 200 } });
  const errors: unknown[] = [];
  bad.on("error", (err) => errors.push(err));
  try {
    await within(good.send("secure"), 10_000, "send over TLS");
    assert.deepEqual(seen, ["secure"]);

    const kept = bad.send("never");
    kept.catch(() => undefined);
    const first = await waitFor<StateChangeEvent>(bad, "stateChange", (e) => e.to === "waiting", 10_000);
    assert.equal(first.classification?.kind, "certificate", `${first.error?.message}`);
    assert.equal(first.classification?.connection, false);
    const started = performance.now();
    let attempts = 0;
    await waitFor<StateChangeEvent>(bad, "stateChange", (e) => e.to === "waiting" && ++attempts >= 4, 10_000);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 4 * 100 - 50, `4 retries took ${elapsed} ms: retries must wait at least capMs/2 each`);
    assert.equal(errors.length, 1, "error is emitted once per streak");
    assert.equal((errors[0] as { code?: string }).code, first.classification?.code);
    assert.equal(bad.stats().queuedMessages, 1, "the message is kept");
    assert.ok(seen.length === 1);
  } finally {
    await good.destroy();
    await bad.destroy();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * `outlast serve --log-format json`: every stderr line parses as one JSON object
 * with level, time and msg; connection events carry clientId, remote address and
 * code, at the right level; a flood of connections is rate-limited.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { RawClient, openClient } from "../helpers/raw-client.js";
import { start, tempDir } from "./cli-process.js";

function jsonLog(stderr: string): Record<string, unknown>[] {
  return stderr
    .split("\n")
    .filter((l) => l !== "")
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`stderr line ${i + 1} is not JSON: ${l}`);
      }
    });
}

test("--log-format json: one object per line with level, time, msg and the connection's fields", async (t) => {
  const dir = tempDir(t);
  const credentials = join(dir, "clients.txt");
  writeFileSync(credentials, "robot-1 secret\n");
  const serve = start(
    t,
    [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--credentials",
      credentials,
      "--state",
      join(dir, "s"),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const listening = await serve.until("the listening line", () =>
    jsonLog(serve.stderr).find((l) => l["event"] === "serve.listening"),
  );
  const port = Number(/:(\d+)$/.exec(String(listening["address"]))?.[1]);

  const ok = await openClient(port, "robot-1", { token: "secret" });
  ok.client.sendMessages(1, 3);
  await ok.client.waitAck(3);
  await ok.client.close();
  const rejected = await RawClient.connect({ port });
  await rejected.hello({ clientId: "robot-1", token: "wrong" }).catch(() => undefined);
  await rejected.waitClosed();
  const garbage = await RawClient.connect({ port });
  garbage.sendRaw("\x00\x00\x00\x05xxxxx");
  await garbage.waitClosed();

  await serve.until("the closed lines", () =>
    jsonLog(serve.stderr).filter((l) => l["event"] === "connection.closed").length >= 3 ? true : undefined,
  );
  serve.child.kill("SIGTERM");
  assert.equal((await serve.waitExit()).code, 0, serve.stderr);

  const lines = jsonLog(serve.stderr);
  for (const l of lines) {
    assert.ok(["debug", "info", "warn", "error"].includes(String(l["level"])), JSON.stringify(l));
    assert.ok(!Number.isNaN(Date.parse(String(l["time"]))), JSON.stringify(l));
    assert.equal(typeof l["msg"], "string");
  }
  const auth = lines.find((l) => l["event"] === "connection.authenticated");
  assert.equal(auth?.["clientId"], "robot-1");
  assert.equal(auth?.["remoteAddress"], "127.0.0.1");
  assert.equal(typeof auth?.["remotePort"], "number");
  const reject = lines.find((l) => l["code"] === "OUTLAST_AUTH_REJECTED");
  assert.equal(reject?.["level"], "warn");
  assert.equal(reject?.["event"], "connection.rejected");
  assert.equal(reject?.["remoteAddress"], "127.0.0.1");
  const protocol = lines.find((l) => l["event"] === "connection.error" && l["code"] === "OUTLAST_PROTOCOL_ERROR");
  assert.equal(protocol?.["level"], "warn", JSON.stringify(lines));
  const opened = lines.filter((l) => l["event"] === "connection.opened");
  assert.equal(opened.length, 3);
  const closed = lines.filter((l) => l["event"] === "connection.closed");
  assert.ok(closed.every((l) => typeof l["reason"] === "string" && l["level"] === "info"));
  assert.ok(lines.some((l) => l["event"] === "serve.draining" && l["signal"] === "SIGTERM"));
  assert.ok(lines.some((l) => l["event"] === "serve.stopped"));
});

test("--log-format json: a failure to start is one JSON line at level error", async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  t.after(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const serve = start(t, ["serve", "--listen", `127.0.0.1:${port}`, "--log-format", "json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  assert.equal((await serve.waitExit()).code, 1);
  const lines = jsonLog(serve.stderr);
  const failure = lines.find((l) => l["level"] === "error");
  assert.ok(failure !== undefined, serve.stderr);
  assert.match(String(failure["msg"]), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
  assert.equal(failure["code"], "EADDRINUSE");
});

test("connection lines are rate-limited: a flood of connections writes a bounded log and says how many it held back", async (t) => {
  const serve = start(t, ["serve", "--listen", "127.0.0.1:0", "--log-format", "json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const listening = await serve.until("the listening line", () =>
    jsonLog(serve.stderr).find((l) => l["event"] === "serve.listening"),
  );
  const port = Number(/:(\d+)$/.exec(String(listening["address"]))?.[1]);
  // 300 connections, each sending garbage: 3 lines each (opened, error, closed) = 900 without a limit.
  const flood = Array.from({ length: 300 }, async () => {
    const c = await RawClient.connect({ port });
    c.sendRaw("garbage!garbage!");
    await c.waitClosed(15_000);
  });
  await Promise.all(flood);
  serve.child.kill("SIGTERM");
  await serve.waitExit();
  const lines = jsonLog(serve.stderr);
  const connectionLines = lines.filter((l) => String(l["event"]).startsWith("connection."));
  assert.ok(connectionLines.length < 900, `${connectionLines.length} connection lines`);
  const suppressed = lines.filter((l) => l["event"] === "log.suppressed");
  assert.ok(suppressed.length >= 1, "says lines were held back");
  const held = suppressed.reduce((n, l) => n + Number(l["suppressed"]), 0);
  assert.equal(connectionLines.length + held, 900, "every line is either written or counted");
});

/**
 * Real TCP (and a few local) errors, made to happen on loopback, then judged by
 * classify. Each test asserts (a) the raw error as Node gives it here and (b)
 * the verdict. Blackholes and unreachable networks live in netns.test.ts.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import type { LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { TestContext } from "node:test";
import { classify, isConnectionError } from "../../src/errors/index.js";
import { closedPort, listen, nextError, rawFields, rejectionOf, verdictOf, within } from "../helpers/capture-error.js";

function record(t: TestContext, err: unknown): void {
  t.diagnostic(`raw: ${JSON.stringify(rawFields(err))}`);
}

function field(err: unknown, key: string): unknown {
  return (err as Record<string, unknown>)[key];
}

async function connectError(options: net.NetConnectOpts): Promise<unknown> {
  const socket = net.connect(options);
  try {
    return await nextError(socket, 5_000, "connect error");
  } finally {
    socket.destroy();
  }
}

/** True when ::1 can be bound here (a container may have no IPv6 loopback). */
async function hasIpv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  try {
    server.listen(0, "::1");
    await Promise.race([
      once(server, "listening"),
      once(server, "error").then(() => Promise.reject(new Error("no ::1"))),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

/** A port closed on both 127.0.0.1 and ::1: bound dual-stack on "::", then closed. */
async function portClosedOnBothFamilies(): Promise<number> {
  const server = net.createServer();
  server.listen({ port: 0, host: "::", ipv6Only: false });
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("real TCP errors", () => {
  test("connect to a closed port on 127.0.0.1: ECONNREFUSED, refused, delivered no", async (t) => {
    const err = await connectError({ host: "127.0.0.1", port: await closedPort() });
    record(t, err);
    assert.equal(field(err, "code"), "ECONNREFUSED");
    assert.equal(field(err, "syscall"), "connect");
    assert.equal(field(err, "errno"), -111);
    assert.deepEqual(verdictOf(classify(err)), {
      connection: true,
      kind: "refused",
      code: "ECONNREFUSED",
      delivered: "no",
    });
    assert.equal(classify(err).source, err);
    assert.equal(isConnectionError(err), true);
  });

  test("connect to a closed port on ::1: ECONNREFUSED, refused", async (t) => {
    if (!(await hasIpv6Loopback())) {
      t.skip("no IPv6 loopback (::1) on this machine");
      return;
    }
    const err = await connectError({ host: "::1", port: await closedPort("::1") });
    record(t, err);
    assert.equal(field(err, "code"), "ECONNREFUSED");
    assert.equal(field(err, "syscall"), "connect");
    assert.match(String(field(err, "message")), /::1/);
    assert.deepEqual(verdictOf(classify(err)), {
      connection: true,
      kind: "refused",
      code: "ECONNREFUSED",
      delivered: "no",
    });
  });

  test("localhost with both families refusing (happy eyeballs): AggregateError, every attempt refused", async (t) => {
    if (!(await hasIpv6Loopback())) {
      t.skip("no IPv6 loopback (::1): happy eyeballs needs two families");
      return;
    }
    // This machine's /etc/hosts may map localhost to 127.0.0.1 only, so resolve it the way
    // most machines do (::1 and 127.0.0.1); net.connect then races both (autoSelectFamily).
    const lookup = ((
      _host: string,
      _opts: unknown,
      cb: (e: null, a: { address: string; family: number }[]) => void,
    ) => {
      cb(null, [
        { address: "::1", family: 6 },
        { address: "127.0.0.1", family: 4 },
      ]);
    }) as unknown as LookupFunction;
    const err = await connectError({
      host: "localhost",
      port: await portClosedOnBothFamilies(),
      lookup,
      autoSelectFamily: true,
    });
    record(t, err);
    assert.ok(err instanceof AggregateError, "net.connect reports every attempt in an AggregateError");
    assert.equal(err.message, "");
    assert.equal(field(err, "code"), "ECONNREFUSED", "the code is copied from the first attempt");
    assert.equal(err.errors.length, 2);
    for (const inner of err.errors) {
      assert.equal(field(inner, "code"), "ECONNREFUSED");
      assert.equal(field(inner, "syscall"), "connect");
    }
    const c = classify(err);
    assert.deepEqual(verdictOf(c), { connection: true, kind: "refused", code: "ECONNREFUSED", delivered: "no" });
    assert.ok(err.errors.includes(c.source), "source is one of the attempts");
    assert.match(c.path.join("/"), /^errors\[\d\]$/);
  });

  test("localhost through the system resolver, closed port: refused", async (t) => {
    const err = await connectError({ host: "localhost", port: await portClosedOnBothFamilies() });
    record(t, err);
    // An AggregateError where localhost has two addresses, a plain error where it has one.
    assert.equal(field(err, "code"), "ECONNREFUSED");
    assert.deepEqual(verdictOf(classify(err)), {
      connection: true,
      kind: "refused",
      code: "ECONNREFUSED",
      delivered: "no",
    });
  });

  /** A lookup that never answers, so the connect is still pending when the signal fires. */
  const stalledLookup = (() => {}) as unknown as LookupFunction;

  test("net.connect aborted by AbortSignal.timeout(): ABORT_ERR caused by TimeoutError, timeout, connection true", async (t) => {
    const err = await connectError({
      host: "stalled.test",
      port: 9,
      lookup: stalledLookup,
      signal: AbortSignal.timeout(20),
    });
    record(t, err);
    assert.equal(field(err, "name"), "AbortError");
    assert.equal(field(err, "code"), "ABORT_ERR");
    const cause = field(err, "cause");
    assert.equal(field(cause, "name"), "TimeoutError");
    assert.equal(field(cause, "code"), 23);
    const c = classify(err);
    assert.equal(c.connection, true);
    assert.equal(c.kind, "timeout");
    assert.equal(c.source, cause);
  });

  test("net.connect aborted by the caller (AbortController.abort()): ABORT_ERR, not a connection error", async (t) => {
    const controller = new AbortController();
    const socket = net.connect({ host: "stalled.test", port: 9, lookup: stalledLookup, signal: controller.signal });
    const failed = nextError(socket);
    controller.abort();
    const err = await failed;
    socket.destroy();
    record(t, err);
    assert.equal(field(err, "name"), "AbortError");
    assert.equal(field(err, "code"), "ABORT_ERR");
    assert.equal(field(field(err, "cause"), "name"), "AbortError");
    const c = classify(err);
    assert.equal(c.connection, false);
    assert.equal(c.kind, "other");
    assert.equal(isConnectionError(err), false);
  });

  test("peer calls resetAndDestroy() while we read: ECONNRESET (read), reset, delivered maybe", async (t) => {
    const srv = await listen(net.createServer((s) => s.once("data", () => s.resetAndDestroy())));
    try {
      const client = net.connect(srv.port, "127.0.0.1");
      client.on("data", () => {});
      await once(client, "connect");
      client.write("ping");
      const err = await nextError(client);
      record(t, err);
      assert.equal(field(err, "code"), "ECONNRESET");
      assert.equal(field(err, "syscall"), "read");
      assert.deepEqual(verdictOf(classify(err)), {
        connection: true,
        kind: "reset",
        code: "ECONNRESET",
        delivered: "maybe",
      });
    } finally {
      await srv.close();
    }
  });

  test("peer calls resetAndDestroy() while we write a large buffer: ECONNRESET (write), reset", async (t) => {
    const srv = await listen(net.createServer((s) => s.once("data", () => s.resetAndDestroy())));
    try {
      const client = net.connect(srv.port, "127.0.0.1");
      client.pause(); // not reading: the reset surfaces on the write, not on a read
      await once(client, "connect");
      client.write(Buffer.alloc(32 * 1024 * 1024));
      const err = await nextError(client);
      record(t, err);
      // Linux reports the RST on the pending write as ECONNRESET (EPIPE only on a later write).
      assert.ok(
        ["ECONNRESET", "EPIPE"].includes(String(field(err, "code"))),
        `unexpected ${String(field(err, "code"))}`,
      );
      assert.equal(field(err, "syscall"), "write");
      const c = classify(err);
      assert.equal(c.connection, true);
      assert.equal(c.kind, field(err, "code") === "EPIPE" ? "broken-pipe" : "reset");
      assert.equal(c.delivered, "maybe");
    } finally {
      await srv.close();
    }
  });

  test("write after the peer closed and reset: EPIPE, broken-pipe, delivered maybe", async (t) => {
    let peerClosed!: () => void;
    const closed = new Promise<void>((resolve) => (peerClosed = resolve));
    const srv = await listen(
      net.createServer((s) => {
        s.on("close", peerClosed);
        s.destroy(); // full close: our next bytes get an RST, the write after that EPIPE
      }),
    );
    try {
      const client = net.connect(srv.port, "127.0.0.1");
      client.pause();
      await once(client, "connect");
      await closed;
      const failed = nextError(client);
      const chunk = Buffer.alloc(1024, 0x78);
      const pump = (): void => {
        if (!client.destroyed) client.write(chunk, (e) => (e ? undefined : setImmediate(pump)));
      };
      pump();
      const err = await failed;
      record(t, err);
      assert.equal(field(err, "syscall"), "write");
      assert.ok(["EPIPE", "ECONNRESET"].includes(String(field(err, "code"))));
      if (field(err, "code") !== "EPIPE") {
        t.diagnostic("this kernel reported the reset before EPIPE");
      }
      const c = classify(err);
      assert.equal(c.connection, true);
      assert.equal(c.kind, field(err, "code") === "EPIPE" ? "broken-pipe" : "reset");
      assert.equal(c.code, field(err, "code"));
      assert.equal(c.delivered, "maybe");
    } finally {
      await srv.close();
    }
  });

  test("write after destroy: ERR_STREAM_DESTROYED, not-connected, connection true", async (t) => {
    const srv = await listen(net.createServer());
    try {
      const client = net.connect(srv.port, "127.0.0.1");
      await once(client, "connect");
      client.destroy();
      const err = await new Promise<unknown>((resolve) => client.write("late", resolve));
      record(t, err);
      assert.equal(field(err, "code"), "ERR_STREAM_DESTROYED");
      assert.equal(field(err, "message"), "Cannot call write after a stream was destroyed");
      const c = classify(err);
      assert.equal(c.connection, true);
      assert.equal(c.kind, "not-connected");
      assert.equal(c.code, "ERR_STREAM_DESTROYED");
    } finally {
      await srv.close();
    }
  });

  test('http.get to a server that destroys the socket: "socket hang up" ECONNRESET, reset', async (t) => {
    const srv = await listen(http.createServer((req) => req.socket.destroy()));
    try {
      const req = http.get({ host: "127.0.0.1", port: srv.port, agent: false });
      const err = await nextError(req);
      record(t, err);
      assert.equal(field(err, "code"), "ECONNRESET");
      assert.equal(field(err, "message"), "socket hang up");
      assert.equal(field(err, "syscall"), undefined);
      assert.deepEqual(verdictOf(classify(err)), {
        connection: true,
        kind: "reset",
        code: "ECONNRESET",
        delivered: "maybe",
      });
    } finally {
      await srv.close();
    }
  });

  test("EADDRINUSE from listen: a bug, not a connection error", async (t) => {
    const holder = await listen(net.createServer());
    const second = net.createServer();
    try {
      second.listen(holder.port, "127.0.0.1");
      const err = await nextError(second);
      record(t, err);
      assert.equal(field(err, "code"), "EADDRINUSE");
      assert.equal(field(err, "syscall"), "listen");
      const c = classify(err);
      assert.equal(c.connection, false);
      assert.equal(c.kind, "other");
      assert.equal(c.code, "EADDRINUSE");
      assert.equal(isConnectionError(err), false);
    } finally {
      second.close();
      await holder.close();
    }
  });

  test("ENOENT from fs.readFile: a bug", async (t) => {
    const err = await rejectionOf(readFile(join(tmpdir(), `outlast-missing-${process.pid}-${Date.now()}`)));
    record(t, err);
    assert.equal(field(err, "code"), "ENOENT");
    assert.equal(field(err, "syscall"), "open");
    const c = classify(err);
    assert.equal(c.connection, false);
    assert.equal(c.kind, "other");
    assert.equal(c.code, "ENOENT");
  });

  test("connect to a Unix socket path that does not exist: ENOENT (connect), refused", async (t) => {
    if (process.platform === "win32") {
      t.skip("Unix socket paths are named pipes on Windows");
      return;
    }
    const path = join(tmpdir(), `outlast-no-server-${process.pid}-${Date.now()}.sock`);
    const err = await connectError({ path });
    record(t, err);
    assert.equal(field(err, "code"), "ENOENT");
    assert.equal(field(err, "syscall"), "connect");
    assert.deepEqual(verdictOf(classify(err)), { connection: true, kind: "refused", code: "ENOENT", delivered: "no" });
  });

  test("connect to a Unix socket path whose server is gone (stale file): ECONNREFUSED, refused", async (t) => {
    if (process.platform === "win32") {
      t.skip("Unix socket paths are named pipes on Windows");
      return;
    }
    const path = join(tmpdir(), `outlast-stale-${process.pid}-${Date.now()}.sock`);
    // A server that dies without unlinking leaves the socket file behind: child process + SIGKILL.
    const child = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => process.stdout.write("up"))`],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      await within(once(child.stdout, "data"), 10_000, "child server start");
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await within(exited, 10_000, "child exit");
      const err = await connectError({ path });
      record(t, err);
      assert.equal(field(err, "code"), "ECONNREFUSED");
      assert.equal(field(err, "syscall"), "connect");
      assert.deepEqual(verdictOf(classify(err)), {
        connection: true,
        kind: "refused",
        code: "ECONNREFUSED",
        delivered: "no",
      });
    } finally {
      child.kill("SIGKILL");
      await rm(path, { force: true });
    }
  });
});

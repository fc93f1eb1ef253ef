// How classify walks: cause chains, AggregateErrors, custom rules, paths.
// The verdicts on real errors are tested in real-*.test.ts and netns.test.ts;
// here the shapes are built by hand on purpose, to pin the walk itself.
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { once } from "node:events";
import { test } from "node:test";
import { classify, isConnectionError, registerClassifier } from "../../src/errors/index.js";

async function refusedError(): Promise<NodeJS.ErrnoException> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const socket = connect({ port, host: "127.0.0.1" });
  const [err] = (await once(socket, "error").catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
  return err;
}

test("a real ECONNREFUSED is refused, delivered no, with a reason naming the code", async () => {
  const err = await refusedError();
  const c = classify(err);
  assert.equal(c.connection, true);
  assert.equal(c.kind, "refused");
  assert.equal(c.code, "ECONNREFUSED");
  assert.equal(c.delivered, "no");
  assert.equal(c.source, err);
  assert.deepEqual(c.path, []);
  assert.match(c.reason, /^ECONNREFUSED: connection refused \(connect 127\.0\.0\.1 \d+\)/);
});

test("the deepest error with a verdict decides: wrappers never hide the cause", async () => {
  const refused = await refusedError();
  const wrapped = new Error("could not publish", { cause: new TypeError("fetch failed", { cause: refused }) });
  const c = classify(wrapped);
  assert.equal(c.kind, "refused");
  assert.equal(c.source, refused);
  assert.deepEqual(c.path, ["cause", "cause"]);
  assert.equal(isConnectionError(wrapped), true);
});

test("a wrapper whose cause has no verdict is a bug, and the source is the root cause", () => {
  const root = new Error("bad port");
  const err = new TypeError("fetch failed", { cause: root });
  const c = classify(err);
  assert.equal(c.connection, false);
  assert.equal(c.kind, "other");
  assert.equal(c.source, root);
  assert.deepEqual(c.path, ["cause"]);
});

test("AggregateError: a connection error only if every attempt failed for a connection reason", async () => {
  const a = await refusedError();
  const b = await refusedError();
  const all = new AggregateError([a, b], "");
  Object.assign(all, { code: "ECONNREFUSED" });
  const c = classify(all);
  assert.equal(c.connection, true);
  assert.equal(c.kind, "refused");
  assert.equal(c.source, a);
  assert.deepEqual(c.path, ["errors[0]"]);

  const mixed = new AggregateError([a, new TypeError("boom")], "");
  Object.assign(mixed, { code: "ECONNREFUSED" }); // the code copied from the first attempt must not decide
  const m = classify(mixed);
  assert.equal(m.connection, false);
  assert.deepEqual(m.path, ["errors[1]"]);
});

test("Promise.any of plain errors is a bug", async () => {
  const err = await Promise.any([Promise.reject(new Error("a")), Promise.reject(new Error("b"))]).catch(
    (e: unknown) => e,
  );
  assert.ok(err instanceof AggregateError);
  assert.equal(classify(err).connection, false);
});

test("a user's cancel is never a connection error, but an AbortSignal timeout is", async () => {
  const controller = new AbortController();
  controller.abort();
  const cancelled = await new Promise((_, reject) => {
    controller.signal.throwIfAborted();
    reject(new Error("unreachable"));
  }).catch((e: unknown) => e);
  const c = classify(cancelled);
  assert.equal(c.connection, false);
  assert.equal(c.detail, "cancelled");

  const signal = AbortSignal.timeout(1);
  const keepAlive = setInterval(() => {}, 1000); // AbortSignal.timeout's timer is unref'd
  await once(signal, "abort");
  clearInterval(keepAlive);
  const timeout = signal.reason as DOMException;
  assert.equal(timeout.name, "TimeoutError");
  const t = classify(timeout);
  assert.equal(t.connection, true);
  assert.equal(t.kind, "timeout");

  // Node's ABORT_ERR whose cause is the TimeoutError: judged by the cause
  const abortErr = Object.assign(new Error("The operation was aborted", { cause: timeout }), {
    name: "AbortError",
    code: "ABORT_ERR",
  });
  assert.equal(classify(abortErr).kind, "timeout");
});

test("registerClassifier: custom rules win at any depth, and removal works", () => {
  class DeviceOffline extends Error {}
  const err = new Error("sync failed", { cause: new DeviceOffline("radio off") });
  assert.equal(classify(err).connection, false);
  const remove = registerClassifier({
    name: "device-offline",
    match: (e) =>
      e instanceof DeviceOffline ? { connection: true, kind: "network-down", reason: "the radio is off" } : undefined,
  });
  try {
    const c = classify(err);
    assert.equal(c.connection, true);
    assert.equal(c.kind, "network-down");
    assert.deepEqual(c.path, ["cause"]);
    assert.match(c.reason, /the radio is off/);
  } finally {
    remove();
    remove(); // idempotent
  }
  assert.equal(classify(err).connection, false);
});

test("a custom rule that throws or answers nonsense is ignored", () => {
  const removeThrowing = registerClassifier(() => {
    throw new Error("rule bug");
  });
  const removeNonsense = registerClassifier(() => ({ connection: true, kind: "not-a-kind" }) as never);
  try {
    assert.equal(classify(new TypeError("x")).connection, false);
  } finally {
    removeThrowing();
    removeNonsense();
  }
});

test("Node's UNKNOWN with an errno is read through the platform's table", () => {
  const linux = Object.assign(new Error("read UNKNOWN"), { code: "UNKNOWN", errno: -102, syscall: "read" });
  const c = classify(linux, { platform: "linux" });
  assert.equal(c.code, "ENETRESET");
  assert.equal(c.connection, true);
  const mac = Object.assign(new Error("read UNKNOWN"), { code: "UNKNOWN", errno: -52, syscall: "read" });
  assert.equal(classify(mac, { platform: "darwin" }).code, "ENETRESET");
  const win = Object.assign(new Error("read UNKNOWN"), { code: "UNKNOWN", errno: -4094, syscall: "read" });
  const w = classify(win, { platform: "win32" });
  assert.equal(w.connection, true);
  assert.equal(w.kind, "network-down");
  // the same UNKNOWN from fs on Windows is not a network error
  const fsErr = Object.assign(new Error("open UNKNOWN"), { code: "UNKNOWN", errno: -4094, syscall: "open" });
  assert.equal(classify(fsErr, { platform: "win32" }).connection, false);
});

test("hostile shapes: cycles, depth, huge aggregates, throwing getters", () => {
  const a: { cause?: unknown; code: string } = { code: "EFOO" };
  const b = { cause: a };
  a.cause = b;
  assert.equal(classify(a).connection, false);

  let deep: Error = Object.assign(new Error("bottom"), { code: "ECONNRESET" });
  for (let i = 0; i < 9_999; i++) deep = new Error(`level ${i}`, { cause: deep });
  const d = classify(deep);
  assert.equal(d.kind, "reset");
  assert.equal(d.path.length, 9_999); // the walk reached the bottom

  // Bounded work, counted rather than timed: each attempt's code is read a bounded number of times.
  let codeReads = 0;
  const refused = (): Error => {
    const e = Object.assign(new Error("x"), { syscall: "connect" });
    Object.defineProperty(e, "code", {
      get() {
        codeReads++;
        return "ECONNREFUSED";
      },
    });
    return e;
  };
  const many = new AggregateError(Array.from({ length: 100_000 }, refused));
  const m = classify(many);
  assert.ok(codeReads <= 2 * 100_000, `${codeReads} reads of code for 100,000 attempts`);
  assert.equal(m.kind, "refused");
  assert.match(m.reason, /every one of 100000 attempts/);

  // past the longest chain followed (20,000) the walk stops; it never hangs
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // building 30,000 errors with stacks would dominate the test
  let huge: Error = Object.assign(new Error("bottom"), { code: "ECONNRESET" });
  for (let i = 0; i < 30_000; i++) huge = new Error("w", { cause: huge });
  Error.stackTraceLimit = limit;
  const h = classify(huge);
  assert.equal(h.connection, false);
  assert.match(h.reason, /not a connection error/);

  const evil = new Proxy(
    {},
    {
      get() {
        throw new Error("get");
      },
      has() {
        throw new Error("has");
      },
      getPrototypeOf() {
        throw new Error("proto");
      },
    },
  );
  assert.equal(classify(evil).connection, false);
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assert.equal(classify(proxy).connection, false);
  assert.equal(classify(new AggregateError([proxy, evil])).connection, false);
});

/**
 * classify never throws and never hangs, in bounded time, on any input:
 * hostile objects (throwing getters, Proxies, revoked Proxies), huge or cyclic
 * structures, and anything fast-check can produce.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { KINDS, classify, isConnectionError } from "../../src/errors/index.js";
import type { Classification } from "../../src/errors/index.js";

/**
 * Classifies `value`, asserting it returns a well-formed verdict. A hang shows as the test runner's
 * timeout; bounded work is asserted by counting reads where it matters, never with a wall clock
 * (a loaded CI machine makes any millisecond bound flaky).
 */
function judge(value: unknown): Classification {
  const c = classify(value);
  assertWellFormed(c);
  assert.equal(isConnectionError(value), c.connection);
  return c;
}

/** The walk's node budget (MAX_NODES in src/errors/classify.ts): no input makes classify read more. */
const NODE_BUDGET = 150_000;

function assertWellFormed(c: Classification): void {
  assert.equal(typeof c.connection, "boolean");
  assert.ok(KINDS.includes(c.kind), `kind ${String(c.kind)}`);
  assert.equal(typeof c.code, "string");
  assert.equal(typeof c.detail, "string");
  assert.ok(c.delivered === "no" || c.delivered === "maybe", `delivered ${String(c.delivered)}`);
  assert.equal(typeof c.reason, "string");
  assert.ok(c.reason.length > 0 && c.reason.length < 4_096, `reason length ${c.reason.length}`);
  assert.ok(Array.isArray(c.path));
}

/** A Node-style system error, as net gives it (for wrapping; the real ones are in real-tcp.test.ts). */
function systemError(code: string, errno: number, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno, syscall });
}

/** Builds many errors quickly: stack capture dominates the cost of `new Error()`. */
function withoutStacks<T>(build: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const ALL_TRAPS = [
  "apply",
  "construct",
  "defineProperty",
  "deleteProperty",
  "get",
  "getOwnPropertyDescriptor",
  "getPrototypeOf",
  "has",
  "isExtensible",
  "ownKeys",
  "preventExtensions",
  "set",
  "setPrototypeOf",
] as const;

function everyTrapThrows<T extends object>(target: T): T {
  const handler: ProxyHandler<T> = {};
  for (const trap of ALL_TRAPS) {
    (handler as Record<string, unknown>)[trap] = () => {
      throw new Error(`trap ${trap}`);
    };
  }
  return new Proxy(target, handler);
}

// "stack" first: redefining it after "name" makes V8 format the stack, which reads the throwing name.
const PROPERTIES = [
  "stack",
  "code",
  "errno",
  "syscall",
  "name",
  "message",
  "cause",
  "errors",
  "constructor",
  "address",
  "port",
  "status",
  "details",
  "config",
  "response",
  "type",
  "reason",
  "hostname",
  "library",
];

function withThrowingGetters<T extends object>(target: T): T {
  for (const key of [...PROPERTIES, Symbol.toPrimitive, Symbol.toStringTag]) {
    Object.defineProperty(target, key, {
      get() {
        throw new Error(`getter ${String(key)}`);
      },
      configurable: true,
    });
  }
  return target;
}

describe("classify robustness: hostile values", () => {
  test("throwing getters on every property", () => {
    const c = judge(withThrowingGetters(new Error("boom")));
    assert.equal(c.connection, false);
    judge(withThrowingGetters({}));
    // A throwing getter beside a real code still lets the code decide.
    const partly = systemError("ECONNRESET", -104, "read");
    Object.defineProperty(partly, "cause", {
      get: () => {
        throw new Error("cause getter");
      },
    });
    Object.defineProperty(partly, "errors", {
      get: () => {
        throw new Error("errors getter");
      },
    });
    Object.defineProperty(partly, "message", {
      get: () => {
        throw new Error("message getter");
      },
    });
    assert.equal(judge(partly).kind, "reset");
  });

  test("a Proxy whose every trap throws", () => {
    assert.equal(judge(everyTrapThrows(new Error("x"))).connection, false);
    assert.equal(judge(everyTrapThrows({})).connection, false);
    assert.equal(judge(everyTrapThrows(() => {})).connection, false);
    assert.equal(judge(everyTrapThrows([])).connection, false);
    // As a cause, and inside an AggregateError.
    judge(new Error("outer", { cause: everyTrapThrows(new Error("inner")) }));
    judge(new AggregateError([everyTrapThrows(new Error("a")), systemError("ECONNREFUSED", -111, "connect")], ""));
  });

  test("a revoked Proxy, alone, as a cause, as the errors array", () => {
    const revoked = (target: object): object => {
      const { proxy, revoke } = Proxy.revocable(target, {});
      revoke();
      return proxy;
    };
    assert.equal(judge(revoked(new Error("x"))).connection, false);
    judge(revoked([]));
    judge(new Error("outer", { cause: revoked(new Error("inner")) }));
    const agg = new AggregateError([], "");
    Object.defineProperty(agg, "errors", { value: revoked([systemError("ECONNRESET", -104, "read")]) });
    judge(agg);
    // A cause chain that ends in a revoked Proxy under a real reset: the reset still decides.
    const reset = systemError("ECONNRESET", -104, "read");
    (reset as { cause?: unknown }).cause = revoked({});
    assert.equal(judge(new Error("wrapper", { cause: reset })).kind, "reset");
  });

  test("a Proxy that answers a connection code for every property read", () => {
    const liar = new Proxy({}, { get: () => "ECONNRESET", has: () => true });
    judge(liar); // `cause` is the string "ECONNRESET" too: a string is not followed
  });

  test("cyclic cause chains and cycles through errors", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    assert.equal(judge(a).connection, false);
    const self = new Error("self");
    (self as { cause?: unknown }).cause = self;
    judge(self);
    const reset = systemError("ECONNRESET", -104, "read");
    const loop = new Error("loop", { cause: reset });
    (reset as { cause?: unknown }).cause = loop;
    const c = judge(loop);
    assert.equal(c.connection, true, "a reset inside a cycle is still found");
    const agg = new AggregateError([], "");
    (agg as unknown as { errors: unknown[] }).errors.push(agg, new Error("x", { cause: agg }));
    judge(agg);
  });

  test("a cause getter that returns a fresh error on every read (an endless chain)", () => {
    let deepest = 0;
    const endless = (depth: number): object => ({
      get cause() {
        deepest = Math.max(deepest, depth + 1);
        return endless(depth + 1);
      },
      message: `level ${depth}`,
    });
    judge(endless(0));
    assert.ok(deepest > 1_000, `the walk followed the chain (${deepest} levels)`);
    assert.ok(deepest <= NODE_BUDGET, `the walk stopped within its budget (${deepest} levels)`);
  });

  test("a 100,000-deep cause chain is judged in bounded time without overflowing the stack", () => {
    const err = withoutStacks(() => {
      let e: Error = systemError("ECONNRESET", -104, "read");
      for (let i = 0; i < 100_000; i++) e = new Error(`wrapper ${i}`, { cause: e });
      return e;
    });
    const c = judge(err);
    assert.ok(c.path.length <= 100_000);
  });

  test("a 9,999-deep chain of code-less wrappers over ECONNRESET is still a reset", () => {
    let err: Error = systemError("ECONNRESET", -104, "read");
    for (let i = 0; i < 9_999; i++) err = new Error(`wrapper ${i}`, { cause: err });
    const c = judge(err);
    assert.equal(c.kind, "reset", `got ${c.kind}: ${c.reason}`);
    assert.equal(c.path.length, 9_999);
  });

  test("a 10,000-deep chain of code-less wrappers over ECONNRESET is still a reset", () => {
    let err: Error = systemError("ECONNRESET", -104, "read");
    for (let i = 0; i < 10_000; i++) err = new Error(`wrapper ${i}`, { cause: err });
    const c = judge(err);
    assert.equal(c.kind, "reset", `got ${c.kind}: ${c.reason}`);
    assert.equal(c.connection, true);
  });

  test("an AggregateError holding 100,000 errors is judged whole (one bug among them decides)", () => {
    const refused = withoutStacks(() =>
      Array.from({ length: 100_000 }, () => systemError("ECONNREFUSED", -111, "connect")),
    );
    const c = judge(new AggregateError(refused, ""));
    assert.equal(c.connection, true);
    const mixed = withoutStacks(() =>
      Array.from({ length: 100_000 }, (_, i) =>
        i === 99_999 ? new TypeError("bug") : systemError("ECONNREFUSED", -111, "connect"),
      ),
    );
    assert.equal(judge(new AggregateError(mixed, "")).connection, false, "the last attempt was a bug");
    const bugs = withoutStacks(() => Array.from({ length: 100_000 }, () => new TypeError("bug")));
    assert.equal(judge(new AggregateError(bugs, "")).connection, false);
  });

  test("nested AggregateErrors (1,000 levels) complete", () => {
    let err: unknown = systemError("ECONNREFUSED", -111, "connect");
    for (let i = 0; i < 1_000; i++) err = new AggregateError([err, systemError("ECONNREFUSED", -111, "connect")], "");
    judge(err);
  });

  test("an errors array with a huge length but no items", () => {
    const agg = new AggregateError([], "");
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    Object.defineProperty(agg, "errors", { value: sparse });
    judge(agg);
  });

  test("a 5 MB message (and a 5 MB code)", () => {
    const big = "x".repeat(5 * 1024 * 1024);
    const c = judge(new Error(big));
    assert.equal(c.connection, false);
    assert.ok(c.reason.length < 4_096);
    judge(Object.assign(new Error("y"), { code: big }));
    assert.equal(judge(Object.assign(new Error(big), { code: "ECONNRESET" })).kind, "reset");
  });

  test("primitives, symbols, functions", () => {
    const values: unknown[] = [
      null,
      undefined,
      0,
      -104,
      104,
      NaN,
      Infinity,
      10n,
      "",
      "ECONNRESET",
      "read ECONNRESET",
      true,
      false,
      Symbol("ECONNRESET"),
      Symbol.iterator,
      () => {},
      function named() {},
      class Foo {},
      async () => {},
    ];
    for (const v of values) {
      const c = judge(v);
      assert.equal(c.connection, false, `${typeof v} is not a connection error`);
      assert.equal(c.source, v);
    }
    // A function carrying a code is judged by its code (duck typing, no typeof check on "object").
    judge(Object.assign(() => {}, { code: "ECONNRESET" }));
  });

  test("objects with a null prototype, Object.create(error), frozen and sealed errors", () => {
    const bare = Object.assign(Object.create(null) as object, {
      code: "ECONNRESET",
      message: "read ECONNRESET",
      syscall: "read",
    });
    assert.equal(judge(bare).kind, "reset");
    judge(Object.create(null));
    const proto = systemError("ECONNREFUSED", -111, "connect");
    const child = Object.create(proto) as object;
    assert.equal(judge(child).kind, "refused", "inherited code counts");
    const frozen = Object.freeze(systemError("EPIPE", -32, "write"));
    assert.equal(judge(frozen).kind, "broken-pipe");
    judge(Object.seal(new Error("sealed")));
    judge(Object.preventExtensions(new Error("fixed", { cause: frozen })));
  });

  test("odd field types: code an object, a number, an array; errno a string; name a symbol", () => {
    const weird: unknown[] = [
      Object.assign(new Error("x"), { code: { toString: () => "ECONNRESET" } }),
      Object.assign(new Error("x"), {
        code: {
          toString() {
            throw new Error("no");
          },
        },
      }),
      Object.assign(new Error("x"), { code: 104 }),
      Object.assign(new Error("x"), { code: ["ECONNRESET"] }),
      Object.assign(new Error("x"), { code: "UNKNOWN", errno: {} }),
      Object.assign(new Error("x"), { code: "UNKNOWN", errno: -1e300 }),
      Object.assign(new Error("x"), { name: Symbol("n"), message: Symbol("m") }),
      Object.assign(new Error("x"), { syscall: 42, address: {}, port: "x" }),
      Object.assign(new Error("x"), { errors: "not an array" }),
      Object.assign(new Error("x"), { errors: { length: 5, 0: new Error("y") } }),
      Object.assign(new Error("x"), { cause: 42 }),
      Object.assign(new Error("x"), { cause: "ECONNRESET" }),
      Object.assign(new Error("x"), { cause: null }),
    ];
    for (const v of weird) {
      const c = judge(v);
      assert.equal(c.connection, false, `unexpected connection verdict for ${c.reason}`);
    }
    // node-fetch's FetchError puts the code in a string `errno` and has no `code`: that one counts.
    assert.equal(judge(Object.assign(new Error("x"), { code: null, errno: "ECONNRESET" })).kind, "reset");
  });
});

// ---------------------------------------------------------------------------

const CODES = [
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ETIMEOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UNKNOWN",
  "ABORT_ERR",
  "ERR_CANCELED",
  "UND_ERR_SOCKET",
  "CERT_HAS_EXPIRED",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "EADDRINUSE",
  "ENOENT",
  "ERR_INVALID_ARG_TYPE",
  "ERR_STREAM_DESTROYED",
  "ECANCELLED",
  "08006",
  "57P01",
] as const;

interface Shape {
  kind: "error" | "aggregate" | "plain" | "null-proto";
  code: unknown;
  errno: unknown;
  syscall: unknown;
  name: unknown;
  message: unknown;
  cause?: Shape | undefined;
  errors?: Shape[] | undefined;
}

const shapeArb: fc.Arbitrary<Shape> = fc.letrec<{ shape: Shape }>((tie) => ({
  shape: fc.record(
    {
      kind: fc.constantFrom("error", "aggregate", "plain", "null-proto"),
      code: fc.oneof(
        fc.constantFrom(...CODES),
        fc.string(),
        fc.integer({ min: -5000, max: 20000 }),
        fc.constant(undefined),
        fc.anything(),
      ),
      errno: fc.oneof(fc.integer({ min: -5000, max: 20000 }), fc.constantFrom(...CODES), fc.constant(undefined)),
      syscall: fc.oneof(
        fc.constantFrom("connect", "read", "write", "listen", "queryA", "getaddrinfo", "open"),
        fc.constant(undefined),
      ),
      name: fc.oneof(
        fc.constantFrom("Error", "TypeError", "AbortError", "TimeoutError", "AggregateError", "FetchError"),
        fc.string(),
      ),
      message: fc.oneof(
        fc.string(),
        fc.constantFrom("fetch failed", "socket hang up", "terminated", "Connection is closed."),
      ),
      cause: fc.option(tie("shape"), { nil: undefined, depthSize: "small", depthIdentifier: "shape" }),
      errors: fc.option(fc.array(tie("shape"), { maxLength: 4, depthIdentifier: "shape" }), { nil: undefined }),
    },
    { requiredKeys: ["kind", "code", "errno", "syscall", "name", "message"] },
  ),
})).shape;

/** Builds an object from a shape; `cycle` makes the deepest cause point back at the root. */
function build(shape: Shape): object {
  const fields: Record<string, unknown> = {
    code: shape.code,
    errno: shape.errno,
    syscall: shape.syscall,
    name: shape.name,
    message: shape.message,
  };
  if (shape.cause !== undefined) fields["cause"] = build(shape.cause);
  const inner = shape.errors?.map(build);
  switch (shape.kind) {
    case "error":
      return Object.assign(new Error(), fields, inner === undefined ? {} : { errors: inner });
    case "aggregate":
      return Object.assign(new AggregateError(inner ?? [], ""), fields);
    case "plain":
      return inner === undefined ? fields : { ...fields, errors: inner };
    case "null-proto":
      return Object.assign(Object.create(null) as object, fields, inner === undefined ? {} : { errors: inner });
  }
}

function addCycle(root: object): object {
  let node: Record<string, unknown> = root as Record<string, unknown>;
  for (let i = 0; i < 50; i++) {
    const next = node["cause"];
    if (typeof next !== "object" || next === null) break;
    node = next as Record<string, unknown>;
  }
  node["cause"] = root;
  return root;
}

describe("classify robustness: property tests (fast-check)", () => {
  test("never throws on fc.anything(), and isConnectionError agrees", () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true,
          withSparseArray: true,
          withTypedArray: true,
          withUnicodeString: true,
        }),
        (value) => {
          judge(value);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  test("never throws on random error-like objects with random codes, causes, inner errors and cycles", () => {
    fc.assert(
      fc.property(shapeArb, fc.boolean(), (shape, cyclic) => {
        const value = build(shape);
        if (cyclic) addCycle(value);
        const c = judge(value);
        // Pure: the same input gives the same verdict.
        const again = classify(value);
        assert.deepEqual(
          { connection: again.connection, kind: again.kind, code: again.code, delivered: again.delivered },
          { connection: c.connection, kind: c.kind, code: c.code, delivered: c.delivered },
        );
      }),
      { numRuns: 1_000 },
    );
  });

  test("code-less wrappers never change the verdict of a Node system error", () => {
    const realish = fc.constantFrom(
      systemError("ECONNRESET", -104, "read"),
      systemError("ECONNREFUSED", -111, "connect"),
      systemError("EPIPE", -32, "write"),
      systemError("ENOTFOUND", -3008, "getaddrinfo"),
      systemError("EADDRINUSE", -98, "listen"),
      systemError("ENOENT", -2, "open"),
    );
    fc.assert(
      fc.property(realish, fc.array(fc.string(), { maxLength: 20 }), (inner, messages) => {
        let wrapped: Error = inner;
        for (const m of messages) wrapped = new Error(m, { cause: wrapped });
        const direct = classify(inner);
        const c = judge(wrapped);
        assert.equal(c.connection, direct.connection);
        assert.equal(c.kind, direct.kind);
        assert.equal(c.source, inner);
        assert.equal(c.path.length, messages.length);
      }),
      { numRuns: 300 },
    );
  });

  test("an AggregateError is a connection error exactly when every attempt is", () => {
    // Fresh objects per attempt, as net.connect gives (the same object twice is the next test).
    const attempt = fc
      .constantFrom(
        () => systemError("ECONNREFUSED", -111, "connect"),
        () => systemError("ETIMEDOUT", -110, "connect"),
        () => systemError("ENETUNREACH", -101, "connect"),
        () => new TypeError("bug"),
        () => systemError("EADDRINUSE", -98, "listen"),
      )
      .map((make) => make());
    fc.assert(
      fc.property(fc.array(attempt, { minLength: 1, maxLength: 8 }), (attempts) => {
        const agg = Object.assign(new AggregateError(attempts, ""), { code: (attempts[0] as { code?: unknown }).code });
        const every = attempts.every((a) => classify(a).connection);
        assert.equal(judge(agg).connection, every);
      }),
      { numRuns: 300 },
    );
  });

  test("an AggregateError holding the same connection error twice (Promise.any over one rejected promise) is a connection error", () => {
    const refused = systemError("ECONNREFUSED", -111, "connect");
    const c = judge(new AggregateError([refused, refused], ""));
    assert.equal(c.connection, true, c.reason);
    assert.equal(c.kind, "refused");
  });
});

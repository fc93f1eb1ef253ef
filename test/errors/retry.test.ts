import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { Server as HttpServer } from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { Classification } from "../../src/errors/classification.js";
import { ManualClock } from "../../src/errors/clock.js";
import type { Timer } from "../../src/errors/clock.js";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { retry } from "../../src/errors/retry.js";
import type { RetryEvent, RetryOptions } from "../../src/errors/retry.js";
import { closedPort } from "../helpers/wait.js";

// ---------- helpers ----------

/** A ManualClock that remembers every delay it was asked to wait. */
class RecordingClock extends ManualClock {
  readonly delays: number[] = [];
  override setTimeout(fn: () => void, ms: number): Timer {
    this.delays.push(ms);
    return super.setTimeout(fn, ms);
  }
}

/** Connects and resolves on connect (closing the socket), rejects with the real connect error. */
function connectOnce(
  port: number,
  host = "127.0.0.1",
  extra: { signal?: AbortSignal; lookup?: net.LookupFunction } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, ...extra });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", reject);
  });
}

/** A real ECONNREFUSED. */
async function refusedError(): Promise<Error> {
  const err = await connectOnce(await closedPort()).then(
    () => assert.fail("a closed port accepted a connection"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error);
  assert.equal((err as NodeJS.ErrnoException).code, "ECONNREFUSED");
  return err;
}

/**
 * Resolves any name to ::1 and 127.0.0.1, as a dual-stack /etc/hosts does for
 * `localhost` (this machine maps localhost to 127.0.0.1 only), so net.connect's
 * happy eyeballs really tries both families.
 */
const dualStackLookup: net.LookupFunction = (_hostname, _options, callback) => {
  callback(null, [
    { address: "::1", family: 6 },
    { address: "127.0.0.1", family: 4 },
  ]);
};

/** A real TypeError (a bug). */
function typeError(): TypeError {
  try {
    const nothing = JSON.parse("null") as { call(): void };
    nothing.call();
  } catch (err) {
    assert.ok(err instanceof TypeError);
    return err;
  }
  return assert.fail("calling a method of null did not throw");
}

/** Yields to the event loop until `cond()` holds; fails after `timeoutMs` of real time. */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Runs the clock's timers until `p` settles (fails after `timeoutMs` of real time); returns p's outcome. */
async function drive<T>(clock: ManualClock, p: Promise<T>, timeoutMs = 5000): Promise<{ value?: T; error?: unknown }> {
  let outcome: { value?: T; error?: unknown } | undefined;
  p.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  const deadline = performance.now() + timeoutMs;
  while (outcome === undefined) {
    if (performance.now() > deadline) assert.fail("retry did not settle");
    if (clock.pending > 0) clock.runNext();
    else await new Promise((resolve) => setImmediate(resolve));
  }
  return outcome;
}

/** A random source that returns the given values in turn (the last one repeats). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
}

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, "abort").length;
}

// ---------- tests ----------

describe("retry", () => {
  test("returns the value of a first success without waiting; fn gets attempt 1 and a signal", async () => {
    const clock = new RecordingClock();
    const seen: number[] = [];
    const value = await retry(
      ({ attempt, signal }) => {
        seen.push(attempt);
        assert.equal(signal.aborted, false);
        return 42;
      },
      { clock },
    );
    assert.equal(value, 42);
    assert.deepEqual(seen, [1]);
    assert.equal(clock.delays.length, 0);
    assert.equal(clock.pending, 0);
  });

  test("a synchronous throw of fn counts like a rejection", async () => {
    const refused = await refusedError();
    const clock = new RecordingClock();
    let calls = 0;
    const out = await drive(
      clock,
      retry(
        () => {
          calls++;
          if (calls < 3) throw refused;
          return "ok";
        },
        { clock, random: () => 0.5 },
      ),
    );
    assert.equal(out.value, "ok");
    assert.equal(calls, 3);
  });

  test("delays follow full jitter: random() * min(capMs, baseMs * 2^(k-1)), on the injected clock", async () => {
    const refused = await refusedError();
    const clock = new RecordingClock();
    const events: RetryEvent[] = [];
    const randoms = [0.5, 0.25, 0.75, 0.1];
    const attemptsSeen: number[] = [];
    const out = await drive(
      clock,
      retry(
        ({ attempt }) => {
          attemptsSeen.push(attempt);
          if (attempt <= 4) throw refused;
          return clock.now();
        },
        { clock, baseMs: 100, capMs: 10_000, random: sequence(...randoms), onRetry: (e) => events.push(e) },
      ),
    );
    const expected = [0.5 * 100, 0.25 * 200, 0.75 * 400, 0.1 * 800];
    assert.deepEqual(clock.delays, expected);
    assert.deepEqual(
      events.map((e) => e.delayMs),
      expected,
    );
    assert.deepEqual(
      events.map((e) => e.attempt),
      [1, 2, 3, 4],
    );
    assert.deepEqual(attemptsSeen, [1, 2, 3, 4, 5]);
    // The last attempt ran after exactly the sum of the waits: time came from the clock.
    assert.equal(
      out.value,
      expected.reduce((a, b) => a + b, 0),
    );
  });

  test("delays stay within [0, ceiling) for randoms at both ends, and never pass capMs", async () => {
    const refused = await refusedError();
    for (const r of [0, 0.999999]) {
      const clock = new RecordingClock();
      const out = await drive(
        clock,
        retry(
          () => {
            throw refused;
          },
          { clock, attempts: 12, baseMs: 100, capMs: 1000, random: () => r },
        ),
      );
      assert.equal(out.error, refused);
      assert.equal(clock.delays.length, 11);
      clock.delays.forEach((d, i) => {
        const ceiling = Math.min(1000, 100 * 2 ** i);
        assert.ok(d >= 0 && d < ceiling, `delay ${d} of retry ${i + 1} outside [0, ${ceiling})`);
        assert.ok(d <= 1000, `delay ${d} passed capMs`);
      });
      if (r > 0) {
        // From the 5th retry on, the ceiling is the cap (100 * 2^4 = 1600 > 1000).
        for (const d of clock.delays.slice(4)) assert.ok(d > 999, `capped delay ${d} should be near 1000`);
      }
    }
  });

  test("attempts limit: rejects with the last error itself (not wrapped) after `attempts` calls", async () => {
    const clock = new RecordingClock();
    const errors: Error[] = [];
    const port = await closedPort();
    let onRetryCalls = 0;
    const out = await drive(
      clock,
      retry(
        () =>
          connectOnce(port).catch((err: unknown) => {
            errors.push(err as Error);
            throw err;
          }),
        { clock, attempts: 3, onRetry: () => onRetryCalls++ },
      ),
    );
    assert.equal(errors.length, 3);
    assert.equal(out.error, errors[2], "the very last error object, not a wrapper");
    assert.equal((out.error as NodeJS.ErrnoException).code, "ECONNREFUSED");
    assert.equal(onRetryCalls, 2);
    assert.equal(clock.pending, 0);
  });

  test("attempts: 1 means no retry; attempts: Infinity retries until success", async () => {
    const refused = await refusedError();
    const once = new RecordingClock();
    let calls = 0;
    const out1 = await drive(
      once,
      retry(
        () => {
          calls++;
          throw refused;
        },
        { clock: once, attempts: 1 },
      ),
    );
    assert.equal(out1.error, refused);
    assert.equal(calls, 1);

    const forever = new RecordingClock();
    calls = 0;
    const out2 = await drive(
      forever,
      retry(
        () => {
          if (++calls < 50) throw refused;
          return calls;
        },
        { clock: forever, attempts: Infinity, capMs: 1000, random: () => 0.5 },
      ),
    );
    assert.equal(out2.value, 50);
    assert.equal(forever.delays.length, 49);
  });

  test("maxElapsedMs: a wait that would pass the limit is not started", async () => {
    const refused = await refusedError();
    const clock = new RecordingClock(1_000_000);
    let calls = 0;
    let last: Error | undefined;
    const out = await drive(
      clock,
      retry(
        () => {
          calls++;
          last = new Error(`attempt ${calls}`, { cause: refused });
          throw last;
        },
        { clock, attempts: Infinity, baseMs: 100, capMs: 10_000, maxElapsedMs: 1000, random: () => 0.5 },
      ),
    );
    // Waits 50, 100, 200, 400 (elapsed 750); the next, 800, would end at 1550 > 1000.
    assert.deepEqual(clock.delays, [50, 100, 200, 400]);
    assert.equal(calls, 5);
    assert.equal(out.error, last);
    assert.equal(clock.now(), 1_000_750);
    assert.equal(clock.pending, 0);
  });

  test("maxElapsedMs counts the time spent inside fn too", async () => {
    const refused = await refusedError();
    const clock = new RecordingClock();
    let calls = 0;
    const out = await drive(
      clock,
      retry(
        () => {
          calls++;
          clock.advance(400); // a slow attempt
          throw refused;
        },
        { clock, attempts: 10, baseMs: 10, maxElapsedMs: 1000, random: () => 0.5 },
      ),
    );
    // 400 (+5 wait) 805 (+10 wait) 1215: over the limit, no third wait.
    assert.equal(calls, 3);
    assert.deepEqual(clock.delays, [5, 10]);
    assert.equal(out.error, refused);
  });

  test("maxElapsedMs: 0 allows exactly one attempt", async () => {
    const refused = await refusedError();
    const clock = new RecordingClock();
    let calls = 0;
    const out = await drive(
      clock,
      retry(
        () => {
          calls++;
          throw refused;
        },
        { clock, maxElapsedMs: 0, random: () => 0 },
      ),
    );
    assert.equal(calls, 1);
    assert.equal(out.error, refused);
  });

  test("abort during a wait: rejects at once with OUTLAST_RETRY_ABORTED (cause = reason), clears the timer and listener", async () => {
    const refused = await refusedError();
    const clock = new RecordingClock();
    const controller = new AbortController();
    let fnSignal: AbortSignal | undefined;
    let calls = 0;
    const p = retry(
      ({ signal }) => {
        calls++;
        fnSignal = signal;
        throw refused;
      },
      { clock, signal: controller.signal, baseMs: 1000 },
    );
    await until(() => clock.pending === 1, "the first wait");
    assert.equal(abortListeners(controller.signal), 1);
    const reason = new Error("user gave up");
    controller.abort(reason);
    await assert.rejects(p, (err: unknown) => {
      assert.ok(isOutlastError(err, "OUTLAST_RETRY_ABORTED"));
      assert.equal(err.cause, reason);
      return true;
    });
    assert.equal(clock.pending, 0, "the wait's timer was cleared");
    assert.equal(clock.now(), 0, "no time passed: it did not wait the delay out");
    assert.equal(calls, 1);
    assert.equal(fnSignal?.aborted, true);
    assert.equal(fnSignal?.reason, reason);
    assert.equal(abortListeners(controller.signal), 0, "the listener on the caller's signal was removed");
    assert.equal(abortListeners(fnSignal), 0);
  });

  test("abort during fn: rejects at once even if fn ignores its signal; fn's signal is aborted", async () => {
    const clock = new RecordingClock();
    const controller = new AbortController();
    let fnSignal: AbortSignal | undefined;
    const p = retry(
      ({ signal }) => {
        fnSignal = signal;
        return new Promise<never>(() => {}); // never settles, ignores the signal
      },
      { clock, signal: controller.signal },
    );
    await until(() => fnSignal !== undefined, "fn to be called");
    controller.abort("stop");
    await assert.rejects(p, (err: unknown) => isOutlastError(err, "OUTLAST_RETRY_ABORTED") && err.cause === "stop");
    assert.equal(fnSignal?.aborted, true);
    assert.equal(fnSignal?.reason, "stop");
    assert.equal(abortListeners(controller.signal), 0);
    assert.equal(abortListeners(fnSignal), 0);
    assert.equal(clock.pending, 0);
  });

  test(
    "abort during fn reaches a real request: fetch to a server that never answers is aborted",
    { timeout: 10_000 },
    async (t) => {
      const server: HttpServer = createServer(() => {
        /* never answer */
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      t.after(() => {
        server.closeAllConnections();
        server.close();
      });
      const { port } = server.address() as AddressInfo;
      const controller = new AbortController();
      let fetchOutcome: unknown;
      let requested = false;
      server.once("request", () => (requested = true));
      const p = retry(
        ({ signal }) =>
          fetch(`http://127.0.0.1:${port}/`, { signal }).catch((err: unknown) => {
            fetchOutcome = err;
            throw err;
          }),
        { signal: controller.signal },
      );
      await until(() => requested, "the request to reach the server");
      const reason = new Error("shutting down");
      controller.abort(reason);
      await assert.rejects(p, (err: unknown) => isOutlastError(err, "OUTLAST_RETRY_ABORTED") && err.cause === reason);
      await until(() => fetchOutcome !== undefined, "fetch to reject");
      assert.equal(fetchOutcome, reason, "fetch was aborted with the caller's reason");
    },
  );

  test("an already aborted signal: fn is never called", async () => {
    let calls = 0;
    const reason = new Error("too late");
    await assert.rejects(
      retry(() => ++calls, { signal: AbortSignal.abort(reason) }),
      (err: unknown) => isOutlastError(err, "OUTLAST_RETRY_ABORTED") && err.cause === reason,
    );
    assert.equal(calls, 0);
  });

  test("errors that are not connection errors are not retried: a TypeError, ENOENT from fs", async () => {
    const enoent = await readFile("/nonexistent/outlast-retry-test").then(
      () => assert.fail("read a file that does not exist"),
      (e: unknown) => e,
    );
    assert.equal((enoent as NodeJS.ErrnoException).code, "ENOENT");
    for (const bug of [typeError(), enoent]) {
      const clock = new RecordingClock();
      let calls = 0;
      let onRetryCalls = 0;
      const out = await drive(
        clock,
        retry(
          () => {
            calls++;
            throw bug;
          },
          { clock, onRetry: () => onRetryCalls++ },
        ),
      );
      assert.equal(out.error, bug, "rejected with the error itself");
      assert.equal(calls, 1);
      assert.equal(onRetryCalls, 0);
      assert.equal(clock.delays.length, 0);
    }
  });

  test("shouldRetry overrides the verdict both ways and receives the Classification", async () => {
    const refused = await refusedError();
    const bug = typeError();

    // Retry a bug because the predicate says so.
    const clock1 = new RecordingClock();
    const judged: Classification[] = [];
    let calls = 0;
    const out1 = await drive(
      clock1,
      retry(
        () => {
          if (++calls < 3) throw bug;
          return "done";
        },
        {
          clock: clock1,
          shouldRetry: (err, c) => {
            judged.push(c);
            return err === bug;
          },
        },
      ),
    );
    assert.equal(out1.value, "done");
    assert.equal(calls, 3);
    assert.equal(judged.length, 2);
    assert.equal(judged[0]?.connection, false);
    assert.equal(judged[0]?.source, bug);

    // Refuse to retry a connection error because the predicate says so.
    const clock2 = new RecordingClock();
    calls = 0;
    let seen: Classification | undefined;
    const out2 = await drive(
      clock2,
      retry(
        () => {
          calls++;
          throw refused;
        },
        {
          clock: clock2,
          shouldRetry: (_err, c) => {
            seen = c;
            return false;
          },
        },
      ),
    );
    assert.equal(out2.error, refused);
    assert.equal(calls, 1);
    assert.equal(seen?.connection, true);
    assert.equal(seen?.kind, "refused");
  });

  test("a throwing shouldRetry or onRetry rejects retry with what it threw, leaving no timer", async () => {
    const refused = await refusedError();
    for (const key of ["shouldRetry", "onRetry"] as const) {
      const clock = new RecordingClock();
      const thrown = new Error(`${key} broke`);
      const options: RetryOptions = {
        clock,
        [key]: () => {
          throw thrown;
        },
      };
      const out = await drive(
        clock,
        retry(() => {
          throw refused;
        }, options),
      );
      assert.equal(out.error, thrown);
      assert.equal(clock.pending, 0);
      assert.equal(clock.delays.length, 0);
    }
  });

  test("onRetry receives error, Classification, attempt and delayMs of a real ECONNREFUSED", async () => {
    const port = await closedPort();
    const clock = new RecordingClock();
    const events: RetryEvent[] = [];
    const out = await drive(
      clock,
      retry(() => connectOnce(port), { clock, attempts: 3, random: () => 0.5, onRetry: (e) => events.push(e) }),
    );
    assert.equal(events.length, 2);
    for (const [i, e] of events.entries()) {
      assert.equal(e.attempt, i + 1);
      assert.equal(e.delayMs, 0.5 * 100 * 2 ** i);
      assert.equal((e.error as NodeJS.ErrnoException).code, "ECONNREFUSED");
      assert.equal(e.classification.connection, true);
      assert.equal(e.classification.kind, "refused");
      assert.equal(e.classification.code, "ECONNREFUSED");
      assert.equal(e.classification.delivered, "no");
    }
    assert.equal((out.error as NodeJS.ErrnoException).code, "ECONNREFUSED");
  });

  test(
    "real: ECONNREFUSED on a closed port, then a server starts listening: retry succeeds",
    { timeout: 10_000 },
    async (t) => {
      const port = await closedPort();
      const clock = new RecordingClock();
      const events: RetryEvent[] = [];
      const p = retry(({ signal }) => connectOnce(port, "127.0.0.1", { signal }), {
        clock,
        onRetry: (e) => events.push(e),
      });
      await until(() => clock.pending === 1, "the first wait");
      assert.equal(events[0]?.classification.kind, "refused");

      const server = net.createServer((socket) => socket.destroy());
      t.after(() => server.close());
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", resolve);
      });
      clock.runNext();
      assert.equal(await p, "connected");
      assert.equal(events.length, 1);
      assert.equal(clock.pending, 0);
    },
  );

  test(
    "real: an AggregateError from `localhost` with both families refusing is retried",
    { timeout: 10_000 },
    async (t) => {
      const port = await closedPort();
      const err = await connectOnce(port, "localhost", { lookup: dualStackLookup }).then(
        () => assert.fail("localhost accepted on a closed port"),
        (e: unknown) => e,
      );
      if (!(err instanceof AggregateError)) {
        t.skip(`happy eyeballs gave no AggregateError here (got ${(err as Error).name}): is IPv6 loopback off?`);
        return;
      }
      const clock = new RecordingClock();
      const events: RetryEvent[] = [];
      let calls = 0;
      const out = await drive(
        clock,
        retry(
          () => {
            calls++;
            return connectOnce(port, "localhost", { lookup: dualStackLookup });
          },
          { clock, attempts: 2, onRetry: (e) => events.push(e) },
        ),
      );
      assert.equal(calls, 2);
      assert.ok(out.error instanceof AggregateError);
      assert.equal(out.error.errors.length, 2, "both families were tried");
      assert.equal(events[0]?.classification.connection, true);
      assert.equal(events[0]?.classification.kind, "refused");
    },
  );

  describe("invalid options throw OUTLAST_INVALID_OPTION naming the option (before fn is called)", () => {
    const cases: [string, unknown][] = [
      ["attempts", 0],
      ["attempts", 1.5],
      ["attempts", -1],
      ["attempts", Number.NaN],
      ["attempts", "3"],
      ["maxElapsedMs", -1],
      ["maxElapsedMs", Number.NaN],
      ["maxElapsedMs", "1000"],
      ["baseMs", -1],
      ["baseMs", Infinity],
      ["baseMs", "100"],
      ["capMs", 50], // below the default baseMs of 100
      ["capMs", Infinity],
      ["random", 0.5],
      ["clock", {}],
      ["clock", null],
      ["signal", { aborted: false }],
      ["shouldRetry", true],
      ["onRetry", "log"],
    ];
    for (const [option, value] of cases) {
      test(`${option}: ${typeof value === "string" ? JSON.stringify(value) : String(value)}`, async () => {
        let calls = 0;
        await assert.rejects(
          retry(() => ++calls, { [option]: value }),
          (err: unknown) => {
            assert.ok(isOutlastError(err, "OUTLAST_INVALID_OPTION"), String(err));
            assert.equal(err.details["option"], option);
            assert.match(err.message, new RegExp(option));
            return true;
          },
        );
        assert.equal(calls, 0);
      });
    }

    test("fn must be a function", async () => {
      await assert.rejects(
        retry(42 as unknown as () => number),
        (err: unknown) => isOutlastError(err, "OUTLAST_INVALID_OPTION") && err.details["option"] === "fn",
      );
    });

    test("a random() outside [0, 1) is reported as random, before any wait", async () => {
      const refused = await refusedError();
      for (const bad of [1.5, -0.1, Number.NaN]) {
        const clock = new RecordingClock();
        const out = await drive(
          clock,
          retry(
            () => {
              throw refused;
            },
            { clock, random: () => bad },
          ),
        );
        assert.ok(isOutlastError(out.error, "OUTLAST_INVALID_OPTION"));
        assert.equal(out.error.details["option"], "random");
        assert.equal(clock.pending, 0);
      }
    });
  });
});

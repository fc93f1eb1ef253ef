/**
 * The one copy of the waits every test uses: a deadline on a promise, the
 * rejection of an operation expected to fail, and a port nothing listens on.
 * A deadline only turns a hang into a failure; it never stands in for an event.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";

/** What `within` rejects with when the wait runs out: the test's own failure, never the code's error. */
export class HungError extends Error {
  override readonly name = "HungError";
}

/** Settles as `promise` does; rejects with a HungError when it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HungError(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The error `operation` rejects with (a promise, or a function whose throw or rejection counts).
 * Fails the test when it succeeds or takes longer than `ms`.
 */
export async function rejectionOf(
  operation: Promise<unknown> | (() => unknown),
  ms = 5_000,
  what = "the operation",
): Promise<unknown> {
  const run = typeof operation === "function" ? Promise.resolve().then(operation) : operation;
  const settled = await within(
    run.then(
      (value: unknown) => ({ ok: true as const, value }),
      (err: unknown) => ({ ok: false as const, err }),
    ),
    ms,
    what,
  );
  if (settled.ok) assert.fail(`${what}: expected a failure, got ${String(settled.value)}`);
  return settled.err;
}

/** A port on `host` that nothing listens on (bound, then closed). */
export async function closedPort(host = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Small tools for tests that make real errors happen: wait for an `error`
 * event with a deadline, find a closed port, and print what Node gave.
 */
import type { EventEmitter } from "node:events";
import { once } from "node:events";
import type net from "node:net";
import type { Classification } from "../../src/errors/index.js";

export { closedPort, rejectionOf, within } from "./wait.js";

/** Resolves with the next `error` emitted by `emitter`; rejects after `timeoutMs`. */
export function nextError(emitter: EventEmitter, timeoutMs = 5_000, what = "an error event"): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off("error", onError);
      reject(new Error(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: unknown): void => {
      clearTimeout(timer);
      resolve(err);
    };
    emitter.once("error", onError);
  });
}

/** A listening server on port 0 of `host`; `close()` also destroys open connections. */
export async function listen<S extends net.Server>(
  server: S,
  host = "127.0.0.1",
): Promise<{ server: S; port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("error", () => {}); // the peer's side of a broken connection is not under test
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The fields of an error Node gives, safe to print (one level of `cause` and `errors`). */
export function rawFields(err: unknown): Record<string, unknown> {
  if (typeof err !== "object" || err === null) return { value: String(err) };
  const e = err as Record<string, unknown>;
  const out: Record<string, unknown> = {
    name: e["name"],
    code: e["code"],
    errno: e["errno"],
    syscall: e["syscall"],
    message: typeof e["message"] === "string" ? e["message"].trim() : e["message"],
  };
  if (Array.isArray(e["errors"])) out["errors"] = (e["errors"] as unknown[]).map(rawFields);
  if (e["cause"] !== undefined) out["cause"] = rawFields(e["cause"]);
  return out;
}

/** The parts of a verdict the real-error tests assert, for one deepEqual with a readable diff. */
export function verdictOf(c: Classification): Pick<Classification, "connection" | "kind" | "code" | "delivered"> {
  return { connection: c.connection, kind: c.kind, code: c.code, delivered: c.delivered };
}

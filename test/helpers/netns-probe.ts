/**
 * Runs inside a network namespace (`ip netns exec NS node netns-probe.js '<scenario json>'`),
 * performs ONE network operation and prints JSON lines on stdout: progress events
 * (`{"event":"listening"}`, `{"event":"connected"}`) and one final `{"event":"result",...}`
 * describing the real error it got (name, message, code, errno, syscall, address, port,
 * AggregateError.errors and cause, recursively), plus classify()'s verdict on the live
 * error object when src/errors/index.js can be imported.
 *
 * This file is a script, not a library: netns.ts imports its types only (`import type`).
 */
import dns from "node:dns";
import net from "node:net";
import { createInterface } from "node:readline";

/** Options for net.connect that survive JSON. */
export interface ProbeConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  readonly family?: number;
  readonly autoSelectFamily?: boolean;
  readonly autoSelectFamilyAttemptTimeout?: number;
}

export type ProbeScenario =
  /** net.connect once; result is the error or "connected". */
  | { readonly op: "connect"; readonly options: ProbeConnectOptions; readonly timeoutMs: number }
  /** dns.lookup (getaddrinfo, so /etc/resolv.conf of the namespace). */
  | { readonly op: "lookup"; readonly hostname: string; readonly timeoutMs: number }
  /** dns.Resolver (c-ares) with explicit servers, resolve4. */
  | {
      readonly op: "resolve";
      readonly hostname: string;
      readonly servers: readonly string[];
      readonly resolverTimeoutMs: number;
      readonly tries: number;
      readonly timeoutMs: number;
    }
  /** Listen on host:port and accept connections (never answers, never closes) until killed. */
  | { readonly op: "serve"; readonly host: string; readonly port: number }
  /** Listen on 127.0.0.1:port, then connect to it until a connect fails (ephemeral ports exhausted). */
  | { readonly op: "exhaust-ports"; readonly port: number; readonly maxConnections: number; readonly timeoutMs: number }
  /**
   * Connect, print {"event":"connected"}, wait for one line on stdin, then write
   * `chunkBytes` every `intervalMs` until the socket fails.
   */
  | {
      readonly op: "connect-then-write";
      readonly options: ProbeConnectOptions;
      readonly chunkBytes: number;
      readonly intervalMs: number;
      readonly timeoutMs: number;
    };

/** A plain-data picture of an error object, as seen in the probe. */
export interface ErrorJson {
  readonly constructorName: string;
  readonly name: string;
  readonly message: string;
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly syscall?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly hostname?: unknown;
  readonly errors?: readonly ErrorJson[];
  readonly cause?: ErrorJson;
}

/** classify()'s verdict, flattened; `sourceCode` is the code (or name) of `source`. */
export interface VerdictJson {
  readonly connection: boolean;
  readonly kind: string;
  readonly code: string;
  readonly delivered: string;
  readonly detail: string;
  readonly reason: string;
  readonly path: readonly string[];
  readonly sourceCode: unknown;
  readonly isConnectionError?: boolean;
}

export type ProbeOutcome = "error" | "connected" | "resolved" | "probe-timeout";

export interface ProbeResult {
  readonly event: "result";
  readonly outcome: ProbeOutcome;
  readonly elapsedMs: number;
  readonly error?: ErrorJson;
  readonly verdict?: VerdictJson;
  /** Why there is no verdict (classify not importable, or it threw). */
  readonly verdictUnavailable?: string;
  /** Free-form facts about the run (connections made, bytes written, ...). */
  readonly note?: string;
}

function describeError(value: unknown, depth = 0): ErrorJson {
  if (typeof value !== "object" || value === null) {
    return { constructorName: typeof value, name: typeof value, message: String(value) };
  }
  const e = value as Record<string, unknown>;
  const pick = (k: string): Record<string, unknown> => (k in e ? { [k]: e[k] } : {});
  const inner: { errors?: ErrorJson[]; cause?: ErrorJson } = {};
  if (depth < 4 && Array.isArray(e["errors"])) {
    inner.errors = (e["errors"] as unknown[]).slice(0, 20).map((x) => describeError(x, depth + 1));
  }
  if (depth < 4 && e["cause"] !== undefined) inner.cause = describeError(e["cause"], depth + 1);
  return {
    constructorName: value.constructor?.name ?? "Object",
    name: String(e["name"]),
    message: String(e["message"]),
    ...pick("code"),
    ...pick("errno"),
    ...pick("syscall"),
    ...pick("address"),
    ...pick("port"),
    ...pick("hostname"),
    ...inner,
  };
}

interface ErrorsModule {
  classify(err: unknown): {
    connection: boolean;
    kind: string;
    code: string;
    delivered: string;
    detail?: string;
    reason: string;
    path?: readonly string[];
    source: unknown;
  };
  isConnectionError?: (err: unknown) => boolean;
}

/** Resolved beside the compiled probe: <outDir>/test/helpers -> <outDir>/src/errors/index.js. */
const ERRORS_MODULE = new URL("../../src/errors/index.js", import.meta.url).href;

async function verdictOf(err: unknown): Promise<Pick<ProbeResult, "verdict" | "verdictUnavailable">> {
  let mod: ErrorsModule;
  try {
    mod = (await import(ERRORS_MODULE)) as ErrorsModule;
    if (typeof mod.classify !== "function") return { verdictUnavailable: "src/errors/index.js has no classify()" };
  } catch (e) {
    return { verdictUnavailable: `cannot import src/errors/index.js: ${(e as Error).message}` };
  }
  try {
    const c = mod.classify(err);
    const src = c.source as { code?: unknown; name?: unknown } | null;
    const verdict: VerdictJson = {
      connection: c.connection,
      kind: c.kind,
      code: c.code,
      delivered: c.delivered,
      detail: c.detail ?? "",
      reason: c.reason,
      path: c.path ?? [],
      sourceCode: typeof src === "object" && src !== null ? (src.code ?? src.name) : src,
      ...(mod.isConnectionError ? { isConnectionError: mod.isConnectionError(err) } : {}),
    };
    return { verdict };
  } catch (e) {
    return { verdictUnavailable: `classify threw: ${String(e)}` };
  }
}

const started = performance.now();
let finished = false;

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function finish(outcome: ProbeOutcome, err?: unknown, note?: string): Promise<void> {
  if (finished) return;
  finished = true;
  const elapsedMs = Math.round(performance.now() - started);
  const base = { event: "result" as const, outcome, elapsedMs, ...(note === undefined ? {} : { note }) };
  const result: ProbeResult =
    err === undefined ? base : { ...base, error: describeError(err), ...(await verdictOf(err)) };
  emit(result);
  process.exit(0);
}

function guard(timeoutMs: number): void {
  setTimeout(() => void finish("probe-timeout"), timeoutMs).unref();
}

function connectOptions(o: ProbeConnectOptions): net.NetConnectOpts {
  return { ...o };
}

function runConnect(s: Extract<ProbeScenario, { op: "connect" }>): void {
  guard(s.timeoutMs);
  const socket = net.connect(connectOptions(s.options));
  socket.once("connect", () => {
    socket.destroy();
    void finish("connected");
  });
  socket.once("error", (err) => void finish("error", err));
}

function runLookup(s: Extract<ProbeScenario, { op: "lookup" }>): void {
  guard(s.timeoutMs);
  dns.lookup(s.hostname, { all: true }, (err, addresses) => {
    if (err) void finish("error", err);
    else void finish("resolved", undefined, JSON.stringify(addresses));
  });
}

function runResolve(s: Extract<ProbeScenario, { op: "resolve" }>): void {
  guard(s.timeoutMs);
  const resolver = new dns.Resolver({ timeout: s.resolverTimeoutMs, tries: s.tries });
  resolver.setServers([...s.servers]);
  resolver.resolve4(s.hostname, (err, addresses) => {
    if (err) void finish("error", err);
    else void finish("resolved", undefined, JSON.stringify(addresses));
  });
}

function runServe(s: Extract<ProbeScenario, { op: "serve" }>): void {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => sockets.delete(socket));
    socket.on("close", () => sockets.delete(socket));
    socket.resume();
  });
  server.once("error", (err) => void finish("error", err));
  server.listen(s.port, s.host, () => emit({ event: "listening" }));
  // The test ends us by closing stdin (or killing us).
  process.stdin.resume();
  process.stdin.once("end", () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    process.exit(0);
  });
}

function runExhaust(s: Extract<ProbeScenario, { op: "exhaust-ports" }>): void {
  guard(s.timeoutMs);
  const held: net.Socket[] = [];
  const server = net.createServer((socket) => {
    held.push(socket);
    socket.on("error", () => undefined);
  });
  server.once("error", (err) => void finish("error", err));
  const next = (): void => {
    if (held.length >= s.maxConnections * 2) {
      void finish("connected", undefined, `${held.length / 2} connections, none failed`);
      return;
    }
    const socket = net.connect({ host: "127.0.0.1", port: s.port });
    socket.once("connect", () => {
      held.push(socket);
      next();
    });
    socket.once("error", (err) => void finish("error", err, `${held.length / 2} connections held`));
  };
  server.listen(s.port, "127.0.0.1", next);
}

function runConnectThenWrite(s: Extract<ProbeScenario, { op: "connect-then-write" }>): void {
  guard(s.timeoutMs);
  const socket = net.connect(connectOptions(s.options));
  let written = 0;
  socket.once("error", (err) => void finish("error", err, `${written} bytes written`));
  socket.once("close", () => void finish("error", new Error("closed without an error"), `${written} bytes written`));
  socket.once("connect", () => {
    emit({ event: "connected" });
    const lines = createInterface({ input: process.stdin });
    lines.once("line", () => {
      lines.close();
      const chunk = Buffer.alloc(s.chunkBytes, 0x61);
      const timer = setInterval(() => {
        if (socket.destroyed) {
          clearInterval(timer);
          return;
        }
        written += chunk.length;
        socket.write(chunk);
      }, s.intervalMs);
      timer.unref();
    });
  });
}

function main(): void {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error("usage: netns-probe.js '<scenario json>'");
  const s = JSON.parse(arg) as ProbeScenario;
  switch (s.op) {
    case "connect":
      return runConnect(s);
    case "lookup":
      return runLookup(s);
    case "resolve":
      return runResolve(s);
    case "serve":
      return runServe(s);
    case "exhaust-ports":
      return runExhaust(s);
    case "connect-then-write":
      return runConnectThenWrite(s);
    default: {
      const never: never = s;
      throw new Error(`unknown probe op ${JSON.stringify(never)}`);
    }
  }
}

main();

/**
 * A small HTTP JSON endpoint to drive a running proxy (the CLI's --control):
 *   GET    /faults        -> 200 [FaultInfo]
 *   POST   /faults        -> 201 FaultInfo          body: a fault, e.g. {"kind":"latency","latencyMs":100}
 *   GET    /faults/:id    -> 200 FaultInfo
 *   PATCH  /faults/:id    -> 200 FaultInfo          body: a JSON merge patch, e.g. {"latencyMs":250}
 *   DELETE /faults/:id    -> 204
 *   GET    /stats         -> 200 ProxyStats
 *   GET    /connections   -> 200 [ConnectionInfo]
 * Errors: {"error":{"code","message"}} with 400 (bad fault or JSON: code
 * OUTLAST_INVALID_OPTION), 403 (a browser's cross-site request), 404, 405, 413, 415.
 * Binds to 127.0.0.1 by default; any other address must be asked for with
 * `dangerouslyAllowRemote: true`, since whoever reaches it controls the proxy.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import { isOutlastError, invalidOption } from "../errors/outlast-error.js";
import type { Fault } from "./faults/catalog.js";
import type { FaultProxy } from "./proxy.js";
import type { ProxyAddress } from "./proxy-options.js";

const MAX_BODY_BYTES = 64 * 1024;

export interface ControlServerOptions {
  /** Default "127.0.0.1". */
  readonly host?: string;
  /** Default 0 (any free port: read it from listen()). */
  readonly port?: number;
  /** Allow a host that is not a loopback address. Anyone who reaches the port can break every proxied connection. Default false. */
  readonly dangerouslyAllowRemote?: boolean;
}

export interface ControlServer {
  listen(): Promise<ProxyAddress>;
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1" || host === "0:0:0:0:0:0:0:1";
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res
    .writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) })
    .end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type))
    throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as content-type: application/json");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "BODY_TOO_LARGE", `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch (err) {
    throw new HttpError(
      400,
      "INVALID_JSON",
      `the body is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

async function route(proxy: FaultProxy, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // A browser page on another site could POST here; browsers send Origin, command-line clients do not.
  if (req.headers.origin !== undefined) throw new HttpError(403, "FORBIDDEN", "requests from web pages are refused");
  const path = new URL(req.url ?? "/", "http://control").pathname.replace(/\/+$/, "") || "/";
  const method = req.method ?? "GET";
  const allow = (methods: string): never => {
    res.setHeader("allow", methods);
    throw new HttpError(405, "METHOD_NOT_ALLOWED", `${method} ${path}: use ${methods}`);
  };
  if (path === "/faults") {
    if (method === "GET") return send(res, 200, proxy.faults());
    if (method === "POST") {
      const handle = proxy.addFault((await readJson(req)) as Fault);
      res.setHeader("location", `/faults/${handle.id}`);
      return send(res, 201, handle.info());
    }
    return allow("GET, POST");
  }
  const m = /^\/faults\/([^/]+)$/.exec(path);
  if (m !== null) {
    const id = decodeURIComponent(m[1] ?? "");
    const info = proxy.faults().find((f) => f.id === id);
    if (info === undefined) throw new HttpError(404, "NOT_FOUND", `no fault with id ${JSON.stringify(id)}`);
    if (method === "GET") return send(res, 200, info);
    if (method === "PATCH") {
      const changes = await readJson(req);
      if (typeof changes !== "object" || changes === null || Array.isArray(changes))
        invalidOption("changes", "must be a JSON object");
      return send(res, 200, proxy.updateFault(id, changes as Record<string, unknown>));
    }
    if (method === "DELETE") {
      proxy.removeFault(id);
      return send(res, 204);
    }
    return allow("GET, PATCH, DELETE");
  }
  if (path === "/stats") return method === "GET" ? send(res, 200, proxy.stats()) : allow("GET");
  if (path === "/connections") return method === "GET" ? send(res, 200, proxy.connections()) : allow("GET");
  throw new HttpError(404, "NOT_FOUND", `no route ${path}; try /faults, /stats or /connections`);
}

/** Creates the control endpoint for `proxy`; call listen() to start it. */
export function createControlServer(proxy: FaultProxy, options: ControlServerOptions = {}): ControlServer {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    invalidOption("control.port", `must be an integer port 0..65535, not ${port}`);
  if (!isLoopback(host) && options.dangerouslyAllowRemote !== true) {
    invalidOption(
      "control.host",
      `${host} is not a loopback address; whoever reaches it controls the proxy: pass dangerouslyAllowRemote to allow it`,
    );
  }
  let server: Server | undefined;
  let closed: Promise<void> | undefined;
  return {
    listen() {
      return new Promise<ProxyAddress>((resolve, reject) => {
        const s = createServer((req, res) => {
          route(proxy, req, res).catch((err: unknown) => {
            if (res.headersSent) return void res.destroy();
            if (err instanceof HttpError)
              return send(res, err.status, { error: { code: err.code, message: err.message } });
            if (isOutlastError(err)) return send(res, 400, { error: { code: err.code, message: err.message } });
            send(res, 500, { error: { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) } });
          });
        });
        server = s;
        s.once("error", reject);
        s.listen({ host, port }, () => {
          s.off("error", reject);
          const a = s.address() as AddressInfo;
          resolve({ host: a.address, port: a.port });
        });
      });
    },
    close() {
      const s = server;
      closed ??=
        s === undefined || !s.listening
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            });
      return closed;
    },
  };
}

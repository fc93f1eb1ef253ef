/**
 * The operations port (`--metrics HOST:PORT`): a small node:http server with a
 * fixed set of GET routes. Nothing here knows what is served.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { HostPort } from "../config.js";

export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export type Route = (req: IncomingMessage) => Reply | Promise<Reply>;

export interface HttpEndpoint {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export function text(status: number, body: string): Reply {
  return { status, contentType: "text/plain; charset=utf-8", body };
}

export async function startHttpEndpoint(
  listen: HostPort,
  routes: Readonly<Record<string, Route>>,
): Promise<HttpEndpoint> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    let reply: Reply;
    if (route === undefined) reply = text(404, `not found; try ${Object.keys(routes).join(", ")}\n`);
    else if (req.method !== "GET" && req.method !== "HEAD") reply = text(405, "GET only\n");
    else {
      try {
        reply = await route(req);
      } catch (err) {
        reply = text(500, `${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    res.writeHead(reply.status, {
      "content-type": reply.contentType,
      "cache-control": "no-store",
      "content-length": Buffer.byteLength(reply.body),
    });
    res.end(req.method === "HEAD" ? undefined : reply.body);
  };
  const server = createServer((req, res) => void handle(req, res));
  // Scrapers keep connections alive; do not let them hold the process at exit.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

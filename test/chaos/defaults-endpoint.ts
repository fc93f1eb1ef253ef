/**
 * Child process: an outlast server or client with DEFAULT options (no heartbeat, idle or
 * backoff option passed), run inside a network namespace by netns-heartbeat-defaults.test.ts.
 * Usage: node defaults-endpoint.js '<EndpointConfig JSON>'.
 *
 * Prints one JSON line per event on stdout, each with `at` (ms, performance.timeOrigin +
 * performance.now(): one clock for every process of the test):
 *   server: listening {port} | connection {clientId, version} | message {clientId, seq, redelivery, text}
 *           | clientError {clientId, code, message, details}
 *   client: heard {bytes, hex} (every chunk any socket of the process read, seen before the client
 *           sees it: subscribed to node's "net.client.socket" channel) | state {from, to, code, message,
 *           details, kind, connection} | sending {text} | sent {text, seq} | sendError {text, code, message}
 * Client stdin: "send <text>" sends one message (send() waits for its acknowledgement).
 * stdin closing (the parent is done or died) exits at once.
 */

import { subscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { connect } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";

export type EndpointConfig =
  | { readonly role: "server"; readonly host: string }
  | { readonly role: "client"; readonly url: string; readonly clientId: string };

/** Chunks up to this size are printed in hex (a beat is 13 bytes). */
const HEX_MAX_BYTES = 32;

function say(event: string, fields: Record<string, unknown> = {}): void {
  const at = performance.timeOrigin + performance.now();
  process.stdout.write(`${JSON.stringify({ event, at, ...fields })}\n`); // synchronous on a pipe (Linux)
}

function errorFields(err: unknown): Record<string, unknown> {
  const e = err as { code?: unknown; message?: unknown; details?: unknown } | undefined;
  return { code: e?.code, message: e?.message, details: e?.details };
}

async function runServer(host: string): Promise<void> {
  const server = createServer({
    onMessage: ({ clientId, seq, redelivery, data }) =>
      say("message", { clientId, seq, redelivery, text: Buffer.from(data).toString() }),
  });
  server.on("connection", ({ clientId, version }) => say("connection", { clientId, version }));
  server.on("clientError", (err, info) => say("clientError", { clientId: info.clientId, ...errorFields(err) }));
  server.on("error", (err) => {
    process.stderr.write(`defaults-endpoint: server error: ${err.stack ?? err.message}\n`);
    process.exit(3);
  });
  const { port } = await server.listen({ host, port: 0 });
  say("listening", { port });
}

function runClient(url: string, clientId: string): void {
  subscribe("net.client.socket", (message) => {
    const { socket } = message as { socket: Socket };
    socket.on("data", (chunk: Buffer) =>
      say("heard", {
        bytes: chunk.length,
        ...(chunk.length <= HEX_MAX_BYTES ? { hex: chunk.toString("hex") } : {}),
      }),
    );
  });
  const client = connect(url, { clientId });
  client.on("stateChange", ({ from, to, error, classification }) =>
    say("state", {
      from,
      to,
      ...(error === undefined ? {} : errorFields(error)),
      kind: classification?.kind,
      connection: classification?.connection,
    }),
  );
  client.on("error", (err) => say("clientErrorEvent", errorFields(err)));
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (!line.startsWith("send ")) return;
    const text = line.slice("send ".length);
    say("sending", { text });
    client.send(text).then(
      ({ seq }) => say("sent", { text, seq }),
      (err: unknown) => say("sendError", { text, ...errorFields(err) }),
    );
  });
}

const config = JSON.parse(process.argv[2] ?? "{}") as EndpointConfig;
process.stdin.on("end", () => process.exit(0));
if (config.role === "server") {
  process.stdin.resume();
  await runServer(config.host);
} else {
  runClient(config.url, config.clientId);
}

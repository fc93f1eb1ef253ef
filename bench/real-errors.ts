/**
 * Real error objects for the classify benchmark, each made by really failing
 * on loopback: closed ports, resets, TLS to plaintext, a self-signed
 * certificate, fetch/axios/got failures, fs and argument bugs. Every sample
 * carries the verdict issue 2 asks for (`expected`: is it a connection error),
 * so the benchmark can score every library against the spec, not only
 * against outlast.
 */

import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import axios from "axios";
import got from "got";

export interface Sample {
  readonly label: string;
  /** "plain": the verdict is in the top-level object; "wrapped": it is behind cause chains or AggregateError. */
  readonly group: "plain" | "wrapped";
  /** What issue 2 says: true = connection error (retry), false = not, null = the issue does not say. */
  readonly expected: boolean | null;
  readonly error: unknown;
}

type Maker = readonly [label: string, group: Sample["group"], expected: boolean | null, make: () => Promise<unknown>];

const TIMEOUT_MS = 5000;

/** Resolves with what `p` rejects with; fails if it resolves or takes longer than TIMEOUT_MS. */
async function failure(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  const promise = typeof p === "function" ? new Promise((resolve) => resolve(p())) : p;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no error within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    await Promise.race([promise, timeout]).then(() => {
      throw new Error("expected a failure, got success");
    });
    throw new Error("unreachable");
  } catch (err) {
    if (err instanceof Error && /^(no error within|expected a failure)/.test(err.message)) throw err;
    return err;
  } finally {
    clearTimeout(timer);
  }
}

async function listen<S extends net.Server>(server: S): Promise<S & { port: number }> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}

async function closedPort(): Promise<number> {
  const s = await listen(net.createServer());
  s.close();
  await once(s, "close");
  return s.port;
}

function connect(options: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves any name to ::1 and 127.0.0.1, as a dual-stack /etc/hosts does for localhost. */
const dualStackLookup: net.LookupFunction = (_host, _options, callback) =>
  callback(null, [
    { address: "::1", family: 6 },
    { address: "127.0.0.1", family: 4 },
  ]);

/** A self-signed certificate for localhost, made with openssl (undefined when openssl is missing). */
function selfSigned(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), "outlast-bench-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Makes every sample it can; prints (to stderr) the ones it could not make, and why. */
export async function makeRealErrors(): Promise<Sample[]> {
  const closed = await closedPort();
  const cleanups: (() => void)[] = [];
  const cert = selfSigned();

  // A server that resets a connection (RST) as soon as the client says something.
  const resetter = await listen(net.createServer((s) => s.once("data", () => s.resetAndDestroy())));
  // A server that reads, then resets while the client is still writing.
  const resetWhileWriting = await listen(net.createServer((s) => s.once("data", () => s.resetAndDestroy())));
  // A plaintext server that answers anything with an HTTP 400 (TLS to it breaks).
  const plaintext = await listen(
    net.createServer((s) => s.once("data", () => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"))),
  );
  // A server that hangs up before any TLS handshake.
  const hangup = await listen(net.createServer((s) => s.destroy()));
  // HTTP: 500 on /500; on /cut, headers then a reset mid-body.
  const http = await listen(
    createHttpServer((req, res) => {
      if (req.url === "/cut") {
        res.writeHead(200, { "content-length": "100000" });
        res.write("partial", () => req.socket.resetAndDestroy());
        return;
      }
      res.writeHead(500).end("boom");
    }),
  );
  const https = cert === undefined ? undefined : await listen(createHttpsServer(cert, (_req, res) => res.end("ok")));
  cleanups.push(() => {
    for (const s of [resetter, resetWhileWriting, plaintext, hangup, http, https]) {
      if (s === undefined) continue;
      if ("closeAllConnections" in s) s.closeAllConnections();
      s.close();
    }
  });

  const url = `http://127.0.0.1:${http.port}`;
  const makers: Maker[] = [
    // ---- plain: the verdict is in the top-level object ----
    [
      "ECONNREFUSED (connect to a closed port)",
      "plain",
      true,
      () => failure(connect({ port: closed, host: "127.0.0.1" })),
    ],
    [
      "ECONNRESET (resetAndDestroy while reading)",
      "plain",
      true,
      async () => {
        const s = await connect({ port: resetter.port, host: "127.0.0.1" });
        s.write("hello");
        return failure(once(s, "data"));
      },
    ],
    [
      "EPIPE/ECONNRESET (peer reset while writing)",
      "plain",
      true,
      async () => {
        const s = await connect({ port: resetWhileWriting.port, host: "127.0.0.1" });
        const chunk = Buffer.alloc(64 * 1024);
        const err = failure(once(s, "data"));
        const pump = (): void => {
          if (!s.destroyed && s.write(chunk)) setImmediate(pump);
          else if (!s.destroyed) s.once("drain", pump);
        };
        pump();
        return err;
      },
    ],
    [
      "ERR_SSL_WRONG_VERSION_NUMBER (TLS to a plaintext server)",
      "plain",
      true,
      () =>
        failure(
          once(tls.connect({ port: plaintext.port, host: "127.0.0.1", rejectUnauthorized: false }), "secureConnect"),
        ),
    ],
    [
      "ECONNRESET (disconnected before TLS was established)",
      "plain",
      true,
      () => failure(once(tls.connect({ port: hangup.port, host: "127.0.0.1" }), "secureConnect")),
    ],
    [
      "DOMException TimeoutError (AbortSignal.timeout)",
      "plain",
      true,
      async () => {
        const signal = AbortSignal.timeout(1);
        await once(signal, "abort");
        return signal.reason as unknown;
      },
    ],
    [
      "getaddrinfo ENOTFOUND (dns.lookup of a .invalid name)",
      "plain",
      true,
      () => failure(connect({ port: 80, host: "outlast-bench.invalid" })),
    ],
    ["axios ECONNREFUSED (AxiosError)", "plain", true, () => failure(axios.get(`http://127.0.0.1:${closed}/`))],
    [
      "got ECONNREFUSED (RequestError)",
      "plain",
      true,
      () => failure(got(`http://127.0.0.1:${closed}/`, { retry: { limit: 0 } })),
    ],
    [
      "DOMException AbortError (fetch cancelled by the user)",
      "plain",
      false,
      () => failure(fetch(url, { signal: AbortSignal.abort() })),
    ],
    [
      "axios ERR_CANCELED (cancelled by the user)",
      "plain",
      false,
      () => failure(axios.get(url, { signal: AbortSignal.abort() })),
    ],
    ["axios ERR_BAD_RESPONSE (HTTP 500)", "plain", false, () => failure(axios.get(`${url}/500`))],
    [
      "TypeError (method of null)",
      "plain",
      false,
      () => failure(() => (JSON.parse("null") as { call(): void }).call()),
    ],
    ["SyntaxError (JSON.parse)", "plain", false, () => failure(() => JSON.parse("{") as unknown)],
    ["ENOENT (fs.readFile)", "plain", false, () => failure(readFile("/nonexistent/outlast-bench"))],
    [
      "EADDRINUSE (listen on a used port)",
      "plain",
      false,
      () => {
        const s = net.createServer();
        s.listen(http.port, "127.0.0.1");
        return failure(once(s, "listening"));
      },
    ],
    ["ERR_INVALID_ARG_TYPE (Buffer.from(42))", "plain", false, () => failure(() => Buffer.from(42 as never))],
    [
      "ERR_SOCKET_BAD_PORT (net.connect port 70000)",
      "plain",
      false,
      () => failure(() => net.connect({ port: 70000, host: "127.0.0.1" })),
    ],
    // Our own write to a socket we destroyed: the issue names the case but not its verdict.
    [
      "ERR_STREAM_DESTROYED (write after destroy)",
      "plain",
      null,
      async () => {
        const s = await connect({ port: http.port, host: "127.0.0.1" });
        s.destroy();
        return failure(
          new Promise((resolve, reject) => s.write("x", (err) => (err ? reject(err) : resolve(undefined)))),
        );
      },
    ],
    ...(cert === undefined || https === undefined
      ? []
      : ([
          [
            "DEPTH_ZERO_SELF_SIGNED_CERT (TLS, self-signed)",
            "plain",
            false,
            () =>
              failure(
                once(tls.connect({ port: https.port, host: "127.0.0.1", servername: "localhost" }), "secureConnect"),
              ),
          ],
          [
            "ERR_TLS_CERT_ALTNAME_INVALID (TLS, wrong host)",
            "plain",
            false,
            () =>
              failure(
                once(
                  tls.connect({ port: https.port, host: "127.0.0.1", servername: "wrong.example", ca: cert.cert }),
                  "secureConnect",
                ),
              ),
          ],
        ] as Maker[])),

    // ---- wrapped: the verdict is behind a cause chain or inside an AggregateError ----
    ["fetch failed ← ECONNREFUSED", "wrapped", true, () => failure(fetch(`http://127.0.0.1:${closed}/`))],
    ["fetch failed ← getaddrinfo ENOTFOUND", "wrapped", true, () => failure(fetch("http://outlast-bench.invalid/"))],
    [
      "fetch terminated ← UND_ERR_SOCKET (reset mid-body)",
      "wrapped",
      true,
      async () => {
        const res = await fetch(`${url}/cut`);
        return failure(res.text());
      },
    ],
    [
      "AggregateError (happy eyeballs, ::1 and 127.0.0.1 refused)",
      "wrapped",
      true,
      () => failure(connect({ port: closed, host: "localhost", lookup: dualStackLookup, autoSelectFamily: true })),
    ],
    [
      "ABORT_ERR ← TimeoutError (events.once with AbortSignal.timeout)",
      "wrapped",
      true,
      () => failure(once(new net.Socket(), "never", { signal: AbortSignal.timeout(1) })),
    ],
    [
      "app Error ← ECONNRESET (one level of wrapping)",
      "wrapped",
      true,
      async () => {
        const s = await connect({ port: resetter.port, host: "127.0.0.1" });
        s.write("hello");
        return new Error("send failed", { cause: await failure(once(s, "data")) });
      },
    ],
    [
      "5 app layers ← fetch failed ← ECONNREFUSED",
      "wrapped",
      true,
      async () => {
        let err = await failure(fetch(`http://127.0.0.1:${closed}/`));
        for (let i = 0; i < 5; i++) err = new Error(`layer ${i}`, { cause: err });
        return err;
      },
    ],
    ["fetch failed ← bad port (a bug)", "wrapped", false, () => failure(fetch("http://127.0.0.1:6000/"))],
    [
      "Promise.any AggregateError of bugs",
      "wrapped",
      false,
      () =>
        failure(Promise.any([readFile("/nonexistent/a"), Promise.resolve().then(() => JSON.parse("{") as unknown)])),
    ],
    ...(https === undefined
      ? []
      : ([
          [
            "fetch failed ← DEPTH_ZERO_SELF_SIGNED_CERT",
            "wrapped",
            false,
            () => failure(fetch(`https://localhost:${https.port}/`)),
          ],
        ] as Maker[])),
  ];
  if (cert === undefined) process.stderr.write("real-errors: openssl not found; certificate samples left out\n");

  const samples: Sample[] = [];
  try {
    for (const [label, group, expected, make] of makers) {
      try {
        samples.push({ label, group, expected, error: await make() });
      } catch (err) {
        process.stderr.write(`real-errors: could not make "${label}": ${String(err)}\n`);
      }
    }
  } finally {
    for (const c of cleanups) c();
  }
  return samples;
}

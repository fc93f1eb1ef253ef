/**
 * `outlast serve` as a real child process: the listening line, JSON lines on
 * stdout, credentials, --state across a restart, signals, usage errors, a
 * locked state directory, TLS, EPIPE, and the --output FILE acknowledgement.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { opensslAvailable, testCerts } from "../helpers/certs.js";
import { RawClient, openClient } from "../helpers/raw-client.js";

// compiled to <outDir>/test/cli/: the binary is <outDir>/src/cli/main.js
const bin = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const WAIT_MS = 10_000;

/** The environment without any OUTLAST_* variable of the person running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OUTLAST_")) env[k] = v;
  return { ...env, ...extra };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-serve-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Resolves when `check` returns a value after some `event` on `emitter`-like sources; rejects after WAIT_MS. */
function waitUntil<T>(
  what: string,
  subscribe: (wake: () => void) => () => void,
  check: () => T | undefined,
  timeoutMs = WAIT_MS,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let unsubscribe = (): void => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const wake = (): void => {
      let value: T | undefined;
      try {
        value = check();
      } catch (err) {
        clearTimeout(timer);
        unsubscribe();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (value === undefined) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    };
    unsubscribe = subscribe(wake);
    wake();
  });
}

class Serve {
  stdout = "";
  stderr = "";
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding("utf8").on("data", (s: string) => (this.stdout += s));
    child.stderr?.setEncoding("utf8").on("data", (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve((this.exit = { code, signal }))));
  }

  #subscribe = (wake: () => void): (() => void) => {
    this.child.stdout?.on("data", wake);
    this.child.stderr?.on("data", wake);
    this.child.on("exit", wake);
    return () => {
      this.child.stdout?.off("data", wake);
      this.child.stderr?.off("data", wake);
      this.child.off("exit", wake);
    };
  };

  /** Waits for a stderr line matching `re`; rejects if the process exits first. */
  stderrLine(re: RegExp): Promise<RegExpExecArray> {
    return waitUntil(`stderr ${String(re)}`, this.#subscribe, () => {
      const m = this.stderr
        .split("\n")
        .map((l) => re.exec(l))
        .find((x) => x !== null);
      if (m !== undefined) return m;
      if (this.exit !== undefined)
        throw new Error(
          `outlast serve exited (${JSON.stringify(this.exit)}) before ${String(re)}; stderr:\n${this.stderr}`,
        );
      return undefined;
    });
  }

  /** Waits until stdout holds `n` complete lines; returns them parsed as JSON. */
  jsonLines(n: number): Promise<Record<string, unknown>[]> {
    return waitUntil(`${n} stdout lines`, this.#subscribe, () => {
      const lines = this.stdout.split("\n").slice(0, -1);
      return lines.length >= n ? lines.map((l) => JSON.parse(l) as Record<string, unknown>) : undefined;
    });
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<Exit> {
    if (this.exit === undefined) this.child.kill(signal);
    return waitUntil("exit", this.#subscribe, () => this.exit);
  }
}

/** Starts `outlast serve --listen 127.0.0.1:0 ...args` and waits for its listening line. */
async function startServe(
  t: TestContext,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ serve: Serve; port: number; scheme: string }> {
  const child = spawn(process.execPath, [bin, "serve", "--listen", "127.0.0.1:0", ...args], {
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const serve = new Serve(child);
  t.after(() => {
    if (serve.exit === undefined) child.kill("SIGKILL");
  });
  const m = await serve.stderrLine(/^outlast serve: listening on (tcp|tls):\/\/127\.0\.0\.1:(\d+)$/);
  return { serve, scheme: m[1] ?? "", port: Number(m[2]) };
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `outlast ...args` to its end. */
function outlast(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: WAIT_MS, env: cleanEnv(env) }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== "number") return reject(new Error(`outlast did not run: ${err.message}`));
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

function assertOneLine(stderr: string): void {
  assert.equal(stderr.split("\n").filter((l) => l !== "").length, 1, `expected one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace without --debug");
}

test("serve writes delivered messages as JSON lines (base64 when not UTF-8) and acknowledges them", async (t) => {
  const { serve, port, scheme } = await startServe(t, []);
  assert.equal(scheme, "tcp");
  assert.match(serve.stderr, /no --state: dedup state is in memory only/);
  const { client } = await openClient(port, "client-a");
  t.after(() => client.destroy());
  client.sendMessages(1, 2, "héllo");
  client.sendMessages(3, 1, new Uint8Array([0xff, 0xfe, 0x00]));
  await client.waitAck(3);
  assert.deepEqual(await serve.jsonLines(3), [
    { clientId: "client-a", seq: 1, data: "héllo" },
    { clientId: "client-a", seq: 2, data: "héllo" },
    { clientId: "client-a", seq: 3, data: Buffer.from([0xff, 0xfe, 0x00]).toString("base64"), encoding: "base64" },
  ]);
  const exit = await serve.stop("SIGINT");
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(serve.stderr, /stopped; 3 messages written, 0 duplicates skipped/);
});

test("--credentials: a matching token is accepted, a wrong or missing one gets ERROR OUTLAST_AUTH_REJECTED", async (t) => {
  const dir = tempDir(t);
  const lines = join(dir, "clients.txt");
  writeFileSync(lines, "# clientId token\nsensor-1 s3cret token\n\nsensor-2 other\n");
  const json = join(dir, "clients.json");
  writeFileSync(json, JSON.stringify({ "sensor-1": "s3cret token" }));
  for (const [label, args, env] of [
    ["lines file, flag", ["--credentials", lines], {}],
    ["JSON file, OUTLAST_CREDENTIALS", [], { OUTLAST_CREDENTIALS: json }],
  ] as const) {
    const { serve, port } = await startServe(t, [...args], { ...env });
    const { client, welcome } = await openClient(port, "sensor-1", { token: "s3cret token" });
    t.after(() => client.destroy());
    assert.equal(welcome.clientId, "sensor-1", label);
    client.sendMessages(1, 1, "ok");
    await client.waitAck(1);

    for (const [clientId, token] of [
      ["sensor-1", "s3cret"],
      ["sensor-1", "s3cret token!"],
      ["nobody", "s3cret token"],
      ["sensor-1", ""],
    ] as const) {
      const bad = await RawClient.connect({ port });
      t.after(() => bad.destroy());
      await assert.rejects(bad.hello({ clientId, token }), (err: Error & { frame?: { code?: string } }) => {
        assert.equal(err.frame?.code, "OUTLAST_AUTH_REJECTED", `${label}: ${clientId}/${token}`);
        return true;
      });
    }
    await serve.stderrLine(/client 127\.0\.0\.1:\d+.*OUTLAST_AUTH_REJECTED|authentication rejected/);
    assert.deepEqual(await serve.jsonLines(1), [{ clientId: "sensor-1", seq: 1, data: "ok" }]);
    assert.equal((await serve.stop("SIGTERM")).code, 0);
  }
});

test("--state survives a restart: a resend after the restart is acknowledged, not written twice", async (t) => {
  const state = join(tempDir(t), "state");
  const first = await startServe(t, ["--state", state]);
  assert.doesNotMatch(first.serve.stderr, /no --state/);
  const a = await openClient(first.port, "c");
  t.after(() => a.client.destroy());
  a.client.sendMessages(1, 3, "m");
  await a.client.waitAck(3);
  assert.equal((await first.serve.stop("SIGINT")).code, 0);
  assert.equal((await first.serve.jsonLines(3)).length, 3);

  const second = await startServe(t, [], { OUTLAST_STATE: state });
  const b = await openClient(second.port, "c");
  t.after(() => b.client.destroy());
  assert.equal(b.welcome.lastSeq, 3);
  b.client.sendMessages(1, 4, "m"); // 1..3 again, and 4
  const { duplicates } = await b.client.waitAck(4);
  assert.equal(duplicates, 3);
  assert.equal((await second.serve.stop("SIGINT")).code, 0);
  assert.deepEqual(await second.serve.jsonLines(1), [{ clientId: "c", seq: 4, data: "m" }]);
  assert.equal(second.serve.stdout.split("\n").length, 2, "only seq 4 written by the second server");
});

test("SIGINT drains: the connected client gets its last ACK and GOODBYE, the command exits 0", async (t) => {
  const { serve, port } = await startServe(t, ["--state", join(tempDir(t), "s")]);
  const { client } = await openClient(port, "drain");
  t.after(() => client.destroy());
  client.sendMessages(1, 50, "x");
  await client.waitAck(50);
  serve.child.kill("SIGINT");
  const goodbye = await client.waitFor((f): f is Extract<typeof f, { type: "goodbye" }> => f.type === "goodbye");
  assert.equal(goodbye.type, "goodbye");
  await client.waitClosed();
  assert.deepEqual(await serve.exited, { code: 0, signal: null });
  assert.match(serve.stderr, /SIGINT: draining connections/);
  assert.equal((await serve.jsonLines(50)).length, 50);
});

test("a second SIGINT while draining exits at once with 130", async (t) => {
  // Nobody reads stdout: the pipe fills, a write never completes, so the drain cannot finish.
  const child = spawn(process.execPath, [bin, "serve", "--listen", "127.0.0.1:0"], {
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  const serve = new Serve(child);
  child.stdout?.pause();
  child.stdout?.removeAllListeners("data");
  const port = Number((await serve.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:(\d+)$/))[1]);
  const { client } = await openClient(port, "stuck");
  t.after(() => client.destroy());
  const big = Buffer.alloc(60_000, "y");
  client.sendMessages(1, 40, big); // 2.4 MB of JSON: more than a pipe holds
  await client.waitAck(1); // some were written; the rest wait on the full pipe
  child.kill("SIGINT");
  await serve.stderrLine(/SIGINT: draining/);
  child.kill("SIGINT");
  assert.deepEqual(await serve.exited, { code: 130, signal: null });
  assert.match(serve.stderr, /SIGINT again: stopping at once/);
});

test("bad usage exits 2 with one line on stderr", async () => {
  for (const [args, env, re] of [
    [["serve", "--listen", "nope"], {}, /--listen must be HOST:PORT/],
    [["serve", "--bogus"], {}, /unknown option --bogus/],
    [["serve", "--format", "xml"], {}, /--format must be one of jsonl, raw/],
    [["serve", "--tls-cert", "c.pem"], {}, /--tls-cert needs --tls-key/],
    [["serve", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--require-client-cert"], {}, /needs --tls-ca/],
    [["serve"], { OUTLAST_IDLE_TIMEOUT: "soon" }, /OUTLAST_IDLE_TIMEOUT must be a positive duration/],
    [["serve", "--max-frame-bytes", "1KiB"], {}, /--max-frame-bytes must be between 4096/],
    [["serve"], { OUTLAST_REQUIRE_CLIENT_CERT: "maybe" }, /OUTLAST_REQUIRE_CLIENT_CERT must be 1 or 0/],
  ] as const) {
    const r = await outlast([...args], { ...env });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const [first, ...rest] = r.stderr.trimEnd().split("\n");
    assert.match(first ?? "", /^outlast serve: /);
    assert.match(first ?? "", re);
    assert.match(rest.join("\n"), /^Usage: outlast serve [^]*\nRun `outlast serve --help` for every option\.$/);
    assert.equal(r.stdout, "");
  }
});

test("a flag wins over its OUTLAST_* variable", async (t) => {
  const { serve, port } = await startServe(t, ["--format", "jsonl"], {
    OUTLAST_FORMAT: "raw",
    OUTLAST_LISTEN: "127.0.0.1:1",
  });
  const { client } = await openClient(port, "f");
  t.after(() => client.destroy());
  client.sendMessages(1, 1, "z");
  await client.waitAck(1);
  assert.deepEqual(await serve.jsonLines(1), [{ clientId: "f", seq: 1, data: "z" }]);
  assert.equal((await serve.stop()).code, 0);
});

test("a locked state directory exits 1 with one line (the stack only with --debug)", async (t) => {
  const state = join(tempDir(t), "state");
  const { serve } = await startServe(t, ["--state", state]);
  const r = await outlast(["serve", "--listen", "127.0.0.1:0", "--state", state]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    `outlast serve: state directory ${state} is locked by pid ${serve.child.pid}; stop that server or pass another --state\n`,
  );
  assertOneLine(r.stderr);

  const viaEnv = await outlast(["serve", "--listen", "127.0.0.1:0", "--debug"], { OUTLAST_STATE: state });
  assert.equal(viaEnv.code, 1);
  assert.match(
    viaEnv.stderr,
    /^outlast serve: state directory .* locked by pid \d+; stop that server or pass another OUTLAST_STATE\n/,
  );
  assert.match(viaEnv.stderr, /^\s+at /m, "--debug shows the stack trace");
  assert.match(viaEnv.stderr, /OUTLAST_STATE_LOCKED/, "--debug shows the cause's code");
  assert.equal((await serve.stop()).code, 0);
});

test("a port in use and an unreadable --credentials file exit 1 with one line", async (t) => {
  const { serve, port } = await startServe(t, []);
  const inUse = await outlast(["serve", "--listen", `127.0.0.1:${port}`]);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
  assertOneLine(inUse.stderr.replace(/^.*no --state.*\n/m, ""));
  const missing = await outlast(["serve", "--listen", "127.0.0.1:0", "--credentials", join(tempDir(t), "nope.txt")]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^outlast serve: cannot read --credentials .*nope\.txt: ENOENT: no such file or directory/,
  );
  assertOneLine(missing.stderr);
  assert.equal((await serve.stop()).code, 0);
});

test("--output FILE: a message is in the file (fdatasync'd) when it is acknowledged; raw format adds no separator", async (t) => {
  const dir = tempDir(t);
  const out = join(dir, "out.bin");
  const { serve, port } = await startServe(t, ["--output", out, "--format", "raw"]);
  const { client } = await openClient(port, "r");
  t.after(() => client.destroy());
  client.sendMessages(1, 2, "ab");
  client.sendMessages(3, 1, new Uint8Array([0, 0xff]));
  await client.waitAck(3);
  assert.deepEqual(readFileSync(out), Buffer.from([0x61, 0x62, 0x61, 0x62, 0, 0xff]));
  assert.equal(serve.stdout, "");
  assert.equal((await serve.stop()).code, 0);
});

test("stdout redirected to a file: a message is in the file when it is acknowledged", async (t) => {
  const out = join(tempDir(t), "stdout.jsonl");
  const fd = openSync(out, "w");
  const child = spawn(process.execPath, [bin, "serve", "--listen", "127.0.0.1:0"], {
    env: cleanEnv(),
    stdio: ["ignore", fd, "pipe"],
  });
  closeSync(fd);
  const serve = new Serve(child);
  t.after(() => {
    if (serve.exit === undefined) child.kill("SIGKILL");
  });
  const port = Number((await serve.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:(\d+)$/))[1]);
  const { client } = await openClient(port, "redirected");
  t.after(() => client.destroy());
  client.sendMessages(1, 2, "on disk");
  await client.waitAck(2);
  assert.equal(
    readFileSync(out, "utf8"),
    '{"clientId":"redirected","seq":1,"data":"on disk"}\n{"clientId":"redirected","seq":2,"data":"on disk"}\n',
  );
  assert.equal((await serve.stop()).code, 0);
});

test("the reader of stdout going away (EPIPE): stops, does not acknowledge, exits 0", async (t) => {
  const { serve, port } = await startServe(t, []);
  const { client } = await openClient(port, "p");
  t.after(() => client.destroy());
  client.sendMessages(1, 1, "first");
  await client.waitAck(1);
  await serve.jsonLines(1);
  serve.child.stdout?.destroy(); // like `head -n 1` exiting
  client.sendMessages(2, 1, "second");
  const frame = await client.waitFor(
    (f): f is Extract<typeof f, { type: "error" | "goodbye" | "ack" }> =>
      f.type === "error" || f.type === "goodbye" || f.type === "ack",
  );
  assert.notEqual(frame.type, "ack", "seq 2 was not written: it must not be acknowledged");
  assert.deepEqual(await serve.exited, { code: 0, signal: null });
  assert.match(serve.stderr, /the reader of stdout went away \(EPIPE\)/);
  assert.match(serve.stderr, /stopped; 1 message written/);
});

test("TLS: --tls-cert/--tls-key serve tls://, --require-client-cert refuses a client without a certificate", async (t) => {
  if (!opensslAvailable()) {
    t.skip("the openssl CLI is not installed: cannot generate test certificates");
    return;
  }
  const certs = testCerts();
  const dir = tempDir(t);
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const cert = file("server.crt", certs.server.cert);
  const key = file("server.key", certs.server.key);
  const ca = file("ca.crt", certs.ca);

  const plain = await startServe(t, ["--tls-cert", cert, "--tls-key", key]);
  assert.equal(plain.scheme, "tls");
  const { client } = await openClient(plain.port, "t", { tls: { ca: certs.ca, servername: "localhost" } });
  t.after(() => client.destroy());
  client.sendMessages(1, 1, "over tls");
  await client.waitAck(1);
  assert.deepEqual(await plain.serve.jsonLines(1), [{ clientId: "t", seq: 1, data: "over tls" }]);
  assert.equal((await plain.serve.stop()).code, 0);

  const mtls = await startServe(t, ["--tls-cert", cert, "--tls-key", key, "--tls-ca", ca], {
    OUTLAST_REQUIRE_CLIENT_CERT: "1",
  });
  const withCert = await openClient(mtls.port, "m", {
    tls: { ca: certs.ca, servername: "localhost", cert: certs.client.cert, key: certs.client.key },
  });
  t.after(() => withCert.client.destroy());
  withCert.client.sendMessages(1, 1, "mutual");
  await withCert.client.waitAck(1);
  // Without a certificate the server ends the TLS handshake (TLS 1.3: after the client thinks it is done).
  const noCert = await RawClient.connect({ port: mtls.port, tls: { ca: certs.ca, servername: "localhost" } }).catch(
    (err: Error) => err,
  );
  if (noCert instanceof RawClient) {
    t.after(() => noCert.destroy());
    await assert.rejects(noCert.hello({ clientId: "m2" }));
    assert.match(
      String((noCert.error as NodeJS.ErrnoException | undefined)?.code),
      /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET/,
    );
  } else {
    assert.match(String((noCert as NodeJS.ErrnoException).code), /CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|ECONNRESET/);
  }
  await mtls.serve.stderrLine(/client 127\.0\.0\.1.*(certificate|CERTIFICATE)/);
  assert.deepEqual(await mtls.serve.jsonLines(1), [{ clientId: "m", seq: 1, data: "mutual" }]);
  assert.equal((await mtls.serve.stop()).code, 0);
});

test("--help shows the options, environment variables and examples", async () => {
  const r = await outlast(["serve", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: outlast serve/);
  assert.match(r.stdout, /OUTLAST_STATE/);
  assert.match(r.stdout, /Examples:/);
  assert.match(r.stdout, /Exit codes: 0/);
});

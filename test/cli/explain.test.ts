import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

// compiled to <outDir>/test/cli/: the binary is <outDir>/src/cli/main.js
const bin = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function outlast(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== "number") return reject(new Error(`outlast did not run: ${err.message}`));
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

test("explain 54 --platform darwin prints ECONNRESET, its numbers, verdict and advice", async () => {
  const r = await outlast("explain", "54", "--platform", "darwin");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^ECONNRESET \(54 on darwin\): connection reset by peer/);
  assert.match(r.stdout, /Linux 104 \(node -104\)/);
  assert.match(r.stdout, /macOS 54 \(node -54\)/);
  assert.match(r.stdout, /Windows WSA 10054 \(node -4077/);
  assert.match(r.stdout, /verdict: +connection error, kind reset, delivered maybe/);
  assert.match(r.stdout, /do: +reconnect with backoff and resend/);
});

test("explain takes several codes and negative errnos", async () => {
  const r = await outlast("explain", "ECONNRESET", "EPIPE", "113", "-102", "--platform", "linux");
  assert.equal(r.code, 0, r.stderr);
  const heads = r.stdout.split("\n").filter((l) => /^\S/.test(l));
  assert.deepEqual(
    heads.map((l) => l.split(/[ :]/)[0]),
    ["ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENETRESET"],
  );
  assert.match(r.stdout, /Unknown system error -102/);
});

test("explain --json prints one object per argument", async () => {
  const r = await outlast("explain", "-4077", "CERT_HAS_EXPIRED", "--platform", "win32", "--json");
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as {
    input: string;
    code: string;
    connection: boolean;
    delivered: string;
    numbers: { win32?: { wsa?: number } };
  }[];
  assert.equal(json.length, 2);
  assert.equal(json[0]?.input, "-4077");
  assert.equal(json[0]?.code, "ECONNRESET");
  assert.equal(json[0]?.connection, true);
  assert.equal(json[0]?.numbers.win32?.wsa, 10054);
  assert.equal(json[1]?.code, "CERT_HAS_EXPIRED");
  assert.equal(json[1]?.connection, false);
  assert.equal(json[1]?.delivered, "no");
});

test("an unknown code exits 1 with one line on stderr, after explaining the known ones", async () => {
  const r = await outlast("explain", "ECONNRESET", "NOT_A_CODE");
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^ECONNRESET/);
  assert.equal(r.stderr, 'outlast explain: unknown code or errno "NOT_A_CODE" (platform ' + platformHere() + ")\n");
  const j = await outlast("explain", "NOT_A_CODE", "--json");
  assert.equal(j.code, 1);
  assert.equal((JSON.parse(j.stdout) as { error?: string }[])[0]?.error, "unknown code or errno");
});

test("usage errors exit 2 with one line and no stack trace", async () => {
  for (const args of [
    ["explain"],
    ["explain", "--bogus", "54"],
    ["explain", "54", "--platform", "solaris"],
    ["frobnicate"],
    [],
  ]) {
    const r = await outlast(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    if (args[0] === "explain")
      assert.match(
        r.stderr,
        /^outlast explain: .+\nUsage: outlast explain [^\n]*\nRun `outlast explain --help` for every option\.\n$/,
      );
    else if (args.length > 0) assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

test("--help and --version exit 0", async () => {
  const h = await outlast("--help");
  assert.equal(h.code, 0);
  assert.match(h.stdout, /explain/);
  assert.match(h.stdout, /Exit codes: 0 ok, 1 .*, 2 usage error/);
  const eh = await outlast("explain", "--help");
  assert.equal(eh.code, 0);
  assert.match(eh.stdout, /--platform/);
  assert.match(eh.stdout, /Exit codes: 0 [\s\S]* 1 [\s\S]*2 usage error/);
  const v = await outlast("--version");
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
});

function platformHere(): string {
  const p = process.platform;
  return p === "darwin" || p === "win32" || p === "freebsd" ? p : "linux";
}

test("explain says the message once: no meaning line that repeats the first line", async () => {
  const r = await outlast("explain", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ERR_SSL_WRONG_VERSION_NUMBER");
  assert.equal(r.code, 0, r.stderr);
  for (const block of r.stdout.trim().split("\n\n")) {
    const [first = "", ...rest] = block.split("\n");
    const message = first.replace(/^[^:]+: /, "");
    for (const line of rest) assert.notEqual(line.replace(/^ +\w+: +/, ""), message, `repeated in:\n${block}`);
  }
});

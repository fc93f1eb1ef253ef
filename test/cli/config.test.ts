import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/cli/command.js";
import {
  envName,
  formatFailure,
  formatHostPort,
  parseDurationMs,
  parseHostPort,
  parseSizeBytes,
  readOptions,
} from "../../src/cli/config.js";
import { credentialsAuthenticator, parseCredentials } from "../../src/cli/credentials.js";

const SPECS = {
  state: { type: "string" },
  "idle-timeout": { type: "string" },
  fast: { type: "boolean" },
  secret: { type: "string", env: false },
} as const;

test("readOptions: a flag wins over OUTLAST_*, an empty variable is unset, booleans read 1/0", () => {
  const env = {
    OUTLAST_STATE: "/env",
    OUTLAST_IDLE_TIMEOUT: "5s",
    OUTLAST_FAST: "1",
    OUTLAST_SECRET: "no",
    OUTLAST_DEBUG: "",
  };
  const r = readOptions(["--state", "/flag"], SPECS, { env });
  assert.equal(r.values.state, "/flag");
  assert.equal(r.source("state"), "--state");
  assert.equal(r.values["idle-timeout"], "5s");
  assert.equal(r.source("idle-timeout"), "OUTLAST_IDLE_TIMEOUT");
  assert.equal(r.values.fast, true);
  assert.equal(r.values.secret, undefined, "env: false is flag only");
  assert.equal(r.values.debug, false);
  assert.equal(r.values.help, false);
  assert.equal(readOptions([], SPECS, { env: { OUTLAST_FAST: "off" } }).values.fast, false);
  assert.throws(() => readOptions([], SPECS, { env: { OUTLAST_FAST: "perhaps" } }), /OUTLAST_FAST must be 1 or 0/);
  assert.throws(
    () => readOptions(["--nope"], SPECS, { env: {} }),
    (err: Error) => err instanceof UsageError && err.message === "unknown option --nope",
  );
  assert.throws(() => readOptions(["extra"], SPECS, { env: {} }), UsageError);
  assert.equal(envName("require-client-cert"), "OUTLAST_REQUIRE_CLIENT_CERT");
});

test("parseDurationMs and parseSizeBytes", () => {
  assert.equal(parseDurationMs("250ms", "--x"), 250);
  assert.equal(parseDurationMs("5s", "--x"), 5000);
  assert.equal(parseDurationMs("1.5s", "--x"), 1500);
  assert.equal(parseDurationMs("2m", "--x"), 120_000);
  assert.equal(parseDurationMs("1h", "--x"), 3_600_000);
  assert.equal(parseDurationMs("40", "--x"), 40);
  for (const bad of ["", "0s", "-1s", "5 parsecs", "s", "1e3"])
    assert.throws(() => parseDurationMs(bad, "--idle-timeout"), /--idle-timeout must be a positive duration/, bad);
  assert.equal(parseSizeBytes("4096", "--x"), 4096);
  assert.equal(parseSizeBytes("64KiB", "--x"), 65536);
  assert.equal(parseSizeBytes("1MiB", "--x"), 1048576);
  assert.equal(parseSizeBytes("1mb", "--x"), 1_000_000);
  assert.equal(parseSizeBytes("2G", "--x"), 2 * 1024 ** 3);
  for (const bad of ["", "0", "1.5", "1 parsec", "KiB"])
    assert.throws(() => parseSizeBytes(bad, "OUTLAST_MAX"), /OUTLAST_MAX must be a whole number of bytes/, bad);
});

test("parseHostPort and formatHostPort", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:7070", "--listen"), { host: "127.0.0.1", port: 7070 });
  assert.deepEqual(parseHostPort("[::1]:0", "--listen"), { host: "::1", port: 0 });
  assert.deepEqual(parseHostPort("localhost:80", "--listen"), { host: "localhost", port: 80 });
  assert.deepEqual(parseHostPort("7070", "--listen"), { host: "127.0.0.1", port: 7070 });
  for (const bad of [":7070", "::1:7070", "host", "host:70000", "host:", "[::1]"])
    assert.throws(() => parseHostPort(bad, "--listen"), /--listen must be HOST:PORT/, bad);
  assert.equal(formatHostPort("::1", 7), "[::1]:7");
  assert.equal(formatHostPort("10.0.0.1", 7), "10.0.0.1:7");
});

test("formatFailure: one line, or the stack and causes with debug", () => {
  const err = new Error("outer\nsecond line", { cause: Object.assign(new Error("inner"), { code: "EX" }) });
  assert.equal(formatFailure("serve", err, false), "outlast serve: outer\n");
  const debug = formatFailure("serve", err, true);
  assert.match(debug, /^outlast serve: outer\n/);
  assert.match(debug, /^\s+at /m);
  assert.match(debug, /caused by: Error: inner[\s\S]*\[code EX\]/);
});

test("credentials: lines or JSON; tokens compared whole, unknown clients rejected", async () => {
  const creds = parseCredentials("# c\na tok en\n\nb  x\n", "f");
  const auth = credentialsAuthenticator(creds);
  const call = (clientId: string, token: string): unknown =>
    auth({ clientId, token: Buffer.from(token), peerCertificate: undefined, heartbeatIntervalMs: 6000 });
  assert.equal(await call("a", "tok en"), "a");
  assert.equal(await call("b", "x"), "b");
  assert.equal(await call("a", "tok"), false);
  assert.equal(await call("a", "tok en "), false);
  assert.equal(await call("a", "x"), false);
  assert.equal(await call("c", "x"), false);
  assert.equal(
    await credentialsAuthenticator(parseCredentials('{"j":"t"}', "f.json"))({
      clientId: "j",
      token: Buffer.from("t"),
      peerCertificate: undefined,
      heartbeatIntervalMs: 6000,
    }),
    "j",
  );
  assert.throws(() => parseCredentials("a\n", "f"), /f:1: expected "clientId token"/);
  assert.throws(() => parseCredentials("a 1\na 2\n", "f"), /f:2: clientId "a" is listed twice/);
  assert.throws(() => parseCredentials("# none\n", "f"), /f: no credentials/);
  assert.throws(() => parseCredentials('{"a": 1}', "f"), /token of "a" must be a string/);
  assert.throws(() => parseCredentials("{oops", "f"), /f: not valid JSON/);
});

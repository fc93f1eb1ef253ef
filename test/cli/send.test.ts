/**
 * `outlast send` as a real child process against a real `outlast serve`:
 * stdin and files, the framings, SIGINT with messages still stored and the
 * next run delivering them, usage errors, help.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ESCAPE, jsonLines, run, start, startServe, tempDir } from "./cli-process.js";

test("send delivers stdin lines to serve in order, exits 0, and keeps no escape codes off a TTY", async (t) => {
  const dir = tempDir(t);
  const { serve } = await startServe(t, ["--state", join(dir, "state")]);
  const port = /:(\d+)$/m.exec(serve.stderr)?.[1] ?? "";
  const lines = Array.from({ length: 1000 }, (_, i) => `message ${i + 1}`);
  const send = await run(
    t,
    ["send", `tcp://127.0.0.1:${port}`, "--outbox", join(dir, "ob"), "--client-id", "cli-test"],
    `${lines.join("\r\n")}\n\n`,
  );
  assert.equal(send.exit.code, 0, send.stderr);
  assert.match(send.stderr, /outlast send: 1,000 messages acknowledged by tcp:\/\/127\.0\.0\.1:\d+/);
  assert.doesNotMatch(send.stderr, ESCAPE);
  assert.equal(send.stdout, "");
  const got = await serve.until("1000 lines", () => {
    const l = jsonLines(serve.stdout);
    return l.length >= 1000 ? l : undefined;
  });
  assert.deepEqual(
    got.map((m) => m["data"]),
    lines,
  );
  assert.ok(got.every((m, i) => m["clientId"] === "cli-test" && m["seq"] === i + 1));
  const inspect = await run(t, ["outbox", "inspect", join(dir, "ob"), "--json"]);
  assert.equal(JSON.parse(inspect.stdout).messages, 0, "nothing left stored");
});

test("send reads files in order with --framing length-prefixed and raw, and the default outbox is under XDG_STATE_HOME", async (t) => {
  const dir = tempDir(t);
  const { serve, port } = await startServe(t);
  const frames = Buffer.concat(
    ["one", "", "two\nlines", "x".repeat(70_000)].map((s) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(Buffer.byteLength(s));
      return Buffer.concat([len, Buffer.from(s)]);
    }),
  );
  writeFileSync(join(dir, "a.bin"), frames);
  const xdg = join(dir, "xdg");
  const send = await run(
    t,
    ["send", `tcp://127.0.0.1:${port}`, join(dir, "a.bin"), "--framing", "length-prefixed"],
    "",
    { XDG_STATE_HOME: xdg },
  );
  assert.equal(send.exit.code, 0, send.stderr);
  const got = await serve.until("4 lines", () => {
    const l = jsonLines(serve.stdout);
    return l.length >= 4 ? l : undefined;
  });
  assert.deepEqual(
    got.map((m) => m["data"]),
    ["one", "", "two\nlines", "x".repeat(70_000)],
  );
  const inspect = await run(t, [
    "outbox",
    "inspect",
    join(xdg, "outlast", "outbox", `tcp-127.0.0.1-${port}`),
    "--json",
  ]);
  assert.equal(inspect.exit.code, 0, inspect.stderr);
  assert.equal(JSON.parse(inspect.stdout).nextSeq, 5);

  // raw: the chunk read is the message (a short stdin arrives as one chunk).
  const raw = await run(
    t,
    ["send", `tcp://127.0.0.1:${port}`, "--framing", "raw", "--outbox", join(dir, "raw")],
    "no\nframing at all",
  );
  assert.equal(raw.exit.code, 0, raw.stderr);
  const last = await serve.until("5 lines", () => jsonLines(serve.stdout)[4]);
  assert.equal(last["data"], "no\nframing at all");

  // A truncated length prefix is a one-line failure, exit 1; what was whole is delivered.
  writeFileSync(join(dir, "bad.bin"), Buffer.concat([frames.subarray(0, 7), Buffer.from([0, 0, 0, 9, 0x41])]));
  const bad = await run(t, [
    "send",
    `tcp://127.0.0.1:${port}`,
    join(dir, "bad.bin"),
    "--framing",
    "length-prefixed",
    "--outbox",
    join(dir, "ob2"),
  ]);
  assert.equal(bad.exit.code, 1);
  assert.match(bad.stderr, /^outlast send: stopped reading at an input error: the input ends inside message 2/m);
  assert.match(bad.stderr, /^outlast send: 1 message read before the input error, all acknowledged by /m);
  assert.doesNotMatch(bad.stderr, /^\s+at /m);
});

test("SIGINT during send: stops reading, drains with a deadline, says how many are stored; the next run delivers them", async (t) => {
  const dir = tempDir(t);
  const outbox = join(dir, "ob");
  // Nothing listens on the port yet: every message stays stored.
  const { serve: probe, port } = await startServe(t);
  probe.child.kill("SIGINT");
  await probe.waitExit();
  const send = start(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", outbox, "--drain-timeout", "200ms"]);
  send.child.stdin?.write(Array.from({ length: 300 }, (_, i) => `m${i}\n`).join(""));
  await send.until("300 stored", () => (/300 read · 0 acknowledged · 300 queued/.test(send.stderr) ? true : undefined));
  send.child.kill("SIGINT");
  const exit = await send.waitExit();
  assert.equal(exit.code, 1, send.stderr);
  assert.match(send.stderr, /SIGINT: stopped reading; delivering what is stored for up to 200 ms/);
  assert.match(
    send.stderr,
    new RegExp(
      `0 acknowledged; 300 messages are still stored in ${outbox.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}; the next`,
    ),
  );

  // A server comes up (on another port: the outbox is not tied to a URL when --outbox is given).
  const { serve, port: port2 } = await startServe(t);
  const again = await run(t, ["send", `tcp://127.0.0.1:${port2}`, "--outbox", outbox], "");
  assert.equal(again.exit.code, 0, again.stderr);
  assert.match(again.stderr, /300 messages from an earlier run are stored/);
  const got = await serve.until("300 lines", () => {
    const l = jsonLines(serve.stdout);
    return l.length >= 300 ? l : undefined;
  });
  assert.deepEqual(
    got.map((m) => m["data"]),
    Array.from({ length: 300 }, (_, i) => `m${i}`),
  );
});

test("send: usage errors exit 2 with one line; --help has examples", async (t) => {
  for (const [args, re] of [
    [["send"], /needs the server's URL/],
    [["send", "http://x:1"], /must be tcp:\/\/HOST:PORT or tls:\/\/HOST:PORT/],
    [["send", "tcp://127.0.0.1:1", "--tls-ca", "ca.pem"], /--tls-ca needs a tls:\/\/ URL/],
    [["send", "tcp://127.0.0.1:1", "--token", "a", "--token-file", "b"], /not both/],
    [["send", "tcp://127.0.0.1:1", "--framing", "csv"], /--framing must be one of lines, length-prefixed, raw/],
  ] as const) {
    const r = await run(t, args);
    assert.equal(r.exit.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const [first, ...rest] = r.stderr.trimEnd().split("\n");
    assert.match(first ?? "", re);
    assert.match(rest.join("\n"), /^Usage: outlast send [^]*\nRun `outlast send --help` for every option\.$/);
  }
  const env = await run(t, ["send", "tcp://127.0.0.1:1"], "", { OUTLAST_DRAIN_TIMEOUT: "soon" });
  assert.equal(env.exit.code, 2);
  assert.match(env.stderr, /OUTLAST_DRAIN_TIMEOUT must be a positive duration/);
  const help = await run(t, ["send", "--help"]);
  assert.equal(help.exit.code, 0);
  assert.match(help.stdout, /Examples:\n {2}echo hello \| outlast send tcp:\/\/127\.0\.0\.1:7070/);
});

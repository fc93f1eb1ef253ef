/**
 * What `outlast send` says when something goes wrong, tried for real: the count
 * after an input error, a locked or unwritable outbox (nothing stored, so no
 * "delivers them" hint), a peer that does not speak outlast (a web server, TLS
 * on tcp://, plain on tls://), an untrusted certificate (which flag fixes it),
 * and a recovery hint that carries the flags the next run needs.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { recognizeForeignPeer } from "../../src/protocol/foreign-peer.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { opensslAvailable, testCerts } from "../helpers/certs.js";
import { jsonLines, run, start, startServe, tempDir } from "./cli-process.js";

test("an input error: the messages read before it are delivered, counted right, and the error is named", async (t) => {
  const dir = tempDir(t);
  const { serve, port } = await startServe(t, ["--state", join(dir, "state")]);
  const input = `1\n2\n3\n4\n5\n${"a".repeat(2_000_000)}\n`;
  const send = start(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", join(dir, "ob")]);
  send.child.stdin?.on("error", () => {}); // it stops reading at the error: the rest of the input meets EPIPE
  send.child.stdin?.end(input);
  assert.equal((await send.waitExit()).code, 1, send.stderr);
  assert.match(
    send.stderr,
    /^outlast send: stopped reading at an input error: line 6 is longer than \d+ bytes, the most a message may be$/m,
  );
  assert.match(
    send.stderr,
    /^outlast send: 5 messages read before the input error, all acknowledged by tcp:\/\/127\.0\.0\.1:\d+ in /m,
  );
  assert.doesNotMatch(send.stderr, /0 messages acknowledged/);
  const got = await serve.until("5 lines", () => (jsonLines(serve.stdout).length >= 5 ? true : undefined));
  assert.equal(got, true);
});

test("a second send on a locked outbox says who holds it and that it stored nothing", async (t) => {
  const dir = tempDir(t);
  const { serve, port } = await startServe(t, ["--state", join(dir, "state")]);
  const file = join(dir, "in.txt");
  writeFileSync(file, "first\n");
  const outbox = join(dir, "ob");
  const holder = start(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", outbox, "--follow", file]);
  await serve.until("the holder's message", () => (jsonLines(serve.stdout).length >= 1 ? true : undefined));
  const second = await run(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", outbox], "second\n");
  assert.equal(second.exit.code, 1, second.stderr);
  assert.equal(
    second.stderr,
    `outlast send: outbox ${outbox} is in use by pid ${holder.child.pid} (another outlast send?); nothing was stored or sent: wait for it to finish or stop it, or pass another --outbox\n`,
  );
  holder.child.kill("SIGTERM");
  assert.equal((await holder.waitExit()).code, 0, holder.stderr);
});

test("an outbox this user may not write: says so and that nothing was stored, not 'check the disk'", async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const { port } = await startServe(t, ["--state", join(dir, "state")]);
  const outbox = join(dir, "ob");
  const first = await run(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", outbox], "one\n");
  assert.equal(first.exit.code, 0, first.stderr);
  const asRoot = process.getuid?.() === 0;
  if (!asRoot) chmodSync(outbox, 0o555);
  const second = start(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", outbox], {
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  second.child.stdin?.end("two\n");
  assert.equal((await second.waitExit()).code, 1, second.stderr);
  assert.match(
    second.stderr,
    new RegExp(
      `^outlast send: cannot use the outbox ${outbox} \\(EACCES\\): this user may not read or write it; fix its permissions \\(or run as its owner\\), or pass another --outbox\\noutlast send: the outbox did not open: nothing was stored or sent\\n$`,
    ),
  );
  assert.doesNotMatch(second.stderr, /check the disk|still stored/);
  chmodSync(outbox, 0o755);
});

/** Starts `outlast send URL` with one message, waits for `notice` on stderr, stops it; returns its stderr. */
async function noticeOf(t: TestContext, url: string, notice: RegExp): Promise<string> {
  const send = start(t, ["send", url, "--outbox", join(tempDir(t), "ob"), "--drain-timeout", "100ms"]);
  send.child.stdin?.end("hello\n");
  await send.stderrLine(notice);
  send.child.kill("SIGTERM");
  assert.equal((await send.waitExit()).code, 1, send.stderr);
  const lines = send.stderr.split("\n").filter((l) => notice.test(l));
  assert.equal(lines.length, 1, `said once, not on every retry:\n${send.stderr}`);
  assert.match(send.stderr, /1 message is still stored in /);
  return send.stderr;
}

test("send to a web server says it is a web server (not 'frame length 1213486160 exceeds maxFrameBytes'), once, and keeps retrying", async (t) => {
  const http = createHttpServer((_req, res) => res.end("hi"));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  t.after(() => http.close());
  const port = (http.address() as AddressInfo).port;
  const stderr = await noticeOf(
    t,
    `tcp://127.0.0.1:${port}`,
    /^outlast send: tcp:\/\/127\.0\.0\.1:\d+ answered in HTTP \("HTTP\/1\.1 400 Bad Request"\), not the outlast protocol: it is a web server; check the host and port; still retrying/,
  );
  assert.doesNotMatch(stderr, /maxFrameBytes/);
});

test("tcp:// to a TLS server and tls:// to a plain server: each told as a likely wrong scheme, once", async (t) => {
  if (!opensslAvailable()) return t.skip("openssl is not installed: cannot make test certificates");
  const dir = tempDir(t);
  const certs = testCerts();
  writeFileSync(join(dir, "server.crt"), certs.server.cert);
  writeFileSync(join(dir, "server.key"), certs.server.key);
  const tlsServe = start(t, [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--tls-cert",
    join(dir, "server.crt"),
    "--tls-key",
    join(dir, "server.key"),
  ]);
  const tlsPort = (await tlsServe.stderrLine(/listening on tls:\/\/127\.0\.0\.1:(\d+)$/))[1] ?? "";
  await noticeOf(t, `tcp://127.0.0.1:${tlsPort}`, /use tls:\/\/ instead of tcp:\/\/; still retrying/);
  const { port: plainPort } = await startServe(t);
  await noticeOf(
    t,
    `tls://127.0.0.1:${plainPort}`,
    /answered in plain text.*use tcp:\/\/ instead of tls:\/\/; still retrying/,
  );
});

test("an untrusted certificate names --tls-ca, and the recovery hint carries the flags that make the next run succeed", async (t) => {
  if (!opensslAvailable()) return t.skip("openssl is not installed: cannot make test certificates");
  const dir = tempDir(t);
  const certs = testCerts();
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const credentials = file("clients.txt", "robot-1 s3cret\n");
  const tokenFile = file("token", "s3cret\n");
  const ca = file("ca.crt", certs.ca);
  const tlsServe = start(t, [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--tls-cert",
    file("server.crt", certs.server.cert),
    "--tls-key",
    file("server.key", certs.server.key),
    "--credentials",
    credentials,
  ]);
  const port = (await tlsServe.stderrLine(/listening on tls:\/\/127\.0\.0\.1:(\d+)$/))[1] ?? "";
  const url = `tls://127.0.0.1:${port}`;
  const outbox = join(dir, "ob");
  mkdirSync(outbox);
  const args = ["send", url, "--outbox", outbox, "--client-id", "robot-1", "--token-file", tokenFile];
  const first = await run(t, args, "hello\n");
  assert.equal(first.exit.code, 1, first.stderr);
  assert.match(
    first.stderr,
    /^outlast send: the server's certificate is not trusted \(.+\); pass --tls-ca with the CA \(PEM\) that signed it/m,
  );
  const hint = /the next `outlast (send .+)` delivers them$/m.exec(first.stderr)?.[1];
  assert.equal(hint, `send ${url} --outbox ${outbox} --token-file ${tokenFile} --tls-ca CA.pem`);
  // The hint, with the CA filled in, delivers what the first run stored.
  const next = await run(t, (hint ?? "").replace("CA.pem", ca).split(" "));
  assert.equal(next.exit.code, 0, next.stderr);
  assert.match(next.stderr, /1 message from an earlier run is stored in .*; delivering it first/);
  await tlsServe.until("the message", () => (jsonLines(tlsServe.stdout).length >= 1 ? true : undefined));
});

test("an invalid --topic, --subject or --stream value is a usage error naming the flag", async (t) => {
  const cases: [string[], RegExp][] = [
    [["mqtt://127.0.0.1:1", "--topic", "a/+/b"], /^outlast send: "a\/\+\/b" is not a --topic name to publish to/m],
    [
      ["nats://127.0.0.1:1", "--subject", "a.*", "--stream", "S"],
      /^outlast send: "a\.\*" is not a literal NATS --subject/m,
    ],
  ];
  for (const [args, re] of cases) {
    const c = await run(t, ["send", ...args, "--outbox", tempDir(t)], "x\n");
    assert.equal(c.exit.code, 2, c.stderr);
    assert.match(c.stderr, re);
    assert.doesNotMatch(c.stderr, /invalid option/);
  }
});

test("recognizeForeignPeer: HTTP, a TLS alert or handshake, an SSH banner; an outlast frame is not foreign", () => {
  assert.deepEqual(recognizeForeignPeer(Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n")), {
    kind: "http",
    said: "HTTP/1.1 400 Bad Request",
  });
  assert.equal(recognizeForeignPeer(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))?.kind, "tls");
  assert.equal(recognizeForeignPeer(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]))?.kind, "tls");
  assert.equal(recognizeForeignPeer(Buffer.from("SSH-2.0-OpenSSH_9.6\r\n"))?.kind, "ssh");
  const welcome = encodeFrame({ type: "welcome", version: 1, clientId: "a", lastSeq: 0, maxFrameBytes: 4096 });
  assert.equal(recognizeForeignPeer(welcome), undefined);
  assert.equal(recognizeForeignPeer(encodeFrame({ type: "ping", nonce: 1 })), undefined);
});

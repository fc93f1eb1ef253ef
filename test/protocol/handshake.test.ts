import assert from "node:assert/strict";
import { test } from "node:test";
import {
  SUPPORTED_VERSIONS,
  checkWelcome,
  chooseVersion,
  clientIdProblem,
  isMagic,
  validateHello,
} from "../../src/protocol/handshake.js";
import type { HelloFrame } from "../../src/protocol/frames.js";

const hello: HelloFrame = {
  type: "hello",
  minVersion: 1,
  maxVersion: 1,
  clientId: "c1",
  token: new Uint8Array(0),
  heartbeatIntervalMs: 2000,
  maxFrameBytes: 1 << 20,
};

test("chooseVersion picks the highest common version", () => {
  assert.deepStrictEqual(chooseVersion(hello), { ok: true, version: 1 });
  assert.deepStrictEqual(chooseVersion({ minVersion: 1, maxVersion: 5 }, [1, 2, 3, 7]), { ok: true, version: 3 });
  assert.deepStrictEqual(chooseVersion({ minVersion: 2, maxVersion: 2 }, [3, 1, 2]), { ok: true, version: 2 });
});

test("chooseVersion without overlap gives OUTLAST_PROTOCOL_VERSION", () => {
  const r = chooseVersion({ minVersion: 2, maxVersion: 4 }, [1]);
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.code, "OUTLAST_PROTOCOL_VERSION");
  assert.match(r.message, /client speaks protocol versions 2\.\.4, server speaks 1/);
});

test("validateHello accepts a good HELLO and names the bad field", () => {
  assert.equal(validateHello(hello), undefined);
  const cases: [Partial<HelloFrame>, RegExp][] = [
    [{ clientId: "" }, /clientId is empty/],
    [{ clientId: "x".repeat(257) }, /257 bytes/],
    [{ clientId: "é".repeat(129) }, /258 bytes/],
    [{ clientId: "tab\there" }, /control character/],
    [{ clientId: "del\u007f" }, /control character/],
    [{ clientId: "lone\uD800" }, /lone surrogate/],
    [{ token: new Uint8Array(65537) }, /token is 65537 bytes/],
    [{ minVersion: 0 }, /minVersion 0/],
    [{ minVersion: 2, maxVersion: 1 }, /maxVersion 1/],
    [{ maxVersion: 65536 }, /maxVersion 65536/],
    [{ heartbeatIntervalMs: -1 }, /heartbeatIntervalMs -1/],
    [{ heartbeatIntervalMs: 1.5 }, /heartbeatIntervalMs 1.5/],
    [{ maxFrameBytes: 100 }, /maxFrameBytes 100/],
    [{ maxFrameBytes: 2 ** 32 }, /maxFrameBytes 4294967296/],
  ];
  for (const [patch, pattern] of cases) {
    const p = validateHello({ ...hello, ...patch });
    assert.ok(p !== undefined, JSON.stringify(patch));
    assert.equal(p.code, "OUTLAST_PROTOCOL_ERROR");
    assert.match(p.message, pattern);
  }
  assert.equal(validateHello({ ...hello, clientId: "🙂".repeat(64), token: new Uint8Array(65536) }), undefined);
});

test("clientIdProblem allows any printable Unicode", () => {
  assert.equal(clientIdProblem("device/eu-west-1/42 😀 ünïcödé"), undefined);
  assert.match(clientIdProblem("a\u0000") ?? "", /control/);
});

test("checkWelcome rejects a version the client did not offer", () => {
  const welcome = { type: "welcome", version: 1, clientId: "c1", lastSeq: 0, maxFrameBytes: 4096 } as const;
  assert.equal(checkWelcome(hello, welcome), undefined);
  assert.equal(checkWelcome(hello, { ...welcome, version: 2 })?.code, "OUTLAST_PROTOCOL_VERSION");
  assert.equal(checkWelcome(hello, { ...welcome, maxFrameBytes: 10 })?.code, "OUTLAST_PROTOCOL_ERROR");
  assert.equal(checkWelcome(hello, { ...welcome, lastSeq: -1 })?.code, "OUTLAST_PROTOCOL_ERROR");
});

test("checkWelcome: version 2 carries beatMs and idleMs, version 1 does not", () => {
  const both = { minVersion: 1, maxVersion: 2 };
  const v2 = { type: "welcome", version: 2, clientId: "c1", lastSeq: 0, maxFrameBytes: 4096 } as const;
  assert.equal(checkWelcome(both, { ...v2, beatMs: 6000, idleMs: 30_000 }), undefined);
  assert.equal(checkWelcome(both, { ...v2, beatMs: 0, idleMs: 0 }), undefined);
  assert.match(checkWelcome(both, { ...v2, idleMs: 30_000 })?.message ?? "", /WELCOME: beatMs undefined/);
  assert.match(checkWelcome(both, { ...v2, beatMs: 6000 })?.message ?? "", /WELCOME: idleMs undefined/);
  assert.match(checkWelcome(both, { ...v2, beatMs: -1, idleMs: 1 })?.message ?? "", /beatMs -1/);
  assert.match(
    checkWelcome(both, { ...v2, version: 1, beatMs: 6000, idleMs: 30_000 })?.message ?? "",
    /not part of a version 1 WELCOME/,
  );
});

test("SUPPORTED_VERSIONS: this build speaks versions 1 and 2", () => {
  assert.deepEqual(SUPPORTED_VERSIONS, [1, 2]);
  assert.deepEqual(chooseVersion({ minVersion: 1, maxVersion: 1 }), { ok: true, version: 1 });
  assert.deepEqual(chooseVersion({ minVersion: 1, maxVersion: 9 }), { ok: true, version: 2 });
});

test("isMagic checks the four bytes at an offset", () => {
  assert.equal(isMagic(Buffer.from("xxOUTL"), 2), true);
  assert.equal(isMagic(Buffer.from("xxOUT"), 2), false);
  assert.equal(isMagic(Buffer.from("OUTX")), false);
});

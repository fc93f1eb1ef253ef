import assert from "node:assert/strict";
import { test } from "node:test";
import { KINDS, type Platform } from "../../src/errors/classification.js";
import { CODE_RULES } from "../../src/errors/code-rules.js";
import { describeCode } from "../../src/errors/describe-code.js";
import { ERRNO_CODES, toPlatform } from "../../src/errors/errno-tables.js";

test("the ECONNRESET examples all name ECONNRESET with its verdict and numbers", () => {
  const inputs: [string | number, Platform | undefined][] = [
    [104, "linux"],
    [-104, "linux"],
    [54, "darwin"],
    [54, "freebsd"],
    [10054, "win32"],
    [-4077, "win32"],
    [64, "win32"],
    ["ECONNRESET", undefined],
    ["econnreset", undefined],
    ["-104", "linux"],
  ];
  for (const [input, platform] of inputs) {
    const d = describeCode(input, platform === undefined ? {} : { platform });
    assert.ok(d, `${input} on ${platform}`);
    assert.equal(d.code, "ECONNRESET", `${input} on ${platform}`);
    assert.equal(d.message, "connection reset by peer");
    assert.equal(d.kind, "reset");
    assert.equal(d.connection, true);
    assert.equal(d.delivered, "maybe");
    assert.match(d.advice, /reconnect/);
    assert.deepEqual(d.numbers.linux, { errno: 104, node: -104, nodeCode: "ECONNRESET" });
    assert.deepEqual(d.numbers.darwin, { errno: 54, node: -54, nodeCode: "ECONNRESET" });
    assert.equal(d.numbers.win32?.wsa, 10054);
    assert.equal(d.numbers.win32?.node, -4077);
  }
});

test("a number is read on the platform asked for, and defaults to this one", () => {
  assert.equal(describeCode(54, { platform: "linux" }), undefined); // EXFULL: not in our tables
  assert.equal(describeCode(113, { platform: "linux" })?.code, "EHOSTUNREACH");
  assert.equal(describeCode(65, { platform: "darwin" })?.code, "EHOSTUNREACH");
  const here = toPlatform();
  const refused = here === "win32" ? 10061 : here === "linux" ? 111 : 61;
  assert.equal(describeCode(refused)?.code, "ECONNREFUSED");
});

test("connect-phase codes say delivered no; certificate codes say a person must act", () => {
  const refused = describeCode("ECONNREFUSED");
  assert.equal(refused?.delivered, "no");
  assert.equal(refused?.connection, true);
  assert.match(refused?.advice ?? "", /cannot be a duplicate/);
  const cert = describeCode("CERT_HAS_EXPIRED");
  assert.equal(cert?.connection, false);
  assert.equal(cert?.kind, "certificate");
  assert.match(cert?.advice ?? "", /person must act/);
  assert.deepEqual(cert?.numbers, {});
});

test("ENETRESET and the UNKNOWN quirk are explained", () => {
  const linux = describeCode(-102, { platform: "linux" });
  assert.equal(linux?.code, "ENETRESET");
  assert.equal(linux?.connection, true);
  assert.ok(linux?.notes.some((n) => n.includes("Unknown system error -102")));
  assert.equal(describeCode(-52, { platform: "darwin" })?.code, "ENETRESET");
  assert.equal(describeCode("Unknown system error -102", { platform: "linux" })?.code, "ENETRESET");
  const win = describeCode("ENETDOWN");
  assert.ok(win?.notes.some((n) => n.includes("UNKNOWN") && n.includes("10050")));
  const unknown = describeCode(-4094, { platform: "win32" });
  assert.equal(unknown?.code, "UNKNOWN");
  assert.equal(unknown?.connection, false);
  for (const c of ["ENETDOWN", "ENETRESET", "EHOSTDOWN"]) assert.ok(unknown?.advice.includes(c), c);
  assert.equal(describeCode("UNKNOWN")?.code, "UNKNOWN");
});

test("codes that are not errnos are described without numbers; EAI_NONAME gets ENOTFOUND's verdict", () => {
  for (const code of ["EAI_AGAIN", "ERR_SSL_WRONG_VERSION_NUMBER", "UND_ERR_SOCKET", "ETIMEOUT"]) {
    const d = describeCode(code);
    assert.equal(d?.code, code);
    assert.equal(d?.connection, true, code);
    assert.equal(d?.numbers.linux, undefined);
  }
  const noname = describeCode(-3008, { platform: "linux" });
  assert.equal(noname?.code, "EAI_NONAME");
  assert.equal(noname?.kind, "dns");
  assert.equal(noname?.connection, true);
  assert.ok(noname?.notes.some((n) => n.includes("ENOTFOUND")));
});

test("every CODE_RULES code and every errno code is described; the verdict matches the rule", () => {
  for (const [code, rule] of CODE_RULES) {
    const d = describeCode(code);
    assert.ok(d, code);
    assert.equal(d.code, code);
    assert.equal(d.kind, rule.kind, code);
    assert.equal(d.connection, rule.connection, code);
    assert.equal(d.delivered, rule.connectPhase ? "no" : "maybe", code);
    assert.ok(KINDS.includes(d.kind));
    assert.ok(d.advice.length > 0);
  }
  for (const code of ERRNO_CODES) {
    const d = describeCode(code);
    assert.ok(d, code);
    assert.ok(d.message.length > 0, code);
  }
});

test("unknown input gives undefined", () => {
  for (const input of ["NOT_A_CODE", "", "  ", 0, 123456, -1.5, "constructor", "__proto__", "toString"]) {
    assert.equal(describeCode(input, { platform: "linux" }), undefined, String(input));
  }
});

/**
 * Real DNS errors: c-ares (`dns.Resolver`) against a tiny local responder
 * (test/helpers/dns-responder.ts), and getaddrinfo (`dns.lookup`). DNS
 * failures count as connection errors: on a device they mean offline far more
 * often than a typo. An unreachable resolver (EAI_AGAIN) lives in netns.test.ts.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import dns from "node:dns";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import type { TestContext } from "node:test";
import { classify, isConnectionError } from "../../src/errors/index.js";
import { rawFields, rejectionOf, verdictOf } from "../helpers/capture-error.js";
import { startDnsResponder } from "../helpers/dns-responder.js";
import type { DnsResponder } from "../helpers/dns-responder.js";

function record(t: TestContext, err: unknown): void {
  t.diagnostic(`raw: ${JSON.stringify(rawFields(err))}`);
}

function field(err: unknown, key: string): unknown {
  return (err as Record<string, unknown>)[key];
}

const ZONES = {
  "ok.outlast.test": { a: ["10.20.30.40"] },
  "nx.outlast.test": { rcode: "NXDOMAIN" },
  "servfail.outlast.test": { rcode: "SERVFAIL" },
  "refused.outlast.test": { rcode: "REFUSED" },
  "silent.outlast.test": "silence",
} as const;

describe("real DNS errors (c-ares through dns.Resolver)", () => {
  let responder: DnsResponder;
  /** A short timeout and one try: silence fails in ~200 ms instead of c-ares's default 5 s x 4. */
  const resolver = (): dns.promises.Resolver => {
    const r = new dns.promises.Resolver({ timeout: 200, tries: 1 });
    r.setServers([responder.server]);
    return r;
  };

  before(async () => {
    responder = await startDnsResponder(ZONES);
  });
  after(async () => {
    await responder.close();
  });

  test("control: the responder answers an A record", async () => {
    assert.deepEqual(await resolver().resolve4("ok.outlast.test"), ["10.20.30.40"]);
  });

  test("NXDOMAIN: ENOTFOUND (queryA), dns, connection true, delivered no", async (t) => {
    const err = await rejectionOf(resolver().resolve4("nx.outlast.test"));
    record(t, err);
    assert.equal(field(err, "code"), "ENOTFOUND");
    assert.equal(field(err, "syscall"), "queryA");
    assert.equal(field(err, "hostname"), "nx.outlast.test");
    assert.deepEqual(verdictOf(classify(err)), { connection: true, kind: "dns", code: "ENOTFOUND", delivered: "no" });
  });

  test("SERVFAIL: ESERVFAIL, dns, connection true", async (t) => {
    const err = await rejectionOf(resolver().resolve4("servfail.outlast.test"));
    record(t, err);
    assert.equal(field(err, "code"), "ESERVFAIL");
    assert.equal(field(err, "syscall"), "queryA");
    assert.deepEqual(verdictOf(classify(err)), { connection: true, kind: "dns", code: "ESERVFAIL", delivered: "no" });
  });

  test("REFUSED: EREFUSED, dns, connection true", async (t) => {
    const err = await rejectionOf(resolver().resolve4("refused.outlast.test"));
    record(t, err);
    assert.equal(field(err, "code"), "EREFUSED");
    assert.equal(field(err, "syscall"), "queryA");
    assert.deepEqual(verdictOf(classify(err)), { connection: true, kind: "dns", code: "EREFUSED", delivered: "no" });
  });

  test("silence: ETIMEOUT, timeout, connection true, delivered no", async (t) => {
    const asked = responder.queries.filter((q) => q.name === "silent.outlast.test").length;
    const err = await rejectionOf(resolver().resolve4("silent.outlast.test"));
    record(t, err);
    assert.equal(field(err, "code"), "ETIMEOUT");
    assert.equal(field(err, "syscall"), "queryA");
    assert.ok(
      responder.queries.filter((q) => q.name === "silent.outlast.test").length > asked,
      "the query reached the responder",
    );
    assert.deepEqual(verdictOf(classify(err)), {
      connection: true,
      kind: "timeout",
      code: "ETIMEOUT",
      delivered: "no",
    });
  });

  test("no record of that type (AAAA for an A-only name): ENODATA, the resolver answered, connection false", async (t) => {
    const err = await rejectionOf(resolver().resolve6("ok.outlast.test"));
    record(t, err);
    assert.equal(field(err, "code"), "ENODATA");
    assert.equal(field(err, "syscall"), "queryAaaa");
    const c = classify(err);
    assert.equal(c.connection, false);
    assert.equal(c.kind, "dns");
    assert.equal(c.code, "ENODATA");
  });

  test("callback API gives the same error: ESERVFAIL through resolver.resolve4(cb)", async (t) => {
    const r = new dns.Resolver({ timeout: 200, tries: 1 });
    r.setServers([responder.server]);
    const err = await new Promise<unknown>((resolve) => r.resolve4("servfail.outlast.test", (e) => resolve(e)));
    record(t, err);
    assert.equal(field(err, "code"), "ESERVFAIL");
    assert.equal(isConnectionError(err), true);
  });

  test("nothing listens on the resolver's port: ECONNREFUSED (queryA), dns, connection true", async (t) => {
    const probe = createSocket("udp4");
    probe.bind(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = new dns.promises.Resolver({ timeout: 500, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    const err = await rejectionOf(r.resolve4("anything.outlast.test"));
    record(t, err);
    assert.equal(field(err, "code"), "ECONNREFUSED");
    assert.equal(field(err, "syscall"), "queryA");
    assert.deepEqual(verdictOf(classify(err)), {
      connection: true,
      kind: "dns",
      code: "ECONNREFUSED",
      delivered: "no",
    });
  });

  test("resolver.cancel(): ECANCELLED, the caller's cancel, connection false", async (t) => {
    const r = new dns.Resolver({ timeout: 5_000, tries: 1 });
    r.setServers([responder.server]);
    const pending = new Promise<unknown>((resolve) => r.resolve4("silent.outlast.test", (e) => resolve(e)));
    r.cancel();
    const err = await pending;
    record(t, err);
    assert.equal(field(err, "code"), "ECANCELLED");
    assert.equal(field(err, "syscall"), "queryA");
    const c = classify(err);
    assert.equal(c.connection, false);
    assert.equal(c.code, "ECANCELLED");
    t.diagnostic(`verdict kind: ${c.kind} (${c.detail})`);
  });
});

describe("real DNS errors (getaddrinfo through dns.lookup)", () => {
  test('dns.lookup("nonexistent.invalid"): ENOTFOUND (getaddrinfo), dns, connection true', async (t) => {
    // .invalid never resolves (RFC 6761). Offline machines answer EAI_AGAIN instead: both are dns.
    const err = await rejectionOf(dns.promises.lookup("nonexistent.invalid"), 15_000, "getaddrinfo");
    record(t, err);
    assert.equal(field(err, "syscall"), "getaddrinfo");
    assert.equal(field(err, "hostname"), "nonexistent.invalid");
    const code = String(field(err, "code"));
    assert.ok(["ENOTFOUND", "EAI_AGAIN"].includes(code), `unexpected ${code}`);
    if (code === "ENOTFOUND") assert.equal(field(err, "errno"), -3008);
    assert.deepEqual(verdictOf(classify(err)), { connection: true, kind: "dns", code, delivered: "no" });
  });
});

/**
 * Real kernel network errors, made inside network namespaces this test creates
 * (no traffic ever leaves them), and classify()'s verdict on each live error
 * object (computed inside the probe process, see test/helpers/netns-probe.ts).
 *
 * Needs root, iproute2, iptables and nftables (CI installs them); elsewhere every
 * test skips and says why. Scenarios run concurrently; each has its own namespaces.
 *
 * Not here: ENETRESET. Linux's TCP never reports it (ICMP errors become ENETUNREACH,
 * EHOSTUNREACH, EHOSTDOWN, ENONET, ECONNREFUSED or EACCES; keepalive and retransmission
 * failures ETIMEDOUT; RST ECONNRESET). It is a macOS/Windows keepalive error, covered
 * by the errno table tests. ENETDOWN likewise does not reach a TCP socket here: a
 * link going down removes its routes, and the connection times out (tested below).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { TestContext } from "node:test";
import { NetnsLab, netnsAvailable } from "../helpers/netns.js";
import type { ProbeConnectOptions, ProbeResult, ProbeScenario, VerdictJson } from "../helpers/netns-probe.js";

const available = netnsAvailable();
if (!available.ok) console.log(`# netns tests skip: ${available.reason}`);

/** Both ends of a veth between a client and a server namespace. */
const CLIENT_V4 = "10.77.0.1";
const SERVER_V4 = "10.77.0.2";
const CLIENT_V6 = "fd77::1";
const SERVER_V6 = "fd77::2";
/** On the veth's subnet, owned by no one: nobody answers ARP for it. */
const NOBODY_V4 = "10.77.0.99";
/** TEST-NET-1 / 2001:db8::/32 documentation addresses: never routed in our namespaces. */
const TEST_NET_V4 = "192.0.2.1";
const TEST_NET_V6 = "2001:db8::1";
const DNS_NAME = "service.outlast-probe.net";
/** How long a probe may take to start and get ready: generous, CI machines can be loaded. */
const READY_TIMEOUT_MS = 30_000;

interface Pair {
  readonly client: string;
  readonly server: string;
  readonly clientIf: string;
  readonly serverIf: string;
}

let lab: NetnsLab | undefined;

function labOrSkip(t: TestContext): NetnsLab | undefined {
  if (!available.ok) {
    t.skip(available.reason);
    return undefined;
  }
  assert.ok(lab, "lab is created in before()");
  return lab;
}

/** A client and a server namespace joined by a veth, 10.77.0.1/24 <-> 10.77.0.2/24 and fd77::1 <-> fd77::2. */
async function pair(l: NetnsLab, label: string): Promise<Pair> {
  const client = await l.namespace(`${label}-c`);
  const server = await l.namespace(`${label}-s`);
  const v = await l.veth(
    { ns: client, addresses: [`${CLIENT_V4}/24`, `${CLIENT_V6}/64`] },
    { ns: server, addresses: [`${SERVER_V4}/24`, `${SERVER_V6}/64`] },
  );
  return { client, server, clientIf: v.a, serverIf: v.b };
}

function connect(options: ProbeConnectOptions, timeoutMs = 10_000): ProbeScenario {
  return { op: "connect", options, timeoutMs };
}

/** Print the captured error (the evidence) and check the raw fields. */
function expectError(
  t: TestContext,
  r: ProbeResult,
  raw: { readonly name?: string; readonly code: string; readonly syscall?: string; readonly errno?: number },
): void {
  t.diagnostic(
    `captured: ${JSON.stringify({ outcome: r.outcome, elapsedMs: r.elapsedMs, note: r.note, error: r.error, verdict: r.verdict, verdictUnavailable: r.verdictUnavailable })}`,
  );
  assert.equal(r.outcome, "error", `expected a ${raw.code} error, got ${JSON.stringify(r)}`);
  assert.ok(r.error);
  assert.equal(r.error.code, raw.code);
  if (raw.name !== undefined) assert.equal(r.error.name, raw.name);
  if (raw.syscall !== undefined) assert.equal(r.error.syscall, raw.syscall);
  if (raw.errno !== undefined) assert.equal(r.error.errno, raw.errno);
}

/** classify()'s verdict on the live error, computed in the probe. */
function expectVerdict(
  r: ProbeResult,
  want: Pick<VerdictJson, "connection" | "kind" | "delivered"> & { readonly code?: string },
): void {
  assert.ok(r.verdict, `no classify() verdict: ${r.verdictUnavailable ?? "?"}`);
  const got = { connection: r.verdict.connection, kind: r.verdict.kind, delivered: r.verdict.delivered };
  assert.deepEqual(
    got,
    { connection: want.connection, kind: want.kind, delivered: want.delivered },
    `verdict ${JSON.stringify(r.verdict)} on ${JSON.stringify(r.error)}`,
  );
  assert.equal(r.verdict.code, want.code ?? r.error?.code);
  assert.equal(
    r.verdict.isConnectionError ?? r.verdict.connection,
    r.verdict.connection,
    "isConnectionError agrees with classify",
  );
  assert.ok(r.verdict.reason.includes(r.verdict.code), `reason names the code: ${r.verdict.reason}`);
}

describe("real network errors in network namespaces", { concurrency: true, timeout: 90_000 }, () => {
  before(() => {
    if (available.ok) lab = new NetnsLab();
  });
  after(async () => {
    await lab?.destroy();
  });

  it("no route: connect to TEST-NET gives ENETUNREACH (IPv4, IPv6, and happy eyeballs' AggregateError)", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const p = await pair(l, "noroute"); // addresses on a veth, but no default route
    l.etcFile(
      p.client,
      "hosts",
      `127.0.0.1 localhost\n${TEST_NET_V4} dual.outlast.test\n${TEST_NET_V6} dual.outlast.test\n`,
    );
    const [v4, v6, both] = await Promise.all([
      l.probe(p.client, connect({ host: TEST_NET_V4, port: 80 })),
      l.probe(p.client, connect({ host: TEST_NET_V6, port: 80 })),
      l.probe(p.client, connect({ host: "dual.outlast.test", port: 80, autoSelectFamily: true })),
    ]);
    for (const r of [v4, v6]) {
      expectError(t, r, { name: "Error", code: "ENETUNREACH", syscall: "connect", errno: -101 });
      expectVerdict(r, { connection: true, kind: "network-unreachable", delivered: "no" });
    }
    expectError(t, both, { name: "AggregateError", code: "ENETUNREACH" });
    assert.equal(both.error?.message, "");
    assert.deepEqual(
      both.error?.errors?.map((e) => [e.code, e.syscall, e.address]),
      [
        ["ENETUNREACH", "connect", TEST_NET_V6],
        ["ENETUNREACH", "connect", TEST_NET_V4],
      ],
    );
    expectVerdict(both, { connection: true, kind: "network-unreachable", delivered: "no" });
  });

  it("host unreachable: no ARP answer, and ICMP host-unreachable, give EHOSTUNREACH", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const p = await pair(l, "hostunr");
    // ARP gives up after mcast_solicit * retrans_time (3 x 1 s by default): make it 2 x 300 ms.
    await l.sysctl(p.client, `net.ipv4.neigh.${p.clientIf}.retrans_time_ms`, 300);
    await l.sysctl(p.client, `net.ipv4.neigh.${p.clientIf}.mcast_solicit`, 2);
    await l.iptables(
      p.server,
      "-A",
      "INPUT",
      "-p",
      "tcp",
      "--dport",
      "81",
      "-j",
      "REJECT",
      "--reject-with",
      "icmp-host-unreachable",
    );
    const [arp, icmp] = await Promise.all([
      l.probe(p.client, connect({ host: NOBODY_V4, port: 80 })),
      l.probe(p.client, connect({ host: SERVER_V4, port: 81 })),
    ]);
    for (const r of [arp, icmp]) {
      expectError(t, r, { name: "Error", code: "EHOSTUNREACH", syscall: "connect", errno: -113 });
      expectVerdict(r, { connection: true, kind: "host-unreachable", delivered: "no" });
    }
  });

  it("other ICMP answers to a SYN: each unreachable code becomes its own errno", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const p = await pair(l, "icmp");
    const cases: {
      readonly port: number;
      readonly rule: readonly string[];
      readonly code: string;
      readonly errno: number;
      readonly kind: string;
    }[] = [
      {
        port: 91,
        rule: ["iptables", "icmp-net-unreachable"],
        code: "ENETUNREACH",
        errno: -101,
        kind: "network-unreachable",
      },
      {
        port: 92,
        rule: ["iptables", "icmp-admin-prohibited"],
        code: "EHOSTUNREACH",
        errno: -113,
        kind: "host-unreachable",
      },
      { port: 93, rule: ["iptables", "icmp-port-unreachable"], code: "ECONNREFUSED", errno: -111, kind: "refused" },
      { port: 94, rule: ["iptables", "tcp-reset"], code: "ECONNREFUSED", errno: -111, kind: "refused" },
      // ICMP codes iptables cannot send: 7 host unknown -> EHOSTDOWN, 8 host isolated -> ENONET.
      { port: 97, rule: ["nft", "7"], code: "EHOSTDOWN", errno: -112, kind: "host-unreachable" },
      { port: 98, rule: ["nft", "8"], code: "ENONET", errno: -64, kind: "network-down" },
    ];
    await l.nft(p.server, "add", "table", "inet", "outlast");
    await l.nft(p.server, "add", "chain", "inet", "outlast", "in", "{ type filter hook input priority 0; }");
    for (const c of cases) {
      const [tool, how] = c.rule;
      if (tool === "iptables") {
        await l.iptables(
          p.server,
          "-A",
          "INPUT",
          "-p",
          "tcp",
          "--dport",
          String(c.port),
          "-j",
          "REJECT",
          "--reject-with",
          String(how),
        );
      } else {
        await l.nft(
          p.server,
          "add",
          "rule",
          "inet",
          "outlast",
          "in",
          "ip",
          "protocol",
          "tcp",
          "tcp",
          "dport",
          String(c.port),
          "reject",
          "with",
          "icmp",
          String(how),
        );
      }
    }
    const results = await Promise.all(cases.map((c) => l.probe(p.client, connect({ host: SERVER_V4, port: c.port }))));
    results.forEach((r, i) => {
      const c = cases[i];
      assert.ok(c);
      expectError(t, r, { name: "Error", code: c.code, syscall: "connect", errno: c.errno });
      expectVerdict(r, { connection: true, kind: c.kind, delivered: "no" });
    });
  });

  it("ICMPv6 administratively prohibited gives EACCES from connect: a firewall on the path, a connection error", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const p = await pair(l, "icmp6");
    await l.ip6tables(
      p.server,
      "-A",
      "INPUT",
      "-p",
      "tcp",
      "--dport",
      "85",
      "-j",
      "REJECT",
      "--reject-with",
      "icmp6-adm-prohibited",
    );
    const r = await l.probe(p.client, connect({ host: SERVER_V6, port: 85 }));
    expectError(t, r, { name: "Error", code: "EACCES", syscall: "connect", errno: -13 });
    assert.ok(r.verdict, `no classify() verdict: ${r.verdictUnavailable ?? "?"}`);
    assert.equal(r.verdict.delivered, "no");
    assert.equal(r.verdict.connection, true);
    assert.equal(r.verdict.kind, "host-unreachable");
    assert.equal(r.verdict.code, "EACCES");
  });

  it("SYNs dropped: the kernel's own ETIMEDOUT (tcp_syn_retries=1), with and without happy eyeballs", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const p = await pair(l, "syndrop");
    // SYN at 0 s, one retry at 1 s, give up at 3 s (the default, 6 retries, takes ~127 s).
    await l.sysctl(p.client, "net.ipv4.tcp_syn_retries", 1);
    await l.iptables(p.server, "-A", "INPUT", "-p", "tcp", "--dport", "82", "-j", "DROP");
    await l.ip6tables(p.server, "-A", "INPUT", "-p", "tcp", "--dport", "82", "-j", "DROP");
    l.etcFile(
      p.client,
      "hosts",
      `127.0.0.1 localhost\n${SERVER_V4} drop.outlast.test\n${SERVER_V6} drop.outlast.test\n`,
    );
    const [literal, eyeballs, single] = await Promise.all([
      l.probe(p.client, connect({ host: SERVER_V4, port: 82 })),
      l.probe(
        p.client,
        connect({ host: "drop.outlast.test", port: 82, autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 250 }),
      ),
      l.probe(p.client, connect({ host: "drop.outlast.test", port: 82, autoSelectFamily: false })),
    ]);
    expectError(t, literal, { name: "Error", code: "ETIMEDOUT", syscall: "connect", errno: -110 });
    expectVerdict(literal, { connection: true, kind: "timeout", delivered: "no" });
    // Happy eyeballs: every attempt timed out (the ones cut short by the 250 ms attempt timeout too).
    expectError(t, eyeballs, { name: "AggregateError", code: "ETIMEDOUT" });
    assert.ok((eyeballs.error?.errors?.length ?? 0) >= 2, "one error per address tried");
    for (const e of eyeballs.error?.errors ?? []) assert.equal(e.code, "ETIMEDOUT");
    expectVerdict(eyeballs, { connection: true, kind: "timeout", delivered: "no" });
    expectError(t, single, { name: "Error", code: "ETIMEDOUT", syscall: "connect" });
    expectVerdict(single, { connection: true, kind: "timeout", delivered: "no" });
  });

  it("unreachable resolver: getaddrinfo EAI_AGAIN; c-ares ECONNREFUSED and ETIMEOUT", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const noRoute = await pair(l, "dns-noroute");
    const dropped = await pair(l, "dns-drop");
    l.etcFile(noRoute.client, "resolv.conf", "nameserver 192.0.2.53\noptions timeout:1 attempts:1\n");
    l.etcFile(dropped.client, "resolv.conf", `nameserver ${SERVER_V4}\noptions timeout:1 attempts:1\n`);
    await l.iptables(dropped.server, "-A", "INPUT", "-p", "udp", "--dport", "53", "-j", "DROP");
    const resolve = (servers: string[]): ProbeScenario => ({
      op: "resolve",
      hostname: DNS_NAME,
      servers,
      resolverTimeoutMs: 300,
      tries: 1,
      timeoutMs: 10_000,
    });
    const lookup: ProbeScenario = { op: "lookup", hostname: DNS_NAME, timeoutMs: 10_000 };
    const [lookupNoRoute, lookupDropped, caresNoRoute, caresPortClosed, caresDropped] = await Promise.all([
      l.probe(noRoute.client, lookup),
      l.probe(dropped.client, lookup),
      l.probe(noRoute.client, resolve(["192.0.2.53"])),
      l.probe(noRoute.client, resolve([SERVER_V4])), // nothing listens on udp/53: ICMP port unreachable
      l.probe(dropped.client, resolve([SERVER_V4])),
    ]);
    for (const r of [lookupNoRoute, lookupDropped]) {
      expectError(t, r, { name: "Error", code: "EAI_AGAIN", syscall: "getaddrinfo", errno: -3001 });
      expectVerdict(r, { connection: true, kind: "dns", delivered: "no" });
    }
    for (const r of [caresNoRoute, caresPortClosed]) {
      expectError(t, r, { name: "Error", code: "ECONNREFUSED", syscall: "queryA" });
      expectVerdict(r, { connection: true, kind: "dns", delivered: "no" });
    }
    expectError(t, caresDropped, { name: "Error", code: "ETIMEOUT", syscall: "queryA" });
    expectVerdict(caresDropped, { connection: true, kind: "timeout", delivered: "no" });
  });

  it("address not available: localAddress not assigned (bind) and ephemeral ports exhausted (connect)", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const p = await pair(l, "addr");
    await l.sysctl(p.client, "net.ipv4.ip_local_port_range", "40000 40001"); // two ephemeral ports
    const [bind, exhausted] = await Promise.all([
      l.probe(p.client, connect({ host: SERVER_V4, port: 83, localAddress: "10.77.0.250" })),
      l.probe(p.client, { op: "exhaust-ports", port: 5000, maxConnections: 100, timeoutMs: 10_000 }),
    ]);
    expectError(t, bind, { name: "Error", code: "EADDRNOTAVAIL", syscall: "bind", errno: -99 });
    expectVerdict(bind, { connection: true, kind: "address-unavailable", delivered: "no" });
    expectError(t, exhausted, { name: "Error", code: "EADDRNOTAVAIL", syscall: "connect", errno: -99 });
    assert.equal(exhausted.note, "2 connections held");
    expectVerdict(exhausted, { connection: true, kind: "address-unavailable", delivered: "no" });
  });

  /**
   * An established connection, then `action`, then writes until the socket fails.
   * tcp_retries2=3 makes the kernel give up after ~3 s instead of ~15 min.
   */
  async function midConnection(
    l: NetnsLab,
    label: string,
    action: (p: Pair) => Promise<unknown>,
  ): Promise<ProbeResult> {
    const p = await pair(l, label);
    await l.sysctl(p.client, "net.ipv4.tcp_retries2", 3);
    const server = l.spawnProbe(p.server, { op: "serve", host: SERVER_V4, port: 84 });
    try {
      assert.equal((await server.next(READY_TIMEOUT_MS))["event"], "listening");
      const client = l.spawnProbe(p.client, {
        op: "connect-then-write",
        options: { host: SERVER_V4, port: 84 },
        chunkBytes: 1_000,
        intervalMs: 50,
        timeoutMs: 30_000,
      });
      try {
        assert.equal((await client.next(READY_TIMEOUT_MS))["event"], "connected");
        await action(p);
        client.send("go");
        return (await client.next(READY_TIMEOUT_MS)) as unknown as ProbeResult;
      } finally {
        await client.stop();
      }
    } finally {
      await server.stop();
    }
  }

  it("mid-connection: link down, address deleted, ICMP unreachable, RST, socket killed", async (t) => {
    const l = labOrSkip(t);
    if (!l) return;
    const reject = (how: string) => (p: Pair) =>
      l.iptables(p.server, "-I", "INPUT", "-p", "tcp", "--dport", "84", "-j", "REJECT", "--reject-with", how);
    const [down, deleted, hostUnreach, netUnreach, reset, killed] = await Promise.all([
      midConnection(l, "mid-down", (p) => l.ip(p.client, "link", "set", p.clientIf, "down")),
      midConnection(l, "mid-deladdr", (p) => l.ip(p.client, "addr", "del", `${CLIENT_V4}/24`, "dev", p.clientIf)),
      midConnection(l, "mid-icmphost", reject("icmp-host-unreachable")),
      midConnection(l, "mid-icmpnet", reject("icmp-net-unreachable")),
      midConnection(l, "mid-rst", reject("tcp-reset")),
      // `ss -K` destroys the socket in the kernel (SOCK_DESTROY), as an admin or a VPN client does.
      midConnection(l, "mid-kill", (p) => l.exec(p.client, "ss", "-K", "dst", SERVER_V4)),
    ]);
    // Link down / address gone: the route disappears, retransmissions go nowhere, the kernel gives up.
    for (const r of [down, deleted]) {
      expectError(t, r, { name: "Error", code: "ETIMEDOUT", syscall: "read", errno: -110 });
      expectVerdict(r, { connection: true, kind: "timeout", delivered: "maybe" });
    }
    // An ICMP error on an established connection is a soft error, reported when the kernel gives up.
    expectError(t, hostUnreach, { name: "Error", code: "EHOSTUNREACH", syscall: "read", errno: -113 });
    expectVerdict(hostUnreach, { connection: true, kind: "host-unreachable", delivered: "maybe" });
    expectError(t, netUnreach, { name: "Error", code: "ENETUNREACH", syscall: "read", errno: -101 });
    expectVerdict(netUnreach, { connection: true, kind: "network-unreachable", delivered: "maybe" });
    expectError(t, reset, { name: "Error", code: "ECONNRESET", syscall: "read", errno: -104 });
    expectVerdict(reset, { connection: true, kind: "reset", delivered: "maybe" });
    if (killed.outcome !== "error") {
      t.diagnostic(
        `ss -K did not destroy the socket (kernel without CONFIG_INET_DIAG_DESTROY?): ${JSON.stringify(killed)}`,
      );
    } else {
      expectError(t, killed, { name: "Error", code: "ECONNABORTED", syscall: "read", errno: -103 });
      expectVerdict(killed, { connection: true, kind: "aborted", delivered: "maybe" });
    }
  });
});

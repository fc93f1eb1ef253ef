/**
 * A tiny UDP DNS server on 127.0.0.1 (port 0) for tests: each name gets a fixed
 * behaviour (NXDOMAIN, SERVFAIL, REFUSED, A records, or silence), so a
 * `dns.Resolver` pointed at it fails for real reasons.
 */
import { createSocket } from "node:dgram";
import type { RemoteInfo } from "node:dgram";
import { once } from "node:events";

export type DnsBehaviour =
  | { readonly rcode: "NXDOMAIN" | "SERVFAIL" | "REFUSED" }
  /** Answers A queries with these IPv4 addresses; other types get an empty NOERROR. */
  | { readonly a: readonly string[] }
  /** Never answers. */
  | "silence";

export interface DnsQuery {
  readonly name: string;
  readonly type: number;
}

export interface DnsResponder {
  readonly port: number;
  /** "127.0.0.1:<port>", for `resolver.setServers([...])`. */
  readonly server: string;
  /** Every query received, in order. */
  readonly queries: readonly DnsQuery[];
  close(): Promise<void>;
}

const RCODES = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const TYPE_A = 1;

/**
 * Starts a responder. `zones` maps a lower-case name (no trailing dot) to its
 * behaviour; names not listed get `fallback` (NXDOMAIN unless given).
 */
export async function startDnsResponder(
  zones: Readonly<Record<string, DnsBehaviour>>,
  fallback: DnsBehaviour = { rcode: "NXDOMAIN" },
): Promise<DnsResponder> {
  const socket = createSocket("udp4");
  const queries: DnsQuery[] = [];
  socket.on("message", (msg: Buffer, rinfo: RemoteInfo) => {
    const q = parseQuery(msg);
    if (q === undefined) return; // not a query we understand: ignore it
    queries.push({ name: q.name, type: q.type });
    const behaviour = zones[q.name.toLowerCase()] ?? fallback;
    if (behaviour === "silence") return;
    const reply = buildReply(msg, q, behaviour);
    socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  const { port } = socket.address();
  let closed: Promise<void> | undefined;
  return {
    port,
    server: `127.0.0.1:${port}`,
    queries,
    close: () => {
      closed ??= new Promise<void>((resolve) => socket.close(() => resolve()));
      return closed;
    },
  };
}

interface ParsedQuery {
  readonly id: number;
  readonly flags: number;
  readonly name: string;
  readonly type: number;
  /** Offset just past the question (name, type, class). */
  readonly questionEnd: number;
}

function parseQuery(msg: Buffer): ParsedQuery | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) !== 0) return undefined; // a response, not a query
  if (msg.readUInt16BE(4) < 1) return undefined; // no question
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    const len = msg[off];
    if (len === undefined || len > 63) return undefined; // compression is not used in queries
    off += 1;
    if (len === 0) break;
    if (off + len > msg.length) return undefined;
    labels.push(msg.toString("latin1", off, off + len));
    off += len;
  }
  if (off + 4 > msg.length) return undefined;
  return {
    id: msg.readUInt16BE(0),
    flags,
    name: labels.join("."),
    type: msg.readUInt16BE(off),
    questionEnd: off + 4,
  };
}

function buildReply(query: Buffer, q: ParsedQuery, behaviour: Exclude<DnsBehaviour, "silence">): Buffer {
  const addresses = "a" in behaviour && q.type === TYPE_A ? behaviour.a : [];
  const rcode = "rcode" in behaviour ? RCODES[behaviour.rcode] : RCODES.NOERROR;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR=1, opcode copied, AA=1, RD copied, RA=1, rcode.
  const flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | rcode;
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(addresses.length, 6); // ANCOUNT
  const question = query.subarray(12, q.questionEnd);
  const answers = addresses.map((address) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the name in the question
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(60, 6); // TTL
    rr.writeUInt16BE(4, 10);
    const octets = address.split(".").map(Number);
    for (let i = 0; i < 4; i++) rr[12 + i] = octets[i] ?? 0;
    return rr;
  });
  return Buffer.concat([header, question, ...answers]);
}

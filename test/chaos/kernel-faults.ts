/**
 * Real kernel network faults on the veth between a client and a server
 * namespace: random loss, duplication, corruption, delay, bandwidth, iptables
 * DROP and REJECT, the link set down and up. `tc netem` where the kernel has
 * sch_netem; otherwise the fallbacks that work without it:
 *   loss        iptables -m statistic --mode random --probability P -j DROP
 *   duplication nft `dup to <addr> device <dev>` on a random share of packets
 *   corruption  nft payload mangling at the receiver's ingress hook, with the
 *               sender's tx checksum offload off (SIOCETHTOOL via python3), so the
 *               corrupted segment fails the TCP checksum like a corrupted frame on
 *               a wire; with offload on, veth never checks checksums and the
 *               corrupted bytes would reach the application
 *   delay       the fault proxy (latency with jitter) in front of the client
 *   bandwidth   tc tbf (always: it is not netem)
 */

import { execFileSync } from "node:child_process";
import type { NetnsLab } from "../helpers/netns.js";
import { createRandom, type Random } from "../../src/proxy/random.js";

export type KernelFaultKind =
  "loss" | "duplicate" | "corrupt" | "delay" | "drop" | "reject" | "link-down" | "bandwidth";
export const KERNEL_FAULT_KINDS: readonly KernelFaultKind[] = [
  "loss",
  "duplicate",
  "corrupt",
  "delay",
  "drop",
  "reject",
  "link-down",
  "bandwidth",
];

export interface KernelFault {
  readonly kind: KernelFaultKind;
  readonly durationMs: number;
  /** Gap after this fault ends, before the next one starts. */
  readonly gapMs: number;
  /** Packet share in percent (loss, duplicate, corrupt), kbit/s (bandwidth), ms (delay). */
  readonly amount: number;
  /** reject: which answer. */
  readonly rejectWith?: "tcp-reset" | "icmp-port-unreachable" | "icmp-host-unreachable";
  /** drop: both ways (default), or only what the client sends (its data and its TCP ACKs). */
  readonly direction?: "both" | "to-server";
}

/** Both ends of the veth: the client side (ns a) and the server side (ns b). */
export interface Link {
  readonly clientNs: string;
  readonly serverNs: string;
  readonly clientIf: string;
  readonly serverIf: string;
  readonly clientAddr: string;
  readonly serverAddr: string;
}

/** A client namespace and a server namespace made for this link, joined by a veth (/24 addresses). */
export async function createLink(
  lab: NetnsLab,
  label: string,
  addresses: { readonly client: string; readonly server: string },
): Promise<Link> {
  const clientNs = await lab.namespace(`${label}-c`);
  const serverNs = await lab.namespace(`${label}-s`);
  const v = await lab.veth(
    { ns: clientNs, addresses: [`${addresses.client}/24`] },
    { ns: serverNs, addresses: [`${addresses.server}/24`] },
  );
  return {
    clientNs,
    serverNs,
    clientIf: v.a,
    serverIf: v.b,
    clientAddr: addresses.client,
    serverAddr: addresses.server,
  };
}

/** How each kind is made here, or why it cannot be. */
export type Mechanisms = Readonly<Record<KernelFaultKind, { readonly how: string; readonly available: boolean }>>;

/** A seeded sequence of kernel faults, one at a time: every kind first (shuffled), then random kinds. */
export function createKernelPlan(seed: number, count: number, kinds: readonly KernelFaultKind[]): KernelFault[] {
  const random = createRandom(seed ^ 0x6b65726e);
  const between = (min: number, max: number): number => Math.round(min + random() * (max - min));
  const order = [...kinds];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as KernelFaultKind, order[i] as KernelFaultKind];
  }
  const plan: KernelFault[] = [];
  for (let i = 0; i < count; i++) {
    const kind = order[i] ?? kinds[Math.floor(random() * kinds.length)] ?? "loss";
    plan.push(plannedKernelFault(random, kind, between));
  }
  return plan;
}

function plannedKernelFault(
  random: Random,
  kind: KernelFaultKind,
  between: (min: number, max: number) => number,
): KernelFault {
  const timing = { durationMs: between(500, 2500), gapMs: between(100, 700) };
  switch (kind) {
    case "loss":
      return { kind, ...timing, amount: between(2, 30) };
    case "duplicate":
      return { kind, ...timing, amount: between(5, 40) };
    case "corrupt":
      return { kind, ...timing, amount: between(2, 20) };
    case "delay":
      return { kind, ...timing, amount: between(10, 150) };
    case "bandwidth":
      return { kind, ...timing, amount: between(64, 2048) };
    case "reject": {
      const r = random();
      return {
        kind,
        ...timing,
        amount: 0,
        rejectWith: r < 0.5 ? "tcp-reset" : r < 0.75 ? "icmp-port-unreachable" : "icmp-host-unreachable",
      };
    }
    case "drop":
    case "link-down":
      return { kind, ...timing, amount: 0 };
    default: {
      const never: never = kind;
      throw new Error(`unknown kernel fault ${String(never)}`);
    }
  }
}

/** Turns off tx checksum offload on a veth end (ETHTOOL_STXCSUM through SIOCETHTOOL); false when python3 is missing. */
function txChecksumOff(ns: string, ifname: string): string | undefined {
  const script = [
    "import ctypes, fcntl, socket, struct, sys",
    "value = ctypes.create_string_buffer(struct.pack('II', 0x17, 0))",
    "ifr = struct.pack('16sQ', sys.argv[1].encode(), ctypes.addressof(value))",
    "fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946, ifr)",
  ].join("\n");
  try {
    execFileSync("ip", ["netns", "exec", ns, "python3", "-c", script, ifname], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 10_000,
    });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return (e.stderr?.toString().trim() ?? "") || e.message;
  }
}

export class KernelFaults {
  readonly #lab: NetnsLab;
  readonly #link: Link;
  #netem = false;
  #corruptReason: string | undefined;

  constructor(lab: NetnsLab, link: Link) {
    this.#lab = lab;
    this.#link = link;
  }

  /** Detects netem, prepares the iptables chains and checksum offload. */
  async prepare(): Promise<Mechanisms> {
    const { clientNs, serverNs, clientIf, serverIf } = this.#link;
    try {
      await this.#lab.tc(clientNs, "qdisc", "add", "dev", clientIf, "root", "netem", "delay", "1ms");
      await this.#lab.tc(clientNs, "qdisc", "del", "dev", clientIf, "root");
      this.#netem = true;
    } catch {
      this.#netem = false; // "Error: Specified qdisc kind is unknown." without sch_netem
    }
    for (const ns of [clientNs, serverNs]) {
      await this.#lab.iptables(ns, "-N", "CHAOS_OUT");
      await this.#lab.iptables(ns, "-N", "CHAOS_IN");
      await this.#lab.iptables(ns, "-A", "OUTPUT", "-j", "CHAOS_OUT");
      await this.#lab.iptables(ns, "-A", "INPUT", "-j", "CHAOS_IN");
    }
    if (!this.#netem) {
      const a = txChecksumOff(clientNs, clientIf);
      const b = a === undefined ? txChecksumOff(serverNs, serverIf) : a;
      if (b !== undefined)
        this.#corruptReason = `cannot turn off veth tx checksum offload (needs python3 for the SIOCETHTOOL ioctl): ${b}`;
    }
    const netem = "tc qdisc netem";
    const why = "sch_netem missing";
    return {
      loss: {
        how: this.#netem ? `${netem} loss` : `iptables -m statistic --mode random -j DROP (${why})`,
        available: true,
      },
      duplicate: {
        how: this.#netem ? `${netem} duplicate` : `nft dup to <addr> device <dev> (${why})`,
        available: true,
      },
      corrupt: this.#netem
        ? { how: `${netem} corrupt`, available: true }
        : this.#corruptReason === undefined
          ? {
              how: `nft payload mangling at ingress, tx checksum offload off: TCP drops the bad segment (${why})`,
              available: true,
            }
          : { how: this.#corruptReason, available: false },
      delay: {
        how: this.#netem ? `${netem} delay` : `fault proxy latency in front of the client (${why})`,
        available: true,
      },
      drop: { how: "iptables -j DROP both ways (half-open link)", available: true },
      reject: {
        how: "iptables -j REJECT (tcp-reset / icmp-port-unreachable / icmp-host-unreachable)",
        available: true,
      },
      "link-down": { how: "ip link set down, then up", available: true },
      bandwidth: { how: "tc qdisc tbf", available: true },
    };
  }

  get netem(): boolean {
    return this.#netem;
  }

  /** Starts a fault; the returned function ends it. `delay` without netem is the caller's (the proxy). */
  async apply(f: KernelFault): Promise<() => Promise<void>> {
    const { clientNs, serverNs, clientIf, serverIf, clientAddr, serverAddr } = this.#link;
    const lab = this.#lab;
    const sides = [
      { ns: clientNs, dev: clientIf, peer: serverAddr, self: clientAddr },
      { ns: serverNs, dev: serverIf, peer: clientAddr, self: serverAddr },
    ];
    const flushChains = async (): Promise<void> => {
      for (const s of sides) {
        await lab.iptables(s.ns, "-F", "CHAOS_OUT");
        await lab.iptables(s.ns, "-F", "CHAOS_IN");
      }
    };
    const netem = async (...args: string[]): Promise<() => Promise<void>> => {
      for (const s of sides) await lab.tc(s.ns, "qdisc", "add", "dev", s.dev, "root", "netem", ...args);
      return async () => {
        for (const s of sides) await lab.tc(s.ns, "qdisc", "del", "dev", s.dev, "root");
      };
    };
    switch (f.kind) {
      case "loss":
        if (this.#netem) return netem("loss", `${f.amount}%`);
        for (const s of sides) {
          await lab.iptables(
            s.ns,
            "-A",
            "CHAOS_OUT",
            "-o",
            s.dev,
            "-p",
            "tcp",
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            String(f.amount / 100),
            "-j",
            "DROP",
          );
        }
        return flushChains;
      case "duplicate":
        if (this.#netem) return netem("duplicate", `${f.amount}%`);
        for (const s of sides) {
          await lab.nft(
            s.ns,
            `add table ip chaos_dup; add chain ip chaos_dup out { type filter hook output priority 0; }; ` +
              `add rule ip chaos_dup out oifname "${s.dev}" ip daddr ${s.peer} meta l4proto tcp numgen random mod 100 < ${f.amount} dup to ${s.peer} device "${s.dev}"`,
          );
        }
        return async () => {
          for (const s of sides) await lab.nft(s.ns, "delete table ip chaos_dup");
        };
      case "corrupt":
        if (this.#netem) return netem("corrupt", `${f.amount}%`);
        if (this.#corruptReason !== undefined) throw new Error(this.#corruptReason);
        // Byte 50 of the TCP header + payload: past the header and its options, inside the data.
        for (const s of sides) {
          await lab.nft(
            s.ns,
            `add table netdev chaos_corrupt; add chain netdev chaos_corrupt in { type filter hook ingress device "${s.dev}" priority 0; }; ` +
              `add rule netdev chaos_corrupt in ip saddr ${s.peer} ip protocol tcp ip length > 120 numgen random mod 100 < ${f.amount} @th,400,8 set 0x41`,
          );
        }
        return async () => {
          for (const s of sides) await lab.nft(s.ns, "delete table netdev chaos_corrupt");
        };
      case "delay":
        if (this.#netem) return netem("delay", `${f.amount}ms`, `${Math.round(f.amount / 2)}ms`);
        throw new Error("delay needs netem here; the proxy makes it");
      case "bandwidth":
        for (const s of sides)
          await lab.tc(
            s.ns,
            "qdisc",
            "add",
            "dev",
            s.dev,
            "root",
            "tbf",
            "rate",
            `${f.amount}kbit`,
            "burst",
            "16kb",
            "latency",
            "200ms",
          );
        return async () => {
          for (const s of sides) await lab.tc(s.ns, "qdisc", "del", "dev", s.dev, "root");
        };
      case "drop":
        await lab.iptables(clientNs, "-A", "CHAOS_OUT", "-o", clientIf, "-j", "DROP");
        if (f.direction !== "to-server") await lab.iptables(clientNs, "-A", "CHAOS_IN", "-i", clientIf, "-j", "DROP");
        return flushChains;
      case "reject":
        if (f.rejectWith === "tcp-reset") {
          // The server side answers every segment from the client with RST.
          await lab.iptables(
            serverNs,
            "-A",
            "CHAOS_IN",
            "-i",
            serverIf,
            "-p",
            "tcp",
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
          );
        } else {
          await lab.iptables(
            clientNs,
            "-A",
            "CHAOS_OUT",
            "-o",
            clientIf,
            "-p",
            "tcp",
            "-j",
            "REJECT",
            "--reject-with",
            f.rejectWith ?? "icmp-port-unreachable",
          );
        }
        return flushChains;
      case "link-down":
        await lab.ip(clientNs, "link", "set", clientIf, "down");
        return async () => {
          await lab.ip(clientNs, "link", "set", clientIf, "up");
        };
      default: {
        const never: never = f.kind;
        throw new Error(`unknown kernel fault ${String(never)}`);
      }
    }
  }
}

/**
 * A loopback port that was free a moment ago, for a server that is started (and
 * maybe restarted on the same port) by another process: nats-server nodes, Mosquitto,
 * `outlast serve` in tests.
 *
 * Picked below the kernel's ephemeral range (net.ipv4.ip_local_port_range), not by
 * binding port 0: port 0 hands out an ephemeral port, the very range the kernel also
 * gives every outgoing connection, so on a busy machine (thousands of client sockets)
 * one of them could take the port before its server binds it, or while a killed node
 * is down before its restart. Falls back to port 0 when the range leaves no room.
 */

import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The lowest port we pick (below: well-known and registered services). */
const LOWEST = 10_000;
const ATTEMPTS = 50;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768; // Linux's default; other systems: port 0 is the fallback below
  }
}

function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  if (high - LOWEST >= 1_000) {
    for (let i = 0; i < ATTEMPTS; i++) {
      const port = await tryBind(LOWEST + Math.floor(Math.random() * (high - LOWEST + 1)));
      if (port !== undefined) return port;
    }
  }
  const port = await tryBind(0);
  if (port === undefined) throw new Error("no free loopback port");
  return port;
}

/**
 * The parent's side of defaults-endpoint.ts: one endpoint process in a network namespace, every
 * event it printed kept in order, and waits for an event printed already or still to come.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { spawnLineChild, type LineChild } from "./child-process.js";
import type { EndpointConfig } from "./defaults-endpoint.js";

const SCRIPT = fileURLToPath(new URL("./defaults-endpoint.js", import.meta.url));

/** The clock every process of the test shares (as defaults-endpoint.ts stamps its events). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface EndpointEvent {
  readonly event: string;
  /** ms on the clock every process of the test shares (performance.timeOrigin + performance.now()). */
  readonly at: number;
  readonly [field: string]: unknown;
}

export interface Found {
  readonly e: EndpointEvent;
  readonly index: number;
}

/** One defaults-endpoint.js process in a namespace, and every event it printed. */
export class Endpoint {
  readonly events: EndpointEvent[] = [];
  readonly #child: LineChild;
  readonly #watchers = new Set<() => void>();

  constructor(ns: string, config: EndpointConfig) {
    this.#child = spawnLineChild(
      SCRIPT,
      config,
      (line) => {
        this.events.push(JSON.parse(line) as EndpointEvent);
        for (const w of [...this.#watchers]) w();
      },
      ["ip", "netns", "exec", ns],
    );
  }

  /** The first event at `from` or later that `match` accepts, printed already or still to come. */
  next(match: (e: EndpointEvent) => boolean, what: string, from: number, timeoutMs: number): Promise<Found> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const index = this.events.findIndex((e, i) => i >= from && match(e));
        const e = this.events[index];
        if (e === undefined) return false;
        done();
        resolve({ e, index });
        return true;
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#watchers.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not within ${timeoutMs} ms; events: ${this.#tail()}`));
      }, timeoutMs);
      if (check()) return;
      this.#watchers.add(check);
      void this.#child.exited.then(({ code, signal }) => {
        if (!this.#watchers.has(check)) return;
        done();
        reject(new Error(`${what}: the process exited (${code ?? signal}) first: ${this.#child.stderr().trim()}`));
      });
    });
  }

  /** Asks the client to send `text`; the index of its "sending" event. */
  async send(text: string, timeoutMs = 20_000): Promise<Found> {
    const from = this.events.length;
    this.#child.writeLine(`send ${text}`);
    return this.next((e) => e.event === "sending" && e.text === text, `sending "${text}"`, from, timeoutMs);
  }

  /** Resolves once the send of `text` was acknowledged (fails on a send error). */
  async sent(text: string, timeoutMs: number): Promise<Found> {
    const found = await this.next(
      (e) => e.text === text && (e.event === "sent" || e.event === "sendError"),
      `"${text}" acknowledged`,
      0,
      timeoutMs,
    );
    assert.equal(found.e.event, "sent", `send of "${text}" failed: ${JSON.stringify(found.e)}`);
    return found;
  }

  kill(): Promise<void> {
    return this.#child.kill();
  }

  #tail(): string {
    return this.events
      .slice(-12)
      .map((e) => JSON.stringify(e))
      .join("\n");
  }
}

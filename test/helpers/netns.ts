/**
 * A small lab of Linux network namespaces for tests that need REAL kernel network
 * errors: namespaces, veth pairs, addresses, routes, sysctls, iptables/nft rules and
 * per-namespace /etc files (`ip netns exec` bind-mounts /etc/netns/<NS>/<file>).
 *
 * Every name is unique per run (pid + counter). `destroy()` removes everything the
 * lab made (deleting a namespace takes its veths, routes and firewall rules with it);
 * a process "exit" hook does the same synchronously if a test forgets or crashes, and
 * `netnsAvailable()` sweeps namespaces left behind by earlier runs whose pid is gone.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ProbeResult, ProbeScenario } from "./netns-probe.js";

export type NetnsAvailability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const PREFIX = "outlast-";
const PROBE = fileURLToPath(new URL("./netns-probe.js", import.meta.url));
const COMMAND_TIMEOUT_MS = 10_000;

function run(file: string, args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

function runSync(file: string, args: readonly string[]): { ok: boolean; out: string } {
  try {
    const out = execFileSync(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: COMMAND_TIMEOUT_MS,
      encoding: "utf8",
    });
    return { ok: true, out };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { ok: false, out: (err.stderr ?? "").trim() || err.message };
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Delete namespaces named outlast-<pid>-* whose process is gone (a run that was SIGKILLed). */
function sweepStale(): void {
  const list = runSync("ip", ["netns", "list"]);
  if (!list.ok) return;
  for (const line of list.out.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = /^outlast-(\d+)-\d+-/.exec(name);
    if (m?.[1] === undefined || pidAlive(Number(m[1]))) continue;
    runSync("ip", ["netns", "del", name]);
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
}

let availability: NetnsAvailability | undefined;

/** Can this process create namespaces and run the tools the netns tests need? Cached. */
export function netnsAvailable(): NetnsAvailability {
  availability ??= check();
  return availability;
}

function check(): NetnsAvailability {
  if (process.platform !== "linux")
    return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "network namespaces need root (run as root, as CI does)" };
  for (const [tool, args] of [
    ["ip", ["-V"]],
    ["iptables", ["--version"]],
    ["nft", ["--version"]],
    ["sysctl", ["--version"]],
  ] as const) {
    const r = runSync(tool, args);
    if (!r.ok)
      return {
        ok: false,
        reason: `${tool} is missing or broken (apt-get install iproute2 iptables nftables procps): ${r.out}`,
      };
  }
  sweepStale();
  // Prove the kernel lets us: create, use and delete one namespace with a veth in it.
  const name = `${PREFIX}${process.pid}-0-check`;
  const steps: (readonly string[])[] = [
    ["netns", "add", name],
    ["-n", name, "link", "add", "c0", "type", "veth", "peer", "name", "c1"],
    ["-n", name, "link", "set", "c0", "up"],
  ];
  try {
    for (const step of steps) {
      const r = runSync("ip", step);
      if (!r.ok) return { ok: false, reason: `ip ${step.join(" ")} failed: ${r.out}` };
    }
    const ipt = runSync("ip", ["netns", "exec", name, "iptables", "-L", "-n"]);
    if (!ipt.ok) return { ok: false, reason: `iptables does not work inside a namespace: ${ipt.out}` };
  } finally {
    runSync("ip", ["netns", "del", name]);
  }
  return { ok: true };
}

/** A long-running probe (serve, connect-then-write): its JSON lines, in order. */
export interface ProbeProcess {
  /** The next JSON line the probe prints (rejects after timeoutMs or if the probe exits first). */
  next(timeoutMs: number): Promise<Record<string, unknown>>;
  /** Send one line to the probe's stdin. */
  send(line: string): void;
  /** Close stdin and wait for exit; kills it if it does not exit within 2 s. */
  stop(): Promise<void>;
}

export class NetnsLab {
  readonly #namespaces: string[] = [];
  readonly #children = new Set<ChildProcessWithoutNullStreams>();
  #counter = 0;
  #destroyed = false;
  readonly #onExit = (): void => this.#destroySync();

  constructor() {
    process.once("exit", this.#onExit);
  }

  #unique(label: string): string {
    this.#counter += 1;
    return `${PREFIX}${process.pid}-${this.#counter}-${label}`;
  }

  /** A new namespace with lo up. */
  async namespace(label: string): Promise<string> {
    if (this.#destroyed) throw new Error("NetnsLab already destroyed");
    const name = this.#unique(label);
    await run("ip", ["netns", "add", name]);
    this.#namespaces.push(name);
    await this.ip(name, "link", "set", "lo", "up");
    return name;
  }

  /** `ip -n NS ...` */
  ip(ns: string, ...args: string[]): Promise<string> {
    return run("ip", ["-n", ns, ...args]);
  }

  /** Any command inside the namespace. */
  exec(ns: string, file: string, ...args: string[]): Promise<string> {
    return run("ip", ["netns", "exec", ns, file, ...args]);
  }

  sysctl(ns: string, key: string, value: string | number): Promise<string> {
    return this.exec(ns, "sysctl", "-q", "-w", `${key}=${value}`);
  }

  iptables(ns: string, ...args: string[]): Promise<string> {
    return this.exec(ns, "iptables", ...args);
  }

  ip6tables(ns: string, ...args: string[]): Promise<string> {
    return this.exec(ns, "ip6tables", ...args);
  }

  /** `tc ARGS...` inside the namespace (qdiscs: tbf, netem where the kernel has sch_netem). */
  tc(ns: string, ...args: string[]): Promise<string> {
    return this.exec(ns, "tc", ...args);
  }

  /** `nft ARGS...` inside the namespace (one command, e.g. "add", "rule", "inet", "t", "c", ...). */
  nft(ns: string, ...args: string[]): Promise<string> {
    return this.exec(ns, "nft", ...args);
  }

  /**
   * A veth pair with one end in each namespace, both up, with the given
   * addresses (CIDR, e.g. "10.77.0.1/24"; IPv6 ones get `nodad` so they are usable at once).
   */
  async veth(
    a: { readonly ns: string; readonly addresses: readonly string[] },
    b: { readonly ns: string; readonly addresses: readonly string[] },
  ): Promise<{ readonly a: string; readonly b: string }> {
    this.#counter += 1;
    const ifA = `va${this.#counter}`;
    const ifB = `vb${this.#counter}`;
    await run("ip", ["link", "add", ifA, "netns", a.ns, "type", "veth", "peer", "name", ifB, "netns", b.ns]);
    for (const [ns, ifname, addresses] of [
      [a.ns, ifA, a.addresses],
      [b.ns, ifB, b.addresses],
    ] as const) {
      for (const cidr of addresses) {
        await this.ip(ns, "addr", "add", cidr, "dev", ifname, ...(cidr.includes(":") ? ["nodad"] : []));
      }
      await this.ip(ns, "link", "set", ifname, "up");
    }
    return { a: ifA, b: ifB };
  }

  /** Write /etc/netns/<NS>/<file>; `ip netns exec` bind-mounts it over /etc/<file>. */
  etcFile(ns: string, file: "resolv.conf" | "hosts", content: string): void {
    if (!this.#namespaces.includes(ns)) throw new Error(`${ns} is not one of this lab's namespaces`);
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/${file}`, content);
  }

  /** Run one probe scenario to its result line. */
  async probe(ns: string, scenario: ProbeScenario, timeoutMs = 30_000): Promise<ProbeResult> {
    const p = this.spawnProbe(ns, scenario);
    try {
      for (;;) {
        const line = await p.next(timeoutMs);
        if (line["event"] === "result") return line as unknown as ProbeResult;
      }
    } finally {
      await p.stop();
    }
  }

  /** Start a probe and talk to it line by line. */
  spawnProbe(ns: string, scenario: ProbeScenario): ProbeProcess {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, PROBE, JSON.stringify(scenario)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.#children.add(child);
    const queue: Record<string, unknown>[] = [];
    const waiters: { resolve: (l: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
    let stderr = "";
    let exited: Error | undefined;
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    createInterface({ input: child.stdout }).on("line", (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { event: "garbage", text };
      }
      const w = waiters.shift();
      if (w) w.resolve(line);
      else queue.push(line);
    });
    const exitedPromise = new Promise<void>((resolve) => {
      child.once("close", (code, signal) => {
        this.#children.delete(child);
        exited = new Error(`probe in ${ns} exited (${code ?? signal}) before the next line; stderr: ${stderr.trim()}`);
        for (const w of waiters.splice(0)) w.reject(exited);
        resolve();
      });
    });
    child.stdin.on("error", () => undefined);
    return {
      next: (timeoutMs) => {
        const ready = queue.shift();
        if (ready) return Promise.resolve(ready);
        if (exited) return Promise.reject(exited);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            const i = waiters.indexOf(waiter);
            if (i >= 0) waiters.splice(i, 1);
            reject(new Error(`probe in ${ns} printed nothing within ${timeoutMs} ms; stderr: ${stderr.trim()}`));
          }, timeoutMs);
          const waiter = {
            resolve: (l: Record<string, unknown>) => {
              clearTimeout(timer);
              resolve(l);
            },
            reject: (e: Error) => {
              clearTimeout(timer);
              reject(e);
            },
          };
          waiters.push(waiter);
        });
      },
      send: (line) => {
        child.stdin.write(`${line}\n`);
      },
      stop: async () => {
        child.stdin.end();
        if (child.exitCode === null && child.signalCode === null) {
          const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
          await exitedPromise;
          clearTimeout(timer);
        }
      },
    };
  }

  /** Remove every namespace and /etc/netns dir this lab made; idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    process.removeListener("exit", this.#onExit);
    for (const child of this.#children) child.kill("SIGKILL");
    const failures: string[] = [];
    for (const ns of this.#namespaces.splice(0)) {
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
      await run("ip", ["netns", "del", ns]).catch((e: unknown) => failures.push(String(e)));
    }
    if (failures.length > 0) throw new Error(`netns cleanup failed: ${failures.join("; ")}`);
  }

  #destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const child of this.#children) child.kill("SIGKILL");
    for (const ns of this.#namespaces.splice(0)) {
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
      runSync("ip", ["netns", "del", ns]);
    }
  }
}

import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";
import { Recorder, connectClient, startUpstream, within } from "./helpers.js";

// compiled to <outDir>/test/proxy/: the binary is <outDir>/src/cli/main.js
const bin = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== "number") return reject(new Error(`outlast did not run: ${err.message}`));
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

/** Starts `outlast proxy ...` and waits for the lines that give its ports. */
async function startCli(t: TestContext, args: string[], wantControl: boolean, env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, [bin, "proxy", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += `[stdout] ${c.toString()}`));
  const ready = new Promise<{ port: number; control?: string }>((resolve, reject) => {
    child.stderr?.on("data", (c: Buffer) => {
      out += c.toString();
      const listen = /listening on tcp:\/\/[^ ]+:(\d+) ->/.exec(out);
      const control = /control on (http:\/\/\S+)/.exec(out);
      if (listen !== null && (!wantControl || control !== null)) {
        resolve({ port: Number(listen[1]), ...(control === null ? {} : { control: control[1] }) });
      }
    });
    child.once("exit", (code) => reject(new Error(`outlast proxy exited ${code}: ${out}`)));
  });
  const ports = await within(ready, 10_000, "outlast proxy to print its ports");
  return { child, ports, output: () => out };
}

test("outlast proxy --help lists the flags and examples", async () => {
  const r = await run("proxy", "--help");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--latency MS\[±JITTER\]/);
  assert.match(r.stdout, /--control HOST:PORT/);
  assert.match(
    r.stdout,
    /Examples:\n {2}outlast proxy --listen 127\.0\.0\.1:9000 --upstream 127\.0\.0\.1:7000 --latency 100ms±20/,
  );
  const top = await run("--help");
  assert.match(top.stdout, /^ {2}proxy +a TCP proxy that injects network faults/m);
});

test("outlast proxy usage errors exit 2 with one line", async () => {
  for (const args of [
    ["proxy"],
    ["proxy", "--upstream", "nope"],
    ["proxy", "--upstream", "7000", "--latency", "fast"],
    ["proxy", "--upstream", "7000", "--bogus"],
  ]) {
    const r = await run(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^outlast proxy: .+\nUsage: outlast proxy [^]*\nRun `outlast proxy --help` for every option\.\n$/,
    );
  }
  // The flag a CLI user types, not the library's option name.
  const remote = await run("proxy", "--upstream", "7000", "--control", "10.0.0.1:9000");
  assert.equal(remote.code, 2);
  assert.match(
    remote.stderr,
    /^outlast proxy: --control 10\.0\.0\.1:9000 is not a loopback address.*pass --control-dangerously-allow-remote/,
  );
  assert.doesNotMatch(remote.stderr, /dangerouslyAllowRemote/);
});

test("outlast proxy forwards with the flag faults, is driven over --control, and stops on SIGTERM", async (t) => {
  const up = await startUpstream(t, "echo");
  const { child, ports, output } = await startCli(
    t,
    [
      "--listen",
      "127.0.0.1:0",
      "--upstream",
      `127.0.0.1:${up.port}`,
      "--latency",
      "60ms",
      "--direction",
      "upstream",
      "--control",
      "127.0.0.1:0",
      "--seed",
      "42",
      "--verbose",
    ],
    true,
  );
  assert.match(output(), /\(seed 42\)/);
  assert.match(
    output(),
    /fault f1 \{"kind":"latency","direction":"upstream","probability":1,"latencyMs":60,"jitterMs":0\}/,
  );
  const client = await connectClient(t, ports.port);
  const rec = new Recorder(client);
  const started = performance.now();
  client.write("cli");
  await rec.bytesAtLeast(3);
  assert.ok(performance.now() - started >= 60, "the --latency flag did not act");

  const res = await within(
    fetch(`${ports.control}/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "reset" }),
    }),
    5000,
    "POST /faults",
  );
  assert.equal(res.status, 201);
  await rec.closedNow();
  assert.equal(rec.error?.code, "ECONNRESET");
  const stats = (await (await fetch(`${ports.control}/stats`)).json()) as {
    faults: { reset: number; latency: number };
  };
  assert.equal(stats.faults.reset, 1);
  assert.equal(stats.faults.latency, 1);

  child.kill("SIGTERM");
  const [code] = (await within(once(child, "exit"), 10_000, "exit after SIGTERM")) as [number | null];
  assert.equal(code, 0);
  assert.match(output(), /SIGTERM: closing connections\n/);
  assert.match(output(), /stopped; stats \{"connections":\{"accepted":1/);
  assert.doesNotMatch(output(), /\[stdout\]/, "the proxy wrote to stdout; notices go to stderr");
  // --verbose: connections and faults as they happen, every line in the command's voice.
  assert.match(output(), /^outlast proxy: connection \d+ opened from 127\.0\.0\.1:\d+$/m);
  assert.match(output(), /^outlast proxy: fault f\d+ applied to connection \d+/m);
  for (const line of output().trimEnd().split("\n")) assert.match(line, /^outlast proxy: /);
});

test("outlast proxy --blackhole DOWN/EVERY and --reset-every become schedules; OUTLAST_PROXY_* variables are read", async (t) => {
  const { child, output } = await startCli(
    t,
    ["--upstream", "127.0.0.1:9", "--blackhole", "1s/10s", "--reset-every", "5s", "--refuse"],
    false,
    {
      OUTLAST_PROXY_PROBABILITY: "0.5",
      OUTLAST_PROXY_HOLD: "1",
    },
  );
  assert.match(
    output(),
    /"kind":"schedule","mode":"periodic","fault":\{"kind":"blackhole","direction":"both","probability":0.5\},"everyMs":10000,"downMs":1000/,
  );
  assert.match(
    output(),
    /"kind":"schedule","mode":"periodic","fault":\{"kind":"reset","direction":"both","probability":0.5,"afterMs":0\},"everyMs":5000,"downMs":0/,
  );
  assert.match(output(), /\{"kind":"refuse","probability":0.5\}/);
  assert.match(output(), /\{"kind":"hold","probability":0.5\}/, "OUTLAST_PROXY_HOLD=1 was not read");
  child.kill("SIGINT");
  const [code] = (await within(once(child, "exit"), 10_000, "exit after SIGINT")) as [number | null];
  assert.equal(code, 0);
});

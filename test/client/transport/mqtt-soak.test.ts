/**
 * The long run of issue #14 against a real Mosquitto (persistence on, a
 * snapshot after every change): a publisher with the durable outbox, in a
 * child process SIGKILLed OUTLAST_MQTT_SOAK_CLIENT_KILLS times (default 20),
 * sends OUTLAST_MQTT_SOAK_MESSAGES messages (default 50,000) through the fault
 * proxy (resets, blackholes, the broker's answers held back: lost PUBACKs),
 * while the broker is SIGKILLed and restarted OUTLAST_MQTT_SOAK_BROKER_KILLS
 * times (default 3). A subscriber with a persistent session reads everything.
 * The broker snapshots every OUTLAST_MQTT_SOAK_AUTOSAVE_CHANGES changes
 * (default 100; 1 is the safest setting and far too slow for CI).
 *
 * What must hold, and what is counted:
 * - the client loses nothing: every message reported stored reaches the
 *   subscriber, unless the broker acknowledged it (PUBACK) and then lost it in
 *   one of its SIGKILLs (Mosquitto acknowledges before its snapshot is on
 *   disk). Those are counted apart; none may be lost after the last restart.
 * - first deliveries come in seq order; every duplicate carries the same
 *   (clientId, seq) and the same bytes, and is counted.
 * Seeded: OUTLAST_TEST_SEED replays the fault, kill and restart schedule.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { connectAsync } from "mqtt";
import type { MqttClient } from "mqtt";
import type { FaultHandle } from "../../../src/proxy/index.js";
import { createProxy } from "../../../src/proxy/index.js";
import { Mosquitto, mosquittoSkipReason } from "../../helpers/mosquitto.js";
import { rng, testSeed } from "../../helpers/seed.js";
import { within } from "../../helpers/wait.js";

const CHILD = fileURLToPath(new URL("./fixtures/mqtt-sender.js", import.meta.url));
const TOPIC = "soak/robot";

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${v}`);
  return n;
}

const MESSAGES = envInt("OUTLAST_MQTT_SOAK_MESSAGES", 50_000);
const CLIENT_KILLS = envInt("OUTLAST_MQTT_SOAK_CLIENT_KILLS", 20);
const BROKER_KILLS = envInt("OUTLAST_MQTT_SOAK_BROKER_KILLS", 3);
/** Mosquitto snapshots after this many changes: 1 loses least but takes ~300 msg/s here; 100 takes ~5,000. */
const AUTOSAVE_CHANGES = envInt("OUTLAST_MQTT_SOAK_AUTOSAVE_CHANGES", 100);

interface Seen {
  maxTried: number;
  readonly stored: Map<number, number>; // seq -> counter
  /** seq -> how many broker restarts had completed when its PUBACK was reported (the broker's epoch). */
  readonly ackedInEpoch: Map<number, number>;
  readonly errors: string[];
  clientId: string | undefined;
}

/** Evenly spread thresholds in (0, total), each jittered inside its slot: a seeded schedule. */
function thresholds(count: number, total: number, random: () => number): number[] {
  const slot = total / (count + 1);
  return Array.from({ length: count }, (_, k) => Math.floor(slot * (k + 0.6 + 0.8 * random())));
}

test(
  `mqtt soak: ${MESSAGES} messages, durable outbox, fault proxy, ${CLIENT_KILLS} client SIGKILLs, ${BROKER_KILLS} broker SIGKILLs: the client loses nothing`,
  { skip: mosquittoSkipReason(), timeout: 600_000 },
  async (t) => {
    const seed = testSeed(t);
    const random = rng(seed);
    const broker = await Mosquitto.start({ persistence: true, autosaveChanges: AUTOSAVE_CHANGES });
    const dir = mkdtempSync(join(tmpdir(), "outlast-mqtt-soak-"));
    const proxy = createProxy({ upstream: { host: "127.0.0.1", port: broker.port }, seed });
    const { port } = await proxy.listen();
    const url = `mqtt://127.0.0.1:${port}`;

    // The subscriber: a persistent session on the broker itself (not through the proxy).
    const received: { clientId: string; seq: number; payload: string }[] = [];
    let endSeen: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => (endSeen = resolve));
    const subscribe = async (): Promise<MqttClient> => {
      const client = await connectAsync(broker.url, {
        protocolVersion: 5,
        clientId: "soak-subscriber",
        clean: false,
        properties: { sessionExpiryInterval: 0xffffffff },
        reconnectPeriod: 50,
      });
      client.on("error", () => undefined); // refused while the broker restarts: it reconnects
      client.on("message", (_topic, payload, packet) => {
        const props = packet.properties?.userProperties ?? {};
        const text = payload.toString();
        if (text === "END") endSeen();
        else
          received.push({
            clientId: String(props["outlast-client-id"]),
            seq: Number(props["outlast-seq"]),
            payload: text,
          });
      });
      await client.subscribeAsync(TOPIC, { qos: 1 });
      return client;
    };
    let sub = await subscribe();

    const seen: Seen = { maxTried: 0, stored: new Map(), ackedInEpoch: new Map(), errors: [], clientId: undefined };
    const clientKillAt = thresholds(CLIENT_KILLS, MESSAGES, random);
    const brokerKillAt = thresholds(BROKER_KILLS, MESSAGES, random);
    // Before each broker kill the subscriber goes away for a while, so the broker holds messages in its
    // session when it dies (a subscriber that keeps up leaves nothing for a kill to lose).
    const offlineAt = brokerKillAt.map((k) => k - Math.floor(MESSAGES / (BROKER_KILLS + 1) / 4));
    let subAway: Promise<void> = Promise.resolve();
    let epoch = 0;
    let acked = 0;
    let brokerBusy: Promise<void> = Promise.resolve();
    const faultCounts = { reset: 0, blackhole: 0, acksDropped: 0 };

    // Faults on a seeded schedule until the last run drained.
    let faultsOn = true;
    let faultTimer: NodeJS.Timeout | undefined;
    const nextFault = (): void => {
      if (!faultsOn) return;
      faultTimer = setTimeout(
        () => {
          const pick = random();
          let handle: FaultHandle;
          if (pick < 0.4) {
            handle = proxy.addFault({ kind: "reset" });
            faultCounts.reset++;
          } else if (pick < 0.7) {
            handle = proxy.addFault({ kind: "blackhole" });
            faultCounts.blackhole++;
          } else {
            handle = proxy.addFault({ kind: "blackhole", direction: "downstream" }); // PUBACKs held back: lost
            faultCounts.acksDropped++;
          }
          faultTimer = setTimeout(
            () => {
              handle.remove();
              nextFault();
            },
            pick < 0.4 ? 50 : 1000 + 500 * random(),
          );
        },
        500 + 1000 * random(),
      );
    };
    nextFault();

    const killBroker = (): void => {
      brokerBusy = brokerBusy.then(async () => {
        await broker.kill();
        await broker.restart();
        epoch++;
        await subAway;
        // One subscriber connection at a time: when this kill's offline step came before the previous
        // restart had its new subscriber, that one never went away; it reconnects by itself
        // (reconnectPeriod) and would fight the new one for the clientId, each taking the session
        // from the other (Mosquitto closes the older connection), both receiving.
        await sub.endAsync(true);
        sub = await subscribe(); // its persistent session: what the broker kept is delivered now
      });
    };

    /** One child run; resolves true when it drained (the last run), false when we killed it. */
    const runChild = (run: number): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const killAt = clientKillAt[0];
        const child = spawn(
          process.execPath,
          // Counters are never reused (a killed run's tries may be stored without saying so); the
          // last counter makes the stored total reach MESSAGES if this run is not killed.
          [
            CHILD,
            url,
            join(dir, "outbox"),
            String(seen.maxTried + 1),
            String(seen.maxTried + MESSAGES - seen.stored.size),
            TOPIC,
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let stderr = "";
        let drained = false;
        let killed = false;
        child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
        createInterface({ input: child.stdout }).on("line", (line) => {
          const [kind, a, b] = line.split(" ");
          if (kind === "try") seen.maxTried = Math.max(seen.maxTried, Number(a));
          else if (kind === "stored") {
            seen.stored.set(Number(a), Number(b));
            if (!killed && killAt !== undefined && seen.stored.size >= killAt) {
              killed = true;
              clientKillAt.shift();
              child.kill("SIGKILL");
            }
          } else if (kind === "acked") {
            seen.ackedInEpoch.set(Number(a), epoch);
            acked++;
            if (offlineAt[0] !== undefined && acked >= offlineAt[0]) {
              offlineAt.shift();
              const away = sub;
              subAway = away.endAsync(); // a clean DISCONNECT: the session stays on the broker
            }
            if (brokerKillAt[0] !== undefined && acked >= brokerKillAt[0]) {
              brokerKillAt.shift();
              killBroker();
            }
          } else if (kind === "error") seen.errors.push(`run ${run}: ${a ?? ""}`);
          else if (kind === "drained") {
            drained = true;
            seen.clientId = a;
          }
        });
        child.on("close", (code, signal) => {
          if (signal === "SIGKILL" && killed) resolve(false);
          else if (code === 0 && drained) resolve(true);
          else reject(new Error(`run ${run}: child exited with ${code ?? signal}; stderr: ${stderr}`));
        });
      });

    try {
      let runs = 0;
      for (;;) {
        runs++;
        if (await runChild(runs)) break;
      }
      faultsOn = false;
      clearTimeout(faultTimer);
      for (const f of proxy.faults()) proxy.removeFault(f.id);
      await brokerBusy;
      await within(ended, 60_000, "the subscriber gets END");

      // ---- the accounting ----
      const clientId = seen.clientId as string;
      const first = new Map<number, string>();
      let duplicates = 0;
      let outOfOrder = 0;
      let lastFirstSeq = 0;
      for (const m of received) {
        assert.equal(m.clientId, clientId, "one clientId across every run (the durable outbox keeps it)");
        const before = first.get(m.seq);
        if (before !== undefined) {
          duplicates++;
          assert.equal(m.payload, before, `duplicate of seq ${m.seq} carries the same bytes`);
          continue;
        }
        first.set(m.seq, m.payload);
        if (m.seq < lastFirstSeq) outOfOrder++;
        lastFirstSeq = Math.max(lastFirstSeq, m.seq);
        assert.ok(Number(m.payload) <= seen.maxTried, `payload ${m.payload} was tried by a child`);
      }
      let brokerLost = 0;
      let clientLost = 0;
      const clientLostSeqs: number[] = [];
      for (const [seq, counter] of seen.stored) {
        const got = first.get(seq);
        if (got !== undefined) {
          assert.equal(got, String(counter), `seq ${seq} carries its own payload`);
          continue;
        }
        const ackEpoch = seen.ackedInEpoch.get(seq);
        if (ackEpoch !== undefined && ackEpoch < epoch) brokerLost++;
        else {
          clientLost++;
          if (clientLostSeqs.length < 10) clientLostSeqs.push(seq);
        }
      }
      t.diagnostic(
        `${seen.stored.size} messages reported stored over ${runs} runs (${runs - 1} SIGKILLs), ${received.length} deliveries, ` +
          `${duplicates} duplicates (same clientId, seq and bytes), ${brokerLost} acknowledged by the broker and lost in its ${epoch} SIGKILLs, ` +
          `${clientLost} lost by the client; faults: ${JSON.stringify(faultCounts)}; out of order first deliveries: ${outOfOrder}`,
      );
      assert.equal(epoch, BROKER_KILLS, "every broker kill happened");
      assert.equal(runs - 1, CLIENT_KILLS, "every client kill happened");
      assert.ok(seen.stored.size >= MESSAGES, `${MESSAGES} messages reported stored`);
      assert.equal(clientLost, 0, `the client lost messages: seqs ${clientLostSeqs.join(", ")}`);
      assert.equal(outOfOrder, 0, "first deliveries in seq order");
      assert.deepEqual(
        seen.errors.filter((e) => !/OUTLAST_CONNECT|closed/.test(e)),
        [],
        "no error a person must fix",
      );
    } finally {
      faultsOn = false;
      clearTimeout(faultTimer);
      await sub.endAsync(true);
      await proxy.destroy();
      await brokerBusy.catch(() => undefined);
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

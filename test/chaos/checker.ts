/**
 * The chaos checker: compares what the clients reported stored with what the
 * server's handler recorded (server-child.ts's records file) and counts
 * every way delivery can go wrong. A run passes only when all of lost,
 * duplicated, reordered, gaps, corrupt and sendErrors are 0.
 *
 * - lost: a seq reported stored that never reached the handler.
 * - duplicated: a (clientId, seq) the handler applied twice, or a redelivery the
 *   same server process handed over twice (no crash in between: not the documented window).
 * - reordered: a seq applied after a higher seq of the same clientId.
 * - gaps: a seq below a client's highest applied seq that was never applied
 *   (important messages only, so there is no legitimate gap).
 * - crashRedeliveries: a seq handed over again by the next server process after a
 *   SIGKILL with `redelivery: true` and skipped by the idempotent handler (the
 *   at-least-once window docs/server.md describes; reported, not a failure).
 */

const SAMPLE = 10;

export interface CheckResult {
  readonly clients: number;
  /** Distinct (clientId, seq) the handler applied. */
  readonly delivered: number;
  /** Seqs reported stored by the clients. */
  readonly stored: number;
  readonly handlerCalls: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly gaps: number;
  readonly corrupt: number;
  readonly sendErrors: number;
  readonly crashRedeliveries: number;
  /** Applied but not reported stored (a client killed between storing and printing): fine. */
  readonly unreported: number;
  /** Distinct (clientId, payload index) applied: every message the clients were asked to send. */
  readonly messagesDelivered: number;
  /** A few examples of each problem, for the failure message. */
  readonly samples: Readonly<Record<string, readonly string[]>>;
  readonly ok: boolean;
}

interface PerClient {
  readonly applied: Map<number, number>; // seq -> generation
  readonly indexes: Set<number>;
  max: number;
}

function sample(samples: Record<string, string[]>, key: string, text: string): void {
  const list = (samples[key] ??= []);
  if (list.length < SAMPLE) list.push(text);
}

/**
 * @param records the records file's text
 * @param stored per clientId, the seqs its processes reported stored
 * @param sendErrors lines of sends that rejected
 */
export function checkDelivery(
  records: string,
  stored: ReadonlyMap<string, ReadonlySet<number>>,
  sendErrors: readonly string[] = [],
): CheckResult {
  const clients = new Map<string, PerClient>();
  const samples: Record<string, string[]> = {};
  let handlerCalls = 0;
  let duplicated = 0;
  let reordered = 0;
  let corrupt = 0;
  let crashRedeliveries = 0;
  const perClient = (id: string): PerClient => {
    let c = clients.get(id);
    if (c === undefined) {
      c = { applied: new Map(), indexes: new Set(), max: 0 };
      clients.set(id, c);
    }
    return c;
  };

  const lines = records.split("\n");
  if (!records.endsWith("\n")) lines.pop(); // a torn last line (SIGKILL mid-append cannot tear, but be safe)
  for (const line of lines) {
    if (line === "") continue;
    const parts = line.split(" ");
    const gen = Number(parts[1]);
    const id = parts[2] ?? "";
    const seq = Number(parts[3]);
    const c = perClient(id);
    if (parts[0] === "R") {
      handlerCalls++;
      const firstGen = c.applied.get(seq);
      if (firstGen !== undefined && firstGen < gen) crashRedeliveries++;
      else {
        duplicated++;
        sample(
          samples,
          "duplicated",
          `${id} seq ${seq}: redelivered by server generation ${gen}, first applied by ${firstGen ?? "none"}`,
        );
      }
      continue;
    }
    if (parts[0] !== "H") throw new Error(`checker: bad record line ${JSON.stringify(line)}`);
    handlerCalls++;
    if (parts[5] === "-1") {
      corrupt++;
      sample(samples, "corrupt", `${id} seq ${seq} (generation ${gen})`);
    }
    if (c.applied.has(seq)) {
      duplicated++;
      sample(
        samples,
        "duplicated",
        `${id} seq ${seq}: applied by generation ${c.applied.get(seq)} and again by ${gen} (redelivery flag ${parts[4]})`,
      );
      continue;
    }
    if (seq < c.max) {
      reordered++;
      sample(samples, "reordered", `${id} seq ${seq} applied after seq ${c.max}`);
    }
    c.applied.set(seq, gen);
    c.indexes.add(Number(parts[5]));
    if (seq > c.max) c.max = seq;
  }

  let lost = 0;
  let storedCount = 0;
  let unreported = 0;
  let gaps = 0;
  let delivered = 0;
  let messagesDelivered = 0;
  for (const [id, seqs] of stored) {
    const c = clients.get(id);
    storedCount += seqs.size;
    for (const seq of seqs) {
      if (c?.applied.has(seq) === true) continue;
      lost++;
      sample(samples, "lost", `${id} seq ${seq}`);
    }
  }
  for (const [id, c] of clients) {
    delivered += c.applied.size;
    messagesDelivered += c.indexes.size - (c.indexes.has(-1) ? 1 : 0);
    const reported = stored.get(id);
    for (const seq of c.applied.keys()) if (reported?.has(seq) !== true) unreported++;
    for (let seq = 1; seq < c.max; seq++) {
      if (c.applied.has(seq)) continue;
      gaps++;
      sample(samples, "gaps", `${id} seq ${seq} never applied (highest ${c.max})`);
    }
  }
  for (const e of sendErrors) sample(samples, "sendErrors", e);

  const ok =
    lost === 0 && duplicated === 0 && reordered === 0 && gaps === 0 && corrupt === 0 && sendErrors.length === 0;
  return {
    clients: Math.max(clients.size, stored.size),
    delivered,
    stored: storedCount,
    handlerCalls,
    lost,
    duplicated,
    reordered,
    gaps,
    corrupt,
    sendErrors: sendErrors.length,
    crashRedeliveries,
    unreported,
    messagesDelivered,
    samples,
    ok,
  };
}

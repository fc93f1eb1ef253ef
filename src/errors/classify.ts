/**
 * classify(err): is this a transient connection failure (wait, reconnect,
 * resend) or a bug (surface it)? It walks `cause` chains and AggregateError
 * `errors`, lets the deepest error that has a verdict decide, and never throws
 * or hangs: every read is guarded and the walk has a fixed budget.
 */

import {
  KINDS,
  type Classification,
  type Delivered,
  type Kind,
  type Platform,
  type Verdict,
} from "./classification.js";
import { toPlatform } from "./errno-tables.js";
import { ErrorNode, isObjectLike } from "./error-node.js";
import { nodeVerdict, type NodeVerdict } from "./node-verdict.js";
import { registeredRules } from "./registry.js";

export interface ClassifyOptions {
  /** Whose errno numbers to read (Node's "UNKNOWN" + errno). Default: this process's platform. */
  readonly platform?: Platform;
}

/**
 * Most error objects one classify() call reads: bounds time and memory on
 * hostile input while still reaching the bottom of a 10,000-deep chain or
 * every attempt of a 100,000-error AggregateError.
 */
const MAX_NODES = 150_000;
/** Longest single cause chain followed (a getter may mint a fresh error on every read: an endless chain). */
const MAX_CHAIN = 20_000;
/** Deepest nesting of AggregateErrors inside AggregateErrors we follow. */
const MAX_NESTING = 16;

const KIND_SET = new Set<string>(KINDS);

interface Walk {
  readonly platform: Platform;
  readonly visited: Set<object>;
  /** Verdicts already reached for an AggregateError item: the same error may stand in `errors` twice (Promise.any over one promise). */
  readonly decided: Map<object, Decided | undefined>;
  budget: number;
  truncated: boolean;
}

/** A path from the input to a node, as a linked list so a deep walk never copies arrays. */
/** A step is "cause" or the index into an AggregateError's `errors` (formatted only for the decider). */
type Path = { readonly up: Path; readonly step: string | number } | undefined;

function extend(up: Path, step: string | number): Path {
  return { up, step };
}

function steps(path: Path): string[] {
  const out: string[] = [];
  for (let p = path; p !== undefined; p = p.up) out.push(typeof p.step === "number" ? `errors[${p.step}]` : p.step);
  return out.reverse();
}

/** This process's platform, worked out once. */
const PROCESS_PLATFORM = toPlatform();

interface Decided {
  readonly verdict: NodeVerdict;
  readonly source: unknown;
  readonly path: Path;
  /** For an AggregateError: how many inner errors were judged, of how many. */
  readonly aggregate?: { readonly judged: number; readonly total: number };
  readonly rule?: string;
}

export function classify(err: unknown, options: ClassifyOptions = {}): Classification {
  try {
    return classifyUnsafe(err, options.platform ?? PROCESS_PLATFORM);
  } catch {
    // Unreachable by design (every read is guarded); kept so classify can never throw.
    return bug(err, [], "classification failed on an exotic value");
  }
}

export function isConnectionError(err: unknown, options: ClassifyOptions = {}): boolean {
  return classify(err, options).connection;
}

function classifyUnsafe(err: unknown, platform: Platform): Classification {
  if (!isObjectLike(err)) return bug(err, [], `not an error object (${typeof err})`);
  const walk: Walk = { platform, visited: new Set(), decided: new Map(), budget: MAX_NODES, truncated: false };
  if (registeredRules().length > 0) {
    const custom = customVerdict(err, walk);
    if (custom !== undefined) return toClassification(custom);
    walk.visited.clear();
  }
  const alone = new ErrorNode(err);
  if (!isObjectLike(alone.cause()) && alone.errors() === undefined) {
    // The common case: one error, no cause, no inner errors.
    const verdict = nodeVerdict(alone, platform);
    return verdict === undefined
      ? bug(err, [], undefined)
      : toClassification({ verdict, source: err, path: undefined });
  }
  walk.budget = MAX_NODES;
  const decided = judgeChain(err, undefined, 0, walk);
  if (decided !== undefined) return toClassification(decided, walk.truncated);
  const root = innermost(err);
  return bug(root.value, root.path, undefined);
}

/**
 * Walks one cause chain iteratively (a 10,000-deep chain must not overflow
 * the stack), then judges it deepest first: the innermost error that has a
 * verdict decides, so `fetch failed` is judged by its cause and a wrapper of
 * ours or the application's never hides an ECONNRESET.
 */
function judgeChain(start: unknown, path: Path, nesting: number, walk: Walk): Decided | undefined {
  const chain: { node: ErrorNode; path: Path }[] = [];
  let current: unknown = start;
  let currentPath = path;
  while (isObjectLike(current) && !walk.visited.has(current)) {
    if (walk.budget <= 0 || chain.length >= MAX_CHAIN) {
      walk.truncated = true;
      break;
    }
    walk.budget--;
    walk.visited.add(current);
    const node = new ErrorNode(current);
    chain.push({ node, path: currentPath });
    current = node.cause();
    currentPath = extend(currentPath, "cause");
  }
  for (let i = chain.length - 1; i >= 0; i--) {
    const { node, path: nodePath } = chain[i]!;
    const inner = nesting < MAX_NESTING ? node.errors() : undefined;
    if (inner !== undefined) {
      const agg = judgeAggregate(inner, nodePath, nesting, walk);
      if (agg !== undefined) return agg;
    }
    const verdict = nodeVerdict(node, walk.platform);
    if (verdict !== undefined) return { verdict, source: node.value, path: nodePath };
  }
  return undefined;
}

/**
 * An AggregateError (happy eyeballs, Promise.any) is a connection error only
 * if EVERY attempt failed for a connection reason; its own `code` (copied from
 * the first attempt by net.connect) is ignored. The first attempt that is not
 * a connection failure decides otherwise.
 */
function judgeAggregate(inner: readonly unknown[], path: Path, nesting: number, walk: Walk): Decided | undefined {
  let total: number;
  try {
    total = inner.length;
  } catch {
    return undefined;
  }
  let first: Decided | undefined;
  let judged = 0;
  let delivered: Delivered = "no";
  for (let i = 0; i < total; i++) {
    if (walk.budget <= 0) {
      walk.truncated = true;
      break;
    }
    let item: unknown;
    try {
      item = inner[i];
    } catch {
      item = undefined;
    }
    let decided: Decided | undefined;
    if (isObjectLike(item)) {
      const node = new ErrorNode(item);
      if (!isObjectLike(node.cause()) && node.errors() === undefined) {
        // The common attempt: one error, nothing inside. Judged directly; allocates only when it decides.
        walk.budget--;
        const verdict = nodeVerdict(node, walk.platform);
        if (verdict !== undefined && verdict.connection && first !== undefined) {
          judged++;
          if (verdict.delivered === "maybe") delivered = "maybe";
          continue;
        }
        decided = verdict === undefined ? undefined : { verdict, source: item, path: extend(path, i) };
      } else if (walk.decided.has(item)) decided = walk.decided.get(item);
      else if (walk.visited.has(item))
        continue; // a cycle back to an enclosing error: not an attempt of its own
      else {
        decided = judgeChain(item, extend(path, i), nesting + 1, walk);
        walk.decided.set(item, decided);
      }
    }
    judged++;
    if (decided === undefined || !decided.verdict.connection) {
      // One attempt failed for a reason that is not the network: the whole is not a connection error.
      if (decided !== undefined) return decided;
      return { verdict: bugVerdict(item), source: item, path: extend(path, i) };
    }
    first ??= decided;
    if (decided.verdict.delivered === "maybe") delivered = "maybe";
  }
  if (first === undefined) return undefined;
  return { ...first, verdict: { ...first.verdict, delivered }, aggregate: { judged, total } };
}

function customVerdict(err: object, walk: Walk): Decided | undefined {
  const rules = registeredRules();
  let current: unknown = err;
  let path: Path;
  while (isObjectLike(current) && !walk.visited.has(current) && walk.budget-- > 0) {
    walk.visited.add(current);
    for (const rule of rules) {
      let v: Verdict | undefined;
      try {
        v = rule.match(current);
      } catch {
        v = undefined;
      }
      if (v !== undefined && isVerdict(v)) {
        const node = new ErrorNode(current);
        const verdict: NodeVerdict = {
          connection: v.connection,
          kind: v.kind,
          code: v.code ?? node.code ?? node.name ?? "custom",
          detail: v.detail ?? "",
          delivered: v.delivered ?? "maybe",
          meaning: v.reason ?? `matched rule ${rule.name ?? "custom"}`,
        };
        return { verdict, source: current, path, rule: rule.name ?? "custom" };
      }
    }
    current = new ErrorNode(current).cause();
    path = extend(path, "cause");
  }
  return undefined;
}

function isVerdict(v: unknown): v is Verdict {
  if (!isObjectLike(v)) return false;
  const r = v as Partial<Verdict>;
  return typeof r.connection === "boolean" && typeof r.kind === "string" && KIND_SET.has(r.kind);
}

function toClassification(d: Decided, truncated = false): Classification {
  const { verdict } = d;
  const node = isObjectLike(d.source) ? new ErrorNode(d.source) : undefined;
  let reason = `${verdict.code}: ${verdict.meaning}`;
  const where = node === undefined ? "" : context(node);
  if (where) reason += ` (${where})`;
  if (d.aggregate)
    reason += `; every one of ${d.aggregate.judged} attempts failed this way or for another connection reason`;
  if (truncated) reason += "; input too large, judged in part";
  reason += verdict.connection ? " — reconnect and resend" : advice(verdict.kind);
  return {
    connection: verdict.connection,
    kind: verdict.kind,
    detail: verdict.detail,
    code: verdict.code,
    delivered: verdict.delivered,
    source: d.source,
    reason,
    path: steps(d.path),
  };
}

function advice(kind: Kind): string {
  switch (kind) {
    case "certificate":
      return " — not a connection error: a person must fix the certificate or trust settings";
    case "tls":
      return " — not a connection error: the TLS configuration must change";
    default:
      return " — not a connection error";
  }
}

function context(node: ErrorNode): string {
  const syscall = node.syscall;
  if (syscall === undefined) return "";
  const address = node.getText("address");
  const port = node.get("port");
  return [syscall, address, typeof port === "number" ? String(port) : undefined]
    .filter((x) => x !== undefined)
    .join(" ");
}

function bugVerdict(value: unknown): NodeVerdict {
  const node = isObjectLike(value) ? new ErrorNode(value) : undefined;
  const code =
    node?.code ?? (typeof node?.rawCode === "number" ? String(node.rawCode) : undefined) ?? node?.name ?? typeof value;
  return {
    connection: false,
    kind: "other",
    code,
    detail: "",
    delivered: "maybe",
    meaning: "not a connection or network failure",
  };
}

function bug(value: unknown, path: readonly string[], why: string | undefined): Classification {
  const v = bugVerdict(value);
  const node = isObjectLike(value) ? new ErrorNode(value) : undefined;
  const message = node?.message ?? "";
  const shown = message.length > 120 ? `${message.slice(0, 117)}...` : message;
  const reason = why ?? `${v.code}${shown ? `: ${shown}` : ""} — not a connection error`;
  return {
    connection: false,
    kind: "other",
    detail: "",
    code: v.code,
    delivered: "maybe",
    source: value,
    reason,
    path,
  };
}

/** The innermost error of the cause chain (bounded): the root cause a bug report should show. */
function innermost(err: object): { value: unknown; path: readonly string[] } {
  const seen = new Set<object>();
  let value: unknown = err;
  let path: Path;
  for (let i = 0; i < MAX_NODES; i++) {
    if (!isObjectLike(value) || seen.has(value)) break;
    seen.add(value);
    const cause = new ErrorNode(value).cause();
    if (!isObjectLike(cause) || seen.has(cause)) break;
    value = cause;
    path = extend(path, "cause");
  }
  return { value, path: steps(path) };
}

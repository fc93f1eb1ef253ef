/**
 * At gateway start: find the stream, or create it with safe settings; refuse an existing
 * stream that could delete a client's mark (its last message) or cannot give each client
 * its own subject, with OUTLAST_STREAM_UNSAFE naming the setting.
 */

import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { OutlastError } from "../errors/outlast-error.js";
import { API, natsFailure } from "./nats-rules.js";
import { prefixFromSubjects, subjectMatches } from "./subject.js";

export interface StreamRequirements {
  readonly stream: string;
  /** Client subjects are `<prefix>.<token>`; default: from the stream's subjects (a new stream: the stream name). */
  readonly subjectPrefix: string | undefined;
  /** Replicas for a new stream. */
  readonly replicas: number;
  /**
   * The least replicas an existing stream may have; default 1: a stream someone created is
   * used with the replicas they chose (the gateway's start line says how many).
   */
  readonly minReplicas?: number;
  /** Duplicate window of a new stream (ms). */
  readonly duplicateWindowMs: number;
  /** Create the stream when it is missing. */
  readonly create: boolean;
  /** One literal subject that must be covered (a nats:// client's own subject) instead of a prefix for many clients. */
  readonly subject?: string;
}

export interface StreamSetup {
  /** Client subjects are `<subjectPrefix>.<token>` (with `subject` required: that subject). */
  readonly subjectPrefix: string;
  readonly created: boolean;
  readonly replicas: number;
  readonly duplicateWindowMs: number;
}

/** The least duplicate window we accept: a retry after a publish timeout must still be inside it. */
export const MIN_DUPLICATE_WINDOW_MS = 1000;

const NS_PER_MS = 1_000_000;

function unsafe(stream: string, setting: string, value: unknown, why: string): OutlastError {
  return new OutlastError(
    "OUTLAST_STREAM_UNSAFE",
    `stream ${stream} is unsafe for outlast gateways: ${setting} is ${JSON.stringify(value)}; ${why}`,
    { details: { stream, setting, value } },
  );
}

/** Every problem of an existing stream's configuration, first one first; empty when safe. */
export function streamProblems(config: StreamConfig, req: StreamRequirements): OutlastError[] {
  const s = config.name;
  const problems: OutlastError[] = [];
  const subjects = config.subjects ?? [];
  if (req.subject !== undefined) {
    if (!subjects.some((f) => subjectMatches(f, req.subject as string)))
      problems.push(
        unsafe(s, "subjects", subjects, `no subject of the stream covers ${JSON.stringify(req.subject)}: add it`),
      );
  } else if (req.subjectPrefix === undefined) {
    if (prefixFromSubjects(subjects, s) === undefined)
      problems.push(
        unsafe(
          s,
          "subjects",
          subjects,
          `each client needs its own subject: give the stream a subject like "${s}.>" (or pass --subject-prefix P with a subject covering "P.<client>")`,
        ),
      );
  } else if (!subjects.some((f) => subjectMatches(f, `${req.subjectPrefix}.client`))) {
    problems.push(
      unsafe(
        s,
        "subjects",
        subjects,
        `no subject covers "${req.subjectPrefix}.<client>": add "${req.subjectPrefix}.>"`,
      ),
    );
  }
  if (config.retention !== "limits")
    problems.push(
      unsafe(
        s,
        "retention",
        config.retention,
        `a ${config.retention} stream deletes messages once consumed, a client's last message (its mark) included; use "limits"`,
      ),
    );
  if (config.max_age > 0)
    problems.push(
      unsafe(
        s,
        "max_age",
        `${config.max_age / NS_PER_MS / 1000}s`,
        "old messages are deleted, and with them the mark of a client offline that long: set 0 (keep forever)",
      ),
    );
  if (config.discard !== "new")
    for (const limit of ["max_msgs", "max_bytes"] as const)
      if (config[limit] > 0)
        problems.push(
          unsafe(
            s,
            limit,
            config[limit],
            `with discard "old" the oldest messages (some client's mark) are deleted; set -1 or discard "new"`,
          ),
        );
  const minReplicas = req.minReplicas ?? 1;
  if (config.num_replicas < minReplicas)
    problems.push(
      unsafe(s, "num_replicas", config.num_replicas, `fewer than the ${minReplicas} replicas asked for (--replicas)`),
    );
  const windowMs = config.duplicate_window / NS_PER_MS;
  if (windowMs < MIN_DUPLICATE_WINDOW_MS)
    problems.push(
      unsafe(
        s,
        "duplicate_window",
        `${windowMs}ms`,
        `the msg-id dedup must cover a retry after a publish timeout: at least ${MIN_DUPLICATE_WINDOW_MS}ms`,
      ),
    );
  if (config.sealed) problems.push(unsafe(s, "sealed", true, "a sealed stream takes no messages"));
  return problems;
}

export function newStreamConfig(req: StreamRequirements): Partial<StreamConfig> & { name: string } {
  return {
    name: req.stream,
    subjects: [`${req.subjectPrefix ?? req.stream}.>`],
    retention: "limits",
    storage: "file",
    discard: "old",
    max_age: 0,
    max_msgs: -1,
    max_bytes: -1,
    max_msgs_per_subject: -1,
    num_replicas: req.replicas,
    duplicate_window: req.duplicateWindowMs * NS_PER_MS,
  };
}

function rejected(stream: string, what: string, err: unknown): OutlastError {
  const f = natsFailure(err);
  const text = err instanceof Error ? err.message : String(err);
  return f.kind === "fatal"
    ? new OutlastError("OUTLAST_NATS_REJECTED", `cannot ${what} stream ${stream}: ${text}`, {
        cause: err,
        details: { stream },
      })
    : new OutlastError("OUTLAST_NATS_UNAVAILABLE", `cannot ${what} stream ${stream}: ${text} (JetStream not ready?)`, {
        cause: err,
        details: { stream },
      });
}

/** Looks the stream up, creating it when missing (and allowed); throws OUTLAST_STREAM_UNSAFE, _NATS_REJECTED, _NATS_UNAVAILABLE. */
export async function ensureStream(jsm: JetStreamManager, req: StreamRequirements): Promise<StreamSetup> {
  let config: StreamConfig | undefined;
  let created = false;
  try {
    config = (await jsm.streams.info(req.stream)).config;
  } catch (err) {
    if ((err as { code?: unknown }).code !== API.streamNotFound) throw rejected(req.stream, "look up", err);
  }
  if (config === undefined) {
    if (!req.create)
      throw new OutlastError("OUTLAST_NATS_REJECTED", `stream ${req.stream} does not exist (and creating it is off)`, {
        details: { stream: req.stream },
      });
    try {
      config = (await jsm.streams.add(newStreamConfig(req))).config;
      created = true;
    } catch (err) {
      // Another gateway may have created it a moment ago: look again.
      try {
        config = (await jsm.streams.info(req.stream)).config;
      } catch {
        throw rejected(req.stream, "create", err);
      }
    }
  }
  const problems = streamProblems(config, req);
  if (problems.length > 0) throw problems[0] as OutlastError;
  return {
    subjectPrefix:
      req.subject ?? req.subjectPrefix ?? (prefixFromSubjects(config.subjects ?? [], config.name) as string),
    created,
    replicas: config.num_replicas,
    duplicateWindowMs: config.duplicate_window / NS_PER_MS,
  };
}

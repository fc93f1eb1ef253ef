// outlast: get every message from a client to a server over TCP/TLS on networks that drop all the time.

export { connect, Client, DEFAULT_CLOSE_TIMEOUT_MS } from "./client/client.js";
export type { ClientEvents, DeliveredEvent, DroppedEvent, RecoveredEvent, StateChangeEvent } from "./client/client.js";
export type { SendOptions, SendResult } from "./client/delivery.js";
export { DEFAULTS } from "./client/options.js";
export type {
  BackoffConnectOptions,
  ConnectOptions,
  MqttConnectOptions,
  MqttVersion,
  WhenFull,
} from "./client/options.js";
export { readMqttEnvelope } from "./client/transport/mqtt/envelope.js";
export type { MqttEnvelope } from "./client/transport/mqtt/envelope.js";
export type { StateName } from "./client/state-machine.js";
export type { ClientStats } from "./client/stats.js";
export type { ServerAddresses } from "./client/url.js";

export { MemoryOutbox } from "./outbox/memory-outbox.js";
export { FileOutbox } from "./outbox/file-outbox.js";
export type { FileOutboxOptions } from "./outbox/file-outbox.js";
export type { QuarantinedPart, RecoveryReport } from "./outbox/log/recovery.js";
export { inspectOutbox } from "./outbox/inspect.js";
export type { DamagedPart, InspectOutboxOptions, OutboxInspection, OutboxReadFs } from "./outbox/inspect.js";
export type { MemoryOutboxOptions } from "./outbox/memory-outbox.js";
export type { DropReason, Outbox, OutboxEntry, OutboxRecord } from "./outbox/outbox.js";

export { systemClock, ManualClock } from "./errors/clock.js";
export type { Clock, Timer } from "./errors/clock.js";

// outlast/errors, re-exported by name (src/errors/index.ts lists the same API).
export {
  classify,
  describeCode,
  isConnectionError,
  isOutlastError,
  isOutlastErrorCode,
  KINDS,
  OUTLAST_ERROR_CODES,
  OutlastError,
  registerClassifier,
  RETIRED_OUTLAST_ERROR_CODES,
  retry,
} from "./errors/index.js";
export type {
  AnyOutlastError,
  Classification,
  ClassifierRule,
  ClassifyOptions,
  CodeDescription,
  Delivered,
  DetailsOf,
  DropDetails,
  Kind,
  OutlastErrorCode,
  OutlastErrorDetails,
  OutlastErrorOptions,
  PeerErrorCode,
  PeerErrorDetails,
  Platform,
  RetryAttempt,
  RetryEvent,
  RetryOptions,
  Verdict,
} from "./errors/index.js";

// outlast: get every message from a client to a server over TCP/TLS on networks that drop all the time.

export { connect, Client, DEFAULT_CLOSE_TIMEOUT_MS } from "./client/client.js";
export type { ClientEvents, DeliveredEvent, DroppedEvent, StateChangeEvent } from "./client/client.js";
export type { SendOptions, SendResult } from "./client/delivery.js";
export { DEFAULTS } from "./client/options.js";
export type { BackoffConnectOptions, ConnectOptions, WhenFull } from "./client/options.js";
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

export * from "./errors/index.js";

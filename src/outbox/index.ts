export type { DropReason, Outbox, OutboxEntry, OutboxRecord } from "./outbox.js";
export { MemoryOutbox } from "./memory-outbox.js";
export type { MemoryOutboxOptions } from "./memory-outbox.js";
export { FileOutbox } from "./file-outbox.js";
export type { FileOutboxOptions } from "./file-outbox.js";
export { inspectOutbox } from "./inspect.js";
export type { DamagedPart, InspectOutboxOptions, OutboxInspection, OutboxReadFs } from "./inspect.js";

/**
 * node:diagnostics_channel channels of the server, for tools (APMs, tests).
 * Published only when someone subscribed (hasSubscribers), so they cost nothing otherwise.
 * Nothing is published per message, except per handler call to handlerStart/handled, and only
 * while someone listens (a metrics exporter).
 */

import { channel } from "node:diagnostics_channel";

/** A socket was accepted: `{ remoteAddress, remotePort }`. */
export const connectionChannel = channel("outlast:server:connection");
/** A handshake finished: `{ clientId, requestedClientId, version, remoteAddress, remotePort }`. */
export const handshakeChannel = channel("outlast:server:handshake");
/** A handshake or connection failed: `{ error, clientId?, remoteAddress, remotePort }` (protocol error, auth rejected, timeouts, busy). */
export const clientErrorChannel = channel("outlast:server:clientError");
/** A handler call threw or rejected: `{ error, clientId, seq, attempt }`. */
export const handlerErrorChannel = channel("outlast:server:handlerError");
/** A connection closed: `{ clientId?, remoteAddress, remotePort, reason }`. */
export const closeChannel = channel("outlast:server:close");
/**
 * Successes became durable and their ACKs are due: `{ committed: ReadonlyMap<clientId, seq> }`
 * (every seq <= the value was processed). One per commit (group commit or event-loop turn), not per message.
 */
export const acknowledgedChannel = channel("outlast:server:acknowledged");
/** The state directory made a batch durable: `{ dir, records, durationMs }` (one per group commit). */
export const stateCommitChannel = channel("outlast:server:stateCommit");
/**
 * The state directory's open moved a corrupt part to quarantine/ (its DONE records are lost: resends
 * of those seqs run the handler again): `{ dir, part }` (part: file, segment, offset, bytes, reason).
 */
export const stateQuarantineChannel = channel("outlast:server:stateQuarantine");
/**
 * A handler call began: `{ clientId, firstSeq, lastSeq, messages }` (one per call: per message
 * with onMessage, per batch with onMessages). Published only when subscribed.
 */
export const handlerStartChannel = channel("outlast:server:handlerStart");
/** A handler call succeeded: `{ clientId, lastSeq, messages, durationMs }` (failures go to handlerError). */
export const handledChannel = channel("outlast:server:handled");

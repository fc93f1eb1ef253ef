/**
 * Which worker of a pool serves a clientId: FNV-1a-32 of its UTF-8 bytes, modulo the worker count.
 * The primary routes a HELLO by it; a worker refuses to bind a clientId that does not hash to it,
 * so one clientId's dedup state never has two writers (docs/server.md, "Several processes").
 */

import { OutlastError } from "../../errors/outlast-error.js";
import type { ClientIdFilter } from "../server-context.js";

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** A HELLO that reached the wrong worker (it came after helloWaitMs): the client retries in about this long. */
export const MISROUTED_RETRY_MS = 250;

/** FNV-1a, 32 bits, of `bytes`. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** The index (0..count-1) of the worker that serves `clientId`. */
export function workerFor(clientId: string, count: number): number {
  return fnv1a32(Buffer.from(clientId, "utf8")) % count;
}

/**
 * The filter a pool worker puts on its server: `authenticate` binding a clientId of another worker is
 * rejected (OUTLAST_AUTH_REJECTED: the credential maps to a clientId this pool cannot route by HELLO);
 * a HELLO of another worker's clientId (it reached the primary after helloWaitMs, so it went round-robin)
 * is turned away with OUTLAST_SERVER_BUSY and a short retry: on the next connection its HELLO is routed.
 */
export function ownClientIdsOnly(index: number, count: number): ClientIdFilter {
  return (clientId, requestedClientId) => {
    const owner = workerFor(clientId, count);
    if (owner === index) return undefined;
    if (clientId !== requestedClientId) {
      return {
        error: new OutlastError(
          "OUTLAST_AUTH_REJECTED",
          `authenticate bound clientId ${JSON.stringify(clientId)} (HELLO asked for ${JSON.stringify(requestedClientId)}), ` +
            `which belongs to pool worker ${owner}, not to this one (${index}): in a pool, authenticate must ` +
            `return the HELLO's clientId or one that hashes to the same worker`,
          { details: { requestedClientId } },
        ),
      };
    }
    return {
      error: new OutlastError(
        "OUTLAST_SERVER_BUSY",
        `clientId ${JSON.stringify(clientId)} belongs to pool worker ${owner}, not to this one (${index}): ` +
          `its HELLO came late and was not routed; reconnect`,
        { details: { poolWorker: owner, retryAfterMs: MISROUTED_RETRY_MS } },
      ),
      retryAfterMs: MISROUTED_RETRY_MS,
    };
  };
}

/**
 * diagnostics_channel channels of the durable outbox (for tools; the
 * application sees rejected appends). Messages carry `dir`.
 *   outlast:outbox:open        { dir, clientId, count, bytes, nextSeq, report }
 *   outlast:outbox:quarantine  { dir, part }            (one per corrupt part moved aside at open)
 *   outlast:outbox:commit      { dir, records, controls, bytes, durationMs }   (one per group commit)
 *   outlast:outbox:segment     { dir, action: "created" | "deleted", segment, checkpoint? }
 *   outlast:outbox:error       { dir, error, fatal }
 */

import { channel } from "node:diagnostics_channel";

export const openChannel = channel("outlast:outbox:open");
export const quarantineChannel = channel("outlast:outbox:quarantine");
export const commitChannel = channel("outlast:outbox:commit");
export const segmentChannel = channel("outlast:outbox:segment");
export const errorChannel = channel("outlast:outbox:error");

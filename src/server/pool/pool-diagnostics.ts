/** node:diagnostics_channel channels of a server pool's primary (published only when someone subscribed). */

import { channel } from "node:diagnostics_channel";

/** A socket went to a worker: `{ worker, clientId, bytes }` (clientId undefined when its first frame was not a HELLO). */
export const handoffChannel = channel("outlast:pool:handoff");
/** A worker process exited: `{ index, code, signal }`. */
export const workerExitChannel = channel("outlast:pool:workerExit");

/** `outlast/server`: the acknowledging server. */

export { createServer, Server } from "./server.js";
export type { ServerEvents, ServerStats } from "./server.js";
export type {
  Authenticate,
  AuthenticateRequest,
  BatchHandler,
  DeadLetterHandler,
  IncomingMessage,
  ListenOptions,
  MessageHandler,
  ServerOptions,
} from "./options.js";
export { SERVER_DEFAULTS } from "./options.js";
export type { ConnectionEvent, ConnectionInfo } from "./server-context.js";
export type { HandlerFailure } from "./client-registry.js";
export { createServerPool, ServerPool } from "./pool/server-pool.js";
export type { ServerPoolEvents, WorkerExitInfo, WorkerReadyInfo } from "./pool/server-pool.js";
export type { ServerPoolOptions } from "./pool/pool-options.js";
export { SERVER_POOL_DEFAULTS } from "./pool/pool-options.js";
export { poolWorker, serveFromPool } from "./pool/pool-worker.js";

/** `outlast/gateway`: a stateless outlast server that forwards into a NATS JetStream stream, exactly once. */

export { createGateway, Gateway } from "./gateway.js";
export type { GatewayEvents, GatewayStats, NatsErrorInfo } from "./gateway.js";
export { GATEWAY_DEFAULTS, parseNatsServers } from "./options.js";
export type { ForwardOptions, GatewayOptions } from "./options.js";
export { HEADER_CLIENT_ID, HEADER_SEQ } from "../jetstream/nats-link.js";
export type { NatsFailure } from "../jetstream/nats-rules.js";
export { clientSubject, subjectToken } from "../jetstream/subject.js";

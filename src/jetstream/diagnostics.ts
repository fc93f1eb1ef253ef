/** diagnostics_channel names of the gateway (for tools; the application uses events). */

import { channel } from "node:diagnostics_channel";

/** Every NATS error a gateway meets: { error, failure, clientId }. */
export const gatewayNatsChannel = channel("outlast:gateway:nats-error");

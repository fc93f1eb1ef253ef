/** diagnostics_channel names of the JetStream writers (for tools; the application uses events). */

import { channel } from "node:diagnostics_channel";

/** Every NATS error a gateway meets: { error, failure, clientId }. The name is kept from when only the gateway wrote. */
export const gatewayNatsChannel = channel("outlast:gateway:nats-error");

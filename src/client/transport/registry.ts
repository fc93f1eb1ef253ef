/** The Transport of each transport name (schemes.ts maps URL schemes to names). */

import { mqttTransport } from "./mqtt/mqtt-transport.js";
import { natsTransport } from "./nats/nats-transport.js";
import { outlastTransport } from "./outlast-transport.js";
import type { TransportName } from "./schemes.js";
import type { Transport } from "./transport.js";

const TRANSPORTS: Readonly<Record<TransportName, Transport>> = {
  outlast: outlastTransport,
  mqtt: mqttTransport,
  nats: natsTransport,
};

export function transportFor(name: TransportName): Transport {
  return TRANSPORTS[name];
}

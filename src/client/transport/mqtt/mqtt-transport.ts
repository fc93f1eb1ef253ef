/**
 * MQTT over mqtt:// and mqtts:// (TLS through the `tls` option): QoS 1
 * publishes to `topic`, MQTT 5 where the broker speaks it and 3.1.1 otherwise.
 * The Link is mqtt-link.ts; docs/brokers.md says what it guarantees.
 */

import { invalidOption } from "../../../errors/outlast-error.js";
import type { ResolvedOptions } from "../../options.js";
import type { Transport } from "../transport.js";
import type { VersionMemory } from "./mqtt-link.js";
import { MqttLink } from "./mqtt-link.js";

/** What each client learned of each broker's protocol version ("auto"). */
const VERSIONS = new WeakMap<ResolvedOptions, VersionMemory>();

export const mqttTransport: Transport = {
  name: "mqtt",
  checkOptions(options) {
    const topic = options.topic;
    if (topic === undefined)
      invalidOption(
        "topic",
        'is required for mqtt:// and mqtts://: the topic every message is published to, e.g. { topic: "robots/7/telemetry" }',
      );
    if (/[+#]/.test(topic) || topic.includes("\u0000"))
      invalidOption(
        "topic",
        `${JSON.stringify(topic)} is not a topic name to publish to: it holds a wildcard (+ #) or a NUL`,
      );
    if (Buffer.byteLength(topic) > 65_535) invalidOption("topic", "is longer than MQTT's 65,535 bytes");
    if (options.token.length > 0)
      invalidOption("token", "is for outlast servers (tcp://, tls://); MQTT brokers take `username` and `password`");
    if (options.password !== undefined && options.username === undefined && options.mqtt.version === "3.1.1")
      invalidOption("password", "needs `username` with MQTT 3.1.1");
  },
  open(endpoint, clientId, options, events) {
    let versions = VERSIONS.get(options);
    if (versions === undefined) VERSIONS.set(options, (versions = new Map<string, 4 | 5>()));
    return new MqttLink(endpoint, clientId, options, events, versions);
  },
};

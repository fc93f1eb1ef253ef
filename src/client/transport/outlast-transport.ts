/**
 * The outlast protocol (docs/protocol.md) over tcp:// and tls://: its Link is
 * connection.ts (HELLO/WELCOME, MESSAGE/ACK frames, PING/PONG heartbeat).
 */

import { invalidOption } from "../../errors/outlast-error.js";
import { Connection } from "../connection.js";
import type { Transport } from "./transport.js";

export const outlastTransport: Transport = {
  name: "outlast",
  checkOptions(options) {
    const broker = { topic: options.topic, username: options.username, password: options.password };
    for (const [name, value] of Object.entries(broker)) {
      if (value !== undefined)
        invalidOption(
          name,
          "is for brokers (mqtt://, mqtts://); tcp:// and tls:// take `token` for the server's authenticate",
        );
    }
    if (options.mqtt.given) invalidOption("mqtt", "is for mqtt:// and mqtts:// URLs");
  },
  open: (endpoint, clientId, options, events) => new Connection(endpoint, clientId, options, events),
};

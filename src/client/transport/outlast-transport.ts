/**
 * The outlast protocol (docs/protocol.md) over tcp:// and tls://: its Link is
 * connection.ts (HELLO/WELCOME, MESSAGE/ACK frames, PING/PONG heartbeat).
 */

import { Connection } from "../connection.js";
import type { Transport } from "./transport.js";

export const outlastTransport: Transport = {
  name: "outlast",
  checkOptions() {
    // Every connect() option applies (token goes in HELLO).
  },
  open: (endpoint, clientId, options, events) => new Connection(endpoint, clientId, options, events),
};

/**
 * nats:// : the client publishes straight into a JetStream stream, with the same
 * exactly-once writer as the gateway (src/jetstream): msg id clientId:seq, the
 * per-client mark read through the stream leader, the expected last subject sequence.
 * The NATS client (nats.js) and the writer are loaded with import() when a link opens.
 */

import { invalidOption } from "../../../errors/outlast-error.js";
import type { Transport } from "../transport.js";
import { NatsClientLink } from "./nats-client-link.js";

export const natsTransport: Transport = {
  name: "nats",
  checkOptions(options) {
    if (options.subject === undefined)
      invalidOption("subject", "is required for nats:// URLs: the subject this client publishes on, e.g. robots.r1");
    if (options.stream === undefined)
      invalidOption("stream", "is required for nats:// URLs: the JetStream stream that holds the subject");
    if (options.token.length > 0)
      invalidOption("token", "is the outlast HELLO credential; for NATS pass nats.token (or nats.user/nats.pass)");
  },
  open: (endpoint, clientId, options, events) => new NatsClientLink(endpoint, clientId, options, events),
};

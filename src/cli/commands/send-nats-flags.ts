/**
 * `outlast send nats://HOST[:PORT] --subject S --stream NAME`: the flags of the nats://
 * transport (the client publishes straight into JetStream, exactly once: docs/brokers.md).
 * --username/--password are the NATS user here (as for an MQTT broker).
 */

import { UsageError } from "../command.js";

export const NATS_SEND_OPTIONS = {
  subject: { type: "string" },
  stream: { type: "string" },
} as const;

export const NATS_SEND_HELP = `  --subject S             nats://: the subject to publish on (required), e.g. robots.r7
  --stream NAME           nats://: the JetStream stream holding it (required; never created)
`;

export interface NatsSendConfig {
  readonly subject: string;
  readonly stream: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
}

/** --subject and --stream: required with nats:// URLs, refused otherwise. */
export function readNatsFlags(
  urls: readonly URL[],
  v: {
    subject: string | undefined;
    stream: string | undefined;
    username: string | undefined;
    password: string | undefined;
    token: string | undefined;
    "token-file": string | undefined;
  },
  source: (name: "subject" | "stream" | "token" | "token-file") => string,
): NatsSendConfig | undefined {
  const isNats = urls.map((u) => u.protocol === "nats:");
  if (isNats.some((n) => n !== isNats[0])) throw new UsageError("nats:// URLs cannot be mixed with other schemes");
  if (isNats[0] !== true) {
    for (const name of ["subject", "stream"] as const)
      if (v[name] !== undefined) throw new UsageError(`${source(name)} needs a nats:// URL`);
    return undefined;
  }
  if (v.subject === undefined || v.subject === "")
    throw new UsageError("nats:// needs --subject S: the subject every message is published on");
  if (v.stream === undefined || v.stream === "")
    throw new UsageError("nats:// needs --stream NAME: the JetStream stream that holds the subject");
  const tokenFlag = v.token !== undefined ? "token" : v["token-file"] !== undefined ? "token-file" : undefined;
  if (tokenFlag !== undefined)
    throw new UsageError(`${source(tokenFlag)} is for outlast servers; NATS takes --username and --password`);
  if ((v.username === undefined) !== (v.password === undefined))
    throw new UsageError("nats:// takes --username and --password together");
  return { subject: v.subject, stream: v.stream, username: v.username, password: v.password };
}

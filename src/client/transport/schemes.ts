/**
 * URL schemes the client accepts, and which transport each one uses. A new
 * transport adds its schemes here and its Transport in registry.ts.
 */

export type TransportName = "outlast" | "mqtt" | "nats";

export interface SchemeInfo {
  readonly transport: TransportName;
  /** TLS on the link. */
  readonly secure: boolean;
  /** Used when the URL has no port; undefined: the port is required. */
  readonly defaultPort: number | undefined;
}

/** Keyed by the scheme without its colon. */
export const SCHEMES: Readonly<Record<string, SchemeInfo>> = {
  tcp: { transport: "outlast", secure: false, defaultPort: undefined },
  tls: { transport: "outlast", secure: true, defaultPort: undefined },
  mqtt: { transport: "mqtt", secure: false, defaultPort: 1883 },
  mqtts: { transport: "mqtt", secure: true, defaultPort: 8883 },
  // NATS JetStream, straight from the client (TLS when the `tls` option or the server asks for it).
  nats: { transport: "nats", secure: false, defaultPort: 4222 },
};

/** "tcp://, tls://, mqtt://, mqtts:// or nats://", for messages. */
export function schemeList(): string {
  const names = Object.keys(SCHEMES).map((s) => `${s}://`);
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

export function schemeInfo(scheme: string): SchemeInfo | undefined {
  return Object.hasOwn(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
}

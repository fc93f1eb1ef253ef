/** Parses `tcp://host:port` and `tls://host:port` (IPv6 as `[::1]:port`). */

import { isIP } from "node:net";
import { invalidOption } from "../errors/outlast-error.js";

export interface Endpoint {
  readonly secure: boolean;
  /** Host name or IP address, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** The URL as given, for messages. */
  readonly href: string;
}

export function parseEndpoint(url: string | URL): Endpoint {
  const text = typeof url === "string" ? url : url.href;
  if (typeof text !== "string") invalidOption("url", `must be a string like tcp://host:port, got ${typeof url}`);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return invalidOption("url", `${JSON.stringify(text)} is not a URL; expected tcp://host:port or tls://host:port`);
  }
  const scheme = parsed.protocol;
  if (scheme !== "tcp:" && scheme !== "tls:") {
    invalidOption("url", `scheme ${JSON.stringify(scheme)} is not supported; use tcp:// or tls://`);
  }
  let host = parsed.hostname;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "") invalidOption("url", `${JSON.stringify(text)} has no host`);
  if (parsed.port === "") invalidOption("url", `${JSON.stringify(text)} has no port; write ${scheme}//host:port`);
  const port = Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    invalidOption("url", `port ${parsed.port} is not in 1..65535`);
  if (
    (parsed.pathname !== "" && parsed.pathname !== "/") ||
    parsed.search !== "" ||
    parsed.hash !== "" ||
    parsed.username !== ""
  ) {
    invalidOption(
      "url",
      `${JSON.stringify(text)} has a path, query, fragment or user info; only scheme://host:port is allowed`,
    );
  }
  return { secure: scheme === "tls:", host, port, href: text };
}

/** TLS servername for a host: the name itself, none for an IP address (SNI forbids IPs). */
export function serverNameFor(host: string): string | undefined {
  return isIP(host) === 0 ? host : undefined;
}

/**
 * Parses server addresses: `tcp://host:port`, `tls://host:port` and the other
 * schemes of transport/schemes.ts (IPv6 as `[::1]:port`), one or several (an
 * array, or one string with commas). All entries of a list use one transport.
 */

import { isIP } from "node:net";
import { invalidOption } from "../errors/outlast-error.js";
import type { TransportName } from "./transport/schemes.js";
import { schemeInfo, schemeList } from "./transport/schemes.js";

export interface Endpoint {
  /** The URL scheme without its colon ("tcp", "tls", ...). */
  readonly scheme: string;
  /** The transport that speaks it (transport/schemes.ts). */
  readonly transport: TransportName;
  readonly secure: boolean;
  /** Host name or IP address, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** The URL as given, for messages. */
  readonly href: string;
}

/** What connect() takes: one address, one string of comma-separated addresses, or a list. */
export type ServerAddresses = string | URL | readonly (string | URL)[];

/**
 * The servers to try, in the order given: each entry checked like `parseEndpoint`
 * (an invalid one throws OUTLAST_INVALID_OPTION naming it: `url`, or `url[i]` in a
 * list). A string with commas is a list. An empty list or an entry listed twice is
 * an error.
 */
export function parseEndpoints(urls: ServerAddresses): Endpoint[] {
  let entries: readonly unknown[];
  if (Array.isArray(urls)) entries = urls as readonly unknown[];
  else if (typeof urls === "string" && urls.includes(",")) entries = urls.split(",").map((u) => u.trim());
  else return [parseEndpoint(urls as string | URL)];
  if (entries.length === 0) invalidOption("url", "is an empty list; give at least one tcp://host:port");
  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const name = `url[${i}]`;
    if (entry === "") invalidOption(name, "is empty (a stray comma?); expected tcp://host:port or tls://host:port");
    const endpoint = parseEndpoint(entry as string | URL, name);
    const key = endpointKey(endpoint);
    const first: Endpoint | undefined = endpoints[0];
    const [mine, theirs]: string[] = [endpoint.transport, first?.transport ?? endpoint.transport];
    if (first !== undefined && mine !== theirs) {
      invalidOption(
        name,
        `${JSON.stringify(endpoint.href)} uses the ${mine} transport but ${JSON.stringify(first.href)} uses ${theirs}; one client speaks one transport`,
      );
    }
    if (seen.has(key)) invalidOption(name, `${JSON.stringify(endpoint.href)} is listed twice`);
    seen.add(key);
    endpoints.push(endpoint);
  });
  return endpoints;
}

/** scheme://host:port, normalized (for duplicates and messages). */
export function endpointKey(e: Endpoint): string {
  const host = e.host.toLowerCase(); // host names are case-insensitive (URL keeps the case for tcp:)
  return `${e.scheme}://${host.includes(":") ? `[${host}]` : host}:${e.port}`;
}

/** `option` names the entry in errors: `url`, or `url[2]` for an entry of a list. */
export function parseEndpoint(url: string | URL, option = "url"): Endpoint {
  const text = typeof url === "string" ? url : url instanceof URL ? url.href : undefined;
  if (typeof text !== "string") invalidOption(option, `must be a string like tcp://host:port, got ${typeof url}`);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return invalidOption(option, `${JSON.stringify(text)} is not a URL; expected tcp://host:port or tls://host:port`);
  }
  const scheme = parsed.protocol;
  const info = schemeInfo(scheme.slice(0, -1));
  if (info === undefined) {
    return invalidOption(option, `scheme ${JSON.stringify(scheme)} is not supported; use ${schemeList()}`);
  }
  let host = parsed.hostname;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "") invalidOption(option, `${JSON.stringify(text)} has no host`);
  if (parsed.port === "" && info.defaultPort === undefined)
    invalidOption(option, `${JSON.stringify(text)} has no port; write ${scheme}//host:port`);
  const port = parsed.port === "" ? (info.defaultPort as number) : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    invalidOption(option, `port ${parsed.port} is not in 1..65535`);
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
  return { scheme: scheme.slice(0, -1), transport: info.transport, secure: info.secure, host, port, href: text };
}

/** TLS servername for a host: the name itself, none for an IP address (SNI forbids IPs). */
export function serverNameFor(host: string): string | undefined {
  return isIP(host) === 0 ? host : undefined;
}

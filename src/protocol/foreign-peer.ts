/**
 * Recognises a peer that does not speak the outlast protocol from the first
 * bytes it sends: a web server answering our HELLO with "HTTP/1.1 400", a TLS
 * server answering a plain connection with a TLS alert (the URL should be
 * tls://), an SSH server's banner. Without this the bytes are read as a frame
 * header and the user reads "frame length 1213486160 exceeds maxFrameBytes".
 *
 * A pure function of the bytes, so both sides and the tests can use it.
 */

export type ForeignPeerKind = "http" | "tls" | "ssh";

export interface ForeignPeer {
  readonly kind: ForeignPeerKind;
  /** What the peer said, printable (the HTTP status line, the SSH banner); "" for TLS. */
  readonly said: string;
}

/** TLS record types a server sends first: alert (21) or handshake (22); versions 3.0 to 1.3 are 0x03 0x00..0x04. */
const TLS_ALERT = 0x15;
const TLS_HANDSHAKE = 0x16;

function firstLine(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 120)).toString("latin1");
  const line = text.split(/\r?\n/)[0] ?? "";
  return line.replace(/[^\x20-\x7e]/g, "?");
}

function startsWith(bytes: Uint8Array, ascii: string): boolean {
  if (bytes.byteLength < ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (bytes[i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/**
 * The kind of foreign peer whose first bytes are `bytes`, or undefined when they
 * could be outlast (or are too few to tell: at least 3 bytes are needed).
 */
export function recognizeForeignPeer(bytes: Uint8Array): ForeignPeer | undefined {
  if (startsWith(bytes, "HTTP/")) return { kind: "http", said: firstLine(bytes) };
  if (startsWith(bytes, "SSH-")) return { kind: "ssh", said: firstLine(bytes) };
  const [type, major, minor] = [bytes[0], bytes[1], bytes[2]];
  if ((type === TLS_ALERT || type === TLS_HANDSHAKE) && major === 0x03 && minor !== undefined && minor <= 0x04)
    return { kind: "tls", said: "" };
  return undefined;
}

/** What to tell a person about a foreign peer at `url` (what it is and what to change). */
export function describeForeignPeer(peer: ForeignPeer, url: string): string {
  switch (peer.kind) {
    case "http":
      return `${url} answered in HTTP (${JSON.stringify(peer.said)}), not the outlast protocol: it is a web server; check the host and port`;
    case "tls":
      return `${url} answered in TLS, not plain outlast: the server expects TLS; use tls:// instead of tcp://`;
    case "ssh":
      return `${url} answered with an SSH banner (${JSON.stringify(peer.said)}), not the outlast protocol; check the host and port`;
    default: {
      const never: never = peer.kind;
      return never;
    }
  }
}

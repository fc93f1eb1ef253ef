/**
 * What each kind means and what a client should do about it. docs/errors.md's
 * kinds table is generated from KIND_GUIDE, and describeCode's `advice` from adviceFor.
 */

import type { Kind } from "./classification.js";
import type { CodeRule } from "./code-rules.js";

export interface KindGuide {
  /** What happened, in one line. */
  readonly meaning: string;
  /** What a client should do, in one line. */
  readonly action: string;
}

export const KIND_GUIDE: Readonly<Record<Kind, KindGuide>> = {
  reset: {
    meaning: "the peer or a middlebox tore the connection down (RST, NAT timeout, server restart)",
    action: "reconnect with backoff and resend what the peer has not acknowledged",
  },
  refused: {
    meaning: "nothing accepted the connection: the server is down, restarting or at its limit",
    action: "reconnect with backoff; nothing was delivered, so a resend cannot be a duplicate",
  },
  aborted: {
    meaning: "the local network stack gave up on the connection",
    action: "reconnect with backoff and resend what the peer has not acknowledged",
  },
  "broken-pipe": {
    meaning: "we wrote after the peer had closed the connection",
    action: "reconnect with backoff and resend what the peer has not acknowledged",
  },
  "not-connected": {
    meaning: "the socket is gone or was never connected",
    action: "reconnect with backoff, then resend",
  },
  "network-unreachable": {
    meaning: "no route to the network: interface down, address lost, Wi-Fi roaming",
    action: "wait for the network to come back, then reconnect with backoff",
  },
  "host-unreachable": {
    meaning: "the network is up but the host does not answer (no ARP reply, ICMP host unreachable)",
    action: "reconnect with backoff; check the host if it lasts",
  },
  "network-down": {
    meaning: "the local network interface is down or the machine is off the network",
    action: "wait for the network to come back, then reconnect with backoff",
  },
  "address-unavailable": {
    meaning: "the local address is gone (DHCP renewal) or ephemeral ports are exhausted",
    action: "reconnect with backoff; if it lasts, check localAddress and connection churn",
  },
  dns: {
    meaning: "the name could not be resolved; on a device this usually means offline",
    action: "retry with backoff; if the network is up and it lasts, check the host name and resolver",
  },
  timeout: {
    meaning: "nothing answered in time: SYNs, data or a handshake went unanswered",
    action: "reconnect with backoff and resend; the peer may have received what was sent",
  },
  tls: {
    meaning: "the TLS stream broke (bad record, plaintext peer, closed mid-handshake) or TLS settings do not match",
    action:
      "a broken stream: reconnect with backoff; a settings mismatch (detail tls-config): a person must change the TLS configuration",
  },
  certificate: {
    meaning: "the certificate was rejected: expired, self-signed, unknown CA, wrong host, missing client certificate",
    action: "a person must act (renew, trust the CA, fix the host name or the device clock); retrying will not help",
  },
  other: {
    meaning: "not a connection failure: a bug, a configuration, a cancel, an HTTP answer or a local resource",
    action: "do not retry blindly: fix the cause; see the code's detail",
  },
};

/** Advice for a `detail` that changes what to do, whatever the kind. */
const DETAIL_ADVICE: Readonly<Record<string, string>> = {
  cancelled: "the caller cancelled: not a failure; do not retry unless the caller asks again",
  "closed-by-user": "your code closed the client: do not retry; open a new one if you still need it",
  bug: "a bug or a wrong argument: fix the code or configuration; retrying will not help",
  resource:
    "a local resource ran out (files, sockets, memory, disk): free it before retrying; the network is not at fault",
  "http-status":
    "the server answered with an HTTP error: handle the status; retry only what your protocol says is retryable (429, 503)",
  "tls-config": "a person must act: client and server TLS settings do not match; retrying will not help",
  auth: "a person must act: fix the credentials; retrying will not help",
  "protocol-version": "a person must act: upgrade the client or the server so they share a protocol version",
  protocol: "a bug in the peer or a corrupted stream: report it; retrying may hit it again",
};

/** What a client should do about an error with this verdict. */
export function adviceFor(rule: CodeRule | undefined): string {
  if (rule === undefined) return KIND_GUIDE.other.action;
  const byDetail = rule.detail === undefined ? undefined : DETAIL_ADVICE[rule.detail];
  if (byDetail !== undefined && !rule.connection) return byDetail;
  if (!rule.connection) {
    if (rule.kind === "certificate") return KIND_GUIDE.certificate.action;
    if (rule.kind === "dns")
      return "the resolver answered: the name or record does not exist; fix the name, retrying will not help";
    return KIND_GUIDE.other.action;
  }
  const resend = rule.connectPhase
    ? "reconnect with backoff and resend: nothing reached the peer, so the resend cannot be a duplicate"
    : "reconnect with backoff and resend; the peer may have received part of what was sent, so resend what it has not acknowledged and let it drop duplicates";
  const lead = CONNECTION_LEAD[rule.kind];
  return lead === undefined ? resend : `${lead}, then ${resend}`;
}

/** A first step for connection errors whose cause is known. */
const CONNECTION_LEAD: Partial<Record<Kind, string>> = {
  "network-unreachable": "wait for the network to come back",
  "network-down": "wait for the network to come back",
  dns: "usually offline: wait for the network",
  refused: "the server is down or restarting: wait",
};

/**
 * The verdict for every canonical code we know. One row per code; the comment
 * (or `meaning`) says why. Codes are Node's names (libuv's for system errors),
 * OpenSSL's through Node (ERR_SSL_*, X509 verify codes), c-ares's, and the
 * libraries' own (undici UND_ERR_*, axios, got, HTTP/2).
 */

import type { Kind } from "./classification.js";

export interface CodeRule {
  readonly kind: Kind;
  /** A transient connection or network failure: reconnect and resend. */
  readonly connection: boolean;
  /** The failure happens before any byte of ours can reach the peer (DNS, connect, TLS handshake): delivered "no". */
  readonly connectPhase: boolean;
  /** Short human meaning, e.g. "connection reset by peer". */
  readonly meaning: string;
  readonly detail?: string;
}

type Row = readonly [
  code: string,
  kind: Kind,
  connection: boolean,
  connectPhase: boolean,
  meaning: string,
  detail?: string,
];

const C = true; // connection error
const B = false; // not a connection error (a bug, a configuration, or a person's decision)
const PRE = true; // before any byte reached the peer
const ANY = false; // may happen after bytes were sent

const ROWS: readonly Row[] = [
  // --- the connection itself (ECONN*) ---
  ["ECONNRESET", "reset", C, ANY, "connection reset by peer"], // peer sent RST (crash, restart, NAT timeout)
  ["ECONNREFUSED", "refused", C, PRE, "connection refused"], // nothing listens there (yet): the server is down or restarting
  ["ECONNABORTED", "aborted", C, ANY, "software caused connection abort"], // the local stack gave up on the connection
  ["EPIPE", "broken-pipe", C, ANY, "broken pipe"], // we wrote after the peer closed
  ["ESHUTDOWN", "broken-pipe", C, ANY, "cannot send after transport endpoint shutdown"],
  ["ENOTCONN", "not-connected", C, ANY, "socket is not connected"],
  ["ENETRESET", "reset", C, ANY, "network dropped connection on reset", "network-reset"], // Node reports it as UNKNOWN with errno -102 (Linux) / -52 (macOS)
  ["ETIMEDOUT", "timeout", C, ANY, "connection timed out"], // the kernel gave up: SYNs or data unanswered
  // --- the network (ENET*, EHOST*): usually DHCP, Wi-Fi roaming, a cable ---
  ["ENETUNREACH", "network-unreachable", C, ANY, "network is unreachable"], // no route: interface down or address lost
  ["ENETDOWN", "network-down", C, ANY, "network is down"],
  ["ENONET", "network-down", C, ANY, "machine is not on the network"],
  ["EHOSTUNREACH", "host-unreachable", C, ANY, "no route to host"], // no ARP answer or ICMP host-unreachable
  ["EHOSTDOWN", "host-unreachable", C, ANY, "host is down"],
  ["EADDRNOTAVAIL", "address-unavailable", C, PRE, "address not available"], // local address lost on DHCP renewal, or ephemeral ports exhausted
  ["EPROTO", "tls", C, ANY, "protocol error"], // older Node reports broken TLS records this way
  // --- DNS: on a device this means offline far more often than a typo ---
  ["EAI_AGAIN", "dns", C, PRE, "temporary failure in name resolution"], // resolver unreachable: usually offline
  ["ENOTFOUND", "dns", C, PRE, "name not found"], // getaddrinfo EAI_NONAME/NODATA, c-ares NXDOMAIN: offline resolvers answer this too
  ["EAI_NONAME", "dns", C, PRE, "name not known"], // Node reports it as ENOTFOUND; seen as a bare errno (-3008)
  ["EAI_NODATA", "dns", C, PRE, "no address for the name"], // Node reports it as ENOTFOUND; seen as a bare errno (-3007)
  ["EAI_FAIL", "dns", C, PRE, "non-recoverable failure in name resolution"],
  ["ESERVFAIL", "dns", C, PRE, "DNS server returned a general failure"],
  ["EREFUSED", "dns", C, PRE, "DNS server refused the query"],
  ["ETIMEOUT", "timeout", C, PRE, "DNS query timed out", "dns"],
  ["ENODATA", "dns", B, PRE, "DNS server answered: no record of that type"], // the resolver answered: we are online
  ["EFORMERR", "dns", B, PRE, "DNS server reports a malformed query"],
  ["EBADRESP", "dns", C, PRE, "bad DNS reply"], // a mangled reply: a middlebox or a flaky link
  ["EBADNAME", "dns", B, PRE, "misformatted host name"],
  ["EBADQUERY", "dns", B, PRE, "misformatted DNS query"],
  ["ECANCELLED", "other", B, PRE, "DNS query cancelled", "cancelled"], // resolver.cancel(): the caller's decision
  // --- Node timeouts ---
  ["ERR_SOCKET_CONNECTION_TIMEOUT", "timeout", C, PRE, "connect timed out (autoSelectFamilyAttemptTimeout)"],
  ["ERR_TLS_HANDSHAKE_TIMEOUT", "timeout", C, PRE, "TLS handshake timed out"],
  ["UND_ERR_CONNECT_TIMEOUT", "timeout", C, PRE, "undici: connect timed out"],
  ["UND_ERR_HEADERS_TIMEOUT", "timeout", C, ANY, "undici: response headers timed out"],
  ["UND_ERR_BODY_TIMEOUT", "timeout", C, ANY, "undici: response body timed out"],
  ["ESOCKETTIMEDOUT", "timeout", C, ANY, "socket timed out"], // request, older clients
  ["TimeoutError", "timeout", C, ANY, "operation timed out"], // DOMException from AbortSignal.timeout()
  ["OUTLAST_HEARTBEAT_TIMEOUT", "timeout", C, ANY, "heard nothing from the peer within the heartbeat timeout"],
  [
    "OUTLAST_CONNECTION_CLOSED",
    "reset",
    C,
    ANY,
    "the peer closed the connection without saying goodbye (a crash, or a proxy or NAT box closing)",
    "peer-closed",
  ],
  ["OUTLAST_CONNECT_TIMEOUT", "timeout", C, PRE, "connect, TLS handshake or protocol handshake timed out"],
  // --- Node stream/socket states that mean "the link is gone" ---
  ["ERR_STREAM_DESTROYED", "not-connected", C, ANY, "write after the socket was destroyed"],
  ["ERR_SOCKET_CLOSED", "not-connected", C, ANY, "socket is closed"],
  [
    "ERR_SOCKET_CLOSED_BEFORE_CONNECTION",
    "not-connected",
    C,
    PRE,
    "socket closed before the connection was established",
  ],
  ["ERR_STREAM_PREMATURE_CLOSE", "reset", C, ANY, "stream closed before it ended", "premature-close"],
  ["ERR_HTTP2_GOAWAY_SESSION", "reset", C, ANY, "HTTP/2 session received GOAWAY", "http2-goaway"],
  ["ERR_HTTP2_SESSION_ERROR", "reset", C, ANY, "HTTP/2 session closed with an error", "http2"],
  ["ERR_HTTP2_INVALID_SESSION", "not-connected", C, ANY, "HTTP/2 session was destroyed"],
  ["ERR_HTTP2_STREAM_CANCEL", "reset", C, ANY, "HTTP/2 stream cancelled before it completed", "http2"],
  ["NGHTTP2_REFUSED_STREAM", "refused", C, PRE, "HTTP/2 stream refused before processing", "http2-refused-stream"],
  ["NGHTTP2_CANCEL", "reset", C, ANY, "HTTP/2 stream cancelled by the peer", "http2"],
  ["NGHTTP2_INTERNAL_ERROR", "reset", C, ANY, "HTTP/2 peer internal error", "http2"],
  ["NGHTTP2_CONNECT_ERROR", "reset", C, ANY, "HTTP/2 CONNECT tunnel failed", "http2"],
  ["NGHTTP2_PROTOCOL_ERROR", "other", B, ANY, "HTTP/2 protocol error", "http2"],
  ["ERR_HTTP2_PING_CANCEL", "not-connected", C, ANY, "HTTP/2 ping cancelled: session closed"],
  // --- undici ---
  ["UND_ERR_SOCKET", "reset", C, ANY, "undici: the socket closed or failed", "peer-closed"],
  ["UND_ERR_CLOSED", "not-connected", B, ANY, "undici: the client was closed", "closed-by-user"], // our own close()
  ["UND_ERR_DESTROYED", "not-connected", B, ANY, "undici: the client was destroyed", "closed-by-user"],
  ["UND_ERR_ABORTED", "other", B, ANY, "undici: request aborted by the caller", "cancelled"],
  ["UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "reset", C, ANY, "undici: body shorter than content-length", "truncated"],
  ["UND_ERR_RESPONSE_STATUS_CODE", "other", B, ANY, "undici: HTTP error status", "http-status"],
  ["UND_ERR_RESPONSE", "other", B, ANY, "undici: HTTP error status (responseError interceptor)", "http-status"], // undici v7
  ["UND_ERR_INVALID_ARG", "other", B, PRE, "undici: invalid argument", "bug"],
  ["UND_ERR_NOT_SUPPORTED", "other", B, PRE, "undici: not supported", "bug"],
  ["UND_ERR_PRX_TLS", "tls", C, PRE, "undici: TLS to the proxy failed"],
  // --- user cancels: never a connection error ---
  ["ABORT_ERR", "other", B, ANY, "operation aborted by the caller", "cancelled"],
  ["AbortError", "other", B, ANY, "operation aborted by the caller", "cancelled"],
  ["ERR_CANCELED", "other", B, ANY, "request cancelled by the caller", "cancelled"], // axios CanceledError, got CancelError
  ["ERR_ABORTED", "other", B, ANY, "request aborted by the caller's AbortSignal", "cancelled"], // got AbortError
  ["ECANCELED", "other", B, ANY, "operation cancelled", "cancelled"], // libuv: a handle closed with requests pending
  // --- TLS: a broken stream is a connection error ---
  [
    "ERR_SSL_WRONG_VERSION_NUMBER",
    "tls",
    C,
    PRE,
    "TLS record with a wrong version: the peer spoke plaintext or a middlebox answered",
  ],
  ["ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "tls", C, ANY, "TLS record failed to decrypt: corrupted in transit"],
  // OpenSSL 3.2+ (Node 22, 24) names plaintext or garbage where a record was due after the handshake this way.
  ["ERR_SSL_BAD_RECORD_TYPE", "tls", C, ANY, "TLS record of an unexpected type: the peer spoke plaintext or garbage"],
  ["ERR_SSL_BAD_RECORD_MAC", "tls", C, ANY, "TLS record MAC check failed: corrupted in transit"],
  ["ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC", "tls", C, ANY, "peer sent TLS alert bad_record_mac"],
  ["ERR_SSL_BAD_LENGTH", "tls", C, ANY, "TLS record with a bad length"],
  ["ERR_SSL_RECORD_LAYER_FAILURE", "tls", C, ANY, "TLS record layer failure"],
  ["ERR_SSL_PACKET_LENGTH_TOO_LONG", "tls", C, PRE, "TLS record too long: the peer is not speaking TLS"],
  ["ERR_SSL_UNEXPECTED_EOF_WHILE_READING", "tls", C, ANY, "TLS stream ended without close_notify"],
  ["ERR_SSL_UNEXPECTED_MESSAGE", "tls", C, ANY, "unexpected TLS message"],
  ["ERR_SSL_SSLV3_ALERT_UNEXPECTED_MESSAGE", "tls", C, ANY, "peer sent TLS alert unexpected_message"],
  ["ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR", "tls", C, ANY, "peer sent TLS alert internal_error"],
  ["ERR_SSL_TLSV1_ALERT_DECODE_ERROR", "tls", C, ANY, "peer sent TLS alert decode_error"],
  ["ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR", "tls", C, ANY, "peer sent TLS alert decrypt_error"],
  ["ERR_SSL_SSL_HANDSHAKE_FAILURE", "tls", C, PRE, "TLS handshake failed"],
  ["ERR_SSL_UNEXPECTED_RECORD", "tls", C, ANY, "unexpected TLS record"],
  ["ERR_SSL_SSLV3_ALERT_CLOSE_NOTIFY", "tls", C, ANY, "peer closed the TLS session"],
  // TLS configuration that cannot work until a person changes it: not a connection error
  [
    "ERR_SSL_UNSUPPORTED_PROTOCOL",
    "tls",
    B,
    PRE,
    "no TLS version in common: change minVersion/maxVersion",
    "tls-config",
  ],
  [
    "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
    "tls",
    B,
    PRE,
    "peer refused our TLS version: change minVersion/maxVersion",
    "tls-config",
  ],
  ["ERR_SSL_NO_PROTOCOLS_AVAILABLE", "tls", B, PRE, "no TLS protocol version enabled", "tls-config"],
  ["ERR_SSL_VERSION_TOO_LOW", "tls", B, PRE, "peer's TLS version is below our minimum", "tls-config"],
  ["ERR_SSL_NO_SHARED_CIPHER", "tls", B, PRE, "no TLS cipher in common", "tls-config"],
  ["ERR_SSL_TLSV1_ALERT_INAPPROPRIATE_FALLBACK", "tls", B, PRE, "TLS downgrade refused", "tls-config"],
  // --- certificates: a person must act; never a connection error ---
  ["CERT_HAS_EXPIRED", "certificate", B, PRE, "certificate has expired"],
  ["CERT_NOT_YET_VALID", "certificate", B, PRE, "certificate is not yet valid (check the device clock)"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "certificate", B, PRE, "self-signed certificate"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "certificate", B, PRE, "self-signed certificate in the chain"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "certificate", B, PRE, "unable to verify the first certificate"],
  ["UNABLE_TO_GET_ISSUER_CERT", "certificate", B, PRE, "unable to get the issuer certificate"],
  [
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "certificate",
    B,
    PRE,
    "unable to get the local issuer certificate: unknown CA",
  ],
  ["UNABLE_TO_DECRYPT_CERT_SIGNATURE", "certificate", B, PRE, "unable to decrypt the certificate's signature"],
  ["UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY", "certificate", B, PRE, "unable to decode the issuer's public key"],
  ["CERT_SIGNATURE_FAILURE", "certificate", B, PRE, "certificate signature failure"],
  ["CERT_REVOKED", "certificate", B, PRE, "certificate revoked"],
  ["CERT_UNTRUSTED", "certificate", B, PRE, "certificate not trusted"],
  ["CERT_REJECTED", "certificate", B, PRE, "certificate rejected"],
  ["CERT_CHAIN_TOO_LONG", "certificate", B, PRE, "certificate chain too long"],
  ["INVALID_CA", "certificate", B, PRE, "invalid CA certificate"],
  ["INVALID_PURPOSE", "certificate", B, PRE, "certificate not for this purpose"],
  ["PATH_LENGTH_EXCEEDED", "certificate", B, PRE, "certificate path length exceeded"],
  ["HOSTNAME_MISMATCH", "certificate", B, PRE, "certificate is for another host name"],
  [
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "certificate",
    B,
    PRE,
    "certificate's names do not include the host we connected to",
  ],
  ["ERR_TLS_CERT_ALTNAME_FORMAT", "certificate", B, PRE, "certificate's subjectAltName is malformed"],
  ["ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate", B, ANY, "the server requires a client certificate"],
  [
    "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
    "certificate",
    B,
    PRE,
    "peer refused the handshake: a required client certificate is missing, or no cipher in common",
  ],
  ["ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", "certificate", B, PRE, "peer rejected our certificate"],
  ["ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED", "certificate", B, PRE, "peer says our certificate has expired"],
  ["ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED", "certificate", B, PRE, "peer says our certificate is revoked"],
  ["ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN", "certificate", B, PRE, "peer could not verify our certificate"],
  ["ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE", "certificate", B, PRE, "peer does not support our certificate"],
  ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "certificate", B, PRE, "peer does not trust the CA of our certificate"],
  ["ERR_SSL_TLSV1_ALERT_ACCESS_DENIED", "certificate", B, PRE, "peer denied access to our certificate"],
  ["ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE", "certificate", B, PRE, "peer did not send a required certificate"],
  ["ERR_SSL_CERTIFICATE_VERIFY_FAILED", "certificate", B, PRE, "certificate verification failed"],
  ["ERR_OSSL_PEM_NO_START_LINE", "certificate", B, PRE, "key or certificate is not valid PEM", "bug"],
  // --- PostgreSQL SQLSTATE (node-postgres puts it in `code`) ---
  ["57P01", "reset", C, ANY, "PostgreSQL admin_shutdown: the server is shutting down", "sqlstate"],
  ["57P02", "reset", C, ANY, "PostgreSQL crash_shutdown", "sqlstate"],
  ["57P03", "refused", C, PRE, "PostgreSQL cannot_connect_now: the server is starting up", "sqlstate"],
  // --- our own protocol ---
  ["OUTLAST_AUTH_REJECTED", "other", B, PRE, "the server rejected our credentials", "auth"],
  ["OUTLAST_PROTOCOL_VERSION", "other", B, PRE, "client and server share no protocol version", "protocol-version"],
  ["OUTLAST_PROTOCOL_ERROR", "other", B, ANY, "the peer broke the outlast protocol", "protocol"],
  ["OUTLAST_SERVER_BUSY", "refused", C, PRE, "the server is at its connection limit", "busy"],
  // From a server: our HELLO did not reach it within its handshake timeout (a slow or lossy link, a server
  // behind on a reconnect storm); locally: a flush() limit. Either way wait and retry, nothing to fix.
  ["OUTLAST_TIMEOUT", "timeout", C, ANY, "an operation did not finish within its time limit"],
  ["OUTLAST_HANDLER_FAILED", "other", C, ANY, "the server's handler failed; the message will be resent", "handler"],
  // --- bugs and local problems that look network-ish but are not ---
  ["EADDRINUSE", "other", B, PRE, "address already in use", "bug"], // listen/bind: another process holds the port
  ["EACCES", "other", B, PRE, "permission denied", "bug"],
  ["EPERM", "other", B, PRE, "operation not permitted", "bug"], // often a firewall rule: a person must act
  ["ENOENT", "other", B, PRE, "no such file or directory", "bug"],
  ["EINVAL", "other", B, PRE, "invalid argument", "bug"],
  ["EBADF", "other", B, PRE, "bad file descriptor", "bug"],
  ["EMFILE", "other", B, PRE, "too many open files", "resource"],
  ["ENFILE", "other", B, PRE, "file table overflow", "resource"],
  ["ENOBUFS", "other", B, ANY, "no buffer space available", "resource"],
  ["ENOMEM", "other", B, ANY, "out of memory", "resource"],
  ["ENOSPC", "other", B, ANY, "no space left on device", "resource"],
  ["EIO", "other", B, ANY, "input/output error", "resource"],
  ["EAFNOSUPPORT", "other", B, PRE, "address family not supported", "bug"],
  ["EPROTONOSUPPORT", "other", B, PRE, "protocol not supported", "bug"],
  ["ENOTSOCK", "other", B, PRE, "not a socket", "bug"],
  ["EISCONN", "other", B, PRE, "socket is already connected", "bug"],
  ["EALREADY", "other", B, PRE, "connection already in progress", "bug"],
  ["EMSGSIZE", "other", B, PRE, "message too long", "bug"],
  ["ERR_SOCKET_BAD_PORT", "other", B, PRE, "invalid port", "bug"],
  ["ERR_INVALID_URL", "other", B, PRE, "invalid URL", "bug"],
  ["ERR_INVALID_IP_ADDRESS", "other", B, PRE, "invalid IP address", "bug"],
  ["ERR_STREAM_WRITE_AFTER_END", "other", B, ANY, "write after end", "bug"],
  ["ERR_HTTP_HEADERS_SENT", "other", B, ANY, "headers already sent", "bug"],
  ["ERR_NON_2XX_3XX_RESPONSE", "other", B, ANY, "HTTP error status", "http-status"], // got HTTPError
  ["ERR_BAD_RESPONSE", "other", B, ANY, "HTTP 5xx response", "http-status"], // axios
  ["ERR_BAD_REQUEST", "other", B, ANY, "HTTP 4xx response", "http-status"], // axios
  ["ERR_BAD_OPTION", "other", B, PRE, "invalid option", "bug"],
  ["ERR_BAD_OPTION_VALUE", "other", B, PRE, "invalid option value", "bug"],
  ["ERR_NETWORK", "not-connected", C, ANY, "network error"], // axios in browsers; kept for isomorphic code
];

/** OpenSSL 3.0 (Node 20) names a TLS alert "SSLV3_ALERT_..."; OpenSSL 3.2+ (Node 22, 24) "SSL/TLS_ALERT_...". */
const OPENSSL3_ALERT = "ERR_SSL_SSLV3_ALERT_";
const OPENSSL32_ALERT = "ERR_SSL_SSL/TLS_ALERT_";

/** An alert row under OpenSSL 3.2's name. */
function openSsl32Alias([code, kind, connection, connectPhase, meaning, detail]: Row): Row {
  const alias = `${OPENSSL32_ALERT}${code.slice(OPENSSL3_ALERT.length)}`;
  return detail === undefined
    ? [alias, kind, connection, connectPhase, meaning]
    : [alias, kind, connection, connectPhase, meaning, detail];
}

/** Every alert row also under OpenSSL 3.2's name: the same alert, the same verdict, whichever Node reports it. */
const ROWS_BOTH_OPENSSL: readonly Row[] = ROWS.flatMap((row) =>
  row[0].startsWith(OPENSSL3_ALERT) ? [row, openSsl32Alias(row)] : [row],
);

/** The verdict table, keyed by canonical code. */
export const CODE_RULES: ReadonlyMap<string, CodeRule> = new Map(
  ROWS_BOTH_OPENSSL.map(([code, kind, connection, connectPhase, meaning, detail]) => [
    code,
    detail === undefined
      ? { kind, connection, connectPhase, meaning }
      : { kind, connection, connectPhase, meaning, detail },
  ]),
);

export function ruleForCode(code: string): CodeRule | undefined {
  return CODE_RULES.get(code);
}

/** The meaning of an SQLSTATE class 08 (connection exception), e.g. 08006. */
export function isSqlStateConnectionClass(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code);
}

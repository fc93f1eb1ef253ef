/**
 * What `outlast send` tells a person when it stops: the failure in words that
 * say what happened and which flag fixes it, and the command line that delivers
 * what is still stored (with every flag the next run needs to succeed).
 */

import { isOutlastError } from "../../errors/outlast-error.js";
import { oneLine } from "../config.js";

/** The flags of a run that matter to the next one, and how they were given. */
export interface SendFlags {
  readonly url: string;
  readonly outbox: string;
  /** Connection flags given on the command line, to repeat: ["--tls-ca", "ca.pem", "--token-file", "t"]. */
  readonly repeat: readonly string[];
  /** Whether --tls-ca (or OUTLAST_TLS_CA) was given at all. */
  readonly hasCa: boolean;
  readonly hasServername: boolean;
}

/** A failure described for a person, and the flags the next run needs besides the ones already given. */
export interface SendFailure {
  readonly error: Error;
  /** Flags to add for the next run to succeed ("--tls-ca CA.pem"): shown in the recovery hint. */
  readonly add: readonly string[];
  /** True when the outbox was never opened by this run: nothing of this run was stored. */
  readonly storedNothing: boolean;
}

/** Certificate errors that mean "nobody this client trusts signed it" (node:tls / OpenSSL codes). */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Turns what stopped the client into a failure a person can act on. */
export function describeSendFailure(err: Error, f: SendFlags): SendFailure {
  const plain = (error: Error, add: readonly string[] = []): SendFailure => ({ error, add, storedNothing: false });
  if (isOutlastError(err, "OUTLAST_OUTBOX_LOCKED")) {
    const pid = err.details.pid;
    return {
      error: new Error(
        `outbox ${f.outbox} is in use by pid ${String(pid)} (another outlast send?); nothing was stored or sent: wait for it to finish or stop it, or pass another --outbox`,
        { cause: err },
      ),
      add: [],
      storedNothing: true,
    };
  }
  if (isOutlastError(err, "OUTLAST_OUTBOX_IO")) {
    const errno = err.details.errno;
    const why =
      errno === "EACCES" || errno === "EPERM"
        ? "this user may not read or write it; fix its permissions (or run as its owner), or pass another --outbox"
        : errno === "EROFS"
          ? "it is on a read-only file system; pass an --outbox on a writable one"
          : errno === "ENOSPC" || errno === "EDQUOT"
            ? "the disk is full; free some space, or pass an --outbox on another disk"
            : undefined;
    if (why !== undefined)
      return plain(new Error(`cannot use the outbox ${f.outbox} (${String(errno)}): ${why}`, { cause: err }));
    return plain(err);
  }
  if (isOutlastError(err, "OUTLAST_AUTH_REJECTED") && "reasonCode" in err.details)
    return plain(
      new Error(
        `${f.url} rejected our credentials (MQTT reason code ${err.details.reasonCode}): check --username and --password (or OUTLAST_PASSWORD), --tls-cert, and the broker's ACL for this topic`,
        { cause: err },
      ),
    );
  if (isOutlastError(err, "OUTLAST_AUTH_REJECTED") && /^nats:\/\//i.test(f.url))
    return plain(
      new Error(
        `${f.url} rejected our credentials (${oneLine(err)}): check --username and --password (or OUTLAST_PASSWORD), and the NATS user's permissions for the subject and the stream's API`,
        { cause: err },
      ),
    );
  if (isOutlastError(err, "OUTLAST_AUTH_REJECTED"))
    return plain(
      new Error(
        `${f.url} rejected our credentials: check --token or --token-file (the server's --credentials must list this clientId with that token)`,
        { cause: err },
      ),
    );
  const code = errnoOf(err);
  if (code !== undefined && UNTRUSTED.has(code))
    return plain(
      new Error(
        f.hasCa
          ? `the server's certificate is not signed by the --tls-ca given (${oneLine(err)}); pass --tls-ca with the CA (PEM) that signed it`
          : `the server's certificate is not trusted (${oneLine(err)}); pass --tls-ca with the CA (PEM) that signed it (for a self-signed certificate: the certificate itself)`,
        { cause: err },
      ),
      f.hasCa ? [] : ["--tls-ca", "CA.pem"],
    );
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return plain(
      new Error(
        `the server's certificate does not carry the name we checked (${oneLine(err)}); pass --tls-servername with a name it carries, or use that name in the URL`,
        { cause: err },
      ),
      f.hasServername ? [] : ["--tls-servername", "NAME"],
    );
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID")
    return plain(
      new Error(
        `the server's certificate is not valid now (${oneLine(err)}); the server must renew it (or this machine's clock is wrong)`,
        { cause: err },
      ),
    );
  return plain(err);
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that delivers what is stored: same URL and outbox, the connection flags given, and the ones to add. */
export function recoveryCommand(f: SendFlags, add: readonly string[] = []): string {
  return ["outlast", "send", f.url, "--outbox", f.outbox, ...f.repeat, ...add].map(shellQuote).join(" ");
}

/**
 * A peer that does not speak outlast, told apart by what the client saw (src/protocol/foreign-peer.ts):
 * a web server, TLS on a tcp:// URL, plain text on a tls:// one. `key` says it once per kind.
 */
export function wrongPeerNotice(err: Error): { readonly key: string; readonly text: string } | undefined {
  if (isOutlastError(err, "OUTLAST_PROTOCOL_ERROR") && "peer" in err.details && err.details.peer !== undefined)
    return { key: `peer ${err.details.peer}`, text: oneLine(err) };
  if (isOutlastError(err, "OUTLAST_CONNECTION_CLOSED") && err.details.unanswered === true)
    return { key: "unanswered", text: oneLine(err) };
  if (errnoOf(err) === "ERR_SSL_WRONG_VERSION_NUMBER")
    return {
      key: "plain",
      text: "a tls:// server answered in plain text, not TLS (ERR_SSL_WRONG_VERSION_NUMBER): if it is a plain outlast server, use tcp:// instead of tls://",
    };
  return undefined;
}

/**
 * Real TLS errors on loopback with certificates generated at test time
 * (test/helpers/certs.ts), then judged by classify. Certificate failures need
 * a person (connection false); a broken TLS stream is a connection error.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { before, describe, test } from "node:test";
import type { TestContext } from "node:test";
import tls from "node:tls";
import { classify, isConnectionError } from "../../src/errors/index.js";
import { listen, nextError, rawFields, verdictOf, within } from "../helpers/capture-error.js";
import { opensslAvailable, testCerts } from "../helpers/certs.js";
import type { TestCerts } from "../helpers/certs.js";

const OPENSSL = opensslAvailable();
let certs: TestCerts;

function record(t: TestContext, err: unknown, side = "client"): void {
  t.diagnostic(`raw ${side}: ${JSON.stringify(rawFields(err))}`);
}

function field(err: unknown, key: string): unknown {
  return (err as Record<string, unknown>)[key];
}

interface Outcome {
  /** The client's error. */
  readonly err: unknown;
  /** The server's tlsClientError, when it had one. */
  readonly serverErr: unknown;
}

/** Runs a TLS server with `serverOptions` and a client with `clientOptions`; returns the client's error. */
async function tlsFailure(serverOptions: tls.TlsOptions, clientOptions: tls.ConnectionOptions): Promise<Outcome> {
  let serverErr: unknown;
  const srv = await listen(tls.createServer(serverOptions, (s) => s.end("hello")));
  srv.server.on("tlsClientError", (e) => (serverErr = e));
  try {
    const client = tls.connect({ host: "127.0.0.1", port: srv.port, ...clientOptions });
    client.on("data", () => {});
    try {
      const err = await nextError(client, 5_000, "TLS error");
      return { err, serverErr };
    } finally {
      client.destroy();
    }
  } finally {
    await srv.close();
  }
}

/** Connects and resolves when the handshake succeeds (the control case: the certificates are good). */
async function tlsSuccess(serverOptions: tls.TlsOptions, clientOptions: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const srv = await listen(tls.createServer(serverOptions, (s) => s.end("hello")));
  const client = tls.connect({ host: "127.0.0.1", port: srv.port, ...clientOptions });
  try {
    await within(
      Promise.race([once(client, "secureConnect"), once(client, "error").then(([e]) => Promise.reject(e as Error))]),
      5_000,
      "TLS handshake",
    );
    return client;
  } finally {
    client.destroy();
    await srv.close();
  }
}

const CERTIFICATE_NO = { connection: false, kind: "certificate", delivered: "no" } as const;

describe(
  "real TLS errors",
  { skip: OPENSSL ? false : "the openssl CLI is not installed: cannot generate test certificates" },
  () => {
    before(() => {
      certs = testCerts();
    });

    test("control: the generated server and client certificates are accepted", async () => {
      const ok = await tlsSuccess({ ...certs.server }, { ca: certs.ca, servername: "localhost" });
      assert.equal(ok.authorized, true);
      const mutual = await tlsSuccess(
        { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
        { ca: certs.ca, ...certs.client },
      );
      assert.equal(mutual.authorized, true);
    });

    test("self-signed server certificate: DEPTH_ZERO_SELF_SIGNED_CERT, certificate, connection false", async (t) => {
      const { err } = await tlsFailure(certs.selfSigned, {});
      record(t, err);
      assert.equal(field(err, "code"), "DEPTH_ZERO_SELF_SIGNED_CERT");
      // Node 24 appends a hint ("; if the root CA is installed locally, try running Node.js with --use-system-ca").
      assert.match(String(field(err, "message")), /^self-signed certificate(;|$)/);
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
      assert.equal(isConnectionError(err), false);
    });

    test("server certificate from a CA the client was not given: UNABLE_TO_VERIFY_LEAF_SIGNATURE, certificate", async (t) => {
      const { err } = await tlsFailure(certs.server, {});
      record(t, err);
      assert.equal(field(err, "code"), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    });

    test("expired server certificate: CERT_HAS_EXPIRED, certificate", async (t) => {
      const { err } = await tlsFailure(certs.expired, { ca: certs.ca });
      record(t, err);
      assert.equal(field(err, "code"), "CERT_HAS_EXPIRED");
      assert.equal(field(err, "message"), "certificate has expired");
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code: "CERT_HAS_EXPIRED" });
    });

    test("certificate for another host name: ERR_TLS_CERT_ALTNAME_INVALID, certificate", async (t) => {
      const { err } = await tlsFailure(certs.wrongHost, { ca: certs.ca, servername: "localhost" });
      record(t, err);
      assert.equal(field(err, "code"), "ERR_TLS_CERT_ALTNAME_INVALID");
      assert.match(String(field(err, "message")), /^Hostname\/IP does not match certificate's altnames/);
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    });

    test("certificate for another host, connecting by IP: ERR_TLS_CERT_ALTNAME_INVALID, certificate", async (t) => {
      const { err } = await tlsFailure(certs.wrongHost, { ca: certs.ca });
      record(t, err);
      assert.equal(field(err, "code"), "ERR_TLS_CERT_ALTNAME_INVALID");
      assert.match(String(field(err, "reason")), /IP: 127\.0\.0\.1 is not in the cert's list/);
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    });

    test("unknown CA, server sends the leaf only: UNABLE_TO_VERIFY_LEAF_SIGNATURE, certificate", async (t) => {
      const { err } = await tlsFailure(certs.unknownCa, { ca: certs.ca });
      record(t, err);
      assert.equal(field(err, "code"), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    });

    test("unknown CA, server sends the chain with its root: SELF_SIGNED_CERT_IN_CHAIN, certificate", async (t) => {
      const { err } = await tlsFailure(
        { key: certs.unknownCa.key, cert: certs.unknownCa.cert + certs.unknownCaRoot },
        { ca: certs.ca },
      );
      record(t, err);
      assert.equal(field(err, "code"), "SELF_SIGNED_CERT_IN_CHAIN");
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code: "SELF_SIGNED_CERT_IN_CHAIN" });
    });

    test("TLS 1.3 server requires a client certificate the client does not send: certificate, connection false", async (t) => {
      const { err, serverErr } = await tlsFailure(
        { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" },
        { ca: certs.ca },
      );
      record(t, err);
      record(t, serverErr, "server");
      assert.equal(field(err, "code"), "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
      const c = classify(err);
      assert.equal(c.connection, false);
      assert.equal(c.kind, "certificate");
      assert.equal(c.code, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
      // The server's side of the same failure: a person must act there too.
      assert.equal(field(serverErr, "code"), "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE");
      assert.deepEqual(verdictOf(classify(serverErr)), {
        ...CERTIFICATE_NO,
        code: "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE",
      });
    });

    test("TLS 1.2 server requires a client certificate the client does not send: handshake_failure alert, certificate", async (t) => {
      const { err, serverErr } = await tlsFailure(
        { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
        { ca: certs.ca, maxVersion: "TLSv1.2" },
      );
      record(t, err);
      record(t, serverErr, "server");
      // TLS 1.2 has no certificate_required alert: OpenSSL sends handshake_failure (40).
      // OpenSSL 3.0 (Node 20) and 3.2+ (Node 22, 24) name the alert differently; the verdict is the same.
      const code = String(field(err, "code"));
      assert.ok(
        ["ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", "ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE"].includes(code),
        code,
      );
      assert.deepEqual(verdictOf(classify(err)), { ...CERTIFICATE_NO, code });
      assert.equal(field(serverErr, "code"), "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE");
    });

    test("TLS version mismatch (client max 1.2, server min 1.3): protocol_version alert, a person must act", async (t) => {
      const { err, serverErr } = await tlsFailure(
        { ...certs.server, minVersion: "TLSv1.3" },
        { ca: certs.ca, maxVersion: "TLSv1.2" },
      );
      record(t, err);
      record(t, serverErr, "server");
      assert.equal(field(err, "code"), "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
      const c = classify(err);
      assert.equal(c.connection, false);
      assert.equal(c.code, "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
      assert.equal(c.delivered, "no");
      t.diagnostic(`verdict kind: ${c.kind} (${c.detail})`);
      assert.equal(field(serverErr, "code"), "ERR_SSL_UNSUPPORTED_PROTOCOL");
      assert.equal(classify(serverErr).connection, false);
    });

    test("TLS to a plaintext server that answers with HTTP: ERR_SSL_WRONG_VERSION_NUMBER, tls, connection true", async (t) => {
      const srv = await listen(
        net.createServer((s) => s.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")),
      );
      try {
        const client = tls.connect({ host: "127.0.0.1", port: srv.port, ca: certs.ca });
        const err = await nextError(client);
        client.destroy();
        record(t, err);
        assert.equal(field(err, "code"), "ERR_SSL_WRONG_VERSION_NUMBER");
        assert.equal(field(err, "library"), "SSL routines");
        assert.deepEqual(verdictOf(classify(err)), {
          connection: true,
          kind: "tls",
          code: "ERR_SSL_WRONG_VERSION_NUMBER",
          delivered: "no",
        });
      } finally {
        await srv.close();
      }
    });

    test("server closes TCP during the handshake: ECONNRESET 'Client network socket disconnected...', tls, delivered no", async (t) => {
      const srv = await listen(net.createServer((s) => s.once("data", () => s.destroy())));
      try {
        const client = tls.connect({ host: "127.0.0.1", port: srv.port, ca: certs.ca });
        const err = await nextError(client);
        client.destroy();
        record(t, err);
        assert.equal(field(err, "code"), "ECONNRESET");
        assert.equal(
          field(err, "message"),
          "Client network socket disconnected before secure TLS connection was established",
        );
        assert.deepEqual(verdictOf(classify(err)), {
          connection: true,
          kind: "tls",
          code: "ECONNRESET",
          delivered: "no",
        });
      } finally {
        await srv.close();
      }
    });

    test("server resets TCP during the handshake: read ECONNRESET, connection true", async (t) => {
      const srv = await listen(net.createServer((s) => s.once("data", () => s.resetAndDestroy())));
      try {
        const client = tls.connect({ host: "127.0.0.1", port: srv.port, ca: certs.ca });
        const err = await nextError(client);
        client.destroy();
        record(t, err);
        assert.equal(field(err, "code"), "ECONNRESET");
        assert.equal(field(err, "syscall"), "read");
        const c = classify(err);
        assert.equal(c.connection, true);
        assert.equal(c.kind, "reset");
        // Nothing but the ClientHello was sent, but the error object does not say so: "maybe" is the safe answer.
        t.diagnostic(`verdict delivered: ${c.delivered}`);
      } finally {
        await srv.close();
      }
    });

    /** A TLS server that, after the handshake and one record, writes `garbage` on the raw TCP socket. */
    async function garbageAfterHandshake(t: TestContext, garbage: Buffer): Promise<unknown> {
      const srv = await listen(
        net.createServer((raw) => {
          const secure = new tls.TLSSocket(raw, { isServer: true, ...certs.server });
          secure.on("error", () => {});
          secure.on("secure", () => secure.write("hello", () => raw.write(garbage)));
        }),
      );
      try {
        const client = tls.connect({ host: "127.0.0.1", port: srv.port, ca: certs.ca });
        const hello = once(client, "data");
        const failed = nextError(client);
        await within(once(client, "secureConnect"), 5_000, "TLS handshake");
        client.write("a message that may have been delivered");
        const [data] = (await within(hello, 5_000, "first record")) as [Buffer];
        assert.equal(String(data), "hello", "the session worked before the garbage");
        const err = await failed;
        client.destroy();
        record(t, err);
        return err;
      } finally {
        await srv.close();
      }
    }

    test("garbage TLS record after the handshake: bad record mac, tls, connection true, delivered maybe", async (t) => {
      // An application-data record header (0x17 0x0303, 64 bytes) with junk inside: fails to decrypt.
      const record64 = Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), Buffer.alloc(64, 0xab)]);
      const err = await garbageAfterHandshake(t, record64);
      assert.equal(field(err, "code"), "ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC");
      assert.deepEqual(verdictOf(classify(err)), {
        connection: true,
        kind: "tls",
        code: "ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC",
        delivered: "maybe",
      });
    });

    test("plaintext garbage after the handshake: ERR_SSL_WRONG_VERSION_NUMBER, tls, connection true", async (t) => {
      const err = await garbageAfterHandshake(t, Buffer.from("this is not TLS, just junk bytes\r\n".repeat(4)));
      // OpenSSL 3.2+ (Node 22, 24) says BAD_RECORD_TYPE where OpenSSL 3.0 (Node 20) says WRONG_VERSION_NUMBER.
      const code = String(field(err, "code"));
      assert.ok(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_BAD_RECORD_TYPE"].includes(code), code);
      const c = classify(err);
      assert.equal(c.connection, true);
      assert.equal(c.kind, "tls");
      t.diagnostic(`verdict delivered: ${c.delivered} (bytes had been sent: "maybe" would be right)`);
    });
  },
);

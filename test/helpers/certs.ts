/**
 * Certificates generated at test time with the `openssl` CLI (OpenSSL 3.x), so
 * TLS tests fail for real reasons: expired, self-signed, wrong host, unknown CA,
 * a missing client certificate. Generated once per test process into a temp
 * dir, read into memory, and the dir removed at once.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A PEM key and certificate (plus the chain the server should send, when any). */
export interface KeyCert {
  readonly key: string;
  readonly cert: string;
}

export interface TestCerts {
  /** The CA the client trusts (pass as `ca`). */
  readonly ca: string;
  /** localhost, 127.0.0.1 and ::1, signed by `ca`, valid now. */
  readonly server: KeyCert;
  /** localhost, 127.0.0.1 and ::1, signed by `ca`, expired in 2020. */
  readonly expired: KeyCert;
  /** localhost, 127.0.0.1 and ::1, signed by its own key. */
  readonly selfSigned: KeyCert;
  /** Signed by `ca` for wrong.example only. */
  readonly wrongHost: KeyCert;
  /** localhost, 127.0.0.1 and ::1, signed by a CA the client does not know. */
  readonly unknownCa: KeyCert;
  /** The unknown CA's own certificate (a server may send it as a chain). */
  readonly unknownCaRoot: string;
  /** A client certificate (clientAuth) signed by `ca`. */
  readonly client: KeyCert;
}

const LOCAL_SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1";

let cached: TestCerts | undefined;

/** The test certificates; generated on the first call in a process, then cached. */
export function testCerts(): TestCerts {
  cached ??= generate();
  return cached;
}

/** True when the `openssl` CLI can be run (tests skip with a reason otherwise). */
export function opensslAvailable(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function generate(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "outlast-certs-"));
  try {
    const ossl = (...args: string[]): void => {
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 30_000 });
    };
    const read = (name: string): string => readFileSync(join(dir, name), "utf8");
    const ext = (name: string, lines: string[]): string => {
      writeFileSync(join(dir, name), lines.join("\n") + "\n");
      return name;
    };
    const newKey = (name: string): void => {
      ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name);
    };
    const caExt = ext("ca.ext", [
      "basicConstraints=critical,CA:true",
      "keyUsage=critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier=hash",
    ]);
    const makeCa = (base: string, cn: string): void => {
      newKey(`${base}.key`);
      ossl("req", "-new", "-key", `${base}.key`, "-subj", `/CN=${cn}`, "-out", `${base}.csr`);
      ossl(
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-signkey",
        `${base}.key`,
        "-days",
        "2",
        "-extfile",
        caExt,
        "-set_serial",
        serial(),
        "-out",
        `${base}.crt`,
      );
    };
    const leafExt = (name: string, san: string, usage: string): string =>
      ext(name, [
        "basicConstraints=critical,CA:false",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        `extendedKeyUsage=${usage}`,
        san,
        "authorityKeyIdentifier=keyid",
      ]);
    /** A leaf signed by CA `ca`, valid from now for 2 days. */
    const makeLeaf = (base: string, cn: string, san: string, usage: string, ca: string): KeyCert => {
      newKey(`${base}.key`);
      ossl("req", "-new", "-key", `${base}.key`, "-subj", `/CN=${cn}`, "-out", `${base}.csr`);
      ossl(
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        `${ca}.crt`,
        "-CAkey",
        `${ca}.key`,
        "-set_serial",
        serial(),
        "-days",
        "2",
        "-extfile",
        leafExt(`${base}.ext`, san, usage),
        "-out",
        `${base}.crt`,
      );
      return { key: read(`${base}.key`), cert: read(`${base}.crt`) };
    };

    makeCa("ca", "outlast test CA");
    makeCa("other-ca", "outlast unknown CA");
    const server = makeLeaf("server", "localhost", LOCAL_SAN, "serverAuth", "ca");
    const wrongHost = makeLeaf("wrong", "wrong.example", "subjectAltName=DNS:wrong.example", "serverAuth", "ca");
    const unknownCa = makeLeaf("unknown", "localhost", LOCAL_SAN, "serverAuth", "other-ca");
    const client = makeLeaf("client", "outlast test client", "subjectAltName=DNS:client.test", "clientAuth", "ca");

    // Self-signed leaf (not a CA): a server presenting it gives DEPTH_ZERO_SELF_SIGNED_CERT.
    newKey("self.key");
    ossl("req", "-new", "-key", "self.key", "-subj", "/CN=localhost", "-out", "self.csr");
    ossl(
      "x509",
      "-req",
      "-in",
      "self.csr",
      "-signkey",
      "self.key",
      "-days",
      "2",
      "-set_serial",
      serial(),
      "-extfile",
      leafExt("self.ext", LOCAL_SAN, "serverAuth"),
      "-out",
      "self.crt",
    );

    // Expired: `openssl x509` in 3.0 cannot set a past notAfter, `openssl ca` can.
    newKey("expired.key");
    ossl("req", "-new", "-key", "expired.key", "-subj", "/CN=localhost", "-out", "expired.csr");
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "serial"), "1000\n");
    writeFileSync(
      join(dir, "ca.cnf"),
      [
        "[ca]",
        "default_ca = test_ca",
        "[test_ca]",
        `dir = ${dir}`,
        "database = $dir/index.txt",
        "serial = $dir/serial",
        "new_certs_dir = $dir",
        "certificate = $dir/ca.crt",
        "private_key = $dir/ca.key",
        "default_md = sha256",
        "policy = any",
        "unique_subject = no",
        "copy_extensions = none",
        "x509_extensions = leaf",
        "[any]",
        "commonName = supplied",
        "[leaf]",
        "basicConstraints = critical,CA:false",
        "keyUsage = critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage = serverAuth",
        LOCAL_SAN.replace("=", " = "),
        "authorityKeyIdentifier = keyid",
        "",
      ].join("\n"),
    );
    ossl(
      "ca",
      "-batch",
      "-notext",
      "-config",
      "ca.cnf",
      "-in",
      "expired.csr",
      "-out",
      "expired.crt",
      "-startdate",
      "20200101000000Z",
      "-enddate",
      "20200102000000Z",
    );

    return {
      ca: read("ca.crt"),
      server,
      expired: { key: read("expired.key"), cert: read("expired.crt") },
      selfSigned: { key: read("self.key"), cert: read("self.crt") },
      wrongHost,
      unknownCa,
      unknownCaRoot: read("other-ca.crt"),
      client,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let serialCounter = 0x5000;
function serial(): string {
  serialCounter += 1;
  return `0x${serialCounter.toString(16)}${Date.now().toString(16)}`;
}

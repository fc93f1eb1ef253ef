import assert from "node:assert/strict";
import { constants } from "node:os";
import { test } from "node:test";
import { getSystemErrorMap, getSystemErrorName } from "node:util";
import type { Platform } from "../../src/errors/classification.js";
import { DARWIN_ERRNO } from "../../src/errors/errno/darwin.js";
import { FREEBSD_ERRNO } from "../../src/errors/errno/freebsd.js";
import { LINUX_ERRNO } from "../../src/errors/errno/linux.js";
import { WIN32_ERRNO, WIN32_SYSTEM_ERRORS } from "../../src/errors/errno/win32.js";
import {
  codeForErrno,
  ERRNO_CODES,
  errnoMessage,
  errnosForCode,
  isUnnamedNodeCode,
  PLATFORMS,
  toPlatform,
  UV_UNKNOWN,
  WIN32_REPORTED_AS_UNKNOWN,
} from "../../src/errors/errno-tables.js";

/** The network codes the issue names, with their numbers from the headers (errno.h, winsock2.h, uv/errno.h). */
const NETWORK: readonly (readonly [
  code: string,
  linux: number,
  bsd: number | null,
  wsa: number | null,
  uv: number | null,
])[] = [
  ["ECONNRESET", 104, 54, 10054, -4077],
  ["ECONNREFUSED", 111, 61, 10061, -4078],
  ["ECONNABORTED", 103, 53, 10053, -4079],
  ["EPIPE", 32, 32, null, -4047],
  ["ESHUTDOWN", 108, 58, 10058, -4042],
  ["ENOTCONN", 107, 57, 10057, -4053],
  ["ENETUNREACH", 101, 51, 10051, -4062],
  ["ENETDOWN", 100, 50, 10050, -4063],
  ["ENETRESET", 102, 52, 10052, null],
  ["EHOSTUNREACH", 113, 65, 10065, -4073],
  ["EHOSTDOWN", 112, 64, 10064, -4031],
  ["EADDRNOTAVAIL", 99, 49, 10049, -4090],
  ["EADDRINUSE", 98, 48, 10048, -4091],
  ["ETIMEDOUT", 110, 60, 10060, -4039],
  ["EALREADY", 114, 37, 10037, -4084],
  ["EINPROGRESS", 115, 36, 10036, null],
  ["EISCONN", 106, 56, 10056, -4069],
  ["EMSGSIZE", 90, 40, 10040, -4065],
  ["ENOBUFS", 105, 55, 10055, -4060],
  ["EAFNOSUPPORT", 97, 47, 10047, -4089],
  ["EPROTONOSUPPORT", 93, 43, 10043, -4045],
  ["ENOTSOCK", 88, 38, 10038, -4050],
  ["EAGAIN", 11, 35, 10035, -4088],
  ["EBADF", 9, 9, 10009, -4083],
  ["EINVAL", 22, 22, 10022, -4071],
  ["EACCES", 13, 13, 10013, -4092],
  ["EMFILE", 24, 24, 10024, -4066],
  ["ENOENT", 2, 2, null, -4058],
  ["EPERM", 1, 1, null, -4048],
  ["ENFILE", 23, 23, null, -4061],
  ["ENOSPC", 28, 28, null, -4055],
  ["EIO", 5, 5, null, -4070],
  ["ECANCELED", 125, null, null, -4081],
];

test("every network code has the header numbers on every platform", () => {
  for (const [code, linux, bsd, wsa, uv] of NETWORK) {
    const n = errnosForCode(code);
    assert.ok(n, code);
    assert.deepEqual([n.linux?.errno, n.linux?.node], [linux, -linux], `${code} linux`);
    if (bsd !== null) {
      assert.deepEqual([n.darwin?.errno, n.darwin?.node], [bsd, -bsd], `${code} darwin`);
      assert.deepEqual([n.freebsd?.errno, n.freebsd?.node], [bsd, -bsd], `${code} freebsd`);
    }
    assert.equal(n.win32?.wsa, wsa ?? undefined, `${code} wsa`);
    assert.equal(n.win32?.uv, uv ?? undefined, `${code} uv`);
  }
  // ECANCELED differs between macOS and FreeBSD
  assert.equal(errnosForCode("ECANCELED")?.darwin?.errno, 89);
  assert.equal(errnosForCode("ECANCELED")?.freebsd?.errno, 85);
  // ENONET exists only on Linux; libuv still has a Windows number for it
  assert.deepEqual(errnosForCode("ENONET"), {
    linux: { errno: 64, node: -64, nodeCode: "ENONET" },
    win32: { node: -4056, nodeCode: "ENONET", uv: -4056 },
  });
});

test("the four ECONNRESET numbers and the string all name ECONNRESET", () => {
  assert.equal(codeForErrno(104, "linux"), "ECONNRESET");
  assert.equal(codeForErrno(-104, "linux"), "ECONNRESET");
  assert.equal(codeForErrno(54, "darwin"), "ECONNRESET");
  assert.equal(codeForErrno(-54, "freebsd"), "ECONNRESET");
  assert.equal(codeForErrno(10054, "win32"), "ECONNRESET");
  assert.equal(codeForErrno(-4077, "win32"), "ECONNRESET");
  assert.equal(codeForErrno(64, "win32"), "ECONNRESET"); // ERROR_NETNAME_DELETED
  // the same numbers mean other things elsewhere
  assert.equal(codeForErrno(54, "linux"), undefined); // EXFULL, not in our table
  assert.equal(codeForErrno(104, "darwin"), "ENOTRECOVERABLE");
  assert.equal(codeForErrno(64, "linux"), "ENONET");
  assert.equal(codeForErrno(64, "darwin"), "EHOSTDOWN");
});

test("ENETRESET: -102 on Linux, -52 on macOS, unnamed by Node; UNKNOWN -4094 on Windows", () => {
  assert.equal(codeForErrno(-102, "linux"), "ENETRESET");
  assert.equal(codeForErrno(-52, "darwin"), "ENETRESET");
  assert.equal(codeForErrno(-52, "freebsd"), "ENETRESET");
  assert.equal(codeForErrno(-102, "darwin"), "EOPNOTSUPP"); // macOS's own 102
  assert.equal(codeForErrno(10052, "win32"), "ENETRESET");
  const n = errnosForCode("ENETRESET");
  assert.equal(n?.linux?.nodeCode, "Unknown system error -102");
  assert.equal(n?.darwin?.nodeCode, "Unknown system error -52");
  assert.deepEqual(n?.win32, { wsa: 10052, node: -4094, nodeCode: "UNKNOWN" });
});

test("Windows reports ENETDOWN, ENETRESET and EHOSTDOWN as UNKNOWN -4094, and ESHUTDOWN as EPIPE", () => {
  assert.equal(UV_UNKNOWN, -4094);
  for (const code of ["ENETDOWN", "ENETRESET", "EHOSTDOWN"]) {
    assert.ok(WIN32_REPORTED_AS_UNKNOWN.includes(code), code);
    const w = errnosForCode(code)?.win32;
    assert.equal(w?.node, -4094, code);
    assert.equal(w?.nodeCode, "UNKNOWN", code);
  }
  for (const code of ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]) {
    assert.ok(!WIN32_REPORTED_AS_UNKNOWN.includes(code), code);
  }
  assert.equal(codeForErrno(-4094, "win32"), undefined); // the OS error is lost
  assert.equal(codeForErrno(-4094, "linux"), undefined);
  assert.deepEqual(errnosForCode("ESHUTDOWN")?.win32, { wsa: 10058, node: -4047, nodeCode: "EPIPE", uv: -4042 });
});

test("Win32 ERROR_* numbers libuv turns into socket codes", () => {
  const expected: Record<number, string> = {
    64: "ECONNRESET",
    121: "ETIMEDOUT",
    995: "ECANCELED",
    1225: "ECONNREFUSED",
    1231: "ENETUNREACH",
    1232: "EHOSTUNREACH",
    1236: "ECONNABORTED",
    2250: "ENOTCONN",
    109: "EOF",
  };
  for (const [n, code] of Object.entries(expected)) assert.equal(codeForErrno(Number(n), "win32"), code, n);
  for (const [n, , code] of WIN32_SYSTEM_ERRORS) {
    assert.equal(codeForErrno(n, "win32"), code, String(n));
    assert.ok(errnosForCode(code)?.win32?.win32Errors?.includes(n), `${code} lists ${n}`);
  }
});

test("libuv's own numbers are the same everywhere", () => {
  for (const p of PLATFORMS) {
    assert.equal(codeForErrno(-3001, p), "EAI_AGAIN", p);
    assert.equal(codeForErrno(-3008, p), "EAI_NONAME", p);
    assert.equal(codeForErrno(-4095, p), "EOF", p);
  }
  assert.deepEqual(errnosForCode("EAI_AGAIN"), { libuv: -3001 });
});

test("round trips: every number of every code maps back to that code or the name Node gives it", () => {
  const tables: Record<"linux" | "darwin" | "freebsd", readonly (readonly [string, number])[]> = {
    linux: LINUX_ERRNO,
    darwin: DARWIN_ERRNO,
    freebsd: FREEBSD_ERRNO,
  };
  for (const [platform, rows] of Object.entries(tables) as [
    keyof typeof tables,
    readonly (readonly [string, number])[],
  ][]) {
    const seen = new Map<number, string>();
    for (const [code, errno] of rows) {
      const first = seen.get(errno);
      if (first === undefined) seen.set(errno, code);
      const back = codeForErrno(errno, platform);
      assert.equal(back, first ?? code, `${platform} ${code} ${errno}`);
      assert.equal(codeForErrno(-errno, platform), back);
      const n = errnosForCode(code)?.[platform];
      assert.deepEqual([n?.errno, n?.node], [errno, -errno], `${platform} ${code}`);
    }
  }
  for (const row of WIN32_ERRNO) {
    if (row.uv !== undefined) assert.equal(codeForErrno(row.uv, "win32"), row.code, `uv ${row.uv}`);
    if (row.wsa !== undefined) assert.equal(codeForErrno(row.wsa, "win32"), row.code, `wsa ${row.wsa}`);
  }
  for (const code of ERRNO_CODES) {
    assert.ok(errnosForCode(code), code);
    assert.equal(typeof errnoMessage(code), "string", `${code} has a message`);
  }
});

test("no number is claimed twice on one platform, except declared aliases", () => {
  const aliases = new Set(["EWOULDBLOCK", "EOPNOTSUPP", "EDEADLOCK"]);
  for (const rows of [LINUX_ERRNO, DARWIN_ERRNO, FREEBSD_ERRNO]) {
    const seen = new Set<number>();
    for (const [code, n] of rows) {
      if (seen.has(n)) assert.ok(aliases.has(code), `${code} ${n} repeats a number`);
      seen.add(n);
    }
  }
  const wsa = WIN32_ERRNO.flatMap((r) => (r.wsa === undefined ? [] : [r.wsa]));
  assert.equal(new Set(wsa).size, wsa.length);
  const uv = WIN32_ERRNO.flatMap((r) => (r.uv === undefined ? [] : [r.uv]));
  assert.equal(new Set(uv).size, uv.length);
});

test("garbage numbers give undefined", () => {
  for (const p of PLATFORMS) {
    for (const n of [0, 1.5, Number.NaN, Infinity, -Infinity, 99999, -99999])
      assert.equal(codeForErrno(n, p), undefined, `${p} ${n}`);
  }
});

test("messages match libuv's where libuv has one (util.getSystemErrorMap)", () => {
  let compared = 0;
  for (const [, [name, message]] of getSystemErrorMap()) {
    const ours = errnoMessage(name);
    if (ours === undefined) continue;
    assert.equal(ours, message, name);
    compared++;
  }
  assert.ok(compared > 60, `compared ${compared}`);
});

test("isUnnamedNodeCode recognises both of Node's spellings", () => {
  assert.ok(isUnnamedNodeCode("UNKNOWN"));
  assert.ok(isUnnamedNodeCode("Unknown system error -102"));
  assert.ok(!isUnnamedNodeCode("ECONNRESET"));
  assert.ok(!isUnnamedNodeCode(-102));
});

test("toPlatform maps Node's platforms", () => {
  const cases: Record<string, Platform> = {
    linux: "linux",
    darwin: "darwin",
    win32: "win32",
    freebsd: "freebsd",
    openbsd: "freebsd",
    netbsd: "freebsd",
    aix: "linux",
    sunos: "linux",
  };
  for (const [p, want] of Object.entries(cases)) assert.equal(toPlatform(p), want);
});

// --- on this machine: the tables agree with the OS and with Node ---

const here =
  process.platform === "linux" || process.platform === "darwin" || process.platform === "freebsd"
    ? process.platform
    : undefined;

test("this machine's os.constants.errno agrees with our table", (t) => {
  if (here === undefined) return t.skip(`no errno table check for ${process.platform}`);
  const entries = Object.entries(constants.errno);
  assert.ok(entries.length > 50);
  for (const [code, n] of entries) {
    assert.equal(errnosForCode(code)?.[here]?.errno, n, `${code} = ${n} on ${here}`);
  }
});

test("util.getSystemErrorName(-n) agrees with our table for every number", (t) => {
  if (here === undefined) return t.skip(`no errno table check for ${process.platform}`);
  const rows = here === "linux" ? LINUX_ERRNO : here === "darwin" ? DARWIN_ERRNO : FREEBSD_ERRNO;
  let named = 0;
  for (const [code, n] of rows) {
    const nodeName = getSystemErrorName(-n);
    const ours: string | undefined = errnosForCode(code)?.[here]?.nodeCode;
    assert.equal(ours, nodeName, `${code} (${n}): Node says ${nodeName}`);
    if (!isUnnamedNodeCode(nodeName)) {
      assert.equal(codeForErrno(-n, here), nodeName, `${code} (${n})`);
      named++;
    }
  }
  assert.ok(named > 50, `named ${named}`);
});

test("a real socket error's errno maps back to its code on this machine", async (t) => {
  if (here === undefined) return t.skip(`no errno table check for ${process.platform}`);
  const net = await import("node:net");
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const err = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    const timer = setTimeout(() => reject(new Error("connect to a closed port did not fail in 5 s")), 5000);
    s.on("error", (e) => {
      clearTimeout(timer);
      resolve(e);
    });
    s.on("connect", () => {
      clearTimeout(timer);
      s.destroy();
      reject(new Error("a closed port accepted"));
    });
  });
  assert.equal(err.code, "ECONNREFUSED");
  assert.equal(typeof err.errno, "number");
  assert.equal(codeForErrno(err.errno ?? 0, here), "ECONNREFUSED");
});

/**
 * Pure handshake rules shared by client and server (docs/protocol.md, "Handshake"):
 * HELLO field validation, version choice, WELCOME checks. No I/O.
 */

import type { HelloFrame, WelcomeFrame } from "./frames.js";
import { MAGIC, PROTOCOL_VERSION } from "./frames.js";
import { MAX_CLIENT_ID_BYTES, MAX_TOKEN_BYTES, MAX_U16, MAX_U32, MAX_U64, MIN_MAX_FRAME_BYTES } from "./limits.js";

/** Why a handshake cannot go on; the server sends it as an ERROR frame, the client raises it. */
export interface HandshakeProblem {
  readonly code: "OUTLAST_PROTOCOL_ERROR" | "OUTLAST_PROTOCOL_VERSION";
  readonly message: string;
}

export type VersionChoice =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly code: "OUTLAST_PROTOCOL_VERSION"; readonly message: string };

/** Versions this build speaks, highest last. */
export const SUPPORTED_VERSIONS: readonly number[] = [1, PROTOCOL_VERSION];

const MAGIC_0 = MAGIC.charCodeAt(0);
const MAGIC_1 = MAGIC.charCodeAt(1);
const MAGIC_2 = MAGIC.charCodeAt(2);
const MAGIC_3 = MAGIC.charCodeAt(3);

/** True when `bytes[offset..offset+4]` is "OUTL". */
export function isMagic(bytes: Uint8Array, offset = 0): boolean {
  return (
    bytes.length >= offset + 4 &&
    bytes[offset] === MAGIC_0 &&
    bytes[offset + 1] === MAGIC_1 &&
    bytes[offset + 2] === MAGIC_2 &&
    bytes[offset + 3] === MAGIC_3
  );
}

// C0 controls, DEL, C1 controls, and lone surrogates (which do not encode to UTF-8).
// eslint-disable-next-line no-control-regex
const BAD_ID_CHARS = /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDFFF]/u;

/** Why `clientId` is not a valid client id (1..256 UTF-8 bytes, no control chars), or undefined. */
export function clientIdProblem(clientId: string): string | undefined {
  if (typeof clientId !== "string") return "clientId must be a string";
  if (clientId.length === 0) return "clientId is empty";
  const bytes = Buffer.byteLength(clientId, "utf8");
  if (bytes > MAX_CLIENT_ID_BYTES) return `clientId is ${bytes} bytes of UTF-8; at most ${MAX_CLIENT_ID_BYTES}`;
  if (BAD_ID_CHARS.test(clientId)) return "clientId contains a control character or a lone surrogate";
  return undefined;
}

function isUint(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= max;
}

/** Why `n` is not a valid advertised maxFrameBytes, or undefined. */
export function maxFrameBytesProblem(n: number): string | undefined {
  if (!isUint(n, MAX_U32) || n < MIN_MAX_FRAME_BYTES) {
    return `maxFrameBytes ${n} is not an integer in [${MIN_MAX_FRAME_BYTES}, ${MAX_U32}]`;
  }
  return undefined;
}

/**
 * Checks every HELLO field except the version overlap (see chooseVersion).
 * Used by the encoder (refuse to send), the decoder (reject on receipt) and the client (options).
 */
export function validateHello(hello: HelloFrame): HandshakeProblem | undefined {
  const bad = (message: string): HandshakeProblem => ({ code: "OUTLAST_PROTOCOL_ERROR", message: `HELLO: ${message}` });
  const idProblem = clientIdProblem(hello.clientId);
  if (idProblem !== undefined) return bad(idProblem);
  if (!(hello.token instanceof Uint8Array)) return bad("token must be a Uint8Array");
  if (hello.token.length > MAX_TOKEN_BYTES)
    return bad(`token is ${hello.token.length} bytes; at most ${MAX_TOKEN_BYTES}`);
  if (!isUint(hello.minVersion, MAX_U16) || hello.minVersion < 1)
    return bad(`minVersion ${hello.minVersion} is not in [1, ${MAX_U16}]`);
  if (!isUint(hello.maxVersion, MAX_U16) || hello.maxVersion < hello.minVersion) {
    return bad(`maxVersion ${hello.maxVersion} is not in [minVersion ${hello.minVersion}, ${MAX_U16}]`);
  }
  if (!isUint(hello.heartbeatIntervalMs, MAX_U32))
    return bad(`heartbeatIntervalMs ${hello.heartbeatIntervalMs} is not in [0, ${MAX_U32}]`);
  const frameProblem = maxFrameBytesProblem(hello.maxFrameBytes);
  if (frameProblem !== undefined) return bad(frameProblem);
  return undefined;
}

/** The highest version in both the client's [minVersion, maxVersion] and `supported`. */
export function chooseVersion(
  hello: Pick<HelloFrame, "minVersion" | "maxVersion">,
  supported: readonly number[] = SUPPORTED_VERSIONS,
): VersionChoice {
  let best = 0;
  for (const v of supported) {
    if (v >= hello.minVersion && v <= hello.maxVersion && v > best) best = v;
  }
  if (best > 0) return { ok: true, version: best };
  return {
    ok: false,
    code: "OUTLAST_PROTOCOL_VERSION",
    message:
      `client speaks protocol versions ${hello.minVersion}..${hello.maxVersion}, server speaks ${supported.join(", ")}; ` +
      "upgrade the older side",
  };
}

/** Checks a WELCOME against the HELLO the client sent; undefined when it is acceptable. */
export function checkWelcome(
  hello: Pick<HelloFrame, "minVersion" | "maxVersion">,
  welcome: WelcomeFrame,
): HandshakeProblem | undefined {
  if (!Number.isInteger(welcome.version) || welcome.version < hello.minVersion || welcome.version > hello.maxVersion) {
    return {
      code: "OUTLAST_PROTOCOL_VERSION",
      message: `server chose protocol version ${welcome.version}, client offered ${hello.minVersion}..${hello.maxVersion}`,
    };
  }
  const bad = (message: string): HandshakeProblem => ({
    code: "OUTLAST_PROTOCOL_ERROR",
    message: `WELCOME: ${message}`,
  });
  const idProblem = clientIdProblem(welcome.clientId);
  if (idProblem !== undefined) return bad(idProblem);
  if (!isUint(welcome.lastSeq, MAX_U64)) return bad(`lastSeq ${welcome.lastSeq} is not an integer in [0, 2^53-1]`);
  const frameProblem = maxFrameBytesProblem(welcome.maxFrameBytes);
  if (frameProblem !== undefined) return bad(frameProblem);
  if (welcome.version >= 2) {
    if (welcome.beatMs === undefined || !isUint(welcome.beatMs, MAX_U32))
      return bad(`beatMs ${welcome.beatMs} is not an integer in [0, ${MAX_U32}] (version ${welcome.version})`);
    if (welcome.idleMs === undefined || !isUint(welcome.idleMs, MAX_U32))
      return bad(`idleMs ${welcome.idleMs} is not an integer in [0, ${MAX_U32}] (version ${welcome.version})`);
  } else if (welcome.beatMs !== undefined || welcome.idleMs !== undefined) {
    return bad("beatMs and idleMs are not part of a version 1 WELCOME");
  }
  return undefined;
}

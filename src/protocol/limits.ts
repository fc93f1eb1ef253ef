/**
 * Wire limits of protocol v1 and v2 (docs/protocol.md, "Limits"). The encoder refuses
 * to write a frame outside them; the decoder rejects one with OUTLAST_PROTOCOL_ERROR.
 */

import { FRAME_HEADER_BYTES } from "./frames.js";

/** Largest integer a u64 field may carry: 2^53 - 1. */
export const MAX_U64 = Number.MAX_SAFE_INTEGER;
export const MAX_U32 = 0xffff_ffff;
export const MAX_U16 = 0xffff;

/** clientId: 1..256 bytes of UTF-8, no control characters. */
export const MAX_CLIENT_ID_BYTES = 256;
/** HELLO token (credential): at most 64 KiB. */
export const MAX_TOKEN_BYTES = 64 * 1024;
/** ERROR code: 1..64 bytes of [A-Z0-9_], starting with a letter. */
export const MAX_ERROR_CODE_BYTES = 64;
/** ERROR message: at most 1 KiB of UTF-8 (longer text is cut by `makeErrorFrame`). */
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Smallest maxFrameBytes a peer may advertise: every control frame except HELLO fits. */
export const MIN_MAX_FRAME_BYTES = 4096;

/** Bytes of a MESSAGE frame that are not data, after the length field: type + u64 seq. */
export const MESSAGE_OVERHEAD_BYTES = 9;
/** Bytes before a MESSAGE's data: u32 length + u8 type + u64 seq. */
export const MESSAGE_HEADER_BYTES = FRAME_HEADER_BYTES + 8;

/** HELLO body without the variable parts: magic 4, versions 2+2, heartbeat 4, maxFrame 4, idLen 2, tokenLen 4. */
export const HELLO_FIXED_BYTES = 22;
/** Largest valid HELLO length field; the server reads the first frame with this limit. */
export const MAX_HELLO_FRAME_BYTES = 1 + HELLO_FIXED_BYTES + MAX_CLIENT_ID_BYTES + MAX_TOKEN_BYTES;
/** WELCOME body without clientId: version 2, lastSeq 8, maxFrame 4, idLen 2. */
export const WELCOME_FIXED_BYTES = 16;
/** What a version >= 2 WELCOME adds after clientId: beatMs 4, idleMs 4. */
export const WELCOME_V2_BYTES = 8;
/** ERROR body without the strings: retryAfterMs 4, codeLen 1, messageLen 2. */
export const ERROR_FIXED_BYTES = 7;

/** ERROR code syntax: an upper-case letter, then up to 63 of [A-Z0-9_]. */
export const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

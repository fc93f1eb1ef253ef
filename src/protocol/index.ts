/** The outlast wire protocol v1 (docs/protocol.md). Used by the client and the server; not a package export. */

export { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameType, MAGIC, PROTOCOL_VERSION } from "./frames.js";
export type {
  AckFrame,
  ErrorFrame,
  Frame,
  FrameTypeCode,
  GoodbyeFrame,
  HelloFrame,
  MessageFrame,
  PingFrame,
  PongFrame,
  WelcomeFrame,
} from "./frames.js";

export {
  ERROR_CODE_PATTERN,
  MAX_CLIENT_ID_BYTES,
  MAX_ERROR_CODE_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_HELLO_FRAME_BYTES,
  MAX_TOKEN_BYTES,
  MAX_U16,
  MAX_U32,
  MAX_U64,
  MESSAGE_HEADER_BYTES,
  MESSAGE_OVERHEAD_BYTES,
  MIN_MAX_FRAME_BYTES,
} from "./limits.js";

export { encodeFrame, encodeMessageHeader, writeMessageHeader } from "./frame-encoder.js";
export { FrameDecoder } from "./frame-decoder.js";
export type { FrameDecoderOptions } from "./frame-decoder.js";

export {
  SUPPORTED_VERSIONS,
  checkWelcome,
  chooseVersion,
  clientIdProblem,
  isMagic,
  maxFrameBytesProblem,
  validateHello,
} from "./handshake.js";
export type { HandshakeProblem, VersionChoice } from "./handshake.js";

export { errorFromFrame, makeErrorFrame, truncateUtf8 } from "./error-frame.js";

export { clientFrameRule, serverFrameRule } from "./frame-rules.js";
export type { ClientLinkState, FrameName, FrameRule, ServerConnectionState } from "./frame-rules.js";

/**
 * The layer below net, sync and trust: length-prefixed frames over libp2p streams,
 * MessagePack, rmp-serde field readers, base64url, the wire errors, abort and deadline helpers, the one
 * event mechanism and the one logger. Import from here only (README.md beside this file).
 */
export {
  type AbortOptions,
  abortReason,
  type Deadline,
  deadline,
  sleep,
  throwIfAborted,
  withSignal,
  withTimeout,
} from './abort.ts';
export { fromBase64Url, toBase64Url } from './base64url.ts';
export { ByteReader, type ByteReadOptions } from './byte-reader.ts';
export { clip, ElohimError, errorMessage } from './elohim-error.ts';
export {
  BadBytesError,
  BadMsgpackError,
  FrameTooLargeError,
  TruncatedFrameError,
  UnexpectedMessageError,
  WireError,
  WireProtocolError,
  WireStreamClosedError,
  WireTimeoutError,
} from './errors.ts';
export { listen, TypedEventEmitter, type TypedEventTarget } from './events.ts';
export {
  bytesField,
  fields,
  newtype,
  show,
  stringField,
  uintField,
  unit,
  variant,
} from './fields.ts';
export {
  encodeFrame,
  FrameReader,
  type FrameReadOptions,
  type FrameWriteOptions,
  frameLength,
  readFrame,
  unframe,
  waitForDrain,
  writeFrame,
} from './frames.ts';
export { KeyedLock } from './keyed-lock.ts';
export { type Logger, logger } from './log.ts';
export {
  decodeMsgpack,
  type Encodable,
  encodeMsgpack,
  IntBytes,
  type MsgValue,
} from './msgpack.ts';
export * from './trust.ts';

import type { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import type { Stream, StreamHandler, StreamMiddleware } from '@libp2p/interface';

/** The registrar as libp2p hands it to the relay server. */
type Registrar = Parameters<ReturnType<typeof circuitRelayServer>>[0]['registrar'];

/**
 * Largest hop or stop message the relay reads (go-libp2p's relay uses the same). Real ones hold
 * a PeerId, a few multiaddrs and a voucher: well under 1 KiB.
 */
export const MAX_RELAY_MESSAGE = 4096;
/**
 * Bytes a relay protocol stream may receive while it is not (yet) a relayed connection: one
 * largest message and its length prefix, with room to spare. Once it relays, the relayed
 * connection's own data limit applies instead.
 */
export const RELAY_HANDSHAKE_BUDGET = 2 * MAX_RELAY_MESSAGE;
/** Circuit relay v2 `Status.OK` (protobuf enum value). */
const STATUS_OK = 100;
/** HopMessage fields: `reservation` (3, length-delimited) and `status` (5, varint). */
const RESERVATION_FIELD = 3;
const STATUS_FIELD = 5;

export class RelayMessageError extends Error {
  override name = 'RelayMessageError';
}

type Bytes = Uint8Array | { subarray(): Uint8Array };
const flat = (data: Bytes): Uint8Array => (data instanceof Uint8Array ? data : data.subarray());

/** A varint at `at`, or undefined when `bytes` ends first (or it runs past 5 bytes). */
function varint(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5 && at + i < bytes.length; i++) {
    const byte = bytes[at + i] as number;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 };
  }
  return undefined;
}

/**
 * The top-level fields of one length-prefixed protobuf message: a varint field's value, a
 * length-delimited field's length. Stops at anything else (the relay decodes for real).
 */
function fieldsOf(framed: Uint8Array): Map<number, number> {
  const fields = new Map<number, number>();
  const length = varint(framed, 0);
  if (length === undefined) return fields;
  const end = Math.min(framed.length, length.next + length.value);
  let at = length.next;
  while (at < end) {
    const tag = varint(framed, at);
    const value = tag && varint(framed, tag.next);
    const wire = (tag?.value ?? 0) & 7;
    if (tag === undefined || value === undefined || (wire !== 0 && wire !== 2)) break;
    fields.set(tag.value >>> 3, value.value);
    at = wire === 0 ? value.next : value.next + value.value;
  }
  return fields;
}

/**
 * Holds one relay protocol stream to the handshake budget. The relay itself reads a message of
 * up to 4 MiB and keeps what arrives meanwhile until its hop timeout, so without this a peer
 * could park megabytes per stream. A first message declaring more than {@link MAX_RELAY_MESSAGE}
 * is refused at its length prefix, before its body arrives; and the stream may receive at most
 * {@link RELAY_HANDSHAKE_BUDGET} bytes until it is released (it became a relayed connection).
 * `onFirstMessage` runs once the first message has wholly arrived.
 */
function guard(stream: Stream, onFirstMessage?: () => void): { release(): void } {
  let received = 0;
  let prefix = new Uint8Array(0);
  let firstMessageEnd: number | undefined;
  const release = () => stream.removeEventListener('message', onMessage);
  /** Why the bytes so far are refused, if they are. */
  function fault(bytes: Uint8Array): string | undefined {
    received += bytes.byteLength;
    if (firstMessageEnd === undefined) {
      prefix = Uint8Array.of(...prefix, ...bytes.subarray(0, 5 - prefix.length));
      const length = varint(prefix, 0);
      if (length === undefined) return prefix.length >= 5 ? 'malformed length prefix' : undefined;
      if (length.value > MAX_RELAY_MESSAGE) {
        return `relay message of ${length.value} bytes (at most ${MAX_RELAY_MESSAGE})`;
      }
      firstMessageEnd = length.next + length.value;
    }
    if (received > RELAY_HANDSHAKE_BUDGET) {
      return `more than ${RELAY_HANDSHAKE_BUDGET} bytes before relaying`;
    }
    return undefined;
  }
  function onMessage({ data }: { data: Bytes }): void {
    const refused = fault(flat(data));
    if (refused !== undefined) {
      release();
      stream.abort(new RelayMessageError(refused));
    } else if (onFirstMessage !== undefined && received >= (firstMessageEnd ?? Infinity)) {
      onFirstMessage();
    }
  }
  // Registered before the relay's own reader, so an oversized message never reaches it.
  stream.addEventListener('message', onMessage);
  return { release };
}

/**
 * Wraps the relay's hop handler: each inbound hop stream is guarded until the relay answers a
 * CONNECT with OK and starts relaying. The relay's first message sent is that answer; a
 * reservation's OK carries the reservation and is followed by the relay closing its side, and
 * a refusal leaves the stream to the peer, so both stay guarded.
 */
export function guardHop(handler: StreamHandler): StreamHandler {
  return (stream, connection) => {
    const guarded = guard(stream);
    const send = stream.send.bind(stream);
    stream.send = (data) => {
      stream.send = send;
      const answer = fieldsOf(flat(data));
      if (answer.get(STATUS_FIELD) === STATUS_OK && !answer.has(RESERVATION_FIELD)) {
        guarded.release();
      }
      return send(data);
    };
    return handler(stream, connection);
  };
}

/**
 * Middleware for the stop streams the relay opens to a destination: the destination's answer
 * is held to the same limits; once it has wholly arrived the stream relays, or the relay
 * closes it.
 */
export const guardStop: StreamMiddleware = (stream, connection, next) => {
  const guarded = guard(stream, () => guarded.release());
  next(stream, connection);
};

/**
 * The registrar a relay server should see: the node's own, except that the hop handler it
 * registers is wrapped by {@link guardHop}.
 */
export function guardedRegistrar(registrar: Registrar, hopProtocol: string): Registrar {
  return new Proxy(registrar, {
    get(target, prop) {
      if (prop === 'handle') {
        const handle: Registrar['handle'] = (protocol, handler, options) =>
          target.handle(protocol, protocol === hopProtocol ? guardHop(handler) : handler, options);
        return handle;
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

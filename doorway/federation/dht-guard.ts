/**
 * A size limit on DHT messages. kad-dht reads each length-prefixed message whole, of whatever
 * length its prefix declares (its reader sets no maximum), until its 10 s message timeout: a
 * peer could make it buffer hundreds of MiB per stream. Real Kademlia messages here (a key, up
 * to 20 peers with a few addresses each) are a few KiB.
 */
import type { Stream, StreamHandler } from '@libp2p/interface';
import type { KadDHTComponents } from '@libp2p/kad-dht';

/** Largest DHT message read, either way. */
export const MAX_DHT_MESSAGE = 64 * 1024;

export class DhtMessageError extends Error {
  override name = 'DhtMessageError';
}

type Registrar = KadDHTComponents['registrar'];
type Bytes = Uint8Array | { subarray(): Uint8Array };

/**
 * Checks a stream's incoming bytes message by message (varint length, then body); the first
 * length prefix above `max` is the fault, found before its body arrives.
 */
function messageChecker(max: number): (bytes: Uint8Array) => string | undefined {
  /** Body bytes still to skip of the current message; -1 while reading a length prefix. */
  let bodyLeft = -1;
  let length = 0;
  let shift = 0;
  return (bytes) => {
    let at = 0;
    while (at < bytes.length) {
      if (bodyLeft > 0) {
        const skip = Math.min(bodyLeft, bytes.length - at);
        bodyLeft -= skip;
        at += skip;
        continue;
      }
      const byte = bytes[at++] as number;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (length > max || shift > 35) return `DHT message of ${length} bytes (at most ${max})`;
      if ((byte & 0x80) === 0) {
        bodyLeft = length;
        length = 0;
        shift = 0;
      }
    }
    return undefined;
  };
}

/**
 * Aborts `stream` at the first incoming length prefix above `max`, before its body arrives.
 * The check runs inside the reader's own 'message' listener, not beside it: a stream hands its
 * buffered bytes to whatever listeners it has, so a listener of ours added before kad-dht's
 * reader would take bytes the reader then never sees.
 */
export function guardDhtStream(stream: Stream, max = MAX_DHT_MESSAGE): void {
  const check = messageChecker(max);
  const checked = new WeakSet<Event>();
  let refused = false;
  const wrapped = new Map<unknown, EventListener>();
  const add = stream.addEventListener.bind(stream) as EventTarget['addEventListener'];
  const remove = stream.removeEventListener.bind(stream) as EventTarget['removeEventListener'];
  const addEventListener: EventTarget['addEventListener'] = (type, listener, options) => {
    if (type !== 'message' || listener == null) return add(type, listener, options);
    const guarded: EventListener = (event) => {
      if (!checked.has(event)) {
        checked.add(event);
        const { data } = event as Event & { data: Bytes };
        const fault = check(data instanceof Uint8Array ? data : data.subarray());
        if (fault !== undefined) {
          refused = true;
          stream.abort(new DhtMessageError(fault));
        }
      }
      if (refused) return;
      if (typeof listener === 'function') listener.call(stream, event);
      else listener.handleEvent(event);
    };
    wrapped.set(listener, guarded);
    add(type, guarded, options);
  };
  const removeEventListener: EventTarget['removeEventListener'] = (type, listener, options) =>
    remove(type, (type === 'message' && wrapped.get(listener)) || listener, options);
  Object.assign(stream, { addEventListener, removeEventListener });
}

type ConnectionManager = KadDHTComponents['connectionManager'];

/**
 * The connection manager kad-dht should see: the streams it opens on `protocol` (to send our
 * queries and read their answers) are guarded first. Not `node.use()` middleware: libp2p 3.3
 * runs a protocol's inbound handler again for each new stream once it has middleware.
 */
export function guardedDhtConnections(
  manager: ConnectionManager,
  protocol: string,
): ConnectionManager {
  return new Proxy(manager, {
    get(target, prop) {
      if (prop === 'openStream') {
        const openStream: ConnectionManager['openStream'] = async (peer, protocols, options) => {
          const stream = await target.openStream(peer, protocols, options);
          if (stream.protocol === protocol) guardDhtStream(stream);
          return stream;
        };
        return openStream;
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The registrar kad-dht should see: inbound streams on `protocol` are guarded first. */
export function guardedDhtRegistrar(registrar: Registrar, protocol: string): Registrar {
  return new Proxy(registrar, {
    get(target, prop) {
      if (prop === 'handle') {
        const handle: Registrar['handle'] = (name, handler, options) => {
          const guarded: StreamHandler = (stream, connection) => {
            guardDhtStream(stream);
            return handler(stream, connection);
          };
          return target.handle(name, name === protocol ? guarded : handler, options);
        };
        return handle;
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * An automerge-repo `NetworkAdapter` over libp2p: protocol `/elohim/automerge/1.0.0`.
 *
 * One long-lived stream per connected peer. Frames are the shard protocol's: a 4-byte
 * big-endian length, then the body; a body is one automerge-repo message encoded with the
 * repo's own CBOR (`cbor` from automerge-repo, as its WebSocket adapter does). Frames over
 * `maxFrameBytes` (default 8 MiB) are refused: a received one resets the stream, one we were
 * about to send is dropped and reported (`SyncFrameTooLargeError`).
 *
 * Handshake: each side's first frame on a stream is
 *   { type: "elohim-hello", protocolVersion: 1, senderId: <repo PeerId>, peerMetadata }
 * after which the remote repo peer is announced to the Repo (`peer-candidate`). Messages
 * whose `senderId` is not the peer that said hello on that stream, or whose `targetId` is
 * not us, are dropped: a peer cannot speak for another; a hello naming this repo itself, or
 * a repo another libp2p peer speaks for, resets the stream. What each repo peer may receive
 * is the Repo's share configuration's call, by the libp2p peer behind it
 * ({@link Libp2pNetworkAdapter.libp2pPeerOf}, `share.ts`).
 *
 * Who opens the stream: both sides, when a connection opens (and for connections already
 * open at `connect`), so that it works whichever side runs the adapter first. When both
 * streams succeed, the one opened by the peer with the smaller libp2p PeerId is kept for
 * sending; the other is half-closed by both sides and read until it ends, so nothing sent
 * on it before the choice is lost. When the kept stream closes (the peer left, the
 * connection dropped), the Repo gets `peer-disconnected`; a new connection opens a new stream.
 *
 * Connections with relay limits (circuit relay v2) are skipped unless
 * `runOnLimitedConnection`: a relay's data cap would cut a document sync midway.
 *
 * A service, libp2p style (like `@libp2p/ping`): {@link libp2pNetworkAdapter} takes its init
 * and returns a factory that, given the node, makes the adapter; `start()` registers the
 * handler (and opens streams to the peers connected), `stop()` unregisters it and ends every
 * stream. The Repo drives both: `connect` (which names this repo peer) starts it,
 * `disconnect` stops it.
 */

import {
  cbor,
  type Message,
  NetworkAdapter,
  type PeerMetadata,
  type PeerId as RepoPeerId,
} from '@automerge/automerge-repo/slim';
import type { Connection, Libp2p, Startable, Stream } from '@libp2p/interface';
import { FrameReader, FrameTooLargeError, logger, writeFrame } from '../wire/index.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './codec.ts';
import {
  AdapterNotConnectedError,
  SyncError,
  SyncFrameTooLargeError,
  SyncProtocolError,
  toError,
} from './errors.ts';

export const AUTOMERGE_PROTOCOL = '/elohim/automerge/1.0.0';

const log = logger('sync');

/** What the adapter needs of a libp2p node (the browser node and a Node node both fit). */
export type Libp2pSyncNode = Pick<
  Libp2p,
  'peerId' | 'handle' | 'unhandle' | 'getConnections' | 'addEventListener' | 'removeEventListener'
>;

export interface Libp2pNetworkAdapterOptions {
  /** Largest frame sent or accepted. Default 8 MiB. */
  maxFrameBytes?: number;
  /** Also sync over relayed (limited) connections. Default false. */
  runOnLimitedConnection?: boolean;
  /**
   * How long `whenReady` waits for the handshakes with already-connected peers, so that the
   * Repo asks them before it declares a document unavailable. Default 1 s.
   */
  readyTimeoutMs?: number;
  /** Time allowed to open a stream and exchange hellos, and for each write to drain. Default 10 s. */
  timeoutMs?: number;
  /** Diagnostics (default: the `elohim:sync` logger). Never throws into the adapter. */
  onError?: (error: unknown, ctx: { peer: string }) => void;
}

export function libp2pNetworkAdapter(
  init: Libp2pNetworkAdapterOptions = {},
): (components: Libp2pSyncNode) => Libp2pNetworkAdapter {
  return (components) => new Libp2pNetworkAdapter(components, init);
}

interface Hello {
  type: 'elohim-hello';
  protocolVersion: 1;
  senderId: RepoPeerId;
  peerMetadata: PeerMetadata;
}

/** One stream to one remote libp2p peer. */
class Link {
  /** Set by the remote's hello. */
  repoPeer: RepoPeerId | undefined;
  /** No longer used for sending (a duplicate); read until the remote ends it. */
  retired = false;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    readonly stream: Stream,
    readonly reader: FrameReader,
    readonly remote: string,
    /** The libp2p connection it runs on. */
    readonly connectionId: string,
    /** Whether we opened it. */
    readonly outbound: boolean,
  ) {}

  /** Queues a frame; frames go out in order, one at a time, honouring back-pressure. */
  write(frame: Uint8Array, timeoutMs: number): Promise<void> {
    const p = this.writes.then(() => writeFrame(this.stream, frame, { timeoutMs }));
    this.writes = p.catch(() => {});
    return p;
  }

  /** Half-closes after the queued writes. */
  async closeWrite(timeoutMs: number): Promise<void> {
    await this.writes;
    await this.stream.close({ signal: AbortSignal.timeout(timeoutMs) });
  }
}

export class Libp2pNetworkAdapter extends NetworkAdapter implements Startable {
  readonly #libp2p: Libp2pSyncNode;
  readonly #maxFrameBytes: number;
  readonly #timeoutMs: number;
  readonly #opts: Libp2pNetworkAdapterOptions;
  /** Every open link, by remote libp2p peer. */
  readonly #links = new Map<string, Set<Link>>();
  /** The link we send on, by remote libp2p peer (only after its hello). */
  readonly #active = new Map<string, Link>();
  /** Remote repo peer → remote libp2p peer. */
  readonly #repoPeers = new Map<RepoPeerId, string>();
  #running = false;
  #ready = false;
  #markReady: () => void = () => {};
  readonly #readyPromise: Promise<void>;

  constructor(libp2p: Libp2pSyncNode, options: Libp2pNetworkAdapterOptions = {}) {
    super();
    this.#libp2p = libp2p;
    this.#opts = options;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#readyPromise = new Promise<void>((resolve) => {
      this.#markReady = () => {
        this.#ready = true;
        resolve();
      };
    });
  }

  isReady(): boolean {
    return this.#ready;
  }

  whenReady(): Promise<void> {
    return this.#readyPromise;
  }

  /** Remote repo peers with an open stream (tests, diagnostics). */
  get connectedPeers(): RepoPeerId[] {
    return [...this.#active.values()].flatMap((l) => (l.repoPeer ? [l.repoPeer] : []));
  }

  /**
   * The libp2p peer (PeerId string) that speaks for the repo peer `repoPeer` here, if any: the
   * Repo's share configuration decides by it what that peer may receive (`share.ts`).
   */
  libp2pPeerOf(repoPeer: RepoPeerId): string | undefined {
    return this.#repoPeers.get(repoPeer);
  }

  /** The Repo names this repo peer and starts the adapter. */
  connect(peerId: RepoPeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId;
    this.peerMetadata = peerMetadata ?? {};
    void this.start();
  }

  /** The Repo stops the adapter. */
  disconnect(): void {
    void this.stop();
  }

  /**
   * Registers the handler, then opens a stream to each peer already connected (and to each
   * that connects); ready once each said hello, or after `readyTimeoutMs`. Failures are
   * reported (`onError`), not thrown: peers can still open streams to us.
   */
  async start(): Promise<void> {
    if (!this.peerId) throw new AdapterNotConnectedError();
    if (this.#running) return;
    this.#running = true;
    this.#libp2p.addEventListener('connection:open', this.#onConnectionOpen);
    try {
      await this.#libp2p.handle(AUTOMERGE_PROTOCOL, this.#onIncoming, {
        runOnLimitedConnection: this.#opts.runOnLimitedConnection ?? false,
      });
    } catch (e) {
      this.#report(e, 'local');
    }
    void this.#openExisting();
  }

  async #openExisting(): Promise<void> {
    // Ready once each existing peer said hello (or failed to), or after readyTimeoutMs.
    const initial = this.#libp2p
      .getConnections()
      .map((c) => new Promise<void>((hello) => void this.#open(c, hello).finally(hello)));
    const readyMs = this.#opts.readyTimeoutMs ?? 1_000;
    await Promise.race([Promise.allSettled(initial), new Promise((r) => setTimeout(r, readyMs))]);
    this.#markReady();
  }

  /** Unregisters the handler and ends every stream; the Repo's peers here are disconnected. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#libp2p.removeEventListener('connection:open', this.#onConnectionOpen);
    const unhandled = this.#libp2p
      .unhandle(AUTOMERGE_PROTOCOL)
      .catch((e) => this.#report(e, 'local'));
    const departed = [...this.#active.values()];
    this.#active.clear();
    this.#repoPeers.clear();
    for (const links of this.#links.values()) {
      for (const link of links) link.stream.abort(new SyncError('the adapter disconnected'));
    }
    this.#links.clear();
    for (const link of departed) {
      if (link.repoPeer) this.emit('peer-disconnected', { peerId: link.repoPeer });
    }
    await unhandled;
  }

  send(message: Message): void {
    const remote = this.#repoPeers.get(message.targetId);
    const link = remote === undefined ? undefined : this.#active.get(remote);
    if (!link) {
      this.#report(
        new SyncError(`No stream to repo peer ${message.targetId}; the message was dropped.`),
        remote ?? 'unknown',
      );
      return;
    }
    let frame: Uint8Array;
    try {
      frame = this.#frame(message);
    } catch (e) {
      this.#report(e, link.remote);
      return;
    }
    link.write(frame, this.#timeoutMs).catch((e) => {
      this.#report(e, link.remote);
      link.stream.abort(toError(e));
    });
  }

  #frame(message: unknown): Uint8Array {
    const body = cbor.encode(message);
    if (body.byteLength > this.#maxFrameBytes) {
      throw new SyncFrameTooLargeError(body.byteLength, this.#maxFrameBytes, AUTOMERGE_PROTOCOL);
    }
    const frame = new Uint8Array(4 + body.byteLength);
    new DataView(frame.buffer).setUint32(0, body.byteLength);
    frame.set(body, 4);
    return frame;
  }

  #report(error: unknown, peer: string): void {
    try {
      if (this.#opts.onError) this.#opts.onError(error, { peer });
      else log.error('%s with %s: %e', AUTOMERGE_PROTOCOL, peer, error);
    } catch {}
  }

  #onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    void this.#open(evt.detail);
  };

  #onIncoming = (stream: Stream, connection: Connection): void => {
    void this.#run(stream, connection, false);
  };

  /** Opens our stream on `connection` (unless limited) and runs it until it ends. */
  async #open(connection: Connection, onHello?: () => void): Promise<void> {
    if (!this.#running || connection.status !== 'open') return;
    if (connection.limits && !this.#opts.runOnLimitedConnection) return;
    const remote = connection.remotePeer.toString();
    let stream: Stream;
    try {
      stream = await connection.newStream(AUTOMERGE_PROTOCOL, {
        signal: AbortSignal.timeout(this.#timeoutMs),
        runOnLimitedConnection: this.#opts.runOnLimitedConnection ?? false,
      });
    } catch (e) {
      // Peers without the protocol (a doorway, a shard-only node) are expected.
      this.#report(e, remote);
      return;
    }
    await this.#run(stream, connection, true, onHello);
  }

  /** Hello both ways (then `onHello`), then read messages until the stream ends. Never throws. */
  async #run(
    stream: Stream,
    connection: Connection,
    outbound: boolean,
    onHello?: () => void,
  ): Promise<void> {
    const remote = connection.remotePeer.toString();
    if (!this.#running || !this.peerId) {
      stream.abort(new SyncError('the automerge adapter is not connected'));
      return;
    }
    const link = new Link(stream, new FrameReader(stream), remote, connection.id, outbound);
    let set = this.#links.get(remote);
    if (!set) {
      set = new Set();
      this.#links.set(remote, set);
    }
    set.add(link);
    try {
      const hello: Hello = {
        type: 'elohim-hello',
        protocolVersion: 1,
        senderId: this.peerId,
        peerMetadata: this.peerMetadata ?? {},
      };
      await link.write(this.#frame(hello), this.#timeoutMs);
      const first = await this.#read(link, this.#timeoutMs);
      if (first === undefined) return;
      const theirs = first as Partial<Hello>;
      if (
        theirs?.type !== 'elohim-hello' ||
        theirs.protocolVersion !== 1 ||
        typeof theirs.senderId !== 'string' ||
        theirs.senderId.length === 0
      ) {
        throw new SyncProtocolError(
          `Expected an elohim-hello (protocol version 1) as the first ${AUTOMERGE_PROTOCOL} ` +
            'frame; the peer runs another version or another protocol.',
        );
      }
      link.repoPeer = theirs.senderId;
      this.#adopt(link, theirs.peerMetadata ?? {});
      onHello?.();
      for (;;) {
        const msg = await this.#read(link);
        if (msg === undefined) return;
        if (!this.#running) return;
        this.#deliver(link, msg);
      }
    } catch (e) {
      if (this.#running) this.#report(e, remote);
      stream.abort(toError(e));
    } finally {
      link.reader.dispose();
      this.#drop(link);
      // The remote ended its side: end ours, or a graceful connection close waits for it.
      if (stream.writeStatus === 'writable') {
        link.closeWrite(this.#timeoutMs).catch((e) => stream.abort(toError(e)));
      }
    }
  }

  /** The next decoded frame, or undefined at a clean end. */
  async #read(link: Link, timeoutMs?: number): Promise<unknown> {
    let payload: Uint8Array | undefined;
    try {
      payload = await link.reader.read({
        maxFrameBytes: this.#maxFrameBytes,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
    } catch (e) {
      if (e instanceof FrameTooLargeError) {
        throw new SyncFrameTooLargeError(e.size, e.cap, AUTOMERGE_PROTOCOL);
      }
      throw e;
    }
    if (payload === undefined) return undefined;
    try {
      return cbor.decode(payload);
    } catch (e) {
      throw new SyncProtocolError(
        `A ${AUTOMERGE_PROTOCOL} frame is not valid CBOR: ${toError(e).message}`,
        { cause: e },
      );
    }
  }

  /** Hands a message to the Repo if it is well-formed and really from this link's peer. */
  #deliver(link: Link, msg: unknown): void {
    const m = msg as Partial<Message> | null;
    if (
      typeof m !== 'object' ||
      m === null ||
      typeof m.type !== 'string' ||
      m.senderId !== link.repoPeer ||
      m.targetId !== this.peerId ||
      ('data' in m && m.data !== undefined && !(m.data instanceof Uint8Array))
    ) {
      this.#report(
        new SyncProtocolError(
          `Dropped a malformed or misaddressed ${AUTOMERGE_PROTOCOL} message ` +
            `(type ${String(m?.type)}, sender ${String(m?.senderId)}).`,
        ),
        link.remote,
      );
      return;
    }
    this.emit('message', m as Message);
  }

  /**
   * Makes a link that finished its hello the peer's sending link, or retires it. Throws (the
   * link is then reported and reset) when the peer speaks for a repo it cannot be.
   */
  #adopt(link: Link, peerMetadata: PeerMetadata): void {
    const repoPeer = link.repoPeer as RepoPeerId;
    const claimedBy = this.#repoPeers.get(repoPeer);
    if (repoPeer === this.peerId) {
      throw new SyncProtocolError(
        `Repo peer ${repoPeer} is this repo itself; no peer speaks for it.`,
      );
    }
    if (claimedBy !== undefined && claimedBy !== link.remote) {
      throw new SyncProtocolError(
        `Repo peer ${repoPeer} is already connected through libp2p peer ${claimedBy}.`,
      );
    }
    const current = this.#active.get(link.remote);
    if (current && current.repoPeer === repoPeer) {
      // On one connection, both sides opened a stream: keep the one opened by the smaller
      // PeerId, on both sides. On a newer connection (a reconnect, whose old connection may
      // not have reported its end yet, or a direct one after a relayed one), the new one.
      const localIsSmaller = this.#libp2p.peerId.toString() < link.remote;
      const keepNew =
        current.connectionId !== link.connectionId || link.outbound === localIsSmaller;
      this.#retire(keepNew ? current : link);
      if (keepNew) this.#active.set(link.remote, link);
      return;
    }
    if (current?.repoPeer) {
      // The same libp2p peer now speaks for a new repo (it restarted): the newer link wins.
      this.#retire(current);
      this.#repoPeers.delete(current.repoPeer);
      this.emit('peer-disconnected', { peerId: current.repoPeer });
    }
    this.#active.set(link.remote, link);
    this.#repoPeers.set(repoPeer, link.remote);
    this.emit('peer-candidate', { peerId: repoPeer, peerMetadata });
  }

  #retire(link: Link): void {
    link.retired = true;
    link.closeWrite(this.#timeoutMs).catch((e) => link.stream.abort(toError(e)));
  }

  /** A link ended: promote another of the same peer, or tell the Repo the peer is gone. */
  #drop(link: Link): void {
    const set = this.#links.get(link.remote);
    set?.delete(link);
    if (set?.size === 0) this.#links.delete(link.remote);
    if (this.#active.get(link.remote) !== link) return;
    const next = [...(set ?? [])].find((l) => !l.retired && l.repoPeer === link.repoPeer);
    if (next) {
      this.#active.set(link.remote, next);
      return;
    }
    this.#active.delete(link.remote);
    if (link.repoPeer && this.#repoPeers.get(link.repoPeer) === link.remote) {
      this.#repoPeers.delete(link.repoPeer);
      if (this.#running) this.emit('peer-disconnected', { peerId: link.repoPeer });
    }
    // Two peers dialling each other at once get two connections and libp2p closes one: if
    // the stream went with it, the peer is still connected on the other, so open one there.
    if (!this.#running) return;
    const survivor = this.#libp2p
      .getConnections()
      .find(
        (c) =>
          c.remotePeer.toString() === link.remote &&
          c.id !== link.connectionId &&
          c.status === 'open',
      );
    if (survivor) void this.#open(survivor);
  }
}

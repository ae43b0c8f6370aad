/**
 * The network benchmark page (bundled and driven by bench/network.ts): one real PeerNode per
 * browser profile, plus a bare RTCPeerConnection for the baseline. Node relays SDP between
 * pages through `page.evaluate`; bulk bytes only ever flow browser to browser.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { type ContentStore, openContentStore } from '../src/content/index.ts';
import { loadOrCreateDeviceKey } from '../src/identity/index.ts';
import {
  connectedPeersFinder,
  type FetchProgress,
  fetchContent,
  type HolderFinder,
  isDirect,
  PeerNode,
  replicate,
} from '../src/net/index.ts';
import { fetchManifest, fetchPieces } from '../src/net/shard/index.ts';
import { randomBlob, randomBytes } from './random.ts';

const MiB = 1024 * 1024;

let store: ContentStore | undefined;
let node: PeerNode | undefined;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `ready` every 100 ms until it holds or `timeoutMs` passes. */
async function until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(100);
  }
}

/**
 * Starts the node against `doorway` and waits for its WebRTC address. Periodic discovery is
 * off: dial timings must not race the node's own redials; `connect` discovers on demand.
 */
async function start(doorway: string): Promise<{ peerId: string; webrtcAddr: string }> {
  store = await openContentStore({ dbName: 'bench-network' });
  node = await PeerNode.start({
    doorways: [doorway],
    store,
    privateKey: await loadOrCreateDeviceKey(),
    discoveryIntervalMs: 2 ** 30,
  });
  const n = node;
  await until(() => n.snapshot().webrtcAddrs.length > 0, 30_000, 'relay reservation');
  return { peerId: n.peerId, webrtcAddr: n.snapshot().webrtcAddrs[0] ?? '' };
}

/** Asks the doorway who is online until every peer in `peerIds` is connected directly. */
async function connect(peerIds: string[], timeoutMs = 60_000): Promise<void> {
  const n = need(node, 'node');
  const deadline = performance.now() + timeoutMs;
  while (!peerIds.every((id) => n.isDirectPeer(id))) {
    if (performance.now() > deadline) {
      const missing = peerIds.filter((id) => !n.isDirectPeer(id));
      throw new Error(`no direct connection to ${missing.join(', ')} after ${timeoutMs} ms`);
    }
    await n.discoverNow();
    await sleep(200);
  }
}

async function seedRandom(size: number): Promise<{ hash: string; encoding: string; ms: number }> {
  const s = need(store, 'store');
  const blob = randomBlob(size);
  const started = performance.now();
  const manifest = await s.put(blob, { name: 'bench-random.bin' });
  return {
    hash: manifest.blob_hash,
    encoding: manifest.encoding,
    ms: performance.now() - started,
  };
}

/** Stores the file set on `<input id=file>` (the same bytes in every holder). */
async function seedFile(): Promise<{ hash: string; encoding: string }> {
  const s = need(store, 'store');
  const file = (document.getElementById('file') as HTMLInputElement | null)?.files?.[0];
  if (!file) throw new Error('no file on #file');
  const manifest = await s.put(file, { name: file.name });
  return { hash: manifest.blob_hash, encoding: manifest.encoding };
}

export interface FetchTiming {
  bytes: number;
  /** First 'pieces' progress to the 'verifying' phase: the transfer itself. */
  piecesMs: number;
  /** 'verifying' to the end: the whole-blob check and commit. */
  verifyMs: number;
  /** The whole fetchContent call, finding holders and the manifest included. */
  totalMs: number;
  /** Bytes each holder delivered. */
  perPeer: Record<string, number>;
}

/** fetchContent of `hash`, from the given holders only (all directly connected ones if omitted). */
async function fetch(hash: string, holders?: string[]): Promise<FetchTiming> {
  const n = need(node, 'node');
  const s = need(store, 'store');
  if (holders) await connect(holders);
  const peers = () => (holders ?? n.directPeers()).filter((id) => n.isDirectPeer(id));
  const finder: HolderFinder = connectedPeersFinder(peers, n.libp2p);
  const marks: Partial<Record<FetchProgress['phase'], number>> = {};
  let last: FetchProgress | undefined;
  const started = performance.now();
  const manifest = await fetchContent(n, s, finder, hash, {
    onProgress: (p) => {
      if (marks[p.phase] === undefined) {
        marks[p.phase] = performance.now();
        // Lets the bench read CPU counters at each phase (bench/network.ts exposes it).
        void (window as { benchPhase?: (phase: string) => Promise<void> }).benchPhase?.(p.phase);
      }
      last = p;
    },
  });
  const ended = performance.now();
  const pieces = marks.pieces ?? started;
  const verifying = marks.verifying ?? ended;
  const perPeer: Record<string, number> = {};
  for (const p of last?.peers ?? []) perPeer[p.peerId] = p.bytes;
  return {
    bytes: manifest.total_size,
    piecesMs: verifying - pieces,
    verifyMs: ended - verifying,
    totalMs: ended - started,
    perPeer,
  };
}

/**
 * Diagnostic: the pieces of `hash` pulled from one holder as the scheduler does (ranges of 4,
 * one request at a time) but verified and dropped instead of written, with `parallel`
 * requests in flight: what the transfer costs without IndexedDB.
 */
async function pullPieces(hash: string, holder: string, parallel = 1): Promise<{ ms: number }> {
  const n = need(node, 'node');
  await connect([holder]);
  const peer: PeerId = peerIdFromString(holder);
  const manifest = await fetchManifest(n.libp2p, peer, hash, { timeoutMs: 20_000 });
  const shards = manifest.encoding === 'rs-4-7' ? manifest.data_shards : manifest.total_shards;
  const ranges: Array<{ shard: number; first: number; count: number }> = [];
  for (let shard = 0; shard < shards; shard++) {
    const total = manifest.piece_hashes[shard]?.length ?? 0;
    for (let first = 0; first < total; first += 4)
      ranges.push({ shard, first, count: Math.min(4, total - first) });
  }
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let range = ranges.shift(); range; range = ranges.shift()) {
        for await (const _ of fetchPieces(n.libp2p, peer, manifest, range, { timeoutMs: 20_000 }));
      }
    }),
  );
  return { ms: performance.now() - started };
}

/** Diagnostic: every needed piece of `hash` read back (verified) from the local store. */
async function readPieces(hash: string): Promise<{ ms: number; bytes: number }> {
  const s = need(store, 'store');
  const manifest = await s.manifest(hash);
  if (!manifest) throw new Error(`${hash} is not stored here`);
  const shards = manifest.encoding === 'rs-4-7' ? manifest.data_shards : manifest.total_shards;
  let bytes = 0;
  const started = performance.now();
  for (let shard = 0; shard < shards; shard++) {
    const pieces = manifest.piece_hashes[shard]?.length ?? 0;
    for (let piece = 0; piece < pieces; piece++)
      bytes += (await s.readPiece(hash, shard, piece)).byteLength;
  }
  return { ms: performance.now() - started, bytes };
}

/**
 * `count` doorway-signalled WebRTC dials to `addr`, hanging up (and letting the close
 * settle) between them. Times in ms of the dials that gave a direct connection.
 */
async function dialBench(
  addr: string,
  count: number,
  timeoutMs = 10_000,
): Promise<{ times: number[]; failures: string[] }> {
  const n = need(node, 'node');
  const target = multiaddr(addr);
  const peerId = target.getComponents().findLast((c) => c.name === 'p2p')?.value;
  if (!peerId) throw new Error(`no peer id in ${addr}`);
  const peer = peerIdFromString(peerId);
  const times: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    await n.libp2p.hangUp(peer);
    await until(
      () => n.libp2p.getConnections(peer).length === 0,
      5_000,
      'connections to close',
    ).catch(() => {});
    await sleep(150);
    const started = performance.now();
    try {
      const connection = await n.libp2p.dial(target, { signal: AbortSignal.timeout(timeoutMs) });
      const ms = performance.now() - started;
      if (isDirect(connection)) times.push(ms);
      else failures.push(`dial ${i}: not direct (${connection.remoteAddr})`);
    } catch (error) {
      failures.push(`dial ${i}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { times, failures };
}

// --- Baseline: a bare RTCPeerConnection with one data channel ------------------------------

let pc: RTCPeerConnection | undefined;
let channel: RTCDataChannel | undefined;
let received = 0;
let firstAt = 0;
let lastAt = 0;
let expected = Number.POSITIVE_INFINITY;
let onAll: (() => void) | undefined;

/** No ICE servers: host candidates are all loopback needs. */
function rawCreate(): void {
  pc?.close();
  pc = new RTCPeerConnection({ iceServers: [] });
  channel = pc.createDataChannel('bench', { negotiated: true, id: 0, ordered: true });
  channel.binaryType = 'arraybuffer';
  received = 0;
  firstAt = 0;
  expected = Number.POSITIVE_INFINITY;
  channel.onmessage = (event: MessageEvent<ArrayBuffer>) => {
    const now = performance.now();
    if (received === 0) firstAt = now;
    received += event.data.byteLength;
    lastAt = now;
    if (received >= expected) onAll?.();
  };
}

async function gathered(connection: RTCPeerConnection): Promise<string> {
  const deadline = performance.now() + 10_000;
  while (connection.iceGatheringState !== 'complete' && performance.now() < deadline)
    await sleep(20);
  return connection.localDescription?.sdp ?? '';
}

/** The offer, all candidates included (no trickling: Node relays one message each way). */
async function rawOffer(): Promise<string> {
  rawCreate();
  const connection = need(pc, 'pc');
  await connection.setLocalDescription(await connection.createOffer());
  return gathered(connection);
}

async function rawAnswer(offer: string): Promise<string> {
  rawCreate();
  const connection = need(pc, 'pc');
  await connection.setRemoteDescription({ type: 'offer', sdp: offer });
  await connection.setLocalDescription(await connection.createAnswer());
  return gathered(connection);
}

async function rawAccept(answer: string): Promise<void> {
  await need(pc, 'pc').setRemoteDescription({ type: 'answer', sdp: answer });
}

let pool: Uint8Array<ArrayBuffer> | undefined;

/** Waits until the channel is open (and the sender's bytes are ready). */
async function rawOpen(timeoutMs = 20_000): Promise<void> {
  const c = need(channel, 'channel');
  pool ??= randomBytes(16 * MiB);
  await until(() => c.readyState === 'open', timeoutMs, 'data channel open');
}

/** Sends `size` bytes in `message`-byte messages; over 4 MiB buffered, waits for it to fall below 1 MiB. */
async function rawSend(size: number, message = 256 * 1024): Promise<{ ms: number }> {
  const c = need(channel, 'channel');
  const bytes = need(pool, 'pool');
  const high = 4 * MiB;
  c.bufferedAmountLowThreshold = MiB;
  const started = performance.now();
  for (let sent = 0; sent < size; sent += message) {
    if (c.bufferedAmount > high) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve, reject) => {
        c.onbufferedamountlow = () => resolve();
        timer = setTimeout(() => reject(new Error('the data channel stopped draining')), 30_000);
      }).finally(() => clearTimeout(timer));
    }
    const at = sent % bytes.byteLength;
    c.send(bytes.subarray(at, at + Math.min(message, size - sent)));
  }
  return { ms: performance.now() - started };
}

/** Resolves when `size` bytes have arrived: ms from the first message to the last. */
async function rawReceive(size: number, timeoutMs = 120_000): Promise<{ ms: number }> {
  expected = size;
  if (received < size) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onAll = resolve;
        timer = setTimeout(
          () => reject(new Error(`only ${received} of ${size} bytes arrived in ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
      onAll = undefined;
    }
  }
  return { ms: lastAt - firstAt };
}

function rawClose(): void {
  channel?.close();
  pc?.close();
  pc = undefined;
  channel = undefined;
}

/**
 * Offers shard `shard` of `hash` to `peerId` (OfferShard), which keeps it; resolves once it
 * did. Tried 3 times: when both sides dial at once libp2p closes one connection, and the offer
 * may be on it.
 */
async function offerShard(hash: string, shard: number, peerId: string): Promise<void> {
  const n = need(node, 'node');
  let reason = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    await connect([peerId]);
    const report = await replicate(
      n.libp2p,
      need(store, 'store'),
      hash,
      [peerIdFromString(peerId)],
      {
        copies: 1,
        shard,
      },
    );
    if (report.stored.length === 1) return;
    reason = report.peers[0]?.reason ?? 'no reason given';
    await sleep(1_000);
  }
  throw new Error(`${peerId} did not keep shard ${shard}: ${reason}`);
}

function addFileInput(): void {
  const input = document.createElement('input');
  input.type = 'file';
  input.id = 'file';
  document.body.append(input);
}

export const networkBench = {
  start,
  connect,
  seedRandom,
  seedFile,
  fetch,
  offerShard,
  pullPieces,
  readPieces,
  dialBench,
  rawOffer,
  rawAnswer,
  rawAccept,
  rawOpen,
  rawSend,
  rawReceive,
  rawClose,
  addFileInput,
};

export type NetworkBench = typeof networkBench;

Object.assign(window, { networkBench });

/**
 * The page of the `webtorrent` bench suite (bundled and driven by bench/webtorrent.ts): our
 * PeerNode (bench/network-page.ts, `window.networkBench`) and, in the same page, a WebTorrent
 * client (`window.webtorrentBench`). WebTorrent's browser build is served by the bench's own
 * doorway next to this page (`./webtorrent.min.js`), never fetched from the internet.
 */
import { openContentStore } from '../src/content/index.ts';
import './network-page.ts';

/** The few parts of WebTorrent's API the bench uses (the package ships no types). */
interface Torrent {
  infoHash: string;
  magnetURI: string;
  length: number;
  pieceLength: number;
  pieces: unknown[];
  numPeers: number;
  downloaded: number;
  once(event: 'done' | 'metadata' | 'wire', listener: () => void): void;
  once(event: 'error', listener: (error: Error | string) => void): void;
}

interface Client {
  seed(input: File, opts: TorrentOptions, onseed: (torrent: Torrent) => void): Torrent;
  add(magnet: string, opts: TorrentOptions): Torrent;
  remove(infoHash: string, opts: { destroyStore: boolean }, cb: (error?: Error) => void): void;
  destroy(cb: (error?: Error) => void): void;
  on(event: 'error', listener: (error: Error | string) => void): void;
}

interface TorrentOptions {
  announce: string[];
}

type ClientClass = new (opts: Record<string, unknown>) => Client;

let client: Client | undefined;
let clientError: string | undefined;
let tracker = '';

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started`);
  return value;
}

/**
 * Where WebTorrent keeps pieces here: its browser default is the origin-private file system
 * (fsa-chunk-store) where the browser has it (Chromium does), else memory. Same test it makes.
 */
function storeName(): string {
  const fsa =
    typeof navigator.storage?.getDirectory === 'function' &&
    typeof globalThis.FileSystemFileHandle?.prototype?.createWritable === 'function';
  return fsa ? 'OPFS (fsa-chunk-store, its browser default)' : 'memory (memory-chunk-store)';
}

/**
 * A WebTorrent client whose only peer source is the bench's loopback WebSocket tracker
 * (`trackerUrl`): no DHT, LSD, uTP, NAT traversal or web seeds, and no ICE servers (host
 * candidates are all loopback needs), so pieces flow browser to browser over WebRTC, as ours do.
 */
async function wtStart(trackerUrl: string): Promise<{ store: string }> {
  const url = new URL('./webtorrent.min.js', location.href).href;
  const module = (await import(/* @vite-ignore */ url)) as { default: ClientClass };
  tracker = trackerUrl;
  client = new module.default({
    dht: false,
    lsd: false,
    utp: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
    tracker: { rtcConfig: { iceServers: [] } },
  });
  client.on('error', (error) => {
    clientError = String(error);
  });
  return { store: storeName() };
}

/** Resolves with `value` once `settle` is called, or rejects on the torrent's error or the deadline. */
function settled<T>(
  torrent: Torrent,
  timeoutMs: number,
  what: string,
  wait: (settle: (value: T) => void) => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<T>((resolve, reject) => {
    torrent.once('error', (error) => reject(new Error(`WebTorrent: ${String(error)}`)));
    timer = setTimeout(() => {
      const progress = `${torrent.downloaded} of ${torrent.length} bytes, ${torrent.numPeers} peers`;
      reject(new Error(`${what} took over ${timeoutMs} ms (${progress}; ${clientError ?? ''})`));
    }, timeoutMs);
    wait(resolve);
  }).finally(() => clearTimeout(timer));
}

/** Seeds the file set on `<input id=file>`: SHA-1 of every piece, then the pieces into the store. */
async function wtSeed(
  timeoutMs = 300_000,
): Promise<{ magnet: string; infoHash: string; pieceLength: number; ms: number }> {
  const c = need(client, 'WebTorrent');
  const file = (document.getElementById('file') as HTMLInputElement | null)?.files?.[0];
  if (!file) throw new Error('no file on #file');
  const started = performance.now();
  let onseed = () => {};
  const seeded = new Promise<void>((resolve) => {
    onseed = resolve;
  });
  // `onseed` runs once every piece is hashed and in the store.
  const torrent = c.seed(file, { announce: [tracker] }, () => onseed());
  await settled<void>(torrent, timeoutMs, 'seeding', (settle) => void seeded.then(settle));
  return {
    magnet: torrent.magnetURI,
    infoHash: torrent.infoHash,
    pieceLength: torrent.pieceLength,
    ms: performance.now() - started,
  };
}

export interface WebTorrentTiming {
  bytes: number;
  /** `client.add(magnet)` to 'done' (every piece SHA-1 verified and in the store). */
  totalMs: number;
  /** `add` to the first peer wire (tracker announce, WebRTC offer/answer through it). */
  wireMs: number;
  /** `add` to the metadata (ut_metadata from the seeder). */
  metadataMs: number;
  pieces: number;
}

/** Downloads `magnet` whole: from `client.add` to the torrent's 'done'. */
async function wtFetch(magnet: string, timeoutMs = 300_000): Promise<WebTorrentTiming> {
  const c = need(client, 'WebTorrent');
  const started = performance.now();
  let wireAt = Number.NaN;
  let metadataAt = Number.NaN;
  const torrent = c.add(magnet, { announce: [tracker] });
  torrent.once('wire', () => {
    wireAt = performance.now();
  });
  torrent.once('metadata', () => {
    metadataAt = performance.now();
  });
  await settled<void>(torrent, timeoutMs, 'the download', (settle) =>
    torrent.once('done', () => settle()),
  );
  return {
    bytes: torrent.length,
    totalMs: performance.now() - started,
    wireMs: wireAt - started,
    metadataMs: metadataAt - started,
    pieces: torrent.pieces.length,
  };
}

/** Removes a torrent and deletes its stored pieces, so the next download starts empty. */
async function wtRemove(infoHash: string): Promise<void> {
  const c = need(client, 'WebTorrent');
  await new Promise<void>((resolve, reject) =>
    c.remove(infoHash, { destroyStore: true }, (error) => (error ? reject(error) : resolve())),
  );
}

/**
 * Deletes our copy of `hash` (the network page's store, through a second handle on the same
 * database, as another tab would), so the next fetchContent fetches it again.
 */
async function removeOurs(hash: string): Promise<boolean> {
  const store = await openContentStore({ dbName: 'bench-network' });
  return store.remove(hash);
}

export const webtorrentBench = { wtStart, wtSeed, wtFetch, wtRemove, removeOurs };

export type WebTorrentBench = typeof webtorrentBench;

Object.assign(window, { webtorrentBench });

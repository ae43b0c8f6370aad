/**
 * Test fixture: a doorway peer with the bridge mounted on a real HTTP server, and holders (real
 * Node peers over TCP on 127.0.0.1) whose served pieces are counted at the store seam the
 * shard server reads through.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import type { HolderFinder } from '../../src/net/index.ts';
import { type Peer, startNodePeer } from '../../src/peer/node.ts';
import { createLogger } from '../log.ts';
import { dispatch } from '../routes.ts';
import { ContentCache } from './cache.ts';
import { type Bridge, type BridgeInit, bridgeRoutes } from './routes.ts';

export const KiB = 1024;
export const PIECE = 16 * KiB;

export const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

type Cleanup = () => Promise<unknown> | unknown;

export interface Holder {
  peer: Peer;
  /** Pieces its shard server read to send (every `readPiece`). */
  served(): number;
  /** Replaces what `readPiece` returns (a lying holder) or how long it takes (a slow one). */
  tamper(
    fn: (bytes: Uint8Array, shard: number, piece: number) => Promise<Uint8Array> | Uint8Array,
  ): void;
  stop(): Promise<void>;
}

export interface World {
  url: string;
  doorway: Peer;
  cache: ContentCache;
  bridge: Bridge;
  holder(name: string): Promise<Holder>;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** False when the server cut the body short. */
  complete: boolean;
}

async function tempDir(name: string, cleanups: Cleanup[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `elohim-bridge-${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function nodePeer(
  name: string,
  cleanups: Cleanup[],
): Promise<{ peer: Peer; stop: () => Promise<void> }> {
  const peer = await startNodePeer({
    dataDir: await tempDir(name, cleanups),
    content: {
      thresholds: { chunkedAbove: 64 * KiB, rsAbove: 512 * KiB },
      chunkSize: PIECE,
      pieceSize: PIECE,
    },
    copies: 0,
    // Nothing here asks the OS for free space: a fixed budget.
    budget: { maxBytes: 64 * 1024 * KiB, spaceLeft: async () => 64 * 1024 * KiB },
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await peer.stop();
    peer.store.close();
  };
  cleanups.push(stop);
  return { peer, stop };
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function startWorld(
  cleanups: Cleanup[],
  options: Partial<Omit<BridgeInit, 'kept' | 'cache' | 'node' | 'log'>> & {
    cacheBytes?: number;
  } = {},
): Promise<World> {
  const { cacheBytes, ...bridgeOptions } = options;
  const { peer: doorway } = await nodePeer('doorway', cleanups);
  const cache = await ContentCache.open({
    dir: await tempDir('cache', cleanups),
    maxBytes: cacheBytes ?? 64 * 1024 * KiB,
  });
  cleanups.push(() => cache.close());
  const bridge = bridgeRoutes({
    kept: doorway.store,
    cache,
    node: doorway.node,
    finder: doorway.finder,
    log: createLogger('silent'),
    openTimeoutMs: 3_000,
    pieceTimeoutMs: 3_000,
    ...bridgeOptions,
  });
  cleanups.push(() => bridge.close());
  const server = createServer((req, res) => {
    dispatch(bridge.routes, req, res)
      .then((handled) => {
        if (!handled) res.writeHead(418).end();
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;

  async function holder(name: string): Promise<Holder> {
    const { peer, stop } = await nodePeer(name, cleanups);
    const { store } = peer;
    const read = store.readPiece.bind(store);
    let served = 0;
    let tampering: Parameters<Holder['tamper']>[0] = (bytes) => bytes;
    store.readPiece = async (hash, shard, piece) => {
      served++;
      return tampering(await read(hash, shard, piece), shard, piece);
    };
    const addrs = peer.node.libp2p.getMultiaddrs().map((ma) => multiaddr(ma.toString()));
    await doorway.node.libp2p.dial(addrs);
    const id = peer.node.peerId;
    await until(() => doorway.node.directPeers().includes(id), `a direct link to ${name}`);
    return {
      peer,
      served: () => served,
      tamper: (fn) => {
        tampering = fn;
      },
      stop,
    };
  }
  return { url: `http://127.0.0.1:${port}`, doorway, cache, bridge, holder };
}

/** An HTTP request that also reports a body the server cut short. */
export function request(
  url: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: init.method ?? 'GET', headers: init.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            complete: res.complete,
          });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A finder that never finds anyone and only returns when its signal aborts. */
export const stallingFinder: HolderFinder = {
  findHolders: (_hash, { signal }) =>
    new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    }),
};

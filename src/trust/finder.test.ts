import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Connection, PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { agentKeyOfPeer } from '../reach/index.ts';
import { TrustOfflineError } from './errors.ts';
import { trustHolderFinder } from './finder.ts';
import type { TrustHolder } from './types.ts';

const HASH = `sha256-${'ab'.repeat(32)}`;

async function holder(): Promise<TrustHolder> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
  return {
    peerId,
    agent: agentKeyOfPeer(peerId) as string,
    multiaddrs: [`/ip4/127.0.0.1/tcp/4001/ws/p2p/${peerId}`],
    capability: 'blob_serving',
    priority: 50,
    region: null,
    updatedAt: Date.now(),
  };
}

type Behaviour = 'connect' | 'fail' | 'hang' | 'impostor';

/** A libp2p stand-in: each peer's dials connect, fail, hang until aborted, or reach someone else. */
function fakeLibp2p(behaviour: Map<string, Behaviour>, impostor?: PeerId) {
  const dials: string[] = [];
  return {
    dials,
    libp2p: {
      dial(target: unknown, options?: { signal?: AbortSignal }): Promise<Connection> {
        const id = (target as Multiaddr[])[0]?.getComponents().findLast((c) => c.name === 'p2p')
          ?.value as string;
        dials.push(id);
        const remote = (id: string) =>
          ({ remotePeer: { equals: (p: PeerId) => p.toString() === id } }) as unknown as Connection;
        switch (behaviour.get(id)) {
          case 'connect':
            return Promise.resolve(remote(id));
          case 'impostor':
            return Promise.resolve(remote(String(impostor)));
          case 'hang':
            return new Promise((_, reject) =>
              options?.signal?.addEventListener('abort', () => reject(options.signal?.reason)),
            );
          default:
            return Promise.reject(new Error('dial failed'));
        }
      },
    },
  };
}

const signal = () => new AbortController().signal;

describe('trustHolderFinder', () => {
  it('dials announced holders and keeps the ones that connect as themselves', async () => {
    const [ok, bad, slow, fake] = await Promise.all([holder(), holder(), holder(), holder()]);
    const { libp2p, dials } = fakeLibp2p(
      new Map<string, Behaviour>([
        [ok.peerId.toString(), 'connect'],
        [bad.peerId.toString(), 'fail'],
        [slow.peerId.toString(), 'hang'],
        [fake.peerId.toString(), 'impostor'],
      ]),
      ok.peerId,
    );
    const asked: unknown[] = [];
    const trust = {
      async findHolders(hash: string, options?: unknown) {
        asked.push([hash, options]);
        return [ok, bad, slow, fake];
      },
    };
    const finder = trustHolderFinder(trust, libp2p, { dialTimeoutMs: 50, limit: 7 });

    const found = await finder.findHolders(HASH, { signal: signal() });
    expect(found.map(String)).toEqual([ok.peerId.toString()]);
    expect(asked).toEqual([[HASH, expect.objectContaining({ limit: 7 })]]);
    // Failed and slow holders were tried twice (one retry).
    for (const h of [bad, slow]) {
      expect(dials.filter((d) => d === h.peerId.toString())).toHaveLength(2);
    }

    // The next round (fetches ask every 2 s) leaves the unreachable ones alone for a while.
    dials.length = 0;
    await finder.findHolders(HASH, { signal: signal() });
    expect(dials).toEqual([ok.peerId.toString()]);
  });

  it('answers soon after a new holder connects, not held up by a listed holder that hangs', async () => {
    const [ok, gone] = await Promise.all([holder(), holder()]);
    const { libp2p, dials } = fakeLibp2p(
      new Map<string, Behaviour>([
        [ok.peerId.toString(), 'connect'],
        [gone.peerId.toString(), 'hang'],
      ]),
    );
    const trust = { findHolders: async () => [gone, ok] };
    // The hanging dial would take an hour: the answer cannot wait for it.
    const finder = trustHolderFinder(trust, libp2p, { dialTimeoutMs: 3_600_000 });
    const controller = new AbortController();
    const found = await finder.findHolders(HASH, { signal: controller.signal });
    expect(found.map(String)).toEqual([ok.peerId.toString()]);
    controller.abort();

    // A caller that has `ok` already wants to hear of others: it waits for every dial.
    const waiting = trustHolderFinder(trust, libp2p, { dialTimeoutMs: 100 });
    dials.length = 0;
    const again = await waiting.findHolders(HASH, {
      signal: signal(),
      known: new Set([ok.peerId.toString()]),
    });
    expect(again.map(String)).toEqual([ok.peerId.toString()]);
    expect(dials.filter((d) => d === gone.peerId.toString())).toHaveLength(2);
  });

  it('gives nothing while the trust layer is offline, and passes other errors on', async () => {
    const { libp2p } = fakeLibp2p(new Map());
    const offline = trustHolderFinder(
      {
        findHolders: () => Promise.reject(new TrustOfflineError('http://d', 'down')),
      },
      libp2p,
    );
    expect(await offline.findHolders(HASH, { signal: signal() })).toEqual([]);
    const broken = trustHolderFinder(
      { findHolders: () => Promise.reject(new Error('bug')) },
      libp2p,
    );
    await expect(broken.findHolders(HASH, { signal: signal() })).rejects.toThrow('bug');
  });

  it('stops when the fetch is aborted', async () => {
    const slow = await holder();
    const { libp2p } = fakeLibp2p(new Map([[slow.peerId.toString(), 'hang' as const]]));
    const finder = trustHolderFinder({ findHolders: async () => [slow] }, libp2p);
    const controller = new AbortController();
    const pending = finder.findHolders(HASH, { signal: controller.signal });
    controller.abort(new Error('user cancelled'));
    await expect(pending).rejects.toThrow('user cancelled');
  });
});

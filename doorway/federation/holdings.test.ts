import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import type { ContentHash } from '../../src/content/index.ts';
import { listen } from '../../src/wire/index.ts';
import { type HoldingsEvents, HoldingsRegistry, holdersFirst } from './holdings.ts';
import { refusal } from './holdings-server.ts';

const hashOf = (i: number): ContentHash => `sha256-${i.toString(16).padStart(64, '0')}`;
const add = (...hashes: ContentHash[]) => ({ reset: false, added: hashes, removed: [] });

describe('HoldingsRegistry', () => {
  it('records, removes and forgets, telling when a hash gains or loses its last holder', () => {
    const registry = new HoldingsRegistry();
    const changes: string[] = [];
    listen<HoldingsEvents['change']['detail']>(registry, 'change', ({ hash, held }) =>
      changes.push(`${held ? '+' : '-'}${hash.slice(-1)}`),
    );
    expect(registry.apply('p1', add(hashOf(1), hashOf(2)))).toEqual({ held: 2, dropped: 0 });
    registry.apply('p2', add(hashOf(1)));
    expect(registry.holders(hashOf(1))).toEqual(['p1', 'p2']);
    registry.apply('p1', { reset: false, added: [], removed: [hashOf(2)] });
    // A reset replaces what p1 said.
    expect(registry.apply('p1', { reset: true, added: [hashOf(3)], removed: [] })).toEqual({
      held: 1,
      dropped: 0,
    });
    expect(registry.holders(hashOf(1))).toEqual(['p2']);
    registry.forget('p2');
    registry.forget('p1');
    expect(registry.size).toBe(0);
    expect(changes).toEqual(['+1', '+2', '-2', '+3', '-1', '-3']);
  });

  it('drops what is over its caps: per peer, per hash, in all', () => {
    const registry = new HoldingsRegistry({ perPeer: 3, perHash: 2, total: 5 });
    expect(registry.apply('p1', add(hashOf(1), hashOf(2), hashOf(3), hashOf(4)))).toEqual({
      held: 3,
      dropped: 1,
    });
    expect(registry.has(hashOf(4))).toBe(false);
    registry.apply('p2', add(hashOf(1)));
    expect(registry.apply('p3', add(hashOf(1), hashOf(5)))).toEqual({ held: 1, dropped: 1 });
    expect(registry.holders(hashOf(1))).toEqual(['p1', 'p2']);
    // 5 entries now: nobody adds more until some go.
    expect(registry.apply('p4', add(hashOf(6)))).toEqual({ held: 0, dropped: 1 });
    registry.forget('p1');
    expect(registry.apply('p4', add(hashOf(6)))).toEqual({ held: 1, dropped: 0 });
  });

  it('names the attached holders first, else asks the fallback', async () => {
    const registry = new HoldingsRegistry();
    const key = await generateKeyPair('Ed25519');
    const id = peerIdFromPrivateKey(key);
    registry.apply(id.toString(), add(hashOf(1)));
    const asked: string[] = [];
    const finder = holdersFirst(registry, {
      findHolders: async (hash) => {
        asked.push(hash);
        return [];
      },
    });
    const signal = AbortSignal.timeout(1_000);
    expect((await finder.findHolders(hashOf(1), { signal })).map(String)).toEqual([id.toString()]);
    expect(await finder.findHolders(hashOf(2), { signal })).toEqual([]);
    expect(asked).toEqual([hashOf(2)]);
  });
});

describe('who may say what it holds', () => {
  it('a peer connected directly, not over a relay, and not a doorway', async () => {
    const remotePeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    const direct = {
      limits: undefined,
      remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/1/ws'),
      remotePeer,
    };
    expect(await refusal(direct, () => false)).toBeUndefined();
    expect(await refusal(direct, () => true)).toMatch(/doorway/);
    const relayed = {
      limits: undefined,
      remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/1/ws/p2p/${remotePeer}/p2p-circuit`),
      remotePeer,
    };
    expect(await refusal(relayed, () => false)).toMatch(/relay/);
    const limited = { ...direct, limits: { bytes: 1n } };
    expect(await refusal(limited, () => false)).toMatch(/relay/);
  });
});

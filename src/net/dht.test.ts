import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Connection, PeerId } from '@libp2p/interface';
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { contentCid, type DhtNode, withDhtFallback } from './dht.ts';
import type { HolderFinder } from './fetch.ts';

const HASH = `sha256-${'ab'.repeat(32)}`;
const newPeer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
const signal = () => ({ signal: AbortSignal.timeout(5_000) });

/** A node whose DHT names `providers` for any key, and whose dials reach whom they name. */
function nodeWith(self: PeerId, providers: PeerId[], asked: string[]): DhtNode {
  const dht = {
    async *findProviders(cid) {
      asked.push(cid.toString());
      yield {
        name: 'PROVIDER',
        from: self,
        providers: providers.map((id) => ({ id, multiaddrs: [] })),
      } as unknown as QueryEvent;
    },
  } as Pick<KadDHT, 'findProviders'>;
  return {
    peerId: self,
    services: { dht },
    dial: async (peer) => ({ remotePeer: peer as PeerId }) as Connection,
  };
}

describe('withDhtFallback', () => {
  it('asks the DHT only when the peers at hand hold nothing, and dials who it names', async () => {
    const [self, holder, near] = [await newPeer(), await newPeer(), await newPeer()];
    const asked: string[] = [];
    const node = nodeWith(self, [self, holder], asked);
    let nearHolders: PeerId[] = [];
    const first: HolderFinder = { findHolders: async () => nearHolders };
    const finder = withDhtFallback(first, node);
    expect((await finder.findHolders(HASH, signal())).map(String)).toEqual([String(holder)]);
    expect(asked).toEqual([contentCid(HASH).toString()]);
    nearHolders = [near];
    expect(await finder.findHolders(HASH, signal())).toEqual([near]);
    expect(asked).toHaveLength(1);
  });

  it('is the first finder itself on a node without a DHT', async () => {
    const first: HolderFinder = { findHolders: async () => [] };
    const node: DhtNode = {
      peerId: await newPeer(),
      services: {},
      dial: async () => ({}) as never,
    };
    expect(withDhtFallback(first, node)).toBe(first);
  });

  it('keys a hash under the CID the content layer writes for it', () => {
    expect(contentCid(HASH).toString()).toMatch(/^bafkrei/);
  });
});

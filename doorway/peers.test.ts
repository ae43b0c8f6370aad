import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  capabilitiesOf,
  dialableAddrs,
  MAX_ADDRS_PER_PEER,
  PeerRegistry,
  RELAY_HOP_PROTOCOL,
  SHARD_PROTOCOL,
  SIGNAL_SAMPLE_SIZE,
  SYNC_PROTOCOL,
} from './peers.ts';
import { parsePubkey } from './routes.ts';

async function newPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
}

let relay: string;
let a: string;
let b: string;
beforeAll(async () => {
  [relay, a, b] = await Promise.all([newPeerId(), newPeerId(), newPeerId()]);
});

describe('dialableAddrs', () => {
  it('keeps relayed and direct addresses, appends /p2p/<peer>, WebRTC first', () => {
    const base = `/ip4/127.0.0.1/tcp/8081/ws/p2p/${relay}`;
    expect(
      dialableAddrs(a, [
        `${base}/p2p-circuit`,
        `${base}/p2p-circuit/webrtc`,
        '/ip4/192.0.2.1/tcp/4001',
        `${base}/p2p-circuit/webrtc/p2p/${a}`, // duplicate once /p2p/<a> is added
      ]),
    ).toEqual([
      `${base}/p2p-circuit/webrtc/p2p/${a}`,
      `${base}/p2p-circuit/p2p/${a}`,
      `/ip4/192.0.2.1/tcp/4001/p2p/${a}`,
    ]);
  });

  it('drops listen markers, garbage and addresses of another peer', () => {
    expect(
      dialableAddrs(a, [
        '/webrtc',
        '/p2p-circuit',
        'not a multiaddr',
        `/ip4/192.0.2.1/tcp/4001/p2p/${b}`,
      ]),
    ).toEqual([]);
  });
});

describe('capabilitiesOf', () => {
  it('maps protocols to capabilities', () => {
    expect(capabilitiesOf(['/ipfs/id/1.0.0'])).toEqual([]);
    expect(capabilitiesOf([SYNC_PROTOCOL, SHARD_PROTOCOL, RELAY_HOP_PROTOCOL])).toEqual([
      'shard',
      'sync',
      'relay',
    ]);
  });
});

describe('PeerRegistry', () => {
  it('tracks connect, identify, identify-push and disconnect', () => {
    const peers = new PeerRegistry();
    const circuit = `/ip4/127.0.0.1/tcp/8081/ws/p2p/${relay}/p2p-circuit`;
    peers.connected(a, new Date(1000));
    peers.connected(b, new Date(2000));
    expect(peers.size).toBe(2);
    expect(peers.get(a)).toMatchObject({ multiaddrs: [], natStatus: 'Unknown', capabilities: [] });

    // identify on connect: no addresses yet, some protocols
    expect(peers.identified(a, { addrs: [], protocols: ['/ipfs/id/1.0.0', SHARD_PROTOCOL] })).toBe(
      true,
    );
    expect(peers.get(a)?.capabilities).toEqual(['shard']);
    // identify-push after the reservation: addresses, protocols left out (= unchanged)
    peers.identified(a, { addrs: [circuit, `${circuit}/webrtc`] });
    expect(peers.get(a)).toMatchObject({
      multiaddrs: [`${circuit}/webrtc/p2p/${a}`, `${circuit}/p2p/${a}`],
      capabilities: ['shard'],
      natStatus: 'Private',
      connectedSince: new Date(1000),
    });

    // a second connection of a known peer keeps its record
    peers.connected(a, new Date(5000));
    expect(peers.get(a)?.connectedSince).toEqual(new Date(1000));

    expect(peers.list().map((p) => p.peerId)).toEqual([a, b]);
    expect(peers.list({ exclude: a }).map((p) => p.peerId)).toEqual([b]);
    expect(peers.list({ dialableOnly: true }).map((p) => p.peerId)).toEqual([a]);

    expect(peers.disconnected(a)).toBe(true);
    expect(peers.disconnected(a)).toBe(false);
    // late identify of a gone peer is ignored
    expect(peers.identified(a, { addrs: [circuit] })).toBe(false);
    expect(peers.has(a)).toBe(false);
    expect(peers.size).toBe(1);
  });

  it('calls a peer with a direct address public', () => {
    const peers = new PeerRegistry();
    peers.connected(a);
    peers.identified(a, { addrs: ['/ip4/192.0.2.1/tcp/4001/ws'] });
    expect(peers.get(a)?.natStatus).toBe('Public');
  });
});

describe('PeerRegistry.sample (what /signal answers)', () => {
  const circuit = () => `/ip4/127.0.0.1/tcp/8081/ws/p2p/${relay}/p2p-circuit`;
  /** A seeded generator: the test draws the same samples every run. */
  function seeded(seed: number): () => number {
    let x = seed;
    return () => {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      return x / 2 ** 31;
    };
  }

  it('answers at most the bound, dialable peers only, never the asker, everyone over time', async () => {
    const peers = new PeerRegistry();
    const ids = await Promise.all(Array.from({ length: 40 }, newPeerId));
    for (const id of ids) {
      peers.connected(id);
      peers.identified(id, { addrs: [`${circuit()}/webrtc`] });
    }
    peers.connected(a); // connected, not (yet) dialable
    const asker = ids[0] as string;
    const random = seeded(7);
    const seen = new Set<string>();
    for (let round = 0; round < 50; round++) {
      const sample = peers.sample({ exclude: asker, random });
      expect(sample).toHaveLength(SIGNAL_SAMPLE_SIZE);
      const listed = sample.map((p) => p.peerId);
      expect(new Set(listed).size).toBe(listed.length);
      expect(listed).not.toContain(asker);
      expect(listed).not.toContain(a);
      for (const id of listed) seen.add(id);
    }
    // 50 draws of 16 out of 39: every dialable peer was handed out to the asker.
    expect(seen.size).toBe(ids.length - 1);
    expect(peers.sample({ limit: 3 })).toHaveLength(3);
  });

  it('lists everyone when fewer than the bound are connected', async () => {
    const peers = new PeerRegistry();
    peers.connected(a);
    peers.identified(a, { addrs: [`${circuit()}/webrtc`] });
    peers.connected(b);
    peers.identified(b, { addrs: [`${circuit()}/webrtc`] });
    expect(
      peers
        .sample()
        .map((p) => p.peerId)
        .sort(),
    ).toEqual([a, b].sort());
  });

  it('keeps at most a few addresses per peer, however many it announces', () => {
    const peers = new PeerRegistry();
    peers.connected(a);
    const many = Array.from({ length: 500 }, (_, i) => `/ip4/192.0.2.${i % 250}/tcp/${1000 + i}`);
    peers.identified(a, {
      addrs: many,
      protocols: Array.from({ length: 500 }, (_, i) => `/p/${i}`),
    });
    expect(peers.get(a)?.multiaddrs).toHaveLength(MAX_ADDRS_PER_PEER);
    expect(peers.get(a)?.protocols.length).toBeLessThanOrEqual(64);
  });
});

describe('parsePubkey', () => {
  it('takes PeerIds and Holochain agent keys, refuses the rest', async () => {
    const key = await generateKeyPair('Ed25519');
    const id = peerIdFromPrivateKey(key).toString();
    expect(parsePubkey(id)).toBe(id);
    const agent = `u${Buffer.concat([
      Buffer.from([0x84, 0x20, 0x24]),
      key.publicKey.raw,
      Buffer.alloc(4),
    ]).toString('base64url')}`;
    expect(agent.startsWith('uhCAk')).toBe(true);
    expect(parsePubkey(agent)).toBe(id);
    expect(() => parsePubkey('nope')).toThrow();
    expect(() => parsePubkey('')).toThrow();
  });
});

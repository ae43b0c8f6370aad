import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  capabilitiesOf,
  dialableAddrs,
  PeerRegistry,
  RELAY_HOP_PROTOCOL,
  SHARD_PROTOCOL,
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
    expect(peers.get(a)).toMatchObject({ multiaddrs: [], natStatus: 'unknown', capabilities: [] });

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
      natStatus: 'private',
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
    expect(peers.get(a)?.natStatus).toBe('public');
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

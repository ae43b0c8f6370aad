/**
 * Bounded discovery and failover of the browser's node (src/net/node.ts), with real doorways and
 * real libp2p in this process: Node peers stand in for browsers (TCP instead of WebRTC, the
 * same PeerNode).
 */
import 'fake-indexeddb/auto';
import '../src/peer/node-websocket.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { afterEach, describe, expect, it } from 'vitest';
import { type NodeSnapshot, PeerNode, type PeerNodeOptions } from '../src/net/index.ts';
import { nodeNetwork } from '../src/peer/node.ts';
import { openTestStore } from '../src/test-support/content-store.ts';
import { startTestDoorway, until } from './test-support.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function doorway(overrides: Parameters<typeof startTestDoorway>[0] = {}) {
  const started = await startTestDoorway(overrides);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await started.stop();
  };
  cleanups.push(stop);
  return { origin: started.doorway.url.replace(/\/$/, ''), doorway: started.doorway, stop };
}

async function node(options: Partial<PeerNodeOptions> & { doorways: string[] }): Promise<PeerNode> {
  const store = await openTestStore('discovery');
  const started = await PeerNode.start({
    store,
    privateKey: await generateKeyPair('Ed25519'),
    network: nodeNetwork(),
    dialListedPeers: false,
    ...options,
  });
  cleanups.push(async () => {
    await started.stop();
    store.close();
  });
  return started;
}

const inUse = (n: PeerNode) => n.snapshot().doorwayInUse;

describe('bounded discovery', () => {
  it('keeps at most maxPeers of the listed peers, and makes room for a holder it needs', async () => {
    const d = await doorway();
    const others = await Promise.all(
      Array.from({ length: 8 }, () => node({ doorways: [d.origin] })),
    );
    await until('the doorway to list every peer', () =>
      d.doorway.p2p.peers.sample({ limit: 100 }).length >= others.length ? true : undefined,
    );

    const bounded = await node({
      doorways: [d.origin],
      dialListedPeers: true,
      maxPeers: 3,
      discoveryIntervalMs: 100,
    });
    await until('three direct peers', () => (bounded.directPeers().length >= 3 ? true : undefined));
    // Many more discovery rounds: still within the bound.
    for (let round = 0; round < 5; round++) await bounded.discoverNow();
    expect(bounded.directPeers().length).toBe(3);
    const connected = new Set(bounded.libp2p.getConnections().map((c) => c.remotePeer.toString()));
    expect(connected.size).toBeLessThanOrEqual(3 + 1); // + the doorway

    // A holder a fetch needs, not among them: dialled, an idle one closed to make room.
    const holder = others.find((o) => !connected.has(o.peerId)) as PeerNode;
    await bounded.dial(holder.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) });
    expect(bounded.isDirectPeer(holder.peerId)).toBe(true);
    await until('the bound to hold again', () =>
      bounded.directPeers().length <= 3 ? true : undefined,
    );
    expect(bounded.connectedDoorways()).toHaveLength(1);
  });
});

describe('failover', () => {
  it('uses the first doorway, and the next one within seconds of it stopping', async () => {
    const iceServers = [{ urls: ['stun:stun.example.org:3478'] }];
    const d1 = await doorway({ iceServers });
    const d2 = await doorway();
    const n = await node({ doorways: [d1.origin, d2.origin] });
    const switches: string[] = [];
    n.addEventListener('doorway', ({ detail }) => switches.push(detail.origin));
    await until('both doorways connected', () =>
      n.connectedDoorways().length === 2 ? true : undefined,
    );
    expect(inUse(n)).toBe(d1.origin);
    // The page's WebRTC transport reads the ICE servers the doorway in use handed out.
    expect(n.iceServers()).toEqual(iceServers);

    await d1.stop();
    const snapshot = await until<NodeSnapshot>('the switch to D2', () => {
      const s = n.snapshot();
      return s.doorwayInUse === d2.origin ? s : undefined;
    });
    expect(snapshot.lastSwitch).toMatchObject({
      from: d1.origin,
      to: d2.origin,
      reason: `${d1.origin} stopped answering`,
    });
    expect(switches.at(-1)).toBe(d2.origin);
    expect(n.iceServers()).toEqual([]);
  });

  it('falls back to a doorway it learned from /api/v1/federation/doorways', async () => {
    const d1 = await doorway();
    const d2 = await doorway();
    // D1 behind a front that also lists D2 (and junk, which is dropped) as a federated doorway.
    const front: Server = createServer((req, res) => {
      if (req.url === '/api/v1/federation/doorways') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            doorways: [
              { url: 'javascript:alert(1)', reachable: true },
              { url: `${d2.origin}/`, peer_id: d2.doorway.p2p.peerId, healthy: true },
            ],
          }),
        );
        return;
      }
      fetch(new URL(req.url ?? '/', d1.origin))
        .then(async (answer) => {
          res.writeHead(answer.status, { 'Content-Type': 'application/json' });
          res.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => front.close(() => resolve())));
    const frontOrigin = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;

    const n = await node({ doorways: [frontOrigin] });
    await until('the front connected', () => (inUse(n) === frontOrigin ? true : undefined));
    // Learned, not dialled while the configured doorway answers.
    expect(n.snapshot().doorways.map((d) => d.origin)).toEqual([frontOrigin]);

    await d1.stop();
    await until(
      'the switch to the learned D2',
      () => (inUse(n) === d2.origin ? true : undefined),
      15_000,
    );
    expect(n.snapshot().lastSwitch).toMatchObject({ from: frontOrigin, to: d2.origin });
  });
});

describe('TURN credentials', () => {
  it('are asked for again as they near their expiry, while the page stays open', async () => {
    const d = await doorway({
      iceServers: [{ urls: ['turn:turn.example.org:3478'] }],
      turn: { secret: 'shared-with-the-turn-server', ttlSeconds: 2 },
    });
    const n = await node({ doorways: [d.origin], iceRefreshMinMs: 200 });
    const expiryOf = () => {
      const username = n.iceServers()[0]?.username;
      return username ? Number(username.split(':')[0]) : undefined;
    };
    const first = await until('the doorway’s TURN credentials', expiryOf);
    // Valid for 2 s: fresh ones (a later expiry) are asked for after about 1.5 s.
    const later = await until(
      'fresh TURN credentials',
      () => {
        const now = expiryOf();
        return now !== undefined && now > first ? now : undefined;
      },
      10_000,
    );
    expect(later).toBeGreaterThan(first);
    expect(n.iceServers()[0]?.credential).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });
});

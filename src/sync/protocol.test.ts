import 'fake-indexeddb/auto';
import type { Libp2p } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import { addrOf, loopbackNode } from '../test-support/libp2p.ts';
import { POSITIONS_PROTOCOL } from './codec.ts';
import { SyncClosedError, SyncTimeoutError, UnknownDocumentError } from './errors.ts';
import type { EventLog } from './event-log.ts';
import { IdbEventLog } from './idb-event-log.ts';
import { type SyncProtocolInit, syncProtocol } from './protocol.ts';
import { until } from './test-support.ts';

const DOC = '2xTnVbL1JhBo3kBqrKSyKyiAF7QK';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function node(): Promise<Libp2p> {
  const n = await loopbackNode();
  cleanup.push(() => n.stop());
  return n;
}

async function log(): Promise<EventLog> {
  const l = await IdbEventLog.open({ dbName: `protocol-test-${Date.now()}-${Math.random()}` });
  cleanup.push(() => l.close());
  return l;
}

/** A protocol that shares nothing but its log's Local events. */
function init(eventLog: EventLog, timeoutMs = 5_000): SyncProtocolInit {
  return {
    log: eventLog,
    maxFrameBytes: 1 << 20,
    maxLimit: 50,
    timeoutMs,
    shares: async () => false,
    load: async (id) => {
      throw new UnknownDocumentError(id);
    },
    mayReceive: async () => true,
    receiveAnnounce: async () => {},
    report: () => {},
  };
}

describe('syncProtocol (/elohim/positions/1.0.0 as a service)', () => {
  it('answers while started; stopped, it unregisters and requests to it fail typed', async () => {
    const [a, b] = [await node(), await node()];
    const aLog = await log();
    await aLog.appendLocal(DOC, 'ab'.repeat(32));
    await aLog.appendLocal(DOC, 'cd'.repeat(32));
    const server = syncProtocol(init(aLog))(a);
    const client = syncProtocol(init(await log()))(b);
    await b.dial(addrOf(a));
    await until(() => a.getConnections(b.peerId).length > 0, 'the connection');

    await server.start();
    expect(a.getProtocols()).toContain(POSITIONS_PROTOCOL);
    const answer = await client.request(a.peerId.toString(), {
      type: 'SyncRequest',
      since: 0,
      limit: 10,
    });
    expect(answer.type === 'SyncResponse' && answer.events.map((e) => e.position)).toEqual([1, 2]);

    await server.stop();
    expect(a.getProtocols()).not.toContain(POSITIONS_PROTOCOL);
    await expect(
      client.request(a.peerId.toString(), { type: 'SyncRequest', since: 0, limit: 10 }),
    ).rejects.toBeInstanceOf(SyncClosedError);
  });

  it('bounds a request by timeoutMs without a signal, and by the caller’s signal', async () => {
    const [a, b] = [await node(), await node()];
    // A peer that takes requests and never answers them.
    await a.handle(POSITIONS_PROTOCOL, () => {});
    await b.dial(addrOf(a));
    const client = syncProtocol(init(await log(), 300))(b);
    const peer = a.peerId.toString();
    const req = { type: 'SyncRequest', since: 0, limit: 10 } as const;

    await expect(client.request(peer, req)).rejects.toBeInstanceOf(SyncTimeoutError);
    const reason = new Error('the caller gave up');
    await expect(client.request(peer, req, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
  });
});

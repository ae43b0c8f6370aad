/**
 * The protocol servers as libp2p services: the factory takes the node's components, `start()`
 * registers the handlers, `stop()` removes them, both idempotent (libp2p and the node may
 * both stop a service).
 */
import { describe, expect, it } from 'vitest';
import type { ContentStore } from '../../content/index.ts';
import { REPLICATE_PROTOCOL, replicateServer } from '../replicate/index.ts';
import { type Libp2pHandleLike, PIECES_PROTOCOL, SHARD_PROTOCOL, shardServer } from './index.ts';

/** A registrar that records what is handled, with the options each handler got. */
function registrar() {
  const handled = new Map<string, unknown>();
  const calls: string[] = [];
  const r: Libp2pHandleLike = {
    async handle(protocol, _handler, options) {
      calls.push(`handle ${protocol}`);
      handled.set(protocol, options);
    },
    async unhandle(protocol) {
      calls.push(`unhandle ${protocol}`);
      handled.delete(protocol);
    },
  };
  return { r, handled, calls };
}

/** The shard server only subscribes to the store's changes until it is needed. */
const store = new EventTarget() as unknown as ContentStore;

describe('protocol servers as libp2p services', () => {
  it('shardServer registers shard and pieces on start, removes them on stop', async () => {
    const { r, handled, calls } = registrar();
    const handlerOptions = { maxInboundStreams: 7 };
    const server = shardServer({ store, handlerOptions })({ registrar: r });
    expect(server.protocols).toEqual([SHARD_PROTOCOL, PIECES_PROTOCOL]);
    expect(handled.size).toBe(0);
    expect(server.isStarted()).toBe(false);

    await server.start();
    await server.start();
    expect([...handled]).toEqual([
      [SHARD_PROTOCOL, handlerOptions],
      [PIECES_PROTOCOL, handlerOptions],
    ]);
    expect(server.isStarted()).toBe(true);

    await server.stop();
    await server.stop();
    expect(handled.size).toBe(0);
    expect(server.isStarted()).toBe(false);
    expect(calls).toEqual([
      `handle ${SHARD_PROTOCOL}`,
      `handle ${PIECES_PROTOCOL}`,
      `unhandle ${SHARD_PROTOCOL}`,
      `unhandle ${PIECES_PROTOCOL}`,
    ]);
  });

  it('shardServer with pieces: false serves the shard protocol only', async () => {
    const { r, handled } = registrar();
    const server = shardServer({ store, pieces: false })({ registrar: r });
    await server.start();
    expect(server.protocols).toEqual([SHARD_PROTOCOL]);
    expect([...handled.keys()]).toEqual([SHARD_PROTOCOL]);
    await server.stop();
  });

  it('replicateServer registers its protocol on start and removes it on stop', async () => {
    const { r, handled, calls } = registrar();
    const connectionManager = {
      openConnection: () => Promise.reject(new Error('no dial in this test')),
    };
    const server = replicateServer({ store })({ registrar: r, connectionManager });
    expect(handled.size).toBe(0);
    await server.start();
    await server.start();
    expect([...handled.keys()]).toEqual([REPLICATE_PROTOCOL]);
    expect(server.isStarted()).toBe(true);
    await server.stop();
    await server.stop();
    expect(server.isStarted()).toBe(false);
    expect(calls).toEqual([`handle ${REPLICATE_PROTOCOL}`, `unhandle ${REPLICATE_PROTOCOL}`]);
  });
});

import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { TypedEventEmitter } from '../wire/index.ts';
import { Outbox, type OutboxOp } from './outbox.ts';
import { OutboxSender } from './sender.ts';
import type { TrustEventMap } from './types.ts';

const HASH = `sha256-${'ab'.repeat(32)}`;

describe('OutboxSender', () => {
  it('tries a change again while connected when sending it failed (a call timed out)', async () => {
    const outbox = await Outbox.open(`sender-retry-${crypto.randomUUID()}`);
    const sent: OutboxOp[] = [];
    let failures = 1;
    const sender = new OutboxSender({
      outbox,
      events: new TypedEventEmitter<TrustEventMap>(),
      link: { online: true, closed: false },
      ready: () => true,
      send: async (op) => {
        if (failures-- > 0) throw new Error('the zome call timed out');
        sent.push(op);
      },
    });
    await sender.init();
    // The first pass fails and the change stays queued: nothing else happens on this link
    // (no new change, no reconnect), yet it is sent.
    expect(await sender.change({ kind: 'withdraw', hash: HASH })).toBe('queued');
    await vi.waitFor(() => expect(sent).toEqual([{ kind: 'withdraw', hash: HASH }]), {
      timeout: 10_000,
    });
    // Removed from the outbox once sent: bounded, not vitest's 1 s (a busy machine is slower).
    await vi.waitFor(async () => expect(await outbox.count()).toBe(0), { timeout: 10_000 });
    await vi.waitFor(() => expect(sender.queued).toBe(0), { timeout: 10_000 });
  });
});

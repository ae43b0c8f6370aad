/** Test-only: the `/elohim/automerge/1.0.0` cases of the sync fault suite (`fuzz-cases.ts`). */
import * as Automerge from '@automerge/automerge';
import {
  CAP,
  type CaseContext,
  cborFrame,
  cborJunk,
  concat,
  flip,
  framed,
  type Outcome,
  unknownDocId,
} from './fuzz-support.ts';
import { AUTOMERGE_PROTOCOL } from './index.ts';

export function automergeCases({ f, r, add, someHash }: CaseContext): void {
  // ---- /elohim/automerge/1.0.0

  const am = (frames: Uint8Array[], allowed: readonly Outcome[]) => ({
    protocol: AUTOMERGE_PROTOCOL,
    bytes: concat(...frames),
    allowed,
  });
  let rogueRepoPeers = 0;
  const hello = (senderId: unknown = `rogue-${++rogueRepoPeers}`) =>
    cborFrame({ type: 'elohim-hello', protocolVersion: 1, senderId, peerMetadata: {} });
  const msg = (sender: string, m: Record<string, unknown>) =>
    cborFrame({ senderId: sender, targetId: f.serverRepoPeer, ...m });
  // Streams the node keeps (well-formed but dropped messages) end cleanly; streams it resets
  // after a bad frame may still have finished first (the reset races the rogue's close).
  const CLEAN = ['closed'];
  const RESET = ['reset', 'closed'];

  add(40, 'automerge: truncated frames', (i) => {
    const frame = i % 2 === 0 ? hello() : msg('x', { type: 'sync', documentId: f.library });
    const cut = frame.subarray(0, 1 + r.int(frame.byteLength - 1));
    return am(i % 2 === 0 ? [cut] : [hello(), cut], RESET);
  });
  add(30, 'automerge: declared length over cap', (i) =>
    am(
      [
        ...(i % 2 === 0 ? [] : [hello()]),
        framed(r.bytes(r.int(64)), CAP + 1 + r.int(2 ** 32 - CAP - 2)),
      ],
      RESET,
    ),
  );
  add(60, 'automerge: garbage CBOR', (i) =>
    i % 2 === 0
      ? am([framed(r.bytes(1 + r.int(200)))], RESET)
      : // After the hello, bytes that happen to decode are dropped; the rest reset the stream.
        am([hello(), framed(r.bytes(1 + r.int(200)))], RESET),
  );
  add(40, 'automerge: bad hellos', (i) =>
    am(
      [
        cborFrame(
          [
            { type: 'hello', protocolVersion: 1, senderId: 'x' },
            { type: 'elohim-hello', protocolVersion: 2, senderId: 'x' },
            { type: 'elohim-hello', protocolVersion: 1, senderId: '' },
            { type: 'elohim-hello', protocolVersion: 1, senderId: r.int(100) },
            { type: 'elohim-hello', protocolVersion: '1', senderId: 'x' },
            { type: 'join', senderId: 'x', supportedProtocolVersions: ['1'] },
            { type: 'sync', senderId: 'x', targetId: f.serverRepoPeer, documentId: f.library },
            cborJunk(r),
          ][i % 8],
        ),
      ],
      RESET,
    ),
  );
  add(60, 'automerge: spoofed senders', (i) => {
    const me = `rogue-${++rogueRepoPeers}`;
    const victim = r.pick([f.honestRepoPeer, f.serverRepoPeer, 'someone-else']);
    const data = r.pick([f.openingSync, r.bytes(20)]);
    switch (i % 4) {
      case 0: // claims to be the honest peer, which another libp2p peer speaks for
        return am(
          [
            hello(f.honestRepoPeer),
            msg(f.honestRepoPeer, { type: 'sync', documentId: f.library, data }),
          ],
          RESET,
        );
      case 1: // speaks for someone else on its own stream
        return am([hello(me), msg(victim, { type: 'sync', documentId: f.library, data })], CLEAN);
      case 2: // misaddressed
        return am(
          [
            hello(me),
            cborFrame({
              type: 'sync',
              senderId: me,
              targetId: r.pick([f.honestRepoPeer, 'nobody', me]),
              documentId: f.meta,
              data,
            }),
          ],
          CLEAN,
        );
      default: // no sender at all
        return am(
          [
            hello(me),
            cborFrame({ type: 'request', targetId: f.serverRepoPeer, documentId: f.meta, data }),
          ],
          CLEAN,
        );
    }
  });
  add(60, 'automerge: malformed messages', (i) => {
    const me = `rogue-${++rogueRepoPeers}`;
    const m: Record<string, unknown> = [
      { type: r.int(9), documentId: f.library },
      { type: null },
      { type: 'sync', documentId: f.library, data: 'not bytes' },
      { type: 'sync', documentId: f.library, data: [1, 2, 3] },
      { type: 'sync', documentId: f.library, data: r.int(1000) },
      { type: 'sync', data: f.openingSync },
      {
        type: 'sync',
        documentId: r.pick(['', '0OIl', 'automerge:x', 42, null]),
        data: f.openingSync,
      },
      { type: 'foo', documentId: f.library, data: r.bytes(4) },
      {
        type: 'ephemeral',
        documentId: f.library,
        data: r.bytes(r.int(50)),
        count: cborJunk(r),
        sessionId: cborJunk(r),
      },
      { type: 'doc-unavailable', documentId: r.pick([f.library, unknownDocId(r)]) },
      { type: 'remote-subscription-change', add: cborJunk(r), remove: cborJunk(r) },
      { type: 'remote-heads-changed', documentId: f.library, newHeads: cborJunk(r) },
    ][i % 12] as Record<string, unknown>;
    return am([hello(me), msg(me, m)], CLEAN);
  });
  add(100, 'automerge: sync messages with bad data', (i) => {
    const me = `rogue-${++rogueRepoPeers}`;
    const documentId = [f.library, f.meta, unknownDocId(r)][i % 3] as string;
    const withChanges = (changes: Uint8Array[]) =>
      Automerge.encodeSyncMessage({ heads: [], need: [], have: [], changes });
    const makers: (() => Uint8Array)[] = [
      () => r.bytes(1 + r.int(200)),
      () => f.openingSync.subarray(0, r.int(f.openingSync.byteLength)),
      () => flip(f.openingSync, r.int(f.openingSync.byteLength), 1 << r.int(8)),
      () => withChanges([r.bytes(1 + r.int(200))]),
      () => withChanges([f.foreign.second.subarray(0, r.int(f.foreign.second.byteLength))]),
      () =>
        withChanges([
          flip(f.foreign.second, 8 + r.int(f.foreign.second.byteLength - 8), 1 << r.int(8)),
        ]),
      // A change whose dependency nobody sends: it may wait in a queue, never in the heads.
      () => withChanges([f.foreign.second]),
      () =>
        Automerge.encodeSyncMessage({
          heads: [someHash()],
          need: [someHash()],
          have: [],
          changes: [],
        }),
      () => new Uint8Array(0),
      () => Uint8Array.of(0x42),
    ];
    const data = (makers[i % makers.length] as () => Uint8Array)();
    return am([hello(me), msg(me, { type: r.pick(['sync', 'request']), documentId, data })], CLEAN);
  });
}

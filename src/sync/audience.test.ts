import 'fake-indexeddb/auto';
import { Repo } from '@automerge/automerge-repo';
import { BroadcastChannelNetworkAdapter } from '@automerge/automerge-repo-network-broadcastchannel';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, openContentStore } from '../content/index.ts';
import {
  type AgentKey,
  agentKeyOfPeer,
  deliveryGate,
  loadOrCreateSealingKey,
  putAtReach,
  type TrustView,
} from '../reach/index.ts';
import { testAgent } from '../reach/test-support.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import {
  docAudience,
  encodeSyncMessage,
  type ItemMeta,
  type LibraryDoc,
  openLibraries,
  type SyncMessage,
  type SyncResponseMessage,
  seedItem,
  setTitle,
  UnknownDocumentError,
} from './index.ts';
import { connect, exchange, readyDoc, type TestPeer, testPeer, until } from './test-support.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

let n = 0;
async function peer(name: string, opts: Parameters<typeof testPeer>[1]): Promise<TestPeer> {
  const p = await testPeer(name, opts);
  cleanup.push(() => p.stop());
  return p;
}

const agentOf = (p: TestPeer) => agentKeyOfPeer(p.node.peerId) as AgentKey;

/**
 * A holds, in its content store, a commons item and an invited item whose owner named B (not
 * C), each listed in A's libraries with a description; A's peers receive what the content
 * delivery gate lets them receive.
 */
async function holderWithItems(a: TestPeer, invited: AgentKey) {
  const store: ContentStore = await openContentStore({ dbName: `audience-${++n}`, locks: null });
  cleanup.push(() => store.close());
  const owner = testAgent();
  const secret = await putAtReach(store, new Blob([pseudoRandomBytes(5_000)]), {
    reach: 'invited',
    owner: owner.agent,
    device: await loadOrCreateSealingKey({ dbName: `audience-device-${++n}` }),
    invited: [invited],
    mySecret: owner.secret,
    name: 'surprise-party-plans.txt',
  });
  const open = await putAtReach(store, new Blob([pseudoRandomBytes(3_000)]), {
    reach: 'commons',
    owner: owner.agent,
    name: 'public-notes.txt',
  });
  const ids = new Map<string, string>();
  const libraries = await openLibraries(
    a.repo,
    agentOf(a),
    { getItem: (k) => ids.get(k) ?? null, setItem: (k, v) => void ids.set(k, v) },
    a.service ? { tracker: a.service } : {},
  );
  const list = (m: typeof secret, name: string) =>
    seedItem(
      a.repo,
      libraries.for(m.reach),
      { ...m, name },
      a.service ? { tracker: a.service } : {},
    );
  const restricted = list(secret, 'surprise-party-plans.txt');
  const commons = list(open, 'public-notes.txt');
  const trust: TrustView = {
    me: agentOf(a),
    myDevices: new Set(),
    links: new Map(),
    cluster: new Set(),
  };
  const gate = deliveryGate(store, () => trust);
  a.admit(
    docAudience({
      repo: a.repo,
      libraries,
      mayReceiveItem: (p, hash) => gate(p, hash, { op: 'have', blobHash: hash }),
    }),
  );
  return { libraries, restricted, commons, secretHash: secret.blob_hash };
}

/** Every string an outsider must never see of the restricted item. */
function secretsOf(items: Awaited<ReturnType<typeof holderWithItems>>) {
  return [
    items.secretHash,
    'surprise-party-plans',
    items.restricted.meta.documentId,
    items.libraries.own.documentId,
  ];
}

/** Sends requests on one stream, as a peer that skips the service would. */
const ask = (from: TestPeer, to: TestPeer, requests: SyncMessage[]) =>
  exchange(
    from,
    to,
    requests.map((r) => encodeSyncMessage(r)),
  );

describe('reach-aware sync: a peer receives a description only where its item may go', () => {
  it('stream positions: an outsider gets no event and no DocResponse for an invited item, the invitee does', async () => {
    const a = await peer('a', { service: true, reachAware: {} });
    const b = await peer('b', { service: true });
    const c = await peer('c', { service: true });
    const items = await holderWithItems(a, agentOf(b));
    const { restricted, commons, libraries } = items;
    // Shared library (create + 1 entry), 2 descriptions; the own library is never numbered.
    await until(async () => (await a.log.localHead()) === 4, 'A to record 4 events');
    await connect(b, a);
    await connect(c, a);
    const aId = a.node.peerId.toString();
    await until(async () => (await b.log.contiguous(aId)) === 4, 'B to catch up');
    await until(async () => (await c.log.contiguous(aId)) === 4, 'C to pass the gaps');

    const docsOf = async (p: TestPeer) => (await p.log.remoteEvents(aId)).map((e) => e.doc_id);
    expect(await docsOf(b)).toContain(restricted.meta.documentId);
    expect(readyDoc<ItemMeta>(b, restricted.meta.documentId)?.title).toBe(
      'surprise-party-plans.txt',
    );
    expect(await docsOf(c)).not.toContain(restricted.meta.documentId);
    expect(await docsOf(c)).toContain(commons.meta.documentId);
    expect(readyDoc<ItemMeta>(c, restricted.meta.documentId)).toBeUndefined();
    const cLibrary = readyDoc<LibraryDoc>(c, libraries.shared.documentId);
    expect(Object.keys(cLibrary?.items ?? {})).toEqual([commons.item.hash]);

    // Asked directly: the same answer as for a document never seen, and no events.
    const never = '2xTnVbL1JhBo3kBqrKSyKyiAF7QK';
    const [page, metaAnswer, ownAnswer, neverAnswer] = await ask(c, a, [
      { type: 'SyncRequest', since: 0, limit: 50 },
      { type: 'DocRequest', docId: restricted.meta.documentId, heads: [] },
      { type: 'DocRequest', docId: libraries.own.documentId, heads: [] },
      { type: 'DocRequest', docId: never, heads: [] },
    ]);
    expect(page?.type === 'SyncResponse' && page.events.map((e) => e.doc_id)).not.toContain(
      restricted.meta.documentId,
    );
    const unknown = (x: SyncResponseMessage | undefined, id: string) =>
      x?.type === 'Error' && x.message.replace(id, '<id>');
    expect(unknown(metaAnswer, restricted.meta.documentId)).toBe(unknown(neverAnswer, never));
    expect(unknown(ownAnswer, libraries.own.documentId)).toBe(unknown(neverAnswer, never));
    const [forB] = await ask(b, a, [
      { type: 'DocRequest', docId: restricted.meta.documentId, heads: [] },
    ]);
    expect(forB?.type).toBe('DocResponse');

    // Live: an edit of the invited description reaches B only; C's next event, after that
    // gap, is New (nothing for C was missed), not an Outlier.
    setTitle(restricted.meta, 'Party, Saturday');
    await until(
      () => readyDoc<ItemMeta>(b, restricted.meta.documentId)?.title === 'Party, Saturday',
      'the edit to reach B',
    );
    setTitle(commons.meta, 'Notes for everyone');
    await until(
      () => readyDoc<ItemMeta>(c, commons.meta.documentId)?.title === 'Notes for everyone',
      'the commons edit to reach C',
    );
    await until(async () => (await c.log.contiguous(aId)) === 6, 'C to store event 6');
    expect(c.activity.at(-1)).toMatchObject({ kind: 'New', event: { position: 6 } });
    const seen = JSON.stringify([await c.log.remoteEvents(aId), c.activity]);
    for (const secret of secretsOf(items)) expect(seen).not.toContain(secret);
    expect(c.errors).toEqual([]);
    // A reported only the requests it refused.
    expect(a.errors.map((e) => e.error)).toEqual([
      expect.any(UnknownDocumentError),
      expect.any(UnknownDocumentError),
      expect.any(UnknownDocumentError),
    ]);
  });

  it('automerge sync: an outsider gets neither the invited description nor the own library, even by id; the invitee and the tabs do', async () => {
    const channelName = `audience-tabs-${++n}-${Date.now()}`;
    const tabs = () => new BroadcastChannelNetworkAdapter({ channelName, peerWaitMs: 50 });
    const a = await peer('a', { adapter: true, reachAware: { tabs: tabs() } });
    // B and C take whatever they are sent, as a careless or hostile peer would.
    const b = await peer('b', { adapter: true });
    const c = await peer('c', { adapter: true });
    await connect(b, a);
    await connect(c, a);
    await until(() => a.repo.peers.length === 2, 'A to see both repo peers');
    const items = await holderWithItems(a, agentOf(b));
    const { restricted, libraries } = items;

    const bMeta = await b.repo.find<ItemMeta>(restricted.meta.documentId);
    expect(bMeta.doc().title).toBe('surprise-party-plans.txt');
    const cLibrary = await c.repo.find<LibraryDoc>(libraries.shared.documentId);
    await until(() => Object.keys(cLibrary.doc().items).length === 1, 'the shared library');
    await expect(
      c.repo.find(restricted.meta.documentId, { signal: AbortSignal.timeout(5_000) }),
    ).rejects.toThrow(/unavailable/);
    await expect(
      c.repo.find(libraries.own.documentId, { signal: AbortSignal.timeout(5_000) }),
    ).rejects.toThrow(/unavailable/);
    // B's copy exists and A pushed everything it would push: C still holds nothing of it.
    setTitle(restricted.meta, 'Party, Saturday');
    await until(() => bMeta.doc().title === 'Party, Saturday', 'the edit to reach B');
    const held = Object.values(c.repo.handles).flatMap((h) => (h.isReady() ? [h.doc()] : []));
    const seen = JSON.stringify(held);
    for (const secret of secretsOf(items)) expect(seen).not.toContain(secret);

    // Another tab of A's browser gets everything, the own library included.
    const tab = new Repo({ network: [tabs()] });
    cleanup.push(() => tab.shutdown());
    const own = await tab.find<LibraryDoc>(libraries.own.documentId);
    expect(Object.keys(own.doc().items)).toEqual([restricted.item.hash]);
    const tabMeta = await tab.find<ItemMeta>(restricted.meta.documentId);
    expect(tabMeta.doc().title).toBe('Party, Saturday');
  });
});

/**
 * Test-only helpers: libp2p nodes on loopback WebSockets with a Repo, an EventLog (in
 * fake-indexeddb: import 'fake-indexeddb/auto' first) and optionally the sync service and
 * the automerge adapter. Not imported by application code.
 *
 * Importing `@automerge/automerge-repo` (not /slim) here initialises Automerge's wasm for
 * Node, which the /slim imports of the modules under test then share.
 */
import {
  type DocHandle,
  type DocumentId,
  type NetworkAdapterInterface,
  Repo,
  type PeerId as RepoPeerId,
  type StorageAdapterInterface,
} from '@automerge/automerge-repo';
import type { Libp2p } from '@libp2p/interface';
import { addrOf, loopbackNode, readAll } from '../test-support/libp2p.ts';
import { Libp2pNetworkAdapter, type Libp2pNetworkAdapterOptions } from './adapter.ts';
import type { DocAudience } from './audience.ts';
import { decodeSyncResponse, POSITIONS_PROTOCOL, type SyncResponseMessage } from './codec.ts';
import type { EventLog } from './event-log.ts';
import { IdbEventLog } from './idb-event-log.ts';
import {
  type SyncActivity,
  type SyncFailure,
  SyncService,
  type SyncServiceOptions,
} from './service.ts';
import { SettlingStorage } from './settling-storage.ts';
import { RepoSharing } from './share.ts';

let counter = 0;

export interface TestPeer {
  name: string;
  node: Libp2p;
  repo: Repo;
  log: EventLog;
  dbName: string;
  adapter?: Libp2pNetworkAdapter;
  service?: SyncService;
  activity: SyncActivity[];
  errors: SyncFailure[];
  /**
   * With `reachAware`: from now on libp2p peers receive what `audience` admits (before the
   * first call: nothing).
   */
  admit(audience: DocAudience): void;
  stop(): Promise<void>;
}

export async function testPeer(
  name: string,
  opts: {
    adapter?: boolean | Libp2pNetworkAdapterOptions;
    service?: boolean | SyncServiceOptions;
    /** EventLog database (default: a fresh one). */
    dbName?: string;
    /** Repo storage (default: none, in memory). */
    storage?: StorageAdapterInterface;
    /** More Repo network adapters (e.g. BroadcastChannel, as between tabs). */
    network?: NetworkAdapterInterface[];
    /**
     * Share as the app does (`RepoSharing`, SyncService `mayReceive`): libp2p peers get what
     * {@link TestPeer.admit} allows, the repo peers of `tabs` (added to the network) everything.
     * Default: every peer gets every document.
     */
    reachAware?: { tabs?: NetworkAdapterInterface };
  } = {},
): Promise<TestPeer> {
  const node = await loopbackNode();
  const adapter =
    opts.adapter === undefined || opts.adapter === false
      ? undefined
      : new Libp2pNetworkAdapter(node, opts.adapter === true ? {} : opts.adapter);
  const storage = opts.storage && new SettlingStorage(opts.storage);
  const tabs = opts.reachAware?.tabs;
  const sharing = opts.reachAware && new RepoSharing(tabs);
  let admitted: DocAudience = () => false;
  const audience: DocAudience = (peer, docId) => admitted(peer, docId);
  const repo = new Repo({
    network: [...(adapter ? [adapter] : []), ...(tabs ? [tabs] : []), ...(opts.network ?? [])],
    ...(storage ? { storage } : {}),
    peerId: `${name}-${++counter}` as RepoPeerId,
    ...(sharing ? { shareConfig: sharing.config } : { sharePolicy: async () => true }),
  });
  if (sharing && adapter) sharing.shareWith(repo, adapter, audience);
  const dbName = opts.dbName ?? `sync-test-${name}-${++counter}-${Date.now()}`;
  const log = await IdbEventLog.open({ dbName });
  const activity: SyncActivity[] = [];
  const errors: TestPeer['errors'] = [];
  const service =
    opts.service === undefined || opts.service === false
      ? undefined
      : await SyncService.start(node, repo, log, {
          ...(opts.service === true ? {} : opts.service),
          ...(sharing ? { mayReceive: audience } : {}),
        });
  service?.addEventListener('activity', (a) => activity.push(a.detail));
  let stopped: Promise<void> | undefined;
  service?.addEventListener('error', (e) => errors.push(e.detail));
  return {
    name,
    node,
    repo,
    log,
    dbName,
    ...(adapter ? { adapter } : {}),
    ...(service ? { service } : {}),
    activity,
    errors,
    admit(next) {
      admitted = next;
      repo.shareConfigChanged();
    },
    /** Stops everything (once); resolves when the Repo's storage has nothing left to write. */
    stop() {
      stopped ??= (async () => {
        await service?.stop();
        await repo.shutdown();
        await storage?.settled();
        await node.stop();
        log.close();
      })();
      return stopped;
    },
  };
}

const linked = (a: TestPeer, b: TestPeer) =>
  a.node.getConnections(b.node.peerId).length + b.node.getConnections(a.node.peerId).length;

/**
 * Dials `b` from `a` (loopback WebSockets) and waits until both list the connection: the
 * listener registers its side a little after the dialer's `dial` resolves.
 */
export async function connect(a: TestPeer, b: TestPeer): Promise<void> {
  await a.node.dial(addrOf(b.node));
  await until(() => b.node.getConnections(a.node.peerId).length > 0, 'the connection');
}

/** Closes every connection between `a` and `b` and waits until neither lists one. */
export async function disconnect(a: TestPeer, b: TestPeer): Promise<void> {
  await a.node.hangUp(b.node.peerId);
  await until(() => linked(a, b) === 0, 'the connections to close');
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The document `id` in `p`'s Repo, if it holds it (loaded and ready). */
export function readyDoc<T>(p: TestPeer, id: DocumentId): T | undefined {
  const h = p.repo.handles[id] as DocHandle<T> | undefined;
  return h?.isReady() ? h.doc() : undefined;
}

/** Sends raw sync frames on one stream and returns every answer until the server closes. */
export async function exchange(
  from: TestPeer,
  to: TestPeer,
  frames: Uint8Array[],
): Promise<SyncResponseMessage[]> {
  const stream = await from.node.dialProtocol(addrOf(to.node), POSITIONS_PROTOCOL);
  for (const f of frames) stream.send(f);
  await stream.close();
  const bytes = await readAll(stream);
  const out: SyncResponseMessage[] = [];
  for (let off = 0; off < bytes.byteLength; ) {
    const n = new DataView(bytes.buffer, bytes.byteOffset + off).getUint32(0);
    out.push(decodeSyncResponse(bytes.subarray(off + 4, off + 4 + n)));
    off += 4 + n;
  }
  return out;
}

/**
 * The peer of a browser page. All tabs of a browser profile share one IndexedDB and one
 * identity, so one tab runs the `Peer`: the one holding the Web Lock `elohim-peer-node`. Its
 * `LeaderPeerService` publishes the node's state on a BroadcastChannel and runs fetches asked
 * by other tabs; those tabs use a `FollowerPeerService` and queue for the lock, so when the
 * leading tab closes the next one starts its peer at once. Every tab opens the sync runtime
 * (edits are made in any tab); only the leader's syncs with peers. libp2p, Automerge and the
 * trust layer load on demand so they stay off the first paint.
 */
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { pageIdentity } from '../identity/index.ts';
import type { PeerService } from '../net/index.ts';
import type { SyncRuntime } from '../sync/index.ts';
import { TypedEventEmitter } from '../wire/index.ts';
import type { Peer } from './peer.ts';

const LOCK = 'elohim-peer-node';

export interface PagePeerInit {
  store: ContentStore;
  doorways: string[];
  dialListedPeers: boolean;
  /** Direct peers kept besides doorways; undefined: the node's default. */
  maxPeers?: number | undefined;
  copies: number;
  /** Whether commons items authored here are offered to the doorways; read before each offer. */
  keepOnDoorway: () => boolean;
  /** Whether copies other peers offer are kept, and the most bytes kept for them; read per offer. */
  keepForOthers: () => boolean;
  keptCapBytes: () => number;
  displayName: string;
}

export interface PagePeerEvents {
  /** The service was replaced (a follower took the lead), failed, or the trust layer changed. */
  change: CustomEvent<void>;
}

export class PagePeer extends TypedEventEmitter<PagePeerEvents> {
  #service: PeerService | undefined;
  #error: unknown;
  #peer: Peer | undefined;
  #sync: Promise<SyncRuntime> | undefined;
  #started = false;

  /** This tab's service: a follower until (and unless) this tab gets the lock. */
  get service(): PeerService | undefined {
    return this.#service;
  }

  /** Why the peer could not start, if it could not. */
  get error(): unknown {
    return this.#error;
  }

  /** The peer, in the tab that runs it (undefined in the others). */
  get peer(): Peer | undefined {
    return this.#peer;
  }

  /** The page's sync runtime (Automerge Repo, event log, this agent's libraries), opened once. */
  sync(): Promise<SyncRuntime> {
    this.#sync ??= (async () => {
      const [{ openBrowserSync }, me] = await Promise.all([
        import('../sync/browser.ts'),
        pageIdentity(),
      ]);
      return openBrowserSync(me.agent);
    })();
    return this.#sync;
  }

  /** Puts a stored item in this agent's libraries (see `SyncRuntime.addItem`). */
  async addToLibrary(
    manifest: StoredManifest,
    options: { metaDoc?: string; title?: string } = {},
  ): Promise<void> {
    if (manifest.reach === 'private') return;
    await (await this.sync()).addItem(manifest, options);
  }

  /** Starts (once) as a follower, and as the leader once this tab holds the lock. */
  start(init: PagePeerInit): void {
    if (this.#started) return;
    this.#started = true;
    navigator.locks
      .request(LOCK, { ifAvailable: true }, async (lock) => {
        if (lock) return this.#lead(init);
        const { FollowerPeerService } = await import('../net/index.ts');
        this.#setService(new FollowerPeerService());
        return navigator.locks.request(LOCK, () => this.#lead(init));
      })
      .catch((error: unknown) => this.#fail(error));
  }

  /** Resolves with this tab's service once there is one. */
  ready(): Promise<PeerService> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#service) resolve(this.#service);
        else if (this.#error !== undefined) reject(this.#error);
        else return;
        this.removeEventListener('change', check);
      };
      this.addEventListener('change', check);
      check();
    });
  }

  async #lead(init: PagePeerInit): Promise<void> {
    try {
      const [{ Peer }, net, me] = await Promise.all([
        import('./peer.ts'),
        import('../net/index.ts'),
        pageIdentity(),
      ]);
      const peer = await Peer.start({
        store: init.store,
        privateKey: me.privateKey,
        agentKey: me.agentKey,
        doorways: init.doorways,
        dialListedPeers: init.dialListedPeers,
        ...(init.maxPeers === undefined ? {} : { maxPeers: init.maxPeers }),
        copies: init.copies,
        keepOnDoorway: init.keepOnDoorway,
        keepForOthers: init.keepForOthers,
        keptCapBytes: init.keptCapBytes,
        trust: { displayName: init.displayName },
        sync: () => this.sync(),
      });
      this.#peer = peer;
      peer.addEventListener('trust', () => this.safeDispatchEvent('change'));
      // Fetches this tab had sent to the old leader fail now and are retried here.
      this.#service?.close();
      this.#setService(
        new net.LeaderPeerService(peer.node, peer.store, peer.replicator, peer.finder, (h, e, o) =>
          peer.fallBack(h, e, o),
        ),
      );
    } catch (error) {
      this.#fail(error);
      return;
    }
    // Hold the lock for the life of the page.
    await new Promise(() => {});
  }

  #setService(service: PeerService): void {
    this.#service = service;
    this.safeDispatchEvent('change');
  }

  #fail(error: unknown): void {
    this.#error = error;
    this.safeDispatchEvent('change');
  }
}

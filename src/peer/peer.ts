/**
 * The composition root: one `Peer` owns the content store, the libp2p node and its protocol
 * services, the trust layer, the family cluster, the replicator and sync, and is the one place
 * that decides what is wired to what. It runs the same in a browser tab (the tab holding the
 * node's Web Lock, `./page.ts`) and in Node (`./node.ts`); the caller passes what
 * differs: the store, the key, the transports and the sync runtime.
 */
import type { PeerId, PrivateKey } from '@libp2p/interface';
import type { ContentHash, ContentStore, StoredManifest } from '../content/index.ts';
import type { Family } from '../family/index.ts';
import {
  AllHoldersFailedError,
  connectedPeersFinder,
  type FetchOptions,
  fetchContent,
  fetchThroughDoorway,
  type HolderFinder,
  HoldingsAnnouncer,
  holdGate,
  keepingPolicy,
  type NetworkProfile,
  NoHoldersError,
  nearFirst,
  PeerNode,
  type PeerNodeEvents,
  pushPolicy,
  Replicator,
  type SpaceBudget,
  storageEstimate,
  withDhtFallback,
} from '../net/index.ts';
import {
  type AgentKey,
  agentKeyFromEd25519,
  agentKeyOfPeer,
  deliveryGate,
  isMyDevice,
  type PeerIdLike,
  type TrustView,
} from '../reach/index.ts';
import type { SyncRuntime } from '../sync/index.ts';
import type { DeviceDirectory, TrustClient } from '../trust/index.ts';
import { listen, logger, TypedEventEmitter } from '../wire/index.ts';
import { loadTrustModules, startTrust, type TrustInit } from './trust.ts';

const log = logger('peer');
const gateLog = logger('gate');

export interface PeerInit {
  store: ContentStore;
  /** The device key: this peer's PeerId (src/identity). */
  privateKey: PrivateKey;
  /**
   * The person's agent key, which signs trust-layer calls and names what this peer authors: a
   * paired device's (src/identity). Default: the device key itself.
   */
  agentKey?: PrivateKey;
  /**
   * HTTP origins of the doorways to use, the serving origin first. The trust layer starts on the
   * first and follows the node to the doorway in use when it fails over. Default none.
   */
  doorways?: string[];
  /** Transports and listen addresses; default the browser's (WebSockets, WebRTC, relay). */
  network?: NetworkProfile;
  /** Dial the peers the doorways list (default, up to `maxPeers`) or only the holders a fetch needs. */
  dialListedPeers?: boolean;
  /** Direct peers besides doorways kept connected; default `DEFAULT_MAX_PEERS` (8). */
  maxPeers?: number;
  /** Direct peers that keep a copy of each item authored here; 0 turns replication off. Default 2. */
  copies?: number;
  /** Offer commons items authored here whole to the connected doorways too (read live). Default true. */
  keepOnDoorway?: boolean | (() => boolean);
  /** What others may store here (copies, shards, pushes). Default 1 GiB within free space. */
  budget?: SpaceBudget;
  /**
   * Keep the copies other peers offer (within `budget`, as reach allows); read before each
   * offer. Default true.
   */
  keepForOthers?: boolean | (() => boolean);
  /** The most bytes kept for others in all; read before each offer. Default: `budget` only. */
  keptCapBytes?: () => number;
  /**
   * What the shard protocols serve and the delivery gate reads: `store` unless this wraps it (a
   * doorway answers for the commons items its attached browsers hold too).
   */
  serve?: (store: ContentStore) => ContentStore;
  /**
   * Asked for every hash a peer asks for (as asked: a blob or a shard hash) before the store is
   * looked into (`false`: refused as unknown, nothing read). A doorway serves what only its
   * browsers hold to other doorways only: a browser should fetch it from the browser that holds
   * it, and asking must not make the doorway ask that browser for the manifest.
   */
  mayServe?: (peer: PeerId, hash: ContentHash) => boolean | Promise<boolean>;
  /** Tell the connected doorways which commons items are held here (holdings). Default true. */
  announceHoldings?: boolean;
  /** The trust layer through the first doorway (`false`: none). */
  trust?: Omit<TrustInit, 'doorway'> | false;
  /**
   * Keep, of the descriptions peers sync here, only those of commons items this peer holds,
   * and so serve only those: a doorway is no one's device, so it may receive (and give) only
   * what reach allows anyone. Default false.
   */
  syncCommonsOnly?: boolean;
  /**
   * Opens the sync runtime for this peer's agent (lazily in a page: Automerge stays off the
   * first paint). A Node peer passes `(agent) => openNodeSync({ agent, dir })`.
   */
  sync?: (agent: AgentKey) => Promise<SyncRuntime>;
}

export interface PeerEvents {
  /** The family cluster or the trust links changed: who may receive what, too. */
  trust: CustomEvent<void>;
}

const nobody: ReadonlySet<AgentKey> = new Set();

/** Whether `hash` is a commons item held here, whole or in shards kept for others. */
async function holdsCommons(store: ContentStore, hash: ContentHash): Promise<boolean> {
  const manifest = (await store.manifest(hash)) ?? (await store.holding(hash))?.manifest;
  return manifest?.reach === 'commons';
}
const noHolders: HolderFinder = { findHolders: async () => [] };

export class Peer extends TypedEventEmitter<PeerEvents> {
  /**
   * What the gates know of people: this agent, its trust links and its family (nobody's family
   * until the trust layer has been asked). Every gate reads it live.
   */
  readonly trustView: TrustView;
  readonly agent: AgentKey;
  readonly #links = new Map<string, string>();
  /** This person's other devices (their device keys as agent keys), from the trust layer. */
  readonly #myDevices = new Set<AgentKey>();
  #devices: DeviceDirectory | undefined;
  #family: Family | undefined;
  #trustClient: TrustClient | undefined;
  #closeTrust: (() => Promise<void>) | undefined;
  #moveTrust: ((doorway: string) => void) | undefined;
  #refreshTrust: (() => Promise<void>) | undefined;
  #sync: Promise<SyncRuntime> | undefined;
  #stopSync: (() => Promise<void>) | undefined;
  #syncCommonsOnly = false;
  /** Who holds a hash: the connected peers, and the trust layer's listing once it is up. */
  readonly finder: HolderFinder = {
    findHolders: (hash, options) => (this.#finder ?? noHolders).findHolders(hash, options),
  };
  #finder: HolderFinder | undefined;
  #listed: HolderFinder | undefined;
  node!: PeerNode;
  replicator: Replicator | undefined;
  holdings: HoldingsAnnouncer | undefined;

  readonly #privateKey: PrivateKey;
  readonly #agentKey: PrivateKey;
  #doorways: readonly string[] = [];

  private constructor(
    readonly store: ContentStore,
    privateKey: PrivateKey,
    agentKey: PrivateKey,
  ) {
    super();
    this.#privateKey = privateKey;
    this.#agentKey = agentKey;
    this.agent = agentKeyFromEd25519(agentKey.publicKey.raw);
    const agent = this.agent;
    const peer = this;
    this.trustView = {
      me: agent,
      myDevices: this.#myDevices,
      links: this.#links,
      get cluster() {
        return peer.#family?.members ?? nobody;
      },
      clusterOf: (owner) => peer.#family?.clusterOf(owner),
    };
  }

  get trustClient(): TrustClient | undefined {
    return this.#trustClient;
  }

  get family(): Family | undefined {
    return this.#family;
  }

  static async start(init: PeerInit): Promise<Peer> {
    const peer = new Peer(init.store, init.privateKey, init.agentKey ?? init.privateKey);
    await peer.#start(init);
    return peer;
  }

  async #start(init: PeerInit): Promise<void> {
    const { store } = this;
    const view = () => this.trustView;
    // One budget for everything others store here: copies, shards and pushes.
    const budget = init.budget ?? { maxBytes: 2 ** 30, spaceLeft: storageEstimate };
    const keep = init.keepForOthers ?? true;
    this.#doorways = init.doorways ?? [];
    const doorway = init.doorways?.[0];
    const trustModules = doorway && init.trust !== false ? loadTrustModules() : undefined;
    const served = init.serve?.(store) ?? store;
    this.node = await PeerNode.start({
      doorways: init.doorways ?? [],
      store,
      privateKey: init.privateKey,
      ...(init.network ? { network: init.network } : {}),
      ...(init.dialListedPeers === undefined ? {} : { dialListedPeers: init.dialListedPeers }),
      ...(init.maxPeers === undefined ? {} : { maxPeers: init.maxPeers }),
      shard: {
        store: served,
        ...(init.mayServe ? { mayAsk: init.mayServe } : {}),
        allow: deliveryGate(
          served,
          view,
          (peer, hash, reason) => gateLog(`refused ${hash} to ${peer}: ${reason}`),
          (peer) => this.agentOf(peer),
        ),
        // A Push stores someone's bytes here unasked: only this person's other devices may.
        push: pushPolicy(view, budget),
      },
      // Copies other peers offer: what this device could receive anyway (commons, for now).
      replicate: {
        policy: keepingPolicy(store, {
          willing: typeof keep === 'function' ? keep : () => keep,
          capBytes: init.keptCapBytes ?? (() => Number.POSITIVE_INFINITY),
          budget,
          mayHold: holdGate(this.trustView),
          // What this person authored, offered by one of their devices, is theirs here too.
          ownCopy: (offer, from) => offer.owner === this.agent && isMyDevice(this.trustView, from),
        }),
      },
    });
    const node = this.node;
    // Failover: the trust layer follows the node to the doorway in use.
    listen<PeerNodeEvents['doorway']['detail']>(node, 'doorway', ({ origin }) =>
      this.#moveTrust?.(origin),
    );
    this.#sync = init.sync?.(this.agent);
    this.#syncCommonsOnly = init.syncCommonsOnly === true;
    // Peers connected now: the direct ones, and the doorways (a doorway keeps commons items,
    // served over the WebSocket connection a browser already has to it).
    // On a node with a DHT (a doorway), holders no connected peer has are looked up there.
    this.#finder = withDhtFallback(
      connectedPeersFinder(
        () => [...node.directPeers(), ...node.connectedDoorways()],
        node.libp2p,
        (peer) => node.isDoorway(peer),
      ),
      node.libp2p,
    );
    // Doorways provide in the DHT what their attached browsers hold (browsers do not run it).
    if (init.announceHoldings !== false) this.holdings = new HoldingsAnnouncer(node, store);
    const copies = init.copies ?? 2;
    // What this peer authors is offered to `copies` direct peers (rs-4-7: one shard per peer),
    // as its reach allows; shards it keeps for others are kept online with their other holders.
    this.replicator =
      copies > 0
        ? new Replicator({
            node,
            store,
            trust: view,
            copies,
            finder: {
              findHolders: (hash, options) =>
                (this.#listed ?? noHolders).findHolders(hash, options),
            },
            keepOnDoorway: init.keepOnDoorway,
          })
        : undefined;
    if (doorway && trustModules)
      await this.#joinTrust(trustModules, { ...(init.trust || {}), doorway });
    if (this.#sync) void this.#lead(this.#sync);
  }

  /**
   * Joins the trust layer a doorway hosts, after start: a doorway's own peer does so once its
   * HTTP server listens. Resolves false when the trust layer could not be reached (logged).
   */
  async joinTrust(init: TrustInit): Promise<boolean> {
    return this.#joinTrust(loadTrustModules(), init);
  }

  async #joinTrust(
    modules: ReturnType<typeof loadTrustModules>,
    init: TrustInit,
  ): Promise<boolean> {
    if (this.#trustClient) throw new Error('This peer already uses a trust layer.');
    const trust = await startTrust(
      modules,
      init,
      {
        privateKey: this.#privateKey,
        agentKey: this.#agentKey,
        node: this.node,
        store: this.store,
        links: this.#links,
        myDevices: this.#myDevices,
      },
      () => this.#changedTrust(),
    );
    if (!trust) return false;
    this.#trustClient = trust.client;
    this.#devices = trust.devices;
    this.#family = trust.family;
    this.#closeTrust = trust.close;
    this.#moveTrust = trust.moveTo;
    this.#refreshTrust = trust.refresh;
    // The node may have moved on while the trust layer started.
    const inUse = this.node.doorwayInUse();
    if (inUse && this.#doorways.includes(init.doorway)) trust.moveTo(inUse);
    this.#listed = trust.listed;
    // A holder at hand answers a seek at once; the trust layer's listing joins a moment later.
    this.#finder = nearFirst(this.#finder ?? noHolders, trust.listed);
    this.#family.addEventListener('change', () => this.#changedTrust());
    this.safeDispatchEvent('trust');
    return true;
  }

  /**
   * Shared descriptions sync with peers through this node, each peer receiving the
   * descriptions of the items the delivery gate would deliver to it (refusals unlogged: every
   * document is asked about for every peer).
   */
  async #lead(opening: Promise<SyncRuntime>): Promise<void> {
    try {
      const sync = await opening;
      const describedItems = deliveryGate(
        this.store,
        () => this.trustView,
        undefined,
        (peer) => this.agentOf(peer),
      );
      const service = await sync.lead(
        this.node.libp2p,
        (peer, hash) => describedItems(peer, hash, { op: 'have', blobHash: hash }),
        this.#syncCommonsOnly ? { commonsHeld: (hash) => holdsCommons(this.store, hash) } : {},
      );
      this.#stopSync = () => service.stop();
    } catch (error) {
      log.error('sync could not start: %e', error);
    }
  }

  /**
   * The agent `peer` speaks for: the person that certified it as a device, else its own key's
   * (the trust layer's certificates; its own key's while there is no trust layer).
   */
  agentOf(peer: PeerIdLike): Promise<AgentKey | undefined> | AgentKey | undefined {
    return this.#devices ? this.#devices.agentOf(peer) : agentKeyOfPeer(peer);
  }

  /** Reads this person's links and devices again now (a device was added or removed here). */
  async refreshTrust(): Promise<void> {
    await this.#refreshTrust?.();
  }

  /** Who may receive which description follows the same trust view as the content. */
  #changedTrust(): void {
    // A sync runtime that failed to open was reported when it failed.
    void this.#sync?.then((sync) => sync.reshare()).catch(() => {});
    this.safeDispatchEvent('trust');
  }

  /**
   * Fetches `hash` from the peers that hold it, verified, into the store; when none of them
   * can be reached directly, through the doorway ({@link fallBack}).
   */
  fetch(hash: string, options: FetchOptions = {}): Promise<StoredManifest> {
    return fetchContent(this.node, this.store, this.finder, hash, options).catch((error) =>
      this.fallBack(hash, error, options),
    );
  }

  /**
   * What a fetch that failed with `error` does next: when no holder could be reached directly
   * (a hard NAT; a holder whose only link is its doorway), a commons item comes through the
   * doorway's HTTP bridge, which pulls it from the holders connected to it. Rethrows `error`
   * otherwise, and when the doorway has no holder either.
   */
  async fallBack(
    hash: string,
    error: unknown,
    options: FetchOptions = {},
  ): Promise<StoredManifest> {
    const doorway = this.node.doorwayInUse() ?? this.#doorways[0];
    const unreachable = error instanceof NoHoldersError || error instanceof AllHoldersFailedError;
    if (!doorway || !unreachable || options.signal?.aborted) throw error;
    log('no holder of %s reachable directly: through the doorway %s', hash, doorway);
    try {
      return await fetchThroughDoorway(doorway, this.store, hash, options);
    } catch (viaDoorway) {
      // The doorway found no holder either: the first answer says it best.
      throw viaDoorway instanceof NoHoldersError ? error : viaDoorway;
    }
  }

  async stop(): Promise<void> {
    this.holdings?.stop();
    await this.replicator?.close();
    await this.#closeTrust?.();
    await this.#stopSync?.();
    await this.node.stop();
  }
}

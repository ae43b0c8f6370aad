/**
 * The Repo's share configuration: which repo peers get which documents over
 * `/elohim/automerge/1.0.0` and the tabs' BroadcastChannel.
 *
 * automerge-repo 2.x asks two questions per (peer, document): `announce` (push it to the peer
 * unasked) and `access` (answer the peer's request for it, and take its sync messages). A
 * document is shared when `announce || (access && the peer asked)`, so both must refuse for a
 * peer to get nothing: here both give the same answer.
 *
 *  - a repo peer behind the libp2p adapter: the {@link DocAudience} of its libp2p peer (none
 *    yet: nothing);
 *  - a repo peer of the tabs' adapter (another tab of this browser): everything;
 *  - anyone else: nothing.
 * The libp2p adapter is asked first: a remote peer that claims the repo id of one of our tabs
 * is still a remote peer. The tabs' adapter must be given to the constructor before the Repo
 * gets it, so that its peers are known here before the Repo asks about them.
 */
import type {
  DocumentId,
  NetworkAdapterInterface,
  Repo,
  RepoConfig,
  PeerId as RepoPeerId,
} from '@automerge/automerge-repo/slim';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Libp2pNetworkAdapter } from './adapter.ts';
import type { DocAudience } from './audience.ts';

/** automerge-repo does not export the type by name. */
type ShareConfig = NonNullable<RepoConfig['shareConfig']>;

export class RepoSharing {
  readonly #tabs = new Set<RepoPeerId>();
  #peers: { adapter: Libp2pNetworkAdapter; audience: DocAudience } | undefined;

  readonly #onError: ((error: unknown, docId: string) => void) | undefined;

  /**
   * `tabs`: the adapter of this browser's other tabs (BroadcastChannel), if any; `onError`:
   * told when the audience fails (the peer is then refused).
   */
  constructor(tabs?: NetworkAdapterInterface, onError?: (error: unknown, docId: string) => void) {
    this.#onError = onError;
    tabs?.on('peer-candidate', ({ peerId }) => this.#tabs.add(peerId));
    tabs?.on('peer-disconnected', ({ peerId }) => this.#tabs.delete(peerId));
  }

  readonly config: ShareConfig = {
    announce: (peer, doc) => this.#decide(peer, doc),
    access: (peer, doc) => this.#decide(peer, doc),
  };

  /**
   * Shares with the peers of `adapter` (added to `repo`) what `audience` admits, and asks the
   * Repo to apply it to the documents it already syncs.
   */
  shareWith(repo: Repo, adapter: Libp2pNetworkAdapter, audience: DocAudience): void {
    this.#peers = { adapter, audience };
    repo.shareConfigChanged();
  }

  /** Never throws (the Repo does not expect it to): a failed decision refuses. */
  async #decide(peer: RepoPeerId, doc: DocumentId | undefined): Promise<boolean> {
    const peers = this.#peers;
    const remote = peers?.adapter.libp2pPeerOf(peer);
    if (remote === undefined) return this.#tabs.has(peer);
    if (doc === undefined) return false;
    try {
      return (await peers?.audience(peerIdFromString(remote), doc)) === true;
    } catch (error) {
      this.#onError?.(error, doc);
      return false;
    }
  }
}

/**
 * Turns local edits into Local events. Every tab runs one (the SyncService has its own):
 * only one tab runs the libp2p node, but edits happen in all of them, and each change must
 * be recorded by the tab that made it. The EventLog tells the other tabs (and so the
 * SyncService in the node's tab, which announces it to peers).
 *
 * "Local" is decided per change: a change is recorded when its actor is the handle's own
 * actor, i.e. it was made through this tab's handle, not received from a peer, another tab
 * or storage (a handle loaded from storage or sync gets a fresh actor of its own).
 */

import { getActorId, getChangesMetaSince, getHeads, type Heads } from '@automerge/automerge/slim';
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo/slim';
import { TypedEventEmitter } from '../wire/index.ts';
import type { SyncEvent } from './codec.ts';
import { type DocTracker, findDoc } from './documents.ts';
import type { EventLog } from './event-log.ts';

/** An append (or a restore) that failed. */
export interface RecorderError {
  error: unknown;
  docId: string;
}

export interface ChangeRecorderEvents {
  /** A Local event was appended for an edit made through this recorder's handles. */
  recorded: CustomEvent<SyncEvent>;
  error: CustomEvent<RecorderError>;
}

type AnyDoc = Parameters<typeof getHeads>[0];

export class ChangeRecorder extends TypedEventEmitter<ChangeRecorderEvents> implements DocTracker {
  readonly #log: EventLog;
  readonly #repo: Repo;
  readonly #tracked = new Map<DocumentId, () => void>();
  /** Appends run in change order. */
  #tail: Promise<void> = Promise.resolve();
  readonly #stopping = new AbortController();
  /**
   * Resolves once the documents named in the log are loaded from the Repo's storage and
   * tracked again (those that fail are reported as `error` events): from then on, edits to
   * them made here are recorded. Handles passed to {@link track} are recorded at once.
   */
  readonly restored: Promise<void>;

  constructor(repo: Repo, log: EventLog) {
    super();
    this.#repo = repo;
    this.#log = log;
    this.restored = this.#restore();
  }

  /** Whether edits to `docId` made here are being recorded. */
  isTracking(docId: string): boolean {
    return this.#tracked.has(docId as DocumentId);
  }

  /** The documents whose edits made here are being recorded. */
  tracked(): DocumentId[] {
    return [...this.#tracked.keys()];
  }

  /** Records this handle's local changes from now on. Idempotent. */
  track<T>(handle: DocHandle<T>): void {
    const id = handle.documentId;
    if (this.#tracked.has(id) || this.#stopping.signal.aborted) return;
    let heads: Heads = handle.isReady() ? getHeads(handle.doc() as AnyDoc) : [];
    const onHeads = ({ doc }: { doc: unknown }) => {
      const after = doc as AnyDoc;
      const since = heads;
      heads = getHeads(after);
      const actor = getActorId(after);
      for (const meta of getChangesMetaSince(after, since)) {
        if (meta.actor === actor) this.#append(id, meta.hash);
      }
    };
    handle.on('heads-changed', onHeads);
    this.#tracked.set(id, () => handle.off('heads-changed', onHeads));
  }

  /** Stops recording; resolves when the appends in progress are done. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    for (const off of this.#tracked.values()) off();
    this.#tracked.clear();
    await this.#tail;
  }

  #append(docId: DocumentId, hash: string): void {
    this.#tail = this.#tail.then(async () => {
      try {
        const event = await this.#log.appendLocal(docId, hash);
        if (event) this.safeDispatchEvent('recorded', { detail: event });
      } catch (error) {
        this.safeDispatchEvent('error', { detail: { error, docId } });
      }
    });
  }

  async #restore(): Promise<void> {
    const signal = this.#stopping.signal;
    const ids = await this.#log.knownDocs();
    await Promise.all(
      ids.map(async (id) => {
        try {
          const handle = await findDoc(this.#repo, id as DocumentId, { signal });
          this.track(handle);
        } catch (error) {
          if (!signal.aborted) this.safeDispatchEvent('error', { detail: { error, docId: id } });
        }
      }),
    );
  }
}

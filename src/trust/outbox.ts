/**
 * The persistent outbox: changes for the trust layer, kept in IndexedDB until the doorway has
 * taken them, so they survive the doorway being away and the page being reloaded. One entry
 * per key (`content:<hash>`, `agent`, `addresses`, `grant:<cluster>:<member>`): a later change to the same thing replaces
 * the earlier one and moves to the back, so the last of announce/withdraw wins and entries
 * are replayed in the order of their latest change.
 *
 * The same database keeps this device's capability secret for the doorway's grant.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { Reach } from '../content/index.ts';
import type { ClusterKeyGrant } from '../reach/index.ts';

export type OutboxOp =
  | {
      kind: 'announce';
      hash: string;
      capability: string;
      /** Absent: the addresses current when it is sent. */
      multiaddrs?: string[];
      priority?: number;
      region?: string;
    }
  | { kind: 'withdraw'; hash: string }
  | {
      kind: 'register';
      display_name: string;
      multiaddrs?: string[];
      profile_reach?: Reach;
    }
  /** Rewrite every online announcement (and the profile) with the current addresses. */
  | { kind: 'readdress' }
  /** A family cluster key wrapped for one member: plain JSON, safe to keep and publish. */
  | { kind: 'grant'; grant: ClusterKeyGrant };

export interface OutboxEntry {
  key: string;
  /** Order of the latest change: µs since epoch, strictly increasing in this database. */
  seq: number;
  op: OutboxOp;
}

interface TrustDb extends DBSchema {
  outbox: { key: string; value: OutboxEntry; indexes: { seq: number } };
  secrets: { key: string; value: Uint8Array };
}

const CAP_SECRET = 'hc-cap-secret';
const CAP_SECRET_BYTES = 64;

export function outboxKey(op: OutboxOp): string {
  switch (op.kind) {
    case 'announce':
    case 'withdraw':
      return `content:${op.hash}`;
    case 'register':
      return 'agent';
    case 'readdress':
      return 'addresses';
    case 'grant':
      return `grant:${op.grant.cluster}:${op.grant.to}`;
  }
}

export class Outbox {
  #lastSeq: number;

  private constructor(
    private readonly db: IDBPDatabase<TrustDb>,
    lastSeq: number,
  ) {
    this.#lastSeq = lastSeq;
  }

  static async open(dbName: string): Promise<Outbox> {
    const db = await openDB<TrustDb>(dbName, 1, {
      upgrade(database) {
        database.createObjectStore('outbox', { keyPath: 'key' }).createIndex('seq', 'seq');
        database.createObjectStore('secrets');
      },
    });
    const last = await db.transaction('outbox').store.index('seq').openCursor(null, 'prev');
    return new Outbox(db, last?.value.seq ?? 0);
  }

  /** Stores `op`, replacing the entry for the same thing; returns the new entry and the replaced one. */
  async put(op: OutboxOp): Promise<{ entry: OutboxEntry; replaced?: OutboxEntry }> {
    // Time-based so the order holds across reloads even if the counter was lost; never repeats.
    this.#lastSeq = Math.max(this.#lastSeq + 1, Date.now() * 1000);
    const entry: OutboxEntry = { key: outboxKey(op), seq: this.#lastSeq, op };
    const tx = this.db.transaction('outbox', 'readwrite');
    const replaced = await tx.store.get(entry.key);
    await tx.store.put(entry);
    await tx.done;
    return replaced ? { entry, replaced } : { entry };
  }

  /** Every entry, oldest change first. */
  all(): Promise<OutboxEntry[]> {
    return this.db.getAllFromIndex('outbox', 'seq');
  }

  /** Whether `entry` is still the latest change for its key (not replaced meanwhile). */
  async isCurrent(entry: OutboxEntry): Promise<boolean> {
    return (await this.db.get('outbox', entry.key))?.seq === entry.seq;
  }

  /** Removes `entry` once sent, unless a newer change for the same key replaced it meanwhile. */
  async remove(entry: OutboxEntry): Promise<void> {
    const tx = this.db.transaction('outbox', 'readwrite');
    if ((await tx.store.get(entry.key))?.seq === entry.seq) await tx.store.delete(entry.key);
    await tx.done;
  }

  count(): Promise<number> {
    return this.db.count('outbox');
  }

  /**
   * The secret of this device's capability grant: made once, then reused, so reconnecting asks
   * the doorway for the same grant again (which adds nothing) instead of piling up new ones.
   * Two tabs racing to make it: `add` lets one win and the other reads it back.
   */
  async capSecret(): Promise<Uint8Array> {
    const stored = await this.db.get('secrets', CAP_SECRET);
    if (stored) return new Uint8Array(stored);
    const created = crypto.getRandomValues(new Uint8Array(CAP_SECRET_BYTES));
    try {
      await this.db.add('secrets', created, CAP_SECRET);
      return created;
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'ConstraintError')) throw error;
      return new Uint8Array((await this.db.get('secrets', CAP_SECRET)) as Uint8Array);
    }
  }

  close(): void {
    this.db.close();
  }
}

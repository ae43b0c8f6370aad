import type { TrustFunction, TrustOutput, TrustSignalWire } from '../../src/wire/index.ts';
import { sameBytes } from './hash.ts';
import type { CallEvidence, Committed, EmulatorStore } from './store.ts';
import { type CellId, ValidationError } from './wire.ts';

/**
 * What every emulated zome function gets: the store, the cell called, and the signals it may
 * send. The projection tables (content_servers, humans, …) play the DHT: every agent's cell of
 * a role reads the same rows, as cells of one DNA share one DHT.
 */
export interface ZomeContext {
  store: EmulatorStore;
  /** The cell called: [dna, agent]. The agent is the author of everything committed. */
  cell: CellId;
  evidence: CallEvidence;
  /** `emit_signal`: reaches the websockets of the cell agent's own app. */
  emitSignal(signal: TrustSignalWire): void;
  /**
   * `send_remote_signal` to another agent's cell of this DNA, whose `recv_remote_signal`
   * emits it to that agent's own app: best effort, only to sockets open now, like Holochain's.
   */
  sendRemoteSignal(agent: Uint8Array, signal: TrustSignalWire): void;
}

/**
 * A zome function: the payload arrives unchecked (whatever a caller sent), the result is the
 * wire's (src/wire/trust.ts), so the emulator answers what the page's client reads.
 */
export type ZomeFn<F extends TrustFunction = TrustFunction> = (
  ctx: ZomeContext,
  payload: unknown,
) => TrustOutput<F>;

/** Commits an entry, running the rules every entry shares first. */
export function commit(
  ctx: ZomeContext,
  entryType: string,
  entry: { [field: string]: unknown },
  owner: Uint8Array,
): Committed {
  // An agent writes only its own records: the entry's owner is the chain's author.
  if (!sameBytes(owner, ctx.cell[1])) {
    throw new ValidationError(`${entryType} must be authored by the agent it belongs to`);
  }
  return ctx.store.append(ctx.cell, 'create', entryType, entry, ctx.evidence);
}

/** A projection row as better-sqlite3 reads it: the wire record's bytes come back as `Buffer`s. */
export type RowOf<W> = { [K in keyof W]: W[K] extends Uint8Array ? Buffer : W[K] };

/** A row as its wire record: every `Buffer` column as a plain `Uint8Array` (MessagePack bin). */
export function fromRow<W>(row: RowOf<W>): W {
  const record: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    record[column] = Buffer.isBuffer(value) ? new Uint8Array(value) : value;
  }
  return record as W;
}

/**
 * The caller's own records in a projection whose rows name two agents (`parties`: the two
 * columns), in `order` — what `get_my_relationships` and `get_my_cluster_key_grants` list.
 */
export function recordsOfCaller<W>(
  ctx: ZomeContext,
  table: string,
  parties: readonly [string, string],
  order: string,
): W[] {
  const rows = ctx.store
    .stmt(
      `SELECT * FROM ${table} WHERE ${parties[0]} = @me OR ${parties[1]} = @me ORDER BY ${order}`,
    )
    .all({ me: ctx.cell[1] }) as RowOf<W>[];
  return rows.map((row) => fromRow(row));
}

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
  emitSignal(payload: unknown): void;
  /**
   * `send_remote_signal` to another agent's cell of this DNA, whose `recv_remote_signal`
   * emits it to that agent's own app: best effort, only to sockets open now, like Holochain's.
   */
  sendRemoteSignal(agent: Uint8Array, payload: unknown): void;
}

export type ZomeFn = (ctx: ZomeContext, payload: unknown) => unknown;

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

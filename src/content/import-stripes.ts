/**
 * rs-4-7's stage of an import's checks (import-check.ts): stripe j once 4 of its 7 pieces are
 * written, in stripe order.
 */
import * as E from '../erasure/index.ts';
import type { PieceRef, PieceWrite } from './backend.ts';
import { ManifestMismatchError } from './errors.ts';
import { type IncrementalHasher, sha256Bytes } from './hasher.ts';
import { type ImportCheck, type Stage, WindowedStage } from './import-check.ts';
import { UNKNOWN_PIECE } from './import-manifest.ts';
import { expectShardHash, pieceKey, putPieces } from './import-verify.ts';
import { parityDerived, pieceLength, piecesInShard } from './manifest.ts';
import { rebuildStripe } from './stripe.ts';

/** Parity pieces written per backend write (one transaction in IndexedDB). */
const PARITY_BATCH = 8;

/**
 * rs-4-7: stripe j once 4 of its pieces are written, in stripe order — missing data rebuilt
 * and checked, parity recomputed from the data, checked against `piece_hashes`, written (in
 * batches; not when the copy's parity is derived), and the parity shards hashed. Rebuilt data
 * pieces are handed to the blob lane.
 */
export class StripeStage extends WindowedStage implements Stage {
  private readonly stripes: number;
  private readonly parityHashers: IncrementalHasher[];
  /** False when the copy's parity is derived: checked, then dropped (computed again when read). */
  private readonly keepParity: boolean;
  private encoder: E.StripeEncoder | undefined;
  private batch: PieceWrite[] = [];
  bytesDone = 0;

  constructor(
    private readonly check: ImportCheck,
    lookahead: number,
  ) {
    super(lookahead);
    const { m, ctx } = check;
    this.stripes = piecesInShard(m.shard_size, m.piece_size);
    this.keepParity = !parityDerived(m);
    this.parityHashers = Array.from({ length: m.total_shards - m.data_shards }, () =>
      ctx.hashes.createHasher({ sizeHint: m.shard_size }),
    );
  }

  /** Stripe j's pieces come at j. */
  protected place(_key: string, ref: PieceRef): number {
    return ref.piece;
  }

  async advance(): Promise<void> {
    const { check } = this;
    const { m } = check;
    while (this.next < this.stripes && !check.stopping) {
      const j = this.next;
      const present: number[] = [];
      for (let s = 0; s < m.total_shards; s++)
        if (check.stored.has(pieceKey(s, j))) present.push(s);
      if (present.length < m.data_shards) return;
      // Pieces of stripe j that come while it is checked are not needed: not kept.
      this.next = j + 1;
      await this.stripe(j, present);
      this.bytesDone = Math.min(
        m.total_size,
        m.data_shards * Math.min(m.shard_size, this.next * m.piece_size),
      );
    }
    if (this.next === this.stripes && !this.done && !check.stopping) {
      await this.flush();
      const actual = await Promise.all(this.parityHashers.map((h) => h.digest()));
      actual.forEach((h, k) => {
        expectShardHash(m, m.data_shards + k, h, 'recomputed parity shard');
      });
      this.done = true;
      this.dispose();
    }
  }

  private async stripe(j: number, present: readonly number[]): Promise<void> {
    const { check } = this;
    const { m } = check;
    const D = m.data_shards;
    const len = pieceLength(m.shard_size, m.piece_size, j);
    // Data first: with 4 data pieces nothing needs rebuilding.
    const use = present.slice(0, D);
    const kept = use.map((s) => this.held.get(pieceKey(s, j)));
    const missingRefs = use.filter((_, i) => !kept[i]).map((shard) => ({ shard, piece: j }));
    const readBack = missingRefs.length > 0 ? await check.readBack(missingRefs) : [];
    if (check.stopping) return;
    let r = 0;
    const pieces = use.map((shard, i) => ({
      shard,
      bytes: kept[i] ?? (readBack[r++] as Uint8Array),
    }));
    const lost = Array.from({ length: D }, (_, k) => k).filter((k) => !use.includes(k));
    // Own copies: the blob lane may transfer them to a hash worker.
    const rebuilt = (lost.length > 0 ? rebuildStripe(pieces, lost) : []).map((p) => ({
      shard: p.shard,
      bytes: p.bytes.slice(),
    }));
    this.encoder ??= new E.StripeEncoder(Math.min(m.piece_size, m.shard_size));
    const encoder = this.encoder;
    for (const p of [...pieces, ...rebuilt]) {
      if (p.shard < D) (encoder.data[p.shard] as Uint8Array).set(p.bytes);
    }
    encoder.encode(len);
    // Kept parity is copied (the batch outlives this stripe); dropped parity is only hashed,
    // before the encoder's buffers are used again, so views of them do.
    const parity = encoder.parity.map((v) =>
      this.keepParity ? v.slice(0, len) : v.subarray(0, len),
    );
    for (let s = 0; s < m.total_shards; s++) this.held.delete(pieceKey(s, j));
    const computed = [
      ...rebuilt.map((p) => ({ shard: p.shard, bytes: p.bytes, rebuilt: true })),
      ...parity.map((bytes, k) => ({ shard: D + k, bytes, rebuilt: false })),
    ];
    const hashes = await Promise.all(computed.map((p) => sha256Bytes(p.bytes)));
    computed.forEach((p, i) => {
      const row = m.piece_hashes[p.shard] as string[];
      const want = row[j];
      // Unknown (a Rust manifest): recorded; the shard's hash checks it when the stage ends.
      if (want === UNKNOWN_PIECE) row[j] = hashes[i] as string;
      if (hashes[i] === row[j]) return;
      throw new ManifestMismatchError(
        m.blob_hash,
        'piece_hashes',
        p.shard,
        j,
        p.rebuilt
          ? `data shard ${p.shard} piece ${j} rebuilt from shards ${use.join(', ')} hashes to ${hashes[i]}, the manifest says ${want}`
          : `parity shard ${p.shard} piece ${j} recomputed from the data hashes to ${hashes[i]}, the manifest says ${want}`,
      );
    });
    for (const p of computed) {
      if (!p.rebuilt && !this.keepParity) continue;
      if (!check.stored.has(pieceKey(p.shard, j)))
        this.batch.push({ shard: p.shard, piece: j, bytes: p.bytes });
    }
    // Rebuilt data must be written before the blob lane may read it back.
    if (rebuilt.length > 0 || this.batch.length >= PARITY_BATCH) await this.flush();
    for (const p of rebuilt) check.written({ shard: p.shard, piece: j }, p.bytes);
    // Copied, not transferred: the batch may not be written yet.
    for (let k = 0; k < parity.length; k++) {
      await (this.parityHashers[k] as IncrementalHasher).update(parity[k] as Uint8Array);
    }
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    await putPieces(this.check.ctx.backend, this.check.m.storage_key, batch);
  }

  dispose(): void {
    this.held.clear();
    this.batch = [];
    this.encoder?.dispose();
    this.encoder = undefined;
    if (!this.done) for (const h of this.parityHashers) h.cancel();
  }
}

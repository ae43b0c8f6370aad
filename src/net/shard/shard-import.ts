/**
 * Importing a blob from holders that speak only `/elohim/shard/1.0.0` (a Rust node: no piece
 * protocol, no piece hashes), shard by shard.
 *
 * Each shard the import needs is asked with `Get{shard_hash}` and streamed
 * ({@link shardGetStream}); its bytes are cut into the import's pieces and written as they
 * complete, so memory is a piece and the transport's window whatever the shard's size. The
 * import checks each shard against `shard_hashes` and the blob against `blob_hash` as the
 * pieces come (src/content), and parity is recomputed for `rs-4-7`: nothing is visible unless
 * all of it matches. rs-4-7 needs any 4 of the 7 shards: data shards first, parity in place of
 * one nobody has.
 */
import type {
  ContentStore,
  ImportSession,
  RemoteManifest,
  StoredManifest,
} from '../../content/index.ts';
import { pieceLength, piecesInShard, shardLength } from '../../content/index.ts';
import { type AbortOptions, errorMessage, logger, throwIfAborted } from '../../wire/index.ts';
import { ShardError } from './errors.ts';
import { type ShardStreamOptions, shardGetStream } from './get-stream.ts';
import type { Libp2pDialLike, PeerTarget } from './open.ts';

const log = logger('shard:import');

export interface ShardImportOptions extends AbortOptions {
  /** Per-chunk (and dial) timeout of each shard's transfer. Default 30 s. */
  timeoutMs?: number;
  /** Verified bytes as they are written, for progress. */
  onBytes?: (bytes: number) => void;
}

/** Writes one shard's streamed bytes as the import's pieces. */
async function writeShard(
  session: ImportSession,
  shard: number,
  chunks: AsyncIterable<Uint8Array>,
  onBytes: ((n: number) => void) | undefined,
): Promise<void> {
  const m = session.manifest;
  const len = shardLength(m, shard);
  const count = piecesInShard(len, m.piece_size);
  let piece = 0;
  let buf = new Uint8Array(pieceLength(len, m.piece_size, 0));
  let fill = 0;
  for await (let c of chunks) {
    while (c.byteLength > 0) {
      if (piece >= count) throw new ShardError(`shard ${shard} is longer than its ${len} bytes`);
      const k = Math.min(c.byteLength, buf.byteLength - fill);
      buf.set(c.subarray(0, k), fill);
      fill += k;
      c = c.subarray(k);
      if (fill === buf.byteLength) {
        await session.writePiece(shard, piece, buf);
        onBytes?.(buf.byteLength);
        piece++;
        fill = 0;
        if (piece < count) buf = new Uint8Array(pieceLength(len, m.piece_size, piece));
      }
    }
  }
  if (piece !== count)
    throw new ShardError(`shard ${shard} ended after ${piece} of ${count} pieces`);
}

/**
 * Imports the blob `manifest` describes (any of our or the Rust shapes) from `holders`, asking
 * each shard of the first holder that has it. Resolves with the stored manifest. A holder
 * answering `NotFound` (or failing before a byte of a shard came) is passed over for that
 * shard; bytes that do not match end the whole import, nothing kept (`ManifestMismatchError`
 * or `PeerSentBadDataError`): ask other holders afresh.
 */
export async function importFromShardHolders(
  libp2p: Libp2pDialLike,
  store: ContentStore,
  manifest: RemoteManifest | unknown,
  holders: readonly PeerTarget[],
  opts: ShardImportOptions = {},
): Promise<StoredManifest> {
  const session = await store.beginImport(manifest as RemoteManifest, opts);
  if (session.alreadyStored) return session.commit(opts);
  const m = session.manifest;
  const need = m.encoding === 'rs-4-7' ? m.data_shards : m.total_shards;
  const streamOpts: ShardStreamOptions = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  };
  try {
    let have = 0;
    const failures: string[] = [];
    // In order: for rs-4-7 the data shards first, a parity shard only in place of a missing one.
    for (let shard = 0; shard < m.total_shards && have < need; shard++) {
      for (const holder of holders) {
        throwIfAborted(opts.signal);
        let started = false;
        const counted = (async function* () {
          for await (const c of shardGetStream(
            libp2p,
            holder,
            m.shard_hashes[shard] as string,
            streamOpts,
          )) {
            started = true;
            yield c;
          }
        })();
        try {
          await writeShard(session, shard, counted, opts.onBytes);
          have++;
          break;
        } catch (e) {
          // Bytes of this shard are in the import: only a fresh import may take it from another.
          if (started || opts.signal?.aborted) throw e;
          failures.push(`shard ${shard} from ${String(holder)}: ${errorMessage(e)}`);
          log('%s', failures.at(-1));
        }
      }
    }
    if (have < need) {
      throw new ShardError(
        `Only ${have} of the ${need} shards of ${m.blob_hash} could be fetched (${failures.join('; ')}). Try other holders.`,
      );
    }
    return await session.commit(opts);
  } catch (e) {
    await session.abort();
    throw e;
  }
}

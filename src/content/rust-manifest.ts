/**
 * The three manifest shapes of the Rust code, and what ours makes of them.
 *
 *  - `storage`: elohim-storage's `ShardManifest` (13 fields, the one ours extends);
 *  - `dna`: the DNA entry (`content_store_integrity`): no `blob_cid`;
 *  - `doorway`: the Rust doorway's copy of the DNA entry: no `blob_cid`, no `verified_at`,
 *    `shard_size` a u32.
 *
 * rmp-serde writes a struct as the positional array of its fields (`to_vec`) or as a map
 * (`to_vec_named`, and the DNA's entries); JSON as an object. A positional array is told apart
 * by its length. None of the three has our piece hashes: such a manifest is verified per shard
 * (import-manifest.ts, `UNKNOWN_PIECE`).
 */
import type { ShardManifest } from './manifest.ts';

export type RustManifestShape = 'storage' | 'dna' | 'doorway';

const DNA_FIELDS = [
  'blob_hash',
  'total_size',
  'mime_type',
  'encoding',
  'data_shards',
  'total_shards',
  'shard_size',
  'shard_hashes',
  'reach',
  'author_id',
  'created_at',
  'verified_at',
] as const;

/** Each shape's fields in the Rust struct's order (the positional form's order). */
export const RUST_MANIFEST_FIELDS: Readonly<Record<RustManifestShape, readonly string[]>> = {
  storage: ['blob_cid', ...DNA_FIELDS],
  dna: DNA_FIELDS,
  doorway: DNA_FIELDS.slice(0, -1),
};

const BY_LENGTH = new Map(
  (Object.keys(RUST_MANIFEST_FIELDS) as RustManifestShape[]).map((s) => [
    RUST_MANIFEST_FIELDS[s].length,
    s,
  ]),
);

/**
 * A manifest's fields by name: a positional array (13, 12 or 11 fields: storage, DNA or
 * doorway) becomes the object its struct names; anything else is returned as it is.
 */
export function manifestFields(input: unknown): unknown {
  if (!Array.isArray(input)) return input;
  const shape = BY_LENGTH.get(input.length);
  if (!shape) return input;
  const out: Record<string, unknown> = {};
  RUST_MANIFEST_FIELDS[shape].forEach((k, i) => {
    out[k] = input[i];
  });
  return out;
}

/** `m` as the Rust `shape` declares it: its fields only, in the struct's order. */
export function toRustManifest(
  m: ShardManifest,
  shape: RustManifestShape,
): Record<string, string | number | string[] | null> {
  const full = m as unknown as Record<string, string | number | string[] | null | undefined>;
  const out: Record<string, string | number | string[] | null> = {};
  for (const k of RUST_MANIFEST_FIELDS[shape]) out[k] = full[k] ?? null;
  return out;
}

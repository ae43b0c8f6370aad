import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as E from '../erasure/index.ts';
import { openTestStore } from '../test-support/content-store.ts';
import {
  type ContentStore,
  type ImportSession,
  InvalidManifestError,
  ManifestMismatchError,
  validateRemoteManifest,
} from './index.ts';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

/** A blob as the Rust store makes it over 16 MiB (here smaller): rs-4-7, shards of a quarter. */
function rustBlob(size: number) {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
  const shards = E.encode(data);
  // The Rust doorway's shape: no blob_cid, no verified_at, no piece hashes.
  const manifest = {
    blob_hash: sha(data),
    total_size: size,
    mime_type: 'video/mp4',
    encoding: 'rs-4-7',
    data_shards: 4,
    total_shards: 7,
    shard_size: Math.ceil(size / 4),
    shard_hashes: shards.map(sha),
    reach: 'commons',
    author_id: null,
    created_at: '2026-12-06T16:00:00.123456789+00:00',
  };
  return { data, shards, manifest };
}

/** Writes shard `s` as the import's pieces. */
async function writeShard(session: ImportSession, s: number, bytes: Uint8Array) {
  const P = session.manifest.piece_size;
  for (let p = 0; p * P < bytes.byteLength; p++) {
    await session.writePiece(s, p, bytes.subarray(p * P, (p + 1) * P));
  }
}

async function readAll(store: ContentStore, hash: string): Promise<Uint8Array> {
  return new Uint8Array(await new Response(store.get(hash)).arrayBuffer());
}

describe('importing a blob from a Rust manifest (no piece hashes): verified per shard', () => {
  // 4.5 MiB + 3: shards of ~1.1 MiB, two pieces each, the last data shard zero-padded.
  const blob = rustBlob(4.5 * MiB + 3);

  it('the data shards make the blob; parity is recomputed; every piece hash is recorded', async () => {
    const store = await openTestStore('rust-import');
    const session = await store.beginImport(blob.manifest as never);
    expect(session.manifest.piece_size).toBe(MiB);
    expect(session.manifest.piece_hashes[0]).toEqual(['', '']);
    for (let s = 0; s < 4; s++) await writeShard(session, s, blob.shards[s] as Uint8Array);
    const m = await session.commit();
    expect(m.encoding).toBe('rs-4-7');
    expect(m.shard_hashes).toEqual(blob.manifest.shard_hashes);
    expect(m.piece_hashes.flat().every((h) => h.startsWith('sha256-'))).toBe(true);
    expect(sha(await readAll(store, m.blob_hash))).toBe(blob.manifest.blob_hash);
    // Every shard, parity included, reads back as Rust made it.
    const p = await store.readPiece(m.blob_hash, 5, 1);
    expect(p).toEqual((blob.shards[5] as Uint8Array).subarray(MiB));
    store.close();
  });

  it('any 4 shards: a parity shard stands in for a missing data shard', async () => {
    const store = await openTestStore('rust-import');
    const session = await store.beginImport(blob.manifest as never);
    for (const s of [0, 1, 3, 6]) await writeShard(session, s, blob.shards[s] as Uint8Array);
    const m = await session.commit();
    expect(sha(await readAll(store, m.blob_hash))).toBe(blob.manifest.blob_hash);
    store.close();
  });

  it('one wrong byte in a shard: the commit fails and nothing is kept', async () => {
    for (const s of [0, 3]) {
      const store = await openTestStore('rust-import');
      const session = await store.beginImport(blob.manifest as never);
      for (let k = 0; k < 4; k++) {
        const bytes = (blob.shards[k] as Uint8Array).slice();
        // shard 3: a padding byte
        if (k === s) bytes[bytes.byteLength - 1] = (bytes.at(-1) as number) ^ 1;
        await writeShard(session, k, bytes);
      }
      await expect(session.commit()).rejects.toBeInstanceOf(ManifestMismatchError);
      expect(await store.has(blob.manifest.blob_hash)).toBe(false);
      expect(await store.list()).toEqual([]);
      store.close();
    }
  });

  it('the three Rust shapes are accepted; a Rust manifest cannot seed a shard holding', async () => {
    const { manifest } = blob;
    const storage = {
      blob_cid: validateRemoteManifest(manifest).blob_cid,
      ...manifest,
      verified_at: null,
    };
    const dna = { ...manifest, verified_at: '2026-12-06T16:00:01Z' };
    for (const m of [manifest, storage, dna]) {
      expect(validateRemoteManifest(m).blob_hash).toBe(manifest.blob_hash);
    }
    expect(() => validateRemoteManifest({ ...storage, blob_cid: 'bafkreinotit' })).toThrow(
      /blob_cid/,
    );
    // Half our extensions is neither shape.
    expect(() => validateRemoteManifest({ ...manifest, piece_size: MiB })).toThrow(/format/);
    const store = await openTestStore('rust-import');
    await expect(store.beginShardImport(manifest as never, [4])).rejects.toBeInstanceOf(
      InvalidManifestError,
    );
    store.close();
  });
});

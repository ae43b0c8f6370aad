import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, DB_VERSION, openContentStore } from '../content/index.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { TAG_BYTES } from './cipher.ts';
import {
  DecryptionError,
  KeyUnwrapError,
  NoKeyError,
  ReachError,
  SealedFormatError,
} from './errors.ts';
import {
  createClusterKey,
  type DeviceKey,
  deriveRelationshipKey,
  loadOrCreateSealingKey,
} from './keys.ts';
import {
  type Keyring,
  parseSealedHeader,
  type Recipient,
  SEALED_MIME,
  type SealOptions,
  type SealSource,
  seal,
  unseal,
} from './sealed.ts';
import { testAgent } from './test-support.ts';

const S = 1024;
const owner = testAgent();
const friend = testAgent();
const outsider = testAgent();

let n = 0;
const device = (): Promise<DeviceKey> =>
  loadOrCreateSealingKey({ dbName: `reach-sealed-${++n}-${Date.now()}` });

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A source that arrives in uneven chunks, as a network or file stream does. */
function chunked(bytes: Uint8Array, sizes = [1, 700, 3, 2048, 5]): ReadableStream<Uint8Array> {
  let at = 0;
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.byteLength) return c.close();
      const k = sizes[i++ % sizes.length] as number;
      c.enqueue(bytes.slice(at, at + k));
      at += k;
    },
  });
}

async function sealBytes(source: SealSource, options: SealOptions): Promise<Uint8Array> {
  return bytesOf(seal(source, { segmentSize: S, ...options }));
}

const open = (sealed: Uint8Array | ReadableStream<Uint8Array>, keyring: Keyring) =>
  bytesOf(unseal(sealed, keyring));

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) !== -1;
}

describe('private items', () => {
  it('round-trip for every size around segment boundaries and any source', async () => {
    const dev = await device();
    const options: SealOptions = {
      reach: 'private',
      owner: owner.agent,
      recipients: [{ kind: 'device', device: dev }],
    };
    for (const size of [0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 17]) {
      const plain = pseudoRandomBytes(size);
      for (const source of [plain, new Blob([plain]), chunked(plain)]) {
        const sealed = await sealBytes(source, options);
        const parsed = parseSealedHeader(sealed);
        if (!parsed) throw new Error('no header');
        const segments = Math.max(1, Math.ceil(size / S));
        expect(sealed.byteLength).toBe(parsed.length + size + segments * TAG_BYTES);
        expect(await open(chunked(sealed, [13, 5000]), { device: dev })).toEqual(plain);
      }
    }
  });

  it('reveal neither the plaintext nor its hash, and never seal the same way twice', async () => {
    const dev = await device();
    const plain = pseudoRandomBytes(4 * S);
    const options: SealOptions = {
      reach: 'private',
      owner: owner.agent,
      recipients: [{ kind: 'device', device: dev }],
    };
    const a = await sealBytes(plain, options);
    const b = await sealBytes(plain, options);
    const digest = createHash('sha256').update(plain).digest();
    expect(contains(a, plain.subarray(100, 132))).toBe(false);
    expect(contains(a, digest)).toBe(false);
    expect(new TextDecoder().decode(a.subarray(0, 2000))).not.toContain(digest.toString('hex'));
    expect(Buffer.compare(a, b)).not.toBe(0);
    expect(await open(b, { device: dev })).toEqual(plain);
  });

  it('do not open on another device', async () => {
    const sealed = await sealBytes(pseudoRandomBytes(10), {
      reach: 'private',
      owner: owner.agent,
      recipients: [{ kind: 'device', device: await device() }],
    });
    await expect(open(sealed, { device: await device() })).rejects.toThrow(NoKeyError);
  });
});

describe('invited and local items', () => {
  it('open for the named agent only', async () => {
    const dev = await device();
    const ctx = 'rel-42';
    const forFriend = await deriveRelationshipKey(owner.secret, owner.agent, friend.agent, ctx);
    const plain = pseudoRandomBytes(2 * S + 5);
    const sealed = await sealBytes(plain, {
      reach: 'invited',
      owner: owner.agent,
      recipients: [
        { kind: 'device', device: dev },
        { kind: 'agent', agent: friend.agent, context: ctx, key: forFriend },
      ],
    });
    const friendRing: Keyring = {
      me: friend.agent,
      relationship: (o, c) => deriveRelationshipKey(friend.secret, friend.agent, o, c),
    };
    expect(await open(sealed, friendRing)).toEqual(plain);
    expect(await open(sealed, { device: dev })).toEqual(plain);
    const outsiderRing: Keyring = {
      me: outsider.agent,
      relationship: (o, c) => deriveRelationshipKey(outsider.secret, outsider.agent, o, c),
    };
    await expect(open(sealed, outsiderRing)).rejects.toThrow(NoKeyError);
    // Claiming the friend's slot without the friend's secret: the slot does not open.
    const impostor: Keyring = { ...outsiderRing, me: friend.agent };
    await expect(open(sealed, impostor)).rejects.toThrow(KeyUnwrapError);
  });

  it('local items open with the cluster key only', async () => {
    const clusterKey = await createClusterKey();
    const plain = pseudoRandomBytes(S);
    const sealed = await sealBytes(plain, {
      reach: 'local',
      owner: owner.agent,
      recipients: [{ kind: 'cluster', cluster: 'c1', key: clusterKey }],
    });
    expect(await open(sealed, { cluster: (id) => (id === 'c1' ? clusterKey : undefined) })).toEqual(
      plain,
    );
    await expect(open(sealed, { cluster: () => undefined })).rejects.toThrow(NoKeyError);
    const otherCluster = await createClusterKey();
    await expect(open(sealed, { cluster: () => otherCluster })).rejects.toThrow(KeyUnwrapError);
  });

  it('refuse recipients that would break the reach', async () => {
    const dev = await device();
    const key = await createClusterKey();
    const bad: [SealOptions['reach'], Recipient][] = [
      ['private', { kind: 'agent', agent: friend.agent, context: 'x', key }],
      ['private', { kind: 'cluster', cluster: 'c', key }],
      ['invited', { kind: 'cluster', cluster: 'c', key }],
      ['local', { kind: 'agent', agent: friend.agent, context: 'x', key }],
    ];
    for (const [reach, r] of bad) {
      expect(() => seal(new Uint8Array(1), { reach, owner: owner.agent, recipients: [r] })).toThrow(
        ReachError,
      );
    }
    expect(() =>
      seal(new Uint8Array(1), { reach: 'private', owner: owner.agent, recipients: [] }),
    ).toThrow(/at least one recipient/);
    expect(() =>
      seal(new Uint8Array(1), {
        reach: 'private',
        owner: owner.agent,
        recipients: [{ kind: 'device', device: dev }],
        segmentSize: 0,
      }),
    ).toThrow(/segmentSize/);
  });
});

describe('tampering', () => {
  async function fixture() {
    const dev = await device();
    const plain = pseudoRandomBytes(3 * S + 100);
    const sealed = await sealBytes(plain, {
      reach: 'private',
      owner: owner.agent,
      recipients: [{ kind: 'device', device: dev }],
    });
    const parsed = parseSealedHeader(sealed);
    if (!parsed) throw new Error('no header');
    const seg = (i: number) => parsed.length + i * (S + TAG_BYTES);
    return { dev, plain, sealed, h: parsed.length, seg };
  }

  it('a flipped bit, swapped or dropped segments, or extra bytes fail with DecryptionError', async () => {
    const { dev, sealed, seg } = await fixture();
    const flipped = sealed.slice();
    flipped[seg(1) + 7] = (flipped[seg(1) + 7] as number) ^ 0x80;
    const swapped = sealed.slice();
    swapped.set(sealed.subarray(seg(1), seg(2)), seg(0));
    swapped.set(sealed.subarray(seg(0), seg(1)), seg(1));
    const cases: [string, Uint8Array][] = [
      ['flipped bit', flipped],
      [
        'flipped tag',
        (() => {
          const c = sealed.slice();
          c[c.length - 1] = (c[c.length - 1] as number) ^ 1;
          return c;
        })(),
      ],
      ['swapped segments', swapped],
      ['dropped final segment', sealed.subarray(0, seg(3))],
      ['cut inside a segment', sealed.subarray(0, seg(2) + 10)],
      ['header only', sealed.subarray(0, seg(0))],
      ['bytes appended', new Uint8Array([...sealed, 0])],
    ];
    for (const [what, bytes] of cases) {
      await expect(open(bytes, { device: dev }), what).rejects.toThrow(DecryptionError);
    }
  });

  it('an edited header fails: its slots and segments are bound to it', async () => {
    const { dev, sealed, h } = await fixture();
    const json = new TextDecoder().decode(sealed.subarray(9, h));
    const edited = new TextEncoder().encode(json.replace(owner.agent, friend.agent));
    expect(edited.byteLength).toBe(h - 9);
    const tampered = sealed.slice();
    tampered.set(edited, 9);
    await expect(open(tampered, { device: dev })).rejects.toThrow(KeyUnwrapError);
  });

  it('what is not a sealed item fails with SealedFormatError', async () => {
    const { dev, sealed } = await fixture();
    const cases: Uint8Array[] = [
      new TextEncoder().encode('just some plain bytes, clearly not sealed'),
      new Uint8Array(0),
      sealed.subarray(0, 20),
      new Uint8Array([...sealed.subarray(0, 4), 9, ...sealed.subarray(5)]),
    ];
    for (const bytes of cases) {
      await expect(open(bytes, { device: dev })).rejects.toThrow(SealedFormatError);
    }
  });
});

describe('with the content store', () => {
  const stores: ContentStore[] = [];
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
  });

  it('stores, rebuilds (rs-4-7) and verifies a sealed item by the hash of its ciphertext', async () => {
    const store = await openContentStore({
      dbName: `reach-store-${Date.now()}`,
      thresholds: { chunkedAbove: 8 * S, rsAbove: 16 * S },
      chunkSize: 4 * S,
      pieceSize: 4 * S,
      locks: null,
    });
    stores.push(store);
    const dev = await device();
    const plain = pseudoRandomBytes(40 * S + 3);
    const m = await store.put(
      seal(plain, {
        reach: 'private',
        owner: owner.agent,
        recipients: [{ kind: 'device', device: dev }],
      }),
      {
        reach: 'private',
        mime: SEALED_MIME,
      },
    );
    expect(m.encoding).toBe('rs-4-7');
    expect(m.mime_type).toBe(SEALED_MIME);
    const stored = await bytesOf(store.get(m.blob_hash));
    expect(m.blob_hash).toBe(`sha256-${createHash('sha256').update(stored).digest('hex')}`);
    expect(m.blob_hash).not.toBe(`sha256-${createHash('sha256').update(plain).digest('hex')}`);
    expect(await open(store.get(m.blob_hash), { device: dev })).toEqual(plain);

    // Erasure coding is over the ciphertext: a holder without any key rebuilds a damaged
    // data shard from parity, and the item still opens.
    const db = await openDB(store.dbName, DB_VERSION);
    const key = [m.storage_key, 1, 0];
    const piece = new Uint8Array((await db.get('pieces', key)) as ArrayBuffer);
    piece[5] = (piece[5] as number) ^ 1;
    await db.put('pieces', piece.buffer, key);
    db.close();
    expect(await open(store.get(m.blob_hash), { device: dev })).toEqual(plain);
  });
});

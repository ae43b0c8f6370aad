/**
 * `/elohim/sync/1.0.0` against the frames the real rmp-serde writes for the Rust node's types
 * (`golden/sync-1.0.0.json`, made by scripts/sync-golden): every variant decodes to what the
 * Rust side encoded, from its own bytes (`Vec<u8>` as integer arrays), from `bin` and from
 * named fields; and our encoding is byte for byte rmp-serde's `bin` form.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { unframe } from '../wire/index.ts';
import {
  DOC_SYNC_LIMITS,
  type DocSyncMessage,
  decodeDocSyncRequest,
  decodeDocSyncResponse,
  encodeDocSyncMessage,
} from './doc-sync-codec.ts';
import { SyncProtocolError } from './errors.ts';

interface Vector {
  kind: 'request' | 'response';
  name: string;
  rust: string;
  bin: string;
  named: string;
  rust_reads_bin: boolean;
}

const golden = JSON.parse(
  readFileSync(new URL('./golden/sync-1.0.0.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };

const APP = 'elohim-web';
const DOC = '2t5Zx1kmPVrGmjBCdtPjQRPJAVsn';
const H1 = 'b33ef028e209b50c027dda1bc0480287da523ae60d2492c9428f589d5b729372';
const H2 = 'f28234e60a39b59b67c4f95aac540a84c9f90813c7a01e191c5c2d55fae8799f';
/** The generator's byte pattern (`bytes(n, seed)` in scripts/sync-golden). */
const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed) & 0xff);

/** What the Rust side encoded, by vector name. */
const EXPECTED: Record<string, DocSyncMessage> = {
  GetHeads: { type: 'GetHeads', appId: APP, docId: DOC },
  SyncChanges: { type: 'SyncChanges', appId: APP, docId: DOC, haveHeads: [H1], bloomFilter: null },
  'SyncChanges with bloom filter': {
    type: 'SyncChanges',
    appId: APP,
    docId: DOC,
    haveHeads: [],
    bloomFilter: bytes(20, 200),
  },
  GetChanges: { type: 'GetChanges', appId: APP, docId: DOC, changeHashes: [H1, H2] },
  AnnounceChange: {
    type: 'AnnounceChange',
    appId: APP,
    docId: DOC,
    changeHash: H2,
    changeData: bytes(40, 0x85),
  },
  'AnnounceChange without data': {
    type: 'AnnounceChange',
    appId: APP,
    docId: DOC,
    changeHash: H2,
    changeData: null,
  },
  ListDocuments: { type: 'ListDocuments', appId: 'elohim', prefix: null, offset: 0, limit: 1000 },
  'ListDocuments with prefix': {
    type: 'ListDocuments',
    appId: APP,
    prefix: 'library',
    offset: 70000,
    limit: 20,
  },
  Heads: { type: 'Heads', appId: APP, docId: DOC, heads: [H1], changeCount: 300 },
  Changes: {
    type: 'Changes',
    appId: APP,
    docId: DOC,
    changes: [bytes(30, 7), bytes(3, 0xfe)],
    hasMore: true,
    newHeads: [H1, H2],
  },
  'Changes, none': {
    type: 'Changes',
    appId: APP,
    docId: DOC,
    changes: [],
    hasMore: false,
    newHeads: [],
  },
  RequestedChanges: {
    type: 'RequestedChanges',
    appId: APP,
    docId: DOC,
    changes: [[H1, bytes(17, 0x80)]],
    notFound: [H2],
  },
  ChangeAck: { type: 'ChangeAck', appId: APP, docId: DOC, wasNew: true },
  DocumentList: {
    type: 'DocumentList',
    appId: APP,
    documents: [
      {
        docId: DOC,
        docType: 'library',
        changeCount: 3,
        lastModified: 1_796_573_541_000,
        heads: [H1],
      },
      { docId: 'graph:alpha', docType: 'graph', changeCount: 70_000, lastModified: 0, heads: [] },
    ],
    total: 5,
    hasMore: true,
  },
  NotFound: { type: 'NotFound', appId: APP, docId: DOC },
  Error: { type: 'Error', message: 'Failed to get heads: ünïcødé' },
};

const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const decode = (v: Vector, body: Uint8Array) =>
  v.kind === 'request' ? decodeDocSyncRequest(body) : decodeDocSyncResponse(body);
/** The frame the Rust codec writes: 4-byte big-endian length, then the body. */
const framed = (body: string) => (body.length / 2).toString(16).padStart(8, '0') + body;

describe('/elohim/sync/1.0.0 codec: golden frames from rmp-serde', () => {
  it('covers every request and response variant', () => {
    const names = new Set(golden.vectors.map((v) => (EXPECTED[v.name] as DocSyncMessage).type));
    expect([...names].sort()).toEqual(
      [
        'AnnounceChange',
        'ChangeAck',
        'Changes',
        'DocumentList',
        'Error',
        'GetChanges',
        'GetHeads',
        'Heads',
        'ListDocuments',
        'NotFound',
        'RequestedChanges',
        'SyncChanges',
      ].sort(),
    );
    expect(golden.vectors.map((v) => v.name).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const v of golden.vectors) {
    it(`${v.kind} ${v.name}: decodes every form, re-encodes to rmp-serde's bytes`, () => {
      const expected = EXPECTED[v.name] as DocSyncMessage;
      // The Rust node's own bytes: Vec<u8> as an array of integers, positional fields.
      expect(decode(v, fromHex(v.rust))).toEqual(expected);
      // Named fields (to_vec_named).
      expect(decode(v, fromHex(v.named))).toEqual(expected);
      // bin, what we send: decoded and re-encoded, bytes identical (frame included).
      expect(decode(v, fromHex(v.bin))).toEqual(expected);
      const frame = encodeDocSyncMessage(expected);
      expect(hex(frame)).toBe(framed(v.bin));
      expect(decode(v, unframe(frame, 1 << 20))).toEqual(expected);
      // Without byte fields, both forms are the same bytes.
      if (v.rust_reads_bin) expect(v.bin).toBe(v.rust);
    });
  }
});

describe('/elohim/sync/1.0.0 codec: what is refused', () => {
  const body = (m: DocSyncMessage) => encodeDocSyncMessage(m).subarray(4);
  const refuses = (f: () => unknown, msg: RegExp) => {
    expect(f).toThrow(SyncProtocolError);
    expect(f).toThrow(msg);
  };

  it('too many hashes, too long strings, a bloom filter over its cap, u32 overflow', () => {
    const many = Array.from({ length: DOC_SYNC_LIMITS.maxHashes + 1 }, () => 'a');
    refuses(
      () =>
        decodeDocSyncRequest(
          body({ type: 'GetChanges', appId: APP, docId: DOC, changeHashes: many }),
        ),
      /change_hashes has 1025 entries; at most 1024/,
    );
    refuses(
      () => decodeDocSyncRequest(body({ type: 'GetHeads', appId: APP, docId: 'x'.repeat(257) })),
      /doc_id is longer than 256/,
    );
    refuses(
      () =>
        decodeDocSyncRequest(
          body({
            type: 'SyncChanges',
            appId: APP,
            docId: DOC,
            haveHeads: [],
            bloomFilter: new Uint8Array(DOC_SYNC_LIMITS.maxBloomBytes + 1),
          }),
        ),
      /over the cap|bytes/,
    );
    refuses(
      () =>
        decodeDocSyncRequest(
          body({ type: 'ListDocuments', appId: APP, prefix: null, offset: 2 ** 32, limit: 1 }),
        ),
      /offset 4294967296 is over 4294967295/,
    );
    refuses(
      () =>
        decodeDocSyncRequest(
          body({
            type: 'AnnounceChange',
            appId: APP,
            docId: DOC,
            changeHash: H1,
            changeData: new Uint8Array(101),
          }),
          100,
        ),
      /101/,
    );
  });

  it('unknown variants, wrong shapes, a response where a request belongs', () => {
    refuses(
      () => decodeDocSyncRequest(body({ type: 'NotFound', appId: APP, docId: DOC })),
      /Unknown sync request "NotFound"/,
    );
    refuses(
      () => decodeDocSyncResponse(body({ type: 'GetHeads', appId: APP, docId: DOC })),
      /Unknown sync response "GetHeads"/,
    );
    // {"GetHeads": [1, 2]}: fields of the wrong type.
    refuses(
      () => decodeDocSyncRequest(fromHex('81a84765744865616473920102')),
      /app_id must be a string/,
    );
    // {"GetHeads": ["a"]}: one field short.
    refuses(() => decodeDocSyncRequest(fromHex('81a8476574486561647391a161')), /takes 2 field/);
    // {"ChangeAck": ["a", "b", 1]}: was_new not a boolean.
    refuses(
      () => decodeDocSyncResponse(fromHex('81a94368616e676541636b93a161a16201')),
      /was_new must be a boolean/,
    );
    refuses(() => decodeDocSyncRequest(fromHex('c1')), /never used/);
  });

  it('cuts an over-long Error message when sending', () => {
    const frame = encodeDocSyncMessage({ type: 'Error', message: 'x'.repeat(10_000) });
    const back = decodeDocSyncResponse(frame.subarray(4));
    expect(back.type === 'Error' && back.message.length).toBe(DOC_SYNC_LIMITS.maxMessageLength);
  });
});

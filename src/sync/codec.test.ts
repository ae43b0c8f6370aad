import { describe, expect, it } from 'vitest';
import { encodeMsgpack } from '../wire/index.ts';
import {
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncMessage,
  type SyncEvent,
  SyncFrameTooLargeError,
  SyncProtocolError,
} from './index.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => Buffer.from(s, 'ascii').toString('hex');
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const body = (frame: Uint8Array) => frame.subarray(4);

const DOC = '2xTnVbL1JhBo3kBqrKSyKyiAF7QK'; // 28 base58 characters
const HASH = 'ab'.repeat(32);
const event: SyncEvent = {
  position: 1,
  doc_id: DOC,
  change_hash: HASH,
  kind: 'New',
  timestamp: 1_700_000_000_000,
};
/** The event as rmp-serde writes `SyncEvent` with `to_vec`: a positional array. */
const EVENT_HEX = [
  '95', // array(5)
  '01',
  `bc${ascii(DOC)}`, // fixstr(28)
  `d940${ascii(HASH)}`, // str8(64)
  `a3${ascii('New')}`, // unit variant: bare string
  'cf0000018bcfe56800', // u64 1_700_000_000_000
].join('');

describe('/elohim/positions/1.0.0 codec: golden bytes', () => {
  it('SyncRequest', () => {
    const f = encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 100 });
    expect(hex(f)).toBe(`00000010 81 ab${ascii('SyncRequest')} 92 00 64`.replaceAll(' ', ''));
    expect(decodeSyncRequest(body(f))).toEqual({ type: 'SyncRequest', since: 0, limit: 100 });
  });

  it('DocRequest', () => {
    const f = encodeSyncMessage({ type: 'DocRequest', docId: DOC, heads: [HASH] });
    const b = `81 aa${ascii('DocRequest')} 92 bc${ascii(DOC)} 91 d940${ascii(HASH)}`;
    expect(hex(body(f))).toBe(b.replaceAll(' ', ''));
    expect(hex(f.subarray(0, 4))).toBe((f.byteLength - 4).toString(16).padStart(8, '0'));
    expect(decodeSyncRequest(body(f))).toEqual({ type: 'DocRequest', docId: DOC, heads: [HASH] });
  });

  it('Announce', () => {
    const f = encodeSyncMessage({ type: 'Announce', event });
    expect(hex(f)).toBe(`0000007981a8${ascii('Announce')}91${EVENT_HEX}`);
    expect(decodeSyncRequest(body(f))).toEqual({ type: 'Announce', event });
  });

  it('SyncResponse, DocResponse, Error', () => {
    const s = encodeSyncMessage({ type: 'SyncResponse', events: [event], hasMore: false });
    expect(hex(body(s))).toBe(`81ac${ascii('SyncResponse')}9291${EVENT_HEX}c2`);
    expect(decodeSyncResponse(body(s))).toEqual({
      type: 'SyncResponse',
      events: [event],
      hasMore: false,
    });

    const changes = [new Uint8Array([1, 2, 3])];
    const d = encodeSyncMessage({ type: 'DocResponse', docId: DOC, changes });
    expect(hex(body(d))).toBe(`81ab${ascii('DocResponse')}92bc${ascii(DOC)}91c403010203`);
    expect(decodeSyncResponse(body(d))).toEqual({ type: 'DocResponse', docId: DOC, changes });

    const e = encodeSyncMessage({ type: 'Error', message: 'oops' });
    expect(hex(e)).toBe(`0000000c81a5${ascii('Error')}a4${ascii('oops')}`);
    expect(decodeSyncResponse(body(e))).toEqual({ type: 'Error', message: 'oops' });
  });
});

describe('/elohim/positions/1.0.0 codec: what else is accepted', () => {
  it('named-field structs (rmp-serde to_vec_named) and {"Kind": null}', () => {
    const named = encodeMsgpack({ SyncRequest: { since: 5, limit: 10 } });
    expect(decodeSyncRequest(named)).toEqual({ type: 'SyncRequest', since: 5, limit: 10 });
    const ev = encodeMsgpack({
      Announce: {
        event: {
          position: 3,
          doc_id: DOC,
          change_hash: HASH,
          kind: { Local: null },
          timestamp: 7,
        },
      },
    });
    expect(decodeSyncRequest(ev)).toEqual({
      type: 'Announce',
      event: { position: 3, doc_id: DOC, change_hash: HASH, kind: 'Local', timestamp: 7 },
    });
  });

  it('changes as arrays of integers (rmp-serde Vec<u8>)', () => {
    const raw = unhex(`81ab${ascii('DocResponse')}92bc${ascii(DOC)}919300cc80ccff`);
    expect(decodeSyncResponse(raw)).toEqual({
      type: 'DocResponse',
      docId: DOC,
      changes: [new Uint8Array([0, 128, 255])],
    });
  });

  it('refuses malformed messages with SyncProtocolError and a clear message', () => {
    const bad = (v: Parameters<typeof encodeMsgpack>[0]) => () =>
      decodeSyncRequest(encodeMsgpack(v));
    expect(() => decodeSyncRequest(new Uint8Array([0xc1]))).toThrow(SyncProtocolError);
    expect(bad({ Hello: [] })).toThrow(/Unknown sync request "Hello"/);
    expect(bad({ SyncRequest: [1] })).toThrow(/takes 2 field\(s\) \[since, limit\], got 1/);
    expect(bad({ SyncRequest: [-1, 5] })).toThrow(/since must be a non-negative integer/);
    expect(bad({ DocRequest: ['not base58 0OIl', []] })).toThrow(/doc_id must be/);
    expect(bad({ DocRequest: [DOC, ['xyz']] })).toThrow(/64-character lowercase hex/);
    expect(bad({ DocRequest: [DOC, Array(1025).fill(HASH)] })).toThrow(/more than 1024 heads/);
    expect(bad({ Announce: [[0, DOC, HASH, 'New', 1]] })).toThrow(/positions start at 1/);
    expect(bad({ Announce: [[1, DOC, HASH, 'Fresh', 1]] })).toThrow(/Unknown event kind "Fresh"/);
    expect(() => decodeSyncResponse(encodeMsgpack({ SyncResponse: [[], 'yes'] }))).toThrow(
      /has_more must be a boolean/,
    );
    expect(() =>
      decodeSyncResponse(encodeMsgpack({ DocResponse: [DOC, [new Uint8Array(10)]] }), 4),
    ).toThrow(/payload is 10 bytes, over this peer's cap of 4 bytes/);
  });

  it('refuses to encode a frame over the cap', () => {
    const changes = [new Uint8Array(2000)];
    expect(() => encodeSyncMessage({ type: 'DocResponse', docId: DOC, changes }, 1024)).toThrow(
      SyncFrameTooLargeError,
    );
  });
});

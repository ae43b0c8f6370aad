/**
 * shardGetStream against a peer that lies about its `Data` frame: every lie fails with a
 * typed error before the bytes are taken as the shard's, and no declared size is allocated.
 */
import { createHash } from 'node:crypto';
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addrOf, loopbackNode } from '../../test-support/libp2p.ts';
import { FrameTooLargeError, UnexpectedMessageError } from '../../wire/index.ts';
import {
  PeerReportedError,
  PeerSentBadDataError,
  SHARD_PROTOCOL,
  shardGetStream,
} from './index.ts';

const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;
const DATA = new Uint8Array(3000).map((_, i) => (i * 31) & 0xff);
const HASH = sha(DATA);

/** `{"Data": …}` with a u32 length that says `frameLen` (default: the true length). */
function dataFrame(payload: number[] | Uint8Array, frameLen?: number): Uint8Array {
  const body = new Uint8Array([0x81, 0xa4, 0x44, 0x61, 0x74, 0x61, ...payload]);
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, frameLen ?? body.byteLength);
  out.set(body, 4);
  return out;
}
const bin32 = (n: number) => [0xc6, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const ints = (b: Uint8Array) => [
  0xdd,
  0,
  0,
  (b.byteLength >> 8) & 0xff,
  b.byteLength & 0xff,
  ...[...b].flatMap((x) => (x < 128 ? [x] : [0xcc, x])),
];

describe('shardGetStream: a lying peer', () => {
  let server: Libp2p;
  let client: Libp2p;
  let addr: Multiaddr;
  let answer: Uint8Array = new Uint8Array(0);

  beforeAll(async () => {
    [server, client] = await Promise.all([loopbackNode(), loopbackNode(false)]);
    await server.handle(SHARD_PROTOCOL, async (stream) => {
      for await (const _ of stream) break; // the request
      stream.send(answer);
      await stream.close();
    });
    addr = addrOf(server);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), client?.stop()]);
  });

  const get = async (frame: Uint8Array, maxBytes?: number) => {
    answer = frame;
    const out: Uint8Array[] = [];
    for await (const c of shardGetStream(client, addr, HASH, {
      timeoutMs: 5_000,
      ...(maxBytes ? { maxBytes } : {}),
    }))
      out.push(c);
    return Buffer.concat(out);
  };

  it('takes bin and rmp-serde integer arrays', async () => {
    expect(sha(await get(dataFrame([...bin32(DATA.byteLength), ...DATA])))).toBe(HASH);
    expect(sha(await get(dataFrame(ints(DATA))))).toBe(HASH);
  });

  it('refuses, typed: over the cap, lengths that disagree, short, wrong bytes, not u8', async () => {
    await expect(get(dataFrame([...bin32(DATA.byteLength), ...DATA]), 1000)).rejects.toBeInstanceOf(
      FrameTooLargeError,
    );
    // A 4 GiB bin announced in a 3 KiB frame: refused from the header, nothing allocated.
    await expect(get(dataFrame([...bin32(0xfffffff0), ...DATA]))).rejects.toBeInstanceOf(
      UnexpectedMessageError,
    );
    const short = dataFrame(
      [...bin32(DATA.byteLength), ...DATA.subarray(0, 100)],
      11 + DATA.byteLength,
    );
    await expect(get(short)).rejects.toBeInstanceOf(PeerSentBadDataError);
    const wrong = DATA.slice();
    wrong[7] = (wrong[7] as number) ^ 1;
    await expect(get(dataFrame([...bin32(wrong.byteLength), ...wrong]))).rejects.toBeInstanceOf(
      PeerSentBadDataError,
    );
    const badInt = ints(DATA);
    badInt[5] = 0xcd; // a u16 where a u8 must be
    await expect(get(dataFrame(badInt))).rejects.toBeInstanceOf(UnexpectedMessageError);
    // An Error answer, and an answer too big to be one: typed, not buffered.
    await expect(
      get(new Uint8Array([0, 0, 0, 9, 0x81, 0xa5, 0x45, 0x72, 0x72, 0x6f, 0x72, 0xa1, 0x78])),
    ).rejects.toBeInstanceOf(PeerReportedError);
    await expect(
      get(new Uint8Array([0x10, 0, 0, 0, 0xa8, 0x4e, 0x6f, 0x74, 0x46, 0x6f])),
    ).rejects.toBeInstanceOf(FrameTooLargeError);
  });
});

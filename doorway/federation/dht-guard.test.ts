import type { Stream } from '@libp2p/interface';
import { describe, expect, it } from 'vitest';
import { DhtMessageError, guardDhtStream } from './dht-guard.ts';

/** What the guard uses of a stream: its 'message' events and `abort`. */
function fakeStream() {
  const target = new EventTarget() as EventTarget & { aborted?: Error };
  const stream = Object.assign(target, {
    abort(error: Error) {
      target.aborted = error;
    },
  });
  const receive = (...bytes: number[]) =>
    target.dispatchEvent(Object.assign(new Event('message'), { data: Uint8Array.from(bytes) }));
  return { stream: stream as unknown as Stream, target, receive };
}

/** A protobuf varint, as length prefixes are written. */
const varint = (n: number) => {
  const out: number[] = [];
  let rest = n;
  for (; rest >= 128; rest = Math.floor(rest / 128)) out.push((rest % 128) | 0x80);
  out.push(rest);
  return out;
};

describe('guardDhtStream', () => {
  /** The reader (kad-dht's) listens after the guard was installed, as it does. */
  function readerOf(stream: Stream): number[] {
    const read: number[] = [];
    stream.addEventListener('message', (event) => {
      read.push(...(event as unknown as { data: Uint8Array }).data);
    });
    return read;
  }

  it('lets messages within the limit through to the reader, however they are split', () => {
    const { stream, target, receive } = fakeStream();
    guardDhtStream(stream, 300);
    const read = readerOf(stream);
    const body = new Array(300).fill(7);
    const framed = [...varint(300), ...body, ...varint(2), 1, 2, 0];
    // one byte at a time, then in odd chunks: message boundaries fall anywhere
    for (const byte of framed) receive(byte);
    receive(...framed.slice(0, 1));
    receive(...framed.slice(1, 150));
    receive(...framed.slice(150));
    expect(target.aborted).toBeUndefined();
    expect(read).toEqual([...framed, ...framed]);
  });

  it('aborts at a length prefix above the limit, before the reader sees it', () => {
    const { stream, target, receive } = fakeStream();
    guardDhtStream(stream, 300);
    const read = readerOf(stream);
    receive(...varint(10), ...new Array(10).fill(0));
    expect(target.aborted).toBeUndefined();
    receive(...varint(301));
    expect(read).toHaveLength(11);
    expect(target.aborted).toBeInstanceOf(DhtMessageError);
    expect(target.aborted?.message).toMatch(/301 bytes \(at most 300\)/);
  });
});

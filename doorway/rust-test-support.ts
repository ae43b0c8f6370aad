/**
 * A stand-in for the Rust storage node, written from its types (elohim-storage `sharding.rs`,
 * `p2p/shard_protocol.rs`, `http.rs`), for the interop tests: it shares no code with ours
 * beyond the erasure coder (which docs/design.md pins to the Rust crate's bytes).
 *
 *  - {@link makeRustBlob}: a blob as `sharding.rs` makes one over 16 MiB — `rs-4-7`, four data
 *    shards of ⌈size/4⌉ (the last zero-padded) and three parity shards — written to files
 *    stripe by stripe, never whole in memory;
 *  - {@link startRustPeer}: TCP + Noise + Yamux, answering `{"Get": [hash]}` on
 *    `/elohim/shard/1.0.0` with the whole shard in ONE frame as rmp-serde writes
 *    `Data(Vec<u8>)`: an integer array (two bytes per byte ≥ 128), streamed from the file; and
 *    `GET /manifest/{hash}` over HTTP with a manifest in the Rust doorway's shape; it can hold
 *    shards back (`hold`) or lie about one (`corrupt`);
 *  - {@link rustGet}: its client, `Get{hash}` per shard, reading the answer as rmp-serde 1.3
 *    does (`bin` or an integer array), hashing it as it streams;
 *  - {@link peakBuffers}: the memory a transfer holds, for the bound the tests and the bench check.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import * as E from '../src/erasure/index.ts';

const MiB = 1024 * 1024;
/** rust-yamux's default receive window: what a Rust node lets a sender have in flight. */
const RUST_WINDOW = 256 * 1024;
const SHARD_PROTOCOL = '/elohim/shard/1.0.0';
const sha = (h: ReturnType<typeof createHash>) => `sha256-${h.digest('hex')}`;

export interface RustBlob {
  blobHash: string;
  size: number;
  /** The Rust doorway's manifest shape: no blob_cid, no verified_at. */
  manifest: Record<string, unknown>;
  /** shard hash → file */
  files: Map<string, string>;
}

/** Writes all of `bytes` to `out`, waiting when it is full. */
async function write(out: NodeJS.WritableStream, bytes: Uint8Array): Promise<void> {
  if (!out.write(bytes)) await once(out, 'drain');
}

/** A random blob of `size` bytes made the Rust way into `dir` (stripes of 1 MiB). */
export async function makeRustBlob(dir: string, size: number): Promise<RustBlob> {
  const S = Math.ceil(size / E.DATA_SHARDS);
  const paths = Array.from({ length: E.TOTAL_SHARDS }, (_, i) => join(dir, `shard-${i}`));
  const blobHash = createHash('sha256');
  // Data shards in blob order (the blob hash sees the bytes in order), zero-padded.
  for (let s = 0; s < E.DATA_SHARDS; s++) {
    const out = createWriteStream(paths[s] as string);
    for (let off = 0; off < S; off += MiB) {
      const n = Math.min(MiB, S - off);
      const useful = Math.max(0, Math.min(n, size - (s * S + off)));
      const chunk = new Uint8Array(n);
      chunk.set(randomBytes(useful));
      blobHash.update(chunk.subarray(0, useful));
      await write(out, chunk);
    }
    out.end();
    await once(out, 'finish');
  }
  // Parity, stripe by stripe, from the data shards on disk.
  const data = await Promise.all(paths.slice(0, E.DATA_SHARDS).map((p) => open(p, 'r')));
  const parity = paths.slice(E.DATA_SHARDS).map((p) => createWriteStream(p));
  const encoder = new E.StripeEncoder(Math.min(MiB, S));
  try {
    for (let off = 0; off < S; off += MiB) {
      const n = Math.min(MiB, S - off);
      for (let s = 0; s < E.DATA_SHARDS; s++) {
        await (data[s] as Awaited<ReturnType<typeof open>>).read(
          encoder.data[s] as Uint8Array,
          0,
          n,
          off,
        );
      }
      encoder.encode(n);
      for (let k = 0; k < parity.length; k++) {
        await write(
          parity[k] as NodeJS.WritableStream,
          (encoder.parity[k] as Uint8Array).slice(0, n),
        );
      }
    }
  } finally {
    encoder.dispose();
    await Promise.all(data.map((f) => f.close()));
    for (const p of parity) p.end();
    await Promise.all(parity.map((p) => once(p, 'finish')));
  }
  const files = new Map<string, string>();
  for (const p of paths) {
    const h = createHash('sha256');
    for await (const c of createReadStream(p)) h.update(c as Buffer);
    files.set(sha(h), p);
  }
  const hash = sha(blobHash);
  const manifest = {
    blob_hash: hash,
    total_size: size,
    mime_type: 'video/mp4',
    encoding: 'rs-4-7',
    data_shards: 4,
    total_shards: 7,
    shard_size: S,
    shard_hashes: [...files.keys()],
    reach: 'commons',
    author_id: null,
    created_at: new Date().toISOString(),
  };
  return { blobHash: hash, size, manifest, files };
}

/** Bytes of a `Stream` message (Uint8Array or Uint8ArrayList). */
function bytesOf(c: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return c instanceof Uint8Array ? c : c.subarray();
}

/** Sends `bytes`, waiting for `drain` when the stream asks (libp2p 3 back-pressure). */
async function send(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await once(stream as unknown as EventTarget as never, 'drain');
}

/** rmp-serde's Vec<u8>: each byte a positive fixint, or 0xcc then the byte. */
function intArray(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength * 2);
  let n = 0;
  for (let i = 0; i < bytes.byteLength; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80) out[n++] = 0xcc;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** The `{"Get": [hash]}` (or named) request's hash: the only request this stand-in serves. */
function getHash(body: Uint8Array): string | undefined {
  const text = Buffer.from(body).toString('latin1');
  const m = /sha256-[0-9a-f]{64}/.exec(text);
  return text.startsWith('\x81\xa3Get') && m ? m[0] : undefined;
}

export interface RustPeer {
  node: Libp2p;
  addr: Multiaddr;
  /** The HTTP API (`/manifest/{hash}`). */
  endpoint: string;
  /** Shard hashes answered (once `hold` let them through), in order. */
  gets: string[];
  stop(): Promise<void>;
}

export interface RustPeerOptions {
  /** Awaited before a shard is answered: a test holds shards back to see what waits for them. */
  hold?: (shardHash: string) => Promise<void>;
  /** A lying node: this shard is sent with its first byte flipped. */
  corrupt?: string;
}

/** Serves `blob`'s shards as the Rust node does (see the module comment). */
export async function startRustPeer(
  blob: RustBlob,
  options: RustPeerOptions = {},
): Promise<RustPeer> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: RUST_WINDOW } })],
    connectionGater: { denyDialMultiaddr: () => false },
  });
  const gets: string[] = [];
  await node.handle(SHARD_PROTOCOL, async (stream) => {
    // The request: u32 length + MessagePack, at most a few hundred bytes.
    let req = new Uint8Array(0);
    for await (const c of stream) {
      req = Buffer.concat([req, bytesOf(c as Uint8Array)]);
      if (
        req.byteLength >= 4 &&
        req.byteLength >= 4 + new DataView(req.buffer, req.byteOffset).getUint32(0)
      )
        break;
      if (req.byteLength > 4096) break;
    }
    const hash = getHash(req.subarray(4));
    const file = hash ? blob.files.get(hash) : undefined;
    if (!hash || !file) {
      // "NotFound": a unit variant is its name.
      await send(stream, new Uint8Array([0, 0, 0, 9, 0xa8, ...Buffer.from('NotFound')]));
      await stream.close();
      return;
    }
    await options.hold?.(hash);
    gets.push(hash);
    // The frame's length needs the whole integer array's: one pass to count, one to send.
    let wire = 0;
    let count = 0;
    for await (const c of createReadStream(file, { highWaterMark: MiB })) {
      const b = c as Buffer;
      for (let i = 0; i < b.byteLength; i++) wire += (b[i] as number) >= 0x80 ? 2 : 1;
      count += b.byteLength;
    }
    const head = Buffer.alloc(4 + 6 + 5);
    head.writeUInt32BE(6 + 5 + wire, 0);
    Buffer.from([0x81, 0xa4, ...Buffer.from('Data')]).copy(head, 4);
    head[10] = 0xdd; // array 32
    head.writeUInt32BE(count, 11);
    await send(stream, head);
    let first = hash === options.corrupt;
    for await (const c of createReadStream(file, { highWaterMark: MiB })) {
      const b = c as Buffer;
      // 0x01 flipped: a byte stays under or over 0x80, so the frame's length still holds.
      if (first) b[0] = (b[0] as number) ^ 1;
      first = false;
      await send(stream, intArray(b));
    }
    await stream.close();
  });
  const http: Server = createServer((req, res) => {
    const m = /^\/manifest\/(sha256-[0-9a-f]{64})$/.exec(req.url ?? '');
    if (m && m[1] === blob.blobHash) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(blob.manifest));
    } else res.writeHead(404).end('Manifest not found');
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as AddressInfo).port;
  return {
    node,
    addr: node.getMultiaddrs()[0] as Multiaddr,
    endpoint: `http://127.0.0.1:${port}`,
    gets,
    async stop() {
      http.close();
      await node.stop();
    },
  };
}

/** A node speaking only what the Rust node speaks: TCP, Noise, Yamux, the shard protocol. */
export function rustClientNode(): Promise<Libp2p> {
  return createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: RUST_WINDOW } })],
    connectionGater: { denyDialMultiaddr: () => false },
  });
}

/**
 * `Get{hash}` as the Rust client sends it (`{"Get": [hash]}`, rmp-serde `to_vec`), the answer
 * read as rmp-serde 1.3 reads `Data(Vec<u8>)`: `bin` 8/16/32 or an integer array. Hashes the
 * payload as it streams; resolves with its sha256 and size, and the largest chunk it held.
 */
export async function rustGet(
  node: Libp2p,
  peer: Multiaddr,
  hash: string,
): Promise<{ hash: string; size: number; largestChunk: number }> {
  const stream = await node.dialProtocol(peer, SHARD_PROTOCOL);
  const body = Buffer.from([
    0x81,
    0xa3,
    ...Buffer.from('Get'),
    0x91,
    0xd9,
    hash.length,
    ...Buffer.from(hash),
  ]);
  const frame = Buffer.alloc(4 + body.byteLength);
  frame.writeUInt32BE(body.byteLength, 0);
  body.copy(frame, 4);
  stream.send(frame);
  await stream.close();
  const h = createHash('sha256');
  let head = Buffer.alloc(0);
  let size: number | undefined;
  let got = 0;
  let largestChunk = 0;
  for await (const raw of stream) {
    let c = Buffer.from(bytesOf(raw as Uint8Array));
    largestChunk = Math.max(largestChunk, c.byteLength);
    if (size === undefined) {
      head = Buffer.concat([head, c]);
      // u32 length, {"Data": then bin32 (c6 + u32): what our doorway sends for a big shard.
      if (head.byteLength < 15) continue;
      if (head.subarray(4, 10).toString('latin1') !== '\x81\xa4Data' || head[10] !== 0xc6) {
        throw new Error(`not a bin32 Data answer: ${head.subarray(0, 16).toString('hex')}`);
      }
      size = head.readUInt32BE(11);
      c = head.subarray(15);
    }
    h.update(c);
    got += c.byteLength;
  }
  if (size === undefined || got !== size) throw new Error(`got ${got} of ${size} bytes`);
  return { hash: sha(h), size, largestChunk };
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Peak live ArrayBuffer bytes above the start while `run` runs (GC forced before each sample). */
export async function peakBuffers<T>(run: () => Promise<T>): Promise<{ value: T; peak: number }> {
  gc();
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const timer = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  }, 250);
  try {
    return { value: await run(), peak };
  } finally {
    clearInterval(timer);
  }
}

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { httpShardHolders, parseRustStorage } from './index.ts';

const HASH = `sha256-${'ab'.repeat(32)}`;

describe('Rust storage nodes', () => {
  it('--rust-storage takes URL=MULTIADDR pairs and says what is wrong otherwise', () => {
    expect(parseRustStorage(' http://10.0.0.5:8090=/ip4/10.0.0.5/tcp/4001 , ')).toEqual([
      { endpoint: 'http://10.0.0.5:8090', multiaddr: '/ip4/10.0.0.5/tcp/4001' },
    ]);
    expect(parseRustStorage('')).toEqual([]);
    for (const bad of [
      'http://x',
      '/ip4/1.2.3.4/tcp/1',
      'ftp://x=/ip4/1.2.3.4/tcp/1',
      'http://x=ip4',
    ])
      expect(() => parseRustStorage(bad)).toThrow(/URL=MULTIADDR/);
  });

  it('asks each endpoint for the manifest; a body over 256 KiB, declared or not, is not one', async () => {
    const big = 'x'.repeat(300 * 1024);
    let mode = '';
    const server = createServer((req, res) => {
      if (req.url !== `/manifest/${HASH}`) return res.writeHead(404).end();
      // A body over the cap, with a length declared up front or written in two chunks.
      if (mode === 'chunked') {
        res.writeHead(200).write(big.slice(0, 1000));
        return res.end(big.slice(1000));
      }
      if (mode === 'declared') return res.writeHead(200, { 'content-length': big.length }).end(big);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"blob_hash":"x"}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ma = multiaddr('/ip4/127.0.0.1/tcp/1');
    const source = httpShardHolders([
      { endpoint, multiaddr: ma },
      { endpoint: 'http://127.0.0.1:1', multiaddr: multiaddr('/ip4/127.0.0.1/tcp/2') },
    ]);
    try {
      const signal = AbortSignal.timeout(5_000);
      expect(await source.locate(HASH, signal)).toEqual({
        manifest: { blob_hash: 'x' },
        holders: [ma],
      });
      expect(await source.locate(`sha256-${'cd'.repeat(32)}`, signal)).toBeUndefined();
      for (mode of ['declared', 'chunked']) {
        expect(await source.locate(HASH, signal)).toBeUndefined();
      }
    } finally {
      server.close();
    }
  });
});

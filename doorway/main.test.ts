import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFsContentStore } from '../src/content/node.ts';
import { replicate } from '../src/net/index.ts';
import { startNodePeer } from '../src/peer/node.ts';
import { pseudoRandomBytes } from '../src/test-support/bytes.ts';
import { APP_FILES, runDoorway as run, sharedTempDir, until } from './test-support.ts';

describe('doorway main', () => {
  const dir = sharedTempDir('doorway-main-', APP_FILES);

  it('says where it is once HTTP and libp2p listen, and stops cleanly on SIGTERM', async () => {
    const doorway = run([
      '--port',
      '0',
      '--static',
      dir(),
      '--data-dir',
      join(dir(), 'state'),
      '--log-level',
      'info',
    ]);
    try {
      const [, url] = await doorway.waitFor(/Elohim doorway ready at (\S+)\n/);
      const relay = doorway.output().match(/Elohim doorway relay at (\S+)\n/)?.[1];
      expect(relay).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW/);
      const info = (await (await fetch(new URL('/api/v1/p2p/info', url))).json()) as {
        multiaddrs: string[];
      };
      expect(info.multiaddrs).toContain(relay);
      doorway.child.kill('SIGTERM');
      expect(await doorway.exited).toBe(0);
      expect(doorway.output()).toMatch(/SIGTERM received, closing[\s\S]*closed/);
    } finally {
      doorway.child.kill('SIGKILL');
    }
  });

  it('exits with a message for a bad flag', async () => {
    const doorway = run(['--relay-data-limit', '10']);
    expect(await doorway.exited).toBe(1);
    expect(doorway.output()).toMatch(/doorway: --relay-data-limit must be 0/);
  });

  it('keeps every committed copy, and no half one, when killed (SIGKILL) mid-import', async () => {
    const state = join(dir(), 'killed');
    const args = ['--port', '0', '--static', dir(), '--data-dir', state, '--log-level', 'info'];
    let doorway = run(args);
    const KiB = 1024;
    const author = await startNodePeer({
      dataDir: join(dir(), 'author'),
      listen: [],
      doorways: [(await doorway.waitFor(/Elohim doorway ready at (\S+)\/\n/))[1] as string],
      dialListedPeers: false,
      copies: 0,
      trust: false,
      content: {
        thresholds: { chunkedAbove: 64 * KiB, rsAbove: 64 * 1024 * KiB },
        chunkSize: 16 * KiB,
        pieceSize: 16 * KiB,
      },
    });
    try {
      const doorwayId = await until('the author to reach the doorway', () => {
        const d = author.node.snapshot().doorways[0];
        return d?.status === 'connected' ? d.peerId : undefined;
      });
      const { peerIdFromString } = await import('@libp2p/peer-id');
      const keeper = [peerIdFromString(doorwayId as string)];
      const kept = pseudoRandomBytes(256 * KiB, 1);
      const first = await author.store.put(new Blob([kept]), { reach: 'commons' });
      const stored = await replicate(author.node.libp2p, author.store, first.blob_hash, keeper, {
        copies: 1,
      });
      expect(stored.stored).toEqual([doorwayId]);

      // The second is served until the doorway took 10 pieces, then held until it is killed.
      const second = await author.store.put(new Blob([pseudoRandomBytes(2048 * KiB, 2)]), {
        reach: 'commons',
      });
      const tenServed = Promise.withResolvers<void>();
      const killed = Promise.withResolvers<void>();
      const readPiece = author.store.readPiece.bind(author.store);
      let served = 0;
      author.store.readPiece = async (...args) => {
        if (++served >= 10) {
          tenServed.resolve();
          await killed.promise;
        }
        return readPiece(...args);
      };
      const offering = replicate(author.node.libp2p, author.store, second.blob_hash, keeper, {
        copies: 1,
      }).catch(() => undefined);
      await tenServed.promise;
      doorway.child.kill('SIGKILL');
      await doorway.exited;
      killed.resolve();
      await offering;
      // Killed mid-import: the second's pending marker is on disk, its manifest is not.
      const keptDir = join(state, 'store', 'kept');
      expect(await readdir(join(keptDir, 'pending'))).toHaveLength(1);
      expect(await readdir(join(keptDir, 'manifests'))).toHaveLength(1);

      // Started again and stopped, its store holds the first whole and nothing of the second.
      doorway = run(args);
      await doorway.waitFor(/Elohim doorway ready at/);
      doorway.child.kill('SIGTERM');
      expect(await doorway.exited).toBe(0);
      const store = await openFsContentStore({
        dir: join(state, 'store', 'kept'),
      });
      try {
        expect((await store.list()).map((m) => m.blob_hash)).toEqual([first.blob_hash]);
        expect((await store.stats()).pendingPuts).toBe(0);
        const back = new Uint8Array(await (await store.getBlob(first.blob_hash)).arrayBuffer());
        expect(Buffer.from(back).equals(Buffer.from(kept))).toBe(true);
      } finally {
        store.close();
      }
    } finally {
      doorway.child.kill('SIGKILL');
      await author.stop();
      author.store.close();
    }
  });
});

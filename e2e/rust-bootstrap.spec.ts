/**
 * Browsers bootstrap from a doorway that offers only `/api/v1/federation/p2p-peers`, as a Rust
 * doorway does (issue 19): the doorway runs with the test-only `--test-rust-bootstrap`, so
 * `/api/v1/p2p/info` is 404 and `/signal/{pubkey}` answers a plain GET with 400. Two browsers
 * still find the relay, reserve a slot, find each other, and one fetches what the other holds.
 */
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  downloadAndHash,
  fetchByLink,
  item,
  openApp,
  peerIdOf,
  shareLinkOf,
  waitReachable,
} from './support/app.ts';
import { startDoorwayProcess } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';

const MiB = 1024 * 1024;
const files = specFiles();

test('browsers bootstrap from a doorway with only /api/v1/federation/p2p-peers', async ({
  openProfile,
}) => {
  test.setTimeout(180_000);
  const doorway = await startDoorwayProcess(['--test-rust-bootstrap']);
  try {
    // The doorway answers as a Rust one does.
    expect((await fetch(new URL('/api/v1/p2p/info', doorway.url))).status).toBe(404);
    const signal = await fetch(
      new URL('/signal/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp', doorway.url),
    );
    expect(signal.status).toBe(400);
    const listed = (await (
      await fetch(new URL('/api/v1/federation/p2p-peers', doorway.url))
    ).json()) as { peers: { peer_id: string; nat_status: string | null }[] };
    expect(listed.peers[0]?.nat_status).toBe('Public');

    const file = await writeRandomFile(files.dir, 'rust-bootstrap.bin', 1 * MiB);
    const a = await openApp((await openProfile()).context, doorway.url);
    await addFiles(a, [file.path]);
    await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
    // Reachable: A dialled the doorway's node it found in p2p-peers and holds a relay slot.
    await waitReachable(a);
    const aId = await peerIdOf(a);
    await expect
      .poll(
        async () => {
          const body = (await (
            await fetch(new URL('/api/v1/federation/p2p-peers', doorway.url))
          ).json()) as typeof listed;
          return body.peers.find((p) => p.peer_id === aId)?.nat_status;
        },
        { timeout: 30_000 },
      )
      .toBe('Private');

    const b = await openApp((await openProfile()).context, doorway.url);
    await waitReachable(b);
    await fetchByLink(b, await shareLinkOf(a, file.hash));
    expect(await downloadAndHash(b, file.hash)).toBe(file.hash);
  } finally {
    await doorway.stop();
  }
});

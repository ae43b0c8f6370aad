import { expect, specFiles, test } from './fixtures.ts';
import { addFiles, item, openApp, peerEntry, peerIdOf, waitReachable } from './support/app.ts';
import { storedPieceBytes } from './support/idb.ts';
import { writeTestVideo } from './support/video.ts';

const MiB = 1024 * 1024;

const files = specFiles();

test('a <video> plays and seeks in a 200 MiB file only a peer holds, moving only the pieces it shows', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(300_000);
  const a = await openApp((await openProfile()).context, doorway.url, { keepOnDoorway: 0 });
  const video = await writeTestVideo(a, files.dir, 'noise.webm', 200 * MiB);
  await addFiles(a, [video.path]);
  await expect(item(a, video.hash)).toBeVisible({ timeout: 120_000 });
  await waitReachable(a);
  const aId = await peerIdOf(a);

  const b = await openApp((await openProfile()).context, doorway.url);
  await expect(peerEntry(b, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });
  // A hash nobody holds: a clear 404 once the search gives up, not a hang.
  const unknown = await b.evaluate(async () => {
    const response = await fetch(`/content/sha256-${'0'.repeat(64)}`);
    return { status: response.status, text: await response.text() };
  });
  expect(unknown.status).toBe(404);
  expect(unknown.text).toMatch(/nobody holds it/);

  // Plays from the start…
  await b.evaluate((hash) => {
    const element = document.createElement('video');
    element.id = 'streamed';
    element.muted = true;
    element.src = `/content/${hash}`;
    document.body.append(element);
    void element.play();
  }, video.hash);
  await b.waitForFunction(
    () => (document.getElementById('streamed') as HTMLVideoElement).currentTime > 1,
    undefined,
    { timeout: 60_000 },
  );
  const duration = await b.evaluate(
    () => (document.getElementById('streamed') as HTMLVideoElement).duration,
  );
  expect(Math.abs(duration - video.durationS)).toBeLessThan(1);

  await b.evaluate(() => (document.getElementById('streamed') as HTMLVideoElement).pause());
  // Chromium keeps buffering a paused video for a while: let that settle, so the seek's own
  // bytes are what is counted next.
  let beforeSeek = await storedPieceBytes(b);
  for (let i = 0; i < 30; i++) {
    await b.waitForTimeout(1_000);
    const now = await storedPieceBytes(b);
    if (now === beforeSeek) break;
    beforeSeek = now;
  }

  // …then seeks near the end, shows the frame there and plays on.
  const seekTo = duration - 8;
  await b.evaluate((t) => {
    (document.getElementById('streamed') as HTMLVideoElement).currentTime = t;
  }, seekTo);
  await b.waitForFunction(
    () => {
      const element = document.getElementById('streamed') as HTMLVideoElement;
      return !element.seeking && element.readyState >= 2;
    },
    undefined,
    { timeout: 60_000 },
  );
  const seekBytes = (await storedPieceBytes(b)) - beforeSeek;
  await b.evaluate(() => (document.getElementById('streamed') as HTMLVideoElement).play());
  await b.waitForFunction(
    (t) => (document.getElementById('streamed') as HTMLVideoElement).currentTime > t + 1,
    seekTo,
    { timeout: 60_000 },
  );

  const moved = await storedPieceBytes(b);
  const percent = (n: number) => `${((100 * n) / video.size).toFixed(1)}%`;
  console.log(
    `streamed a ${video.size} B video: ${beforeSeek} B (${percent(beforeSeek)}) to start playing, ` +
      `${seekBytes} B (${percent(seekBytes)}) for the seek, ${moved} B (${percent(moved)}) in all`,
  );
  expect(seekBytes).toBeGreaterThan(0);
  // Chromium reads the Cues at the end and buffers some seconds after the seek point.
  expect(seekBytes).toBeLessThan(video.size * 0.15);
  expect(moved).toBeLessThan(video.size * 0.5);

  // The bytes served are the file's bytes: the last MiB through a Range request.
  const tail = await b.evaluate(async (hash) => {
    const response = await fetch(`/content/${hash}`, { headers: { Range: 'bytes=-1048576' } });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return {
      status: response.status,
      range: response.headers.get('Content-Range'),
      sha: Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join(''),
    };
  }, video.hash);
  expect(tail.status).toBe(206);
  expect(tail.range).toBe(`bytes ${video.size - MiB}-${video.size - 1}/${video.size}`);
  const { createHash } = await import('node:crypto');
  const { open } = await import('node:fs/promises');
  const handle = await open(video.path, 'r');
  const last = Buffer.alloc(MiB);
  await handle.read(last, 0, MiB, video.size - MiB);
  await handle.close();
  expect(tail.sha).toBe(createHash('sha256').update(last).digest('hex'));

  // Not stored in B's library: it was only streamed.
  await expect(item(b, video.hash)).toHaveCount(0);
});

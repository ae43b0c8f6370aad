import { readFile } from 'node:fs/promises';
import { expect, test } from './fixtures.ts';
import { addFiles, item, openApp, SMALL } from './support/app.ts';
import { tempDir, writeRandomFile } from './support/files.ts';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: number[];
}

test('/content/<hash> answers whole, ranged, suffix and unsatisfiable requests from IndexedDB', async ({
  doorway,
  openProfile,
}) => {
  const files = await tempDir();
  try {
    // rs-4-7 with small pieces: ranges cross piece and shard boundaries.
    const file = await writeRandomFile(files.dir, 'ranged.bin', 600 * 1024 + 13);
    const bytes = await readFile(file.path);
    const { context } = await openProfile();
    const page = await openApp(context, doorway.url, SMALL);
    await addFiles(page, [file.path]);
    await expect(item(page, file.hash)).toHaveAttribute('data-encoding', 'rs-4-7');

    const ask = (range?: string, method = 'GET') =>
      page.evaluate(
        async ({ hash, range, method }) => {
          const response = await fetch(`/content/${hash}`, {
            method,
            headers: range ? { Range: range } : {},
          });
          return {
            status: response.status,
            headers: Object.fromEntries(response.headers),
            body: [...new Uint8Array(await response.arrayBuffer())],
          } as Answer;
        },
        { hash: file.hash, range, method },
      );
    const size = file.size;

    const whole = await ask();
    expect(whole.status).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.headers['content-length']).toBe(String(size));
    expect(Buffer.from(whole.body).equals(bytes)).toBe(true);

    const middle = await ask('bytes=163830-163850');
    expect(middle.status).toBe(206);
    expect(middle.headers['content-range']).toBe(`bytes 163830-163850/${size}`);
    expect(Buffer.from(middle.body).equals(bytes.subarray(163830, 163851))).toBe(true);

    const suffix = await ask('bytes=-500');
    expect(suffix.status).toBe(206);
    expect(suffix.headers['content-range']).toBe(`bytes ${size - 500}-${size - 1}/${size}`);
    expect(Buffer.from(suffix.body).equals(bytes.subarray(size - 500))).toBe(true);

    const tooFar = await ask(`bytes=${size}-`);
    expect(tooFar.status).toBe(416);
    expect(tooFar.headers['content-range']).toBe(`bytes */${size}`);

    const head = await ask('bytes=0-9', 'HEAD');
    expect(head.status).toBe(206);
    expect(head.headers['content-length']).toBe('10');

    const unknown = await page.evaluate(
      async () => (await fetch(`/content/sha256-${'0'.repeat(64)}`)).status,
    );
    expect(unknown).toBe(404);
    const malformed = await page.evaluate(async () => (await fetch('/content/not-a-hash')).status);
    expect(malformed).toBe(400);
  } finally {
    await files.remove();
  }
});

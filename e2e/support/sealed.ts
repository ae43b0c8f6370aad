import { readFile } from 'node:fs/promises';
import { expect, type Page } from '@playwright/test';
import { fetchByLink, getContent, peerEntry, peerIdOf, shareLinkOf, waitReachable } from './app.ts';
import type { TestFile } from './files.ts';
import { sharesA32ByteStretch, storedPieceBytes, storedPieces } from './idb.ts';

/**
 * A sealed item as its owner keeps it: addressed by its ciphertext, no 32-byte stretch of the
 * plaintext anywhere in the owner's IndexedDB, and the owner opens it to the plaintext.
 */
export async function expectSealedAtOwner(owner: Page, hash: string, file: TestFile) {
  expect(hash).not.toBe(file.hash);
  const plain = await readFile(file.path);
  const pieces = await storedPieces(owner);
  expect(pieces.reduce((n, p) => n + p.length, 0)).toBeGreaterThan(plain.length);
  expect(sharesA32ByteStretch(plain, pieces)).toBe(false);
  const own = await getContent(owner, hash);
  expect(own.status).toBe(200);
  expect(own.sha).toBe(file.hash);
}

/** A recipient fetches it by the owner's share link and opens it; it too stores no plaintext. */
export async function expectRecipientOpens(
  owner: Page,
  recipient: Page,
  hash: string,
  file: TestFile,
) {
  await waitReachable(owner);
  await fetchByLink(recipient, await shareLinkOf(owner, hash));
  const opened = await getContent(recipient, hash);
  expect(opened.status, opened.text).toBe(200);
  expect(opened.sha).toBe(file.hash);
  expect(sharesA32ByteStretch(await readFile(file.path), await storedPieces(recipient))).toBe(
    false,
  );
}

/**
 * Someone outside the audience asks every holder, over direct connections so that each hears
 * the request (a dial timing out on a loaded machine would leave one unasked): every holder
 * says it has nothing (404; 502 when one also failed another way) and zero bytes arrive.
 */
export async function expectRefused(outsider: Page, holders: Page[], hash: string) {
  for (const holder of holders) {
    await expect(peerEntry(outsider, await peerIdOf(holder))).toHaveAttribute(
      'data-direct',
      'true',
      { timeout: 60_000 },
    );
  }
  const refused = await getContent(outsider, hash);
  expect([404, 502], `got ${refused.status}: ${refused.text}`).toContain(refused.status);
  expect(await storedPieceBytes(outsider)).toBe(0);
}

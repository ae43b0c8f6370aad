import 'fake-indexeddb/auto';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import {
  loadDeviceIdentity,
  loadOrCreateDeviceKey,
  stagedIdentity,
  stageIdentity,
  storedAgentKey,
} from '../identity/index.ts';
import {
  agentKeyFromEd25519,
  loadOrCreateOwnClusterKey,
  loadOwnClusterKey,
} from '../reach/index.ts';
import { CHECKED_LIBRARY_KEY, OWN_LIBRARY_KEY, SHARED_LIBRARY_KEY } from '../sync/index.ts';
import { fromBase64Url, toBase64Url } from '../wire/index.ts';
import { collectBackup } from './collect.ts';
import {
  BackupFormatError,
  BackupTooLargeError,
  WeakPassphraseError,
  WrongPassphraseError,
} from './errors.ts';
import { DEFAULT_KDF, MAX_FILE_BYTES, openBackup, parseBackup, sealBackup } from './format.ts';
import type { BackupItem, BackupPayload } from './payload.ts';
import { applyStagedRestore, PROFILE_ONLY_KEYS, pendingRestore, stageRestore } from './stage.ts';

const FAST = { kdf: { N: 2 ** 14, r: 8, p: 1 } };
const PASS = 'correct horse battery';
const HASH = `sha256-${'ab'.repeat(32)}`;

/** A Storage in memory, as a page's localStorage. */
function memoryStorage(entries: Record<string, string> = {}): Storage {
  const map = new Map(Object.entries(entries));
  return {
    get length() {
      return map.size;
    },
    key: (i) => [...map.keys()][i] ?? null,
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
    clear: () => map.clear(),
  };
}

let dbs = 0;
/** A profile of its own: fresh database names and storage. */
function profile(storage = memoryStorage()) {
  dbs += 1;
  return { identityDb: `identity-${dbs}`, keysDb: `reach-${dbs}`, storage };
}

async function payloadOf(p: ReturnType<typeof profile>): Promise<BackupPayload> {
  await loadOrCreateDeviceKey(p.identityDb);
  return collectBackup({
    ...p,
    contacts: [
      { agent: agentKeyFromEd25519(new Uint8Array(32).fill(7)), name: 'Ana', types: ['contact'] },
    ],
    items: [
      {
        hash: HASH,
        name: 'notes.txt',
        mime: 'text/plain',
        size: 12,
        reach: 'commons',
        meta: 'doc1',
      },
      { hash: `sha256-${'cd'.repeat(32)}`, name: 'diary', mime: 'x', size: 1, reach: 'private' },
    ],
  });
}

/** The file's JSON with `edit` applied to it. */
// biome-ignore lint/suspicious/noExplicitAny: a test edits the file's JSON freely, as a forger would.
function edited(text: string, edit: (file: any) => void): string {
  const file = JSON.parse(text);
  edit(file);
  return JSON.stringify(file);
}

/** `b64` with one byte flipped. */
function flip(b64: string, at = 0): string {
  const bytes = fromBase64Url(b64) as Uint8Array;
  bytes[at] = (bytes[at] as number) ^ 1;
  return toBase64Url(bytes);
}

describe('a backup file', () => {
  it('round-trips with the default scrypt parameters: the same key bytes and PeerId', async () => {
    const from = profile(memoryStorage({ 'elohim-display-name': 'Bo', 'elohim-library-doc': 'x' }));
    await loadOrCreateOwnClusterKey({ dbName: from.keysDb });
    const payload = await payloadOf(from);
    const text = await sealBackup(payload, PASS);
    expect(JSON.parse(text).kdf).toMatchObject(DEFAULT_KDF);
    expect(text).not.toContain('notes.txt');
    const opened = await openBackup(text, PASS);
    expect(Buffer.compare(opened.identity, payload.identity)).toBe(0);
    expect(opened.items.map((i) => i.reach)).toEqual(['commons']);
    expect(opened.settings).toEqual({ 'elohim-display-name': 'Bo' });

    // Restored into another profile: the same PeerId, agent, family key and settings.
    const to = profile();
    const before = await loadOrCreateDeviceKey(to.identityDb);
    await stageRestore(opened, to.identityDb);
    expect(await applyStagedRestore(to)).toBe(payload.agent);
    const after = await loadOrCreateDeviceKey(to.identityDb);
    const original = privateKeyFromProtobuf(payload.identity);
    expect(peerIdFromPrivateKey(after).equals(peerIdFromPrivateKey(original))).toBe(true);
    expect(peerIdFromPrivateKey(after).equals(peerIdFromPrivateKey(before))).toBe(false);
    expect((await loadOwnClusterKey({ dbName: to.keysDb }))?.id).toBe(payload.cluster?.id);
    expect(to.storage.getItem('elohim-display-name')).toBe('Bo');
    expect(pendingRestore(to.storage).items.map((i) => i.name)).toEqual(['notes.txt']);
    expect(pendingRestore(to.storage).contacts.map((c) => c.name)).toEqual(['Ana']);
    // Applied once: a second start finds nothing staged.
    expect(await applyStagedRestore(to)).toBeUndefined();
  }, 30_000);

  it("pairing keeps this profile's device key and takes the person's key as its agent key; a later restore replaces both", async () => {
    const from = profile();
    await loadOrCreateDeviceKey(from.identityDb);
    const payload = await collectBackup({
      ...from,
      contacts: [],
      items: [{ hash: HASH, name: 'diary', mime: 'x', size: 1, reach: 'private' }],
      withPrivate: true,
    });
    const to = profile(memoryStorage({ 'elohim-library-own-doc': 'old' }));
    const device = await loadOrCreateDeviceKey(to.identityDb);
    await stageRestore(payload, to.identityDb, { pair: true });
    expect(await applyStagedRestore(to)).toBe(payload.agent);
    // The device key (this profile's PeerId) stays; the agent key is the person's.
    expect((await loadOrCreateDeviceKey(to.identityDb)).equals(device)).toBe(true);
    const agentKey = await storedAgentKey(to.identityDb);
    expect(Buffer.compare(agentKey as Uint8Array, payload.identity)).toBe(0);
    expect((await loadDeviceIdentity(to.identityDb))?.me).toBe(payload.agent);
    // Its own items come too, private ones included; the old person's library ids go.
    expect(pendingRestore(to.storage).items.map((i) => i.reach)).toEqual(['private']);
    expect(to.storage.getItem('elohim-library-own-doc')).toBeNull();
    // A backup made on this device is the person's key, not the device's.
    expect(
      Buffer.compare(
        (await collectBackup({ ...to, contacts: [], items: [] })).identity,
        payload.identity,
      ),
    ).toBe(0);
    // A restore afterwards makes the profile that key itself: the paired agent key goes.
    await stageRestore(payload, to.identityDb);
    await applyStagedRestore(to);
    expect(await storedAgentKey(to.identityDb)).toBeUndefined();
    expect(
      Buffer.compare(
        privateKeyToProtobuf(await loadOrCreateDeviceKey(to.identityDb)),
        payload.identity,
      ),
    ).toBe(0);
  });

  it('a start that stops half-way through a restore keeps the old identity, and the next applies it', async () => {
    const opened = await openBackup(await sealBackup(await payloadOf(profile()), PASS, FAST), PASS);
    const to = profile();
    const before = await loadOrCreateDeviceKey(to.identityDb);
    await stageRestore(opened, to.identityDb);
    const broken = {
      ...to.storage,
      setItem: () => {
        throw new Error('tab closed');
      },
    } as Storage;
    await expect(applyStagedRestore({ ...to, storage: broken })).rejects.toThrow('tab closed');
    expect((await loadOrCreateDeviceKey(to.identityDb)).equals(before)).toBe(true);
    expect(await applyStagedRestore(to)).toBe(opened.agent);
    expect(
      Buffer.compare(
        privateKeyToProtobuf(await loadOrCreateDeviceKey(to.identityDb)),
        opened.identity,
      ),
    ).toBe(0);
  });

  it('keeps the library ids when the same person is restored, and drops a malformed stage without touching the key', async () => {
    const p = profile(memoryStorage({ 'elohim-library-doc': 'automerge:1' }));
    const payload = await payloadOf(p);
    await stageRestore(payload, p.identityDb);
    expect(await applyStagedRestore(p)).toBe(payload.agent);
    expect(p.storage.getItem('elohim-library-doc')).toBe('automerge:1');

    const key = await loadOrCreateDeviceKey(p.identityDb);
    await stageIdentity({ identity: 'not bytes' }, p.identityDb);
    expect(await applyStagedRestore(p)).toBeUndefined();
    expect((await loadOrCreateDeviceKey(p.identityDb)).equals(key)).toBe(true);
    expect(await stagedIdentity(p.identityDb)).toBeUndefined();
  });

  it('refuses a wrong passphrase with a typed error, and nothing is staged', async () => {
    const p = profile();
    const text = await sealBackup(await payloadOf(p), PASS, FAST);
    await expect(openBackup(text, 'wrong horse battery')).rejects.toBeInstanceOf(
      WrongPassphraseError,
    );
    expect(await applyStagedRestore(p)).toBeUndefined();
  });

  it('is refused when any byte of the ciphertext, nonce, salt or header changed', async () => {
    const text = await sealBackup(await payloadOf(profile()), PASS, FAST);
    const ct = JSON.parse(text).ciphertext as string;
    const tampered = [
      edited(text, (f) => (f.ciphertext = flip(ct))),
      edited(
        text,
        (f) => (f.ciphertext = flip(ct, (fromBase64Url(ct) as Uint8Array).byteLength - 1)),
      ),
      edited(text, (f) => (f.cipher.nonce = flip(f.cipher.nonce))),
      edited(text, (f) => (f.kdf.salt = flip(f.kdf.salt))),
      edited(text, (f) => (f.created_at = '2001-01-01T00:00:00.000Z')),
      edited(text, (f) => (f.kdf.N = 2 ** 15)),
    ];
    for (const file of tampered) {
      await expect(openBackup(file, PASS)).rejects.toBeInstanceOf(WrongPassphraseError);
    }
  });

  it('refuses an oversized or malformed file before any key is derived', async () => {
    const text = await sealBackup(await payloadOf(profile()), PASS, FAST);
    const steps: number[] = [];
    const watch = { onProgress: (f: number) => steps.push(f) };
    const bad: [string, RegExp][] = [
      [' '.repeat(MAX_FILE_BYTES + 1), /at most/],
      ['{"format":"elohim-backup"', /not JSON/],
      ['[]', /not an Elohim backup/],
      [edited(text, (f) => (f.version = 2)), /version 2/],
      [edited(text, (f) => (f.extra = 1)), /unexpected fields/],
      [edited(text, (f) => (f.kdf.salt = 'AAAA')), /salt/],
      [edited(text, (f) => (f.cipher.nonce = '!')), /nonce/],
      [edited(text, (f) => (f.cipher.name = 'AES-128-CBC')), /cipher/],
      [edited(text, (f) => (f.ciphertext = 1)), /contents/],
    ];
    for (const [file, message] of bad) {
      await expect(openBackup(file, PASS, watch)).rejects.toThrow(message);
    }
    expect(() => parseBackup(' '.repeat(MAX_FILE_BYTES + 1))).toThrow(BackupTooLargeError);
    expect(steps).toEqual([]);
  });

  it('refuses scrypt parameters out of bounds before deriving (a forged file cannot ask for gigabytes)', async () => {
    const text = await sealBackup(await payloadOf(profile()), PASS, FAST);
    const steps: number[] = [];
    for (const kdf of [
      { N: 2 ** 24 },
      { N: 2 ** 18 },
      { N: 2 ** 13 },
      { N: 3 * 2 ** 14 },
      { r: 1024 },
      { p: 64 },
      { N: '16384' },
    ]) {
      const forged = edited(text, (f) => Object.assign(f.kdf, kdf));
      const started = performance.now();
      await expect(
        openBackup(forged, PASS, { onProgress: (s) => steps.push(s) }),
      ).rejects.toBeInstanceOf(BackupFormatError);
      expect(performance.now() - started).toBeLessThan(200);
    }
    expect(steps).toEqual([]);
  });

  it('checks the payload it opens: an identity that does not match its agent is refused', async () => {
    const p = profile();
    const payload = await payloadOf(p);
    const other = privateKeyToProtobuf(await generateKeyPair('Ed25519'));
    const text = await sealBackup({ ...payload, identity: other }, PASS, FAST);
    await expect(openBackup(text, PASS)).rejects.toThrow(/does not match the agent/);
    const badItem = await sealBackup(
      { ...payload, items: [{ ...(payload.items[0] as BackupItem), hash: 'sha256-zz' }] },
      PASS,
      FAST,
    );
    await expect(openBackup(badItem, PASS)).rejects.toThrow(/item hash/);
  });

  it('needs a passphrase of at least 10 characters', async () => {
    await expect(sealBackup(await payloadOf(profile()), 'short pass', FAST)).resolves.toBeTypeOf(
      'string',
    );
    await expect(sealBackup(await payloadOf(profile()), 'too short', FAST)).rejects.toBeInstanceOf(
      WeakPassphraseError,
    );
  });

  it('keeps the library ids of src/sync out of the settings it carries', () => {
    expect(PROFILE_ONLY_KEYS).toEqual(
      expect.arrayContaining([SHARED_LIBRARY_KEY, OWN_LIBRARY_KEY, CHECKED_LIBRARY_KEY]),
    );
  });
});

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

/** File name, inside the data dir, of the doorway's libp2p private key (protobuf, as libp2p encodes keys). */
export const KEY_FILE = 'peer-key.pb';

export class IdentityError extends Error {
  override name = 'IdentityError';
}

/**
 * The doorway's Ed25519 key, so its PeerId survives restarts: read from `<dataDir>/peer-key.pb`,
 * or generated and written there (mode 0600) on first start. A file that exists but does not
 * hold a key is an error, never silently replaced (that would change the doorway's PeerId).
 */
export async function loadOrCreateKey(
  dataDir: string,
): Promise<{ key: PrivateKey; created: boolean }> {
  const dir = resolve(dataDir);
  const file = join(dir, KEY_FILE);
  const existing = await readKey(file);
  if (existing != null) return { key: existing, created: false };

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = await generateKeyPair('Ed25519');
  try {
    // 'wx': never overwrite a key another doorway wrote meanwhile.
    await writeFile(file, privateKeyToProtobuf(key), { flag: 'wx', mode: 0o600 });
    return { key, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const raced = await readKey(file);
    if (raced == null) throw new IdentityError(`${file} vanished while starting`);
    return { key: raced, created: false };
  }
}

async function readKey(file: string): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (error) {
    throw new IdentityError(
      `${file} does not hold a libp2p private key (${(error as Error).message}); ` +
        'move it away to let the doorway make a new identity (a new PeerId)',
    );
  }
}

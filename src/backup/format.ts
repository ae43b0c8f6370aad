/**
 * The backup file (docs/design.md §2, "Backup"): JSON, at most {@link MAX_FILE_BYTES}.
 *
 *   { "format": "elohim-backup", "version": 1, "created_at": "<RFC 3339>",
 *     "kdf": { "name": "scrypt", "N": 131072, "r": 8, "p": 1, "salt": "<16 bytes>" },
 *     "cipher": { "name": "AES-256-GCM", "nonce": "<12 bytes>" },
 *     "ciphertext": "<the payload's JSON, encrypted, GCM tag included>" }
 *
 * Bytes are base64url. The key is scrypt(passphrase, salt) → 32 bytes; the payload is
 * encrypted with AES-256-GCM under it, the header (everything but `ciphertext`, in a fixed
 * order) bound as additional data, so a changed header fails exactly as a wrong passphrase
 * does. Opening checks the size, then every header field, and refuses scrypt parameters
 * outside {@link KDF_BOUNDS} before deriving: a forged file cannot make the page allocate
 * more than 128 MiB or spin for minutes.
 */
import { fromBase64Url, toBase64Url } from '../wire/index.ts';
import {
  BackupFormatError,
  BackupTooLargeError,
  WeakPassphraseError,
  WrongPassphraseError,
} from './errors.ts';
import { type BackupPayload, payloadFromJson, payloadToJson } from './payload.ts';

export const FORMAT = 'elohim-backup';
export const VERSION = 1;
/** The largest file opened: far above a real backup (keys, settings, a list of items). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
export const MIN_PASSPHRASE = 10;

export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

/** What a backup is made with: 128 MiB of memory, about a second or two in a browser. */
export const DEFAULT_KDF: KdfParams = { N: 2 ** 17, r: 8, p: 1 };
/**
 * What a file may ask for: N a power of two from 2^14 to 2^17, r = 8, p = 1. The memory
 * scrypt needs is 128 × N × r bytes, so at most 128 MiB.
 */
export const KDF_BOUNDS = { minLogN: 14, maxLogN: 17, r: 8, p: 1 } as const;

export interface BackupHeader {
  format: typeof FORMAT;
  version: typeof VERSION;
  created_at: string;
  kdf: { name: 'scrypt'; salt: string } & KdfParams;
  cipher: { name: 'AES-256-GCM'; nonce: string };
}

export interface DeriveOptions {
  signal?: AbortSignal;
  /** 0 to 1 while the key is derived (the slow part). */
  onProgress?: (fraction: number) => void;
}

/** The additional data: the header's fields in a fixed order, whatever the JSON's order. */
function headerBytes(h: BackupHeader): Uint8Array<ArrayBuffer> {
  const { kdf, cipher } = h;
  return new TextEncoder().encode(
    JSON.stringify([
      h.format,
      h.version,
      h.created_at,
      kdf.name,
      kdf.N,
      kdf.r,
      kdf.p,
      kdf.salt,
      cipher.name,
      cipher.nonce,
    ]),
  );
}

async function deriveKey(
  passphrase: string,
  salt: Uint8Array,
  params: KdfParams,
  options: DeriveOptions,
): Promise<CryptoKey> {
  // Loaded when a backup is made or opened, not with the page (every start reads this module).
  const { scryptAsync } = await import('@noble/hashes/scrypt.js');
  const raw = await scryptAsync(passphrase.normalize('NFC'), salt, {
    ...params,
    dkLen: 32,
    onProgress: (fraction) => {
      // Throwing here is how noble's scrypt is stopped (its buffers are wiped first).
      options.signal?.throwIfAborted();
      options.onProgress?.(fraction);
    },
  });
  try {
    return await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
}

/** The payload, encrypted under `passphrase`, as the file's text. */
export async function sealBackup(
  payload: BackupPayload,
  passphrase: string,
  options: DeriveOptions & { kdf?: KdfParams; now?: Date } = {},
): Promise<string> {
  if ([...passphrase].length < MIN_PASSPHRASE) throw new WeakPassphraseError(MIN_PASSPHRASE);
  const kdf = options.kdf ?? DEFAULT_KDF;
  checkKdf(kdf);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const header: BackupHeader = {
    format: FORMAT,
    version: VERSION,
    created_at: (options.now ?? new Date()).toISOString(),
    kdf: { name: 'scrypt', ...kdf, salt: toBase64Url(salt) },
    cipher: { name: 'AES-256-GCM', nonce: toBase64Url(nonce) },
  };
  const key = await deriveKey(passphrase, salt, kdf, options);
  const plain = new TextEncoder().encode(payloadToJson(payload));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce, additionalData: headerBytes(header) },
    key,
    plain,
  );
  return JSON.stringify({ ...header, ciphertext: toBase64Url(new Uint8Array(sealed)) }, null, 1);
}

function checkKdf({ N, r, p }: KdfParams): void {
  const logN = Math.log2(N);
  if (
    !Number.isInteger(logN) ||
    logN < KDF_BOUNDS.minLogN ||
    logN > KDF_BOUNDS.maxLogN ||
    r !== KDF_BOUNDS.r ||
    p !== KDF_BOUNDS.p
  ) {
    throw new BackupFormatError(
      `it asks for a key derivation (N=${N}, r=${r}, p=${p}) outside what this app makes (N from 2^${KDF_BOUNDS.minLogN} to 2^${KDF_BOUNDS.maxLogN}, r=${KDF_BOUNDS.r}, p=${KDF_BOUNDS.p})`,
    );
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function exactKeys(v: Json, keys: string[], what: string): void {
  const have = Object.keys(v).sort();
  if (have.join() !== [...keys].sort().join())
    throw new BackupFormatError(`${what} has unexpected fields`);
}

export interface ParsedBackup {
  header: BackupHeader;
  salt: Uint8Array;
  nonce: Uint8Array;
  ciphertext: Uint8Array<ArrayBuffer>;
}

/**
 * The file's header and ciphertext, checked without any heavy work: size first, then JSON,
 * then every field (the KDF parameters within {@link KDF_BOUNDS}). Call it as soon as a file is
 * chosen, so a wrong file is said before a passphrase is asked for.
 */
export function parseBackup(text: string): ParsedBackup {
  // UTF-16 length ≤ UTF-8 length, and the file is ASCII when it is ours.
  if (text.length > MAX_FILE_BYTES) throw new BackupTooLargeError(text.length, MAX_FILE_BYTES);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BackupFormatError('it is not JSON');
  }
  if (!isObject(raw) || raw.format !== FORMAT)
    throw new BackupFormatError('it is not an Elohim backup');
  if (raw.version !== VERSION) {
    throw new BackupFormatError(
      `it is version ${String(raw.version)}; this app reads version ${VERSION}`,
    );
  }
  exactKeys(raw, ['format', 'version', 'created_at', 'kdf', 'cipher', 'ciphertext'], 'it');
  const { kdf, cipher } = raw;
  if (
    typeof raw.created_at !== 'string' ||
    raw.created_at.length > 40 ||
    Number.isNaN(Date.parse(raw.created_at))
  ) {
    throw new BackupFormatError('its date is malformed');
  }
  if (!isObject(kdf) || kdf.name !== 'scrypt')
    throw new BackupFormatError('its key derivation is unknown');
  exactKeys(kdf, ['name', 'N', 'r', 'p', 'salt'], 'its key derivation');
  if (typeof kdf.N !== 'number' || typeof kdf.r !== 'number' || typeof kdf.p !== 'number') {
    throw new BackupFormatError('its key derivation parameters are not numbers');
  }
  checkKdf({ N: kdf.N, r: kdf.r, p: kdf.p });
  const salt = typeof kdf.salt === 'string' ? fromBase64Url(kdf.salt) : undefined;
  if (salt?.byteLength !== 16) throw new BackupFormatError('its salt is malformed');
  if (!isObject(cipher) || cipher.name !== 'AES-256-GCM')
    throw new BackupFormatError('its cipher is unknown');
  exactKeys(cipher, ['name', 'nonce'], 'its cipher');
  const nonce = typeof cipher.nonce === 'string' ? fromBase64Url(cipher.nonce) : undefined;
  if (nonce?.byteLength !== 12) throw new BackupFormatError('its nonce is malformed');
  const ciphertext = typeof raw.ciphertext === 'string' ? fromBase64Url(raw.ciphertext) : undefined;
  if (!ciphertext || ciphertext.byteLength < 16)
    throw new BackupFormatError('its contents are malformed');
  return { header: raw as unknown as BackupHeader, salt, nonce, ciphertext };
}

/**
 * The payload of a backup file: {@link parseBackup}, then the key from `passphrase`, then
 * AES-GCM (which fails on a wrong passphrase or any changed byte: {@link WrongPassphraseError}),
 * then the payload checked field by field. Writes nothing.
 */
export async function openBackup(
  text: string,
  passphrase: string,
  options: DeriveOptions = {},
): Promise<BackupPayload> {
  const { header, salt, nonce, ciphertext } = parseBackup(text);
  const key = await deriveKey(passphrase, salt, header.kdf, options);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: nonce as Uint8Array<ArrayBuffer>,
        additionalData: headerBytes(header),
      },
      key,
      ciphertext,
    );
  } catch {
    throw new WrongPassphraseError();
  }
  return payloadFromJson(new TextDecoder().decode(plain));
}

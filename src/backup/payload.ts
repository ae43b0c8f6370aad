/**
 * What a backup holds once opened (docs/design.md §2, "Backup"), and the check that a payload
 * read from a file is exactly that shape before anything of it is written. Every string and
 * list is bounded, so a forged payload cannot fill storage.
 */
import { REACHES, type Reach } from '../content/index.ts';
import { identityOf } from '../identity/index.ts';
import type { AgentKey } from '../reach/index.ts';
import { fromBase64Url, toBase64Url } from '../wire/index.ts';
import { BackupFormatError } from './errors.ts';

/** A trust link to someone, as the People panel showed it. */
export interface BackupContact {
  agent: AgentKey;
  name: string;
  /** The link types this agent made to them (`contact`, `family`). */
  types: string[];
}

/** An item of the library: enough to fetch it again and list it under its name. */
export interface BackupItem {
  /** `sha256-<hex>` of the stored bytes (for a sealed item, of its ciphertext). */
  hash: string;
  name: string;
  mime: string;
  size: number;
  reach: Reach;
  /** The item's shared description document, so the restored item edits the same one. */
  meta?: string;
}

export interface BackupPayload {
  /** The identity key as the profile keeps it: libp2p's PrivateKey protobuf (Ed25519). */
  identity: Uint8Array;
  /** The agent key of `identity` (checked against it on restore). */
  agent: AgentKey;
  /** This person's own family cluster key (raw AES-256), if they ever had family. */
  cluster?: { id: string; key: Uint8Array };
  contacts: BackupContact[];
  /** The app's settings, by their `localStorage` key. */
  settings: Record<string, string>;
  items: BackupItem[];
}

export const LIMITS = {
  contacts: 10_000,
  items: 50_000,
  settings: 64,
  text: 1024,
  setting: 16 * 1024,
} as const;

/** The payload as JSON (byte fields base64url). */
export function payloadToJson(payload: BackupPayload): string {
  return JSON.stringify({
    ...payload,
    identity: toBase64Url(payload.identity),
    ...(payload.cluster
      ? { cluster: { id: payload.cluster.id, key: toBase64Url(payload.cluster.key) } }
      : {}),
  });
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function text(v: unknown, what: string, max: number = LIMITS.text): string {
  if (typeof v !== 'string' || v.length > max)
    throw new BackupFormatError(`${what} is not a short text`);
  return v;
}

function list(v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) {
    throw new BackupFormatError(`${what} is not a list of at most ${max}`);
  }
  return v;
}

function bytes(v: unknown, what: string, length?: number): Uint8Array {
  const b = typeof v === 'string' ? fromBase64Url(v) : undefined;
  if (!b || (length !== undefined && b.byteLength !== length)) {
    throw new BackupFormatError(`${what} is malformed`);
  }
  return b;
}

function agentKey(v: unknown, what: string): AgentKey {
  const agent = text(v, what, 64);
  if (!/^uhCAk[A-Za-z0-9_-]{48}$/.test(agent))
    throw new BackupFormatError(`${what} is not an agent key`);
  return agent;
}

function item(v: unknown): BackupItem {
  if (!isObject(v)) throw new BackupFormatError('an item is not a record');
  const hash = text(v.hash, 'an item hash', 71);
  if (!/^sha256-[0-9a-f]{64}$/.test(hash)) throw new BackupFormatError('an item hash is malformed');
  if (!Number.isSafeInteger(v.size) || (v.size as number) < 0) {
    throw new BackupFormatError('an item size is not a whole number');
  }
  if (!REACHES.includes(v.reach as Reach)) throw new BackupFormatError('an item reach is unknown');
  return {
    hash,
    name: text(v.name, 'an item name'),
    mime: text(v.mime, 'an item type', 255),
    size: v.size as number,
    reach: v.reach as Reach,
    ...(v.meta === undefined ? {} : { meta: text(v.meta, 'an item description id', 128) }),
  };
}

/** The payload of an opened backup, checked field by field; {@link BackupFormatError} if not. */
export function payloadFromJson(json: string): BackupPayload {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new BackupFormatError('its contents are not JSON');
  }
  if (!isObject(raw)) throw new BackupFormatError('its contents are not a record');
  const identity = bytes(raw.identity, 'the identity key');
  let keyAgent: AgentKey;
  try {
    keyAgent = identityOf(identity).me;
  } catch {
    throw new BackupFormatError('the identity key is not an Ed25519 key');
  }
  const agent = agentKey(raw.agent, 'the agent key');
  if (keyAgent !== agent) {
    throw new BackupFormatError('the identity key does not match the agent it names');
  }
  let cluster: BackupPayload['cluster'];
  if (raw.cluster !== undefined) {
    if (!isObject(raw.cluster)) throw new BackupFormatError('the family key is not a record');
    const id = text(raw.cluster.id, 'the family key id', 64);
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id))
      throw new BackupFormatError('the family key id is malformed');
    cluster = { id, key: bytes(raw.cluster.key, 'the family key', 32) };
  }
  const contacts = list(raw.contacts, 'the contacts', LIMITS.contacts).map((c): BackupContact => {
    if (!isObject(c)) throw new BackupFormatError('a contact is not a record');
    return {
      agent: agentKey(c.agent, 'a contact'),
      name: text(c.name, 'a contact name'),
      types: list(c.types, 'a contact link type', 8).map((t) => text(t, 'a contact link type', 32)),
    };
  });
  if (!isObject(raw.settings) || Object.keys(raw.settings).length > LIMITS.settings) {
    throw new BackupFormatError('the settings are not a short record');
  }
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw.settings)) {
    if (!key.startsWith('elohim-')) throw new BackupFormatError('a setting is not one of this app');
    settings[text(key, 'a setting name', 64)] = text(value, 'a setting', LIMITS.setting);
  }
  const items = list(raw.items, 'the items', LIMITS.items).map(item);
  return { identity, agent, ...(cluster ? { cluster } : {}), contacts, settings, items };
}

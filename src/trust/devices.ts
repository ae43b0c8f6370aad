/**
 * A person's devices in the trust layer (docs/design.md §2): the agent key certifies each
 * further device key with a signed certificate, and removes it. Peers check the signature
 * themselves ({@link verifyDeviceCertificate}), so a certificate is believed without trusting
 * the doorway that carried it. {@link DeviceDirectory} answers "which agent is this device?"
 * for the delivery gates, from a bounded cache.
 */
import { decodeHashFromBase64, encodeHashToBase64 } from '@holochain/client';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import {
  type AgentKey,
  agentKeyOfPeer,
  ed25519FromAgentKey,
  type PeerIdLike,
} from '../reach/index.ts';
import {
  type DeviceWire,
  deviceCertificateText,
  fromBase64Url,
  MAX_DEVICE_NAME,
  toBase64Url,
} from '../wire/index.ts';
import { TrustInputError } from './errors.ts';
import type { CallOptions, DeviceCertificate, TrustDevice } from './types.ts';
import { ms, type ZomeCalls } from './zome.ts';

const encoder = new TextEncoder();

/** What a certificate's two signatures are over (the device name trimmed and checked first). */
export function deviceCertificateTerms(
  agent: AgentKey,
  device: AgentKey,
  name: string,
  addedAt: number,
): { name: string; text: Uint8Array } {
  ed25519FromAgentKey(agent);
  ed25519FromAgentKey(device);
  const clean = name.trim();
  if (clean.length === 0 || clean.length > MAX_DEVICE_NAME) {
    throw new TrustInputError(`A device name has 1 to ${MAX_DEVICE_NAME} characters.`);
  }
  return {
    name: clean,
    text: encoder.encode(deviceCertificateText(agent, device, clean, addedAt)),
  };
}

/**
 * One side's signature of a certificate: the agent's ("it is mine") or the device's ("I
 * agree"), base64url. Pairing has each side sign with its own key.
 */
export async function signDeviceTerms(
  key: PrivateKey,
  terms: { text: Uint8Array },
): Promise<string> {
  return toBase64Url(await key.sign(terms.text));
}

/** Whether `cert` was signed by its agent key and by its device key. */
export async function verifyDeviceCertificate(cert: DeviceCertificate): Promise<boolean> {
  try {
    const { text } = deviceCertificateTerms(cert.agent, cert.device, cert.name, cert.addedAt);
    const checks = [
      [cert.agent, cert.signature],
      [cert.device, cert.deviceSignature],
    ] as const;
    for (const [signer, signed] of checks) {
      const signature = fromBase64Url(signed);
      if (signature?.byteLength !== 64) return false;
      const key = publicKeyFromRaw(ed25519FromAgentKey(signer));
      if (!(await key.verify(text, signature))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Whether `cert` holds now: not removed, and signed by both its keys. */
export async function inForce(cert: TrustDevice): Promise<boolean> {
  return cert.removedAt === undefined && (await verifyDeviceCertificate(cert));
}

export async function addDevice(
  zome: ZomeCalls,
  cert: DeviceCertificate,
  options: CallOptions,
): Promise<TrustDevice> {
  const out = await zome.call(
    'add_device',
    {
      device: decodeHashFromBase64(cert.device),
      name: cert.name,
      added_at: cert.addedAt,
      signature: cert.signature,
      device_signature: cert.deviceSignature,
    },
    options.signal,
  );
  return toDevice(out.device);
}

export async function removeDevice(
  zome: ZomeCalls,
  device: AgentKey,
  options: CallOptions,
): Promise<TrustDevice> {
  ed25519FromAgentKey(device);
  const out = await zome.call('remove_device', decodeHashFromBase64(device), options.signal);
  return toDevice(out.device);
}

export async function agentDevices(
  zome: ZomeCalls,
  agent: AgentKey,
  options: CallOptions,
): Promise<TrustDevice[]> {
  ed25519FromAgentKey(agent);
  const out = await zome.call('get_agent_devices', decodeHashFromBase64(agent), options.signal);
  return out.map(toDevice);
}

export async function deviceAgent(
  zome: ZomeCalls,
  device: AgentKey,
  options: CallOptions,
): Promise<TrustDevice | undefined> {
  ed25519FromAgentKey(device);
  const out = await zome.call('get_device_agent', decodeHashFromBase64(device), options.signal);
  return out === null ? undefined : toDevice(out);
}

function toDevice(d: DeviceWire): TrustDevice {
  return {
    agent: encodeHashToBase64(d.agent),
    device: encodeHashToBase64(d.device),
    name: d.name,
    addedAt: d.added_at,
    signature: d.signature,
    deviceSignature: d.device_signature,
    removedAt: d.removed_at === null ? undefined : ms(d.removed_at),
  };
}

/** A lookup that failed (the trust layer away) is tried again this soon. */
const FAILED_TTL_MS = 5_000;

/** What the directory asks: the certificate naming a device, if any (the trust client's). */
export type DeviceLookup = (device: AgentKey) => Promise<TrustDevice | undefined>;

export interface DeviceDirectoryOptions {
  /** How long an answer is believed (a removal reaches the gates within it). Default 30 s. */
  ttlMs?: number;
  /** Devices remembered at once (a peer cannot grow the cache without bound). Default 1024. */
  maxEntries?: number;
}

/**
 * Which agent a peer speaks for: its own key's agent, or the agent that certified it as a
 * device (both signatures valid, not removed). Answers are cached for `ttlMs`, failures for
 * 5 s (a peer the trust layer cannot be asked about is taken as itself meanwhile: it gets
 * what its own key may), so a stream of requests costs one trust-layer lookup per peer per
 * period.
 */
export class DeviceDirectory {
  readonly #lookup: DeviceLookup;
  readonly #ttlMs: number;
  readonly #max: number;
  /** `until`: when the answer goes stale (sooner for a lookup that failed). */
  readonly #cache = new Map<AgentKey, { until: number; agent: Promise<AgentKey> }>();

  constructor(lookup: DeviceLookup, options: DeviceDirectoryOptions = {}) {
    this.#lookup = lookup;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#max = options.maxEntries ?? 1024;
  }

  /** The agent behind `peer` (undefined for a peer with no Ed25519 key). */
  async agentOf(peer: PeerIdLike): Promise<AgentKey | undefined> {
    const own = agentKeyOfPeer(peer);
    return own === undefined ? undefined : this.agentOfDevice(own);
  }

  agentOfDevice(device: AgentKey): Promise<AgentKey> {
    const now = Date.now();
    const hit = this.#cache.get(device);
    if (hit && now < hit.until) return hit.agent;
    const entry = { until: now + this.#ttlMs, agent: Promise.resolve(device) };
    entry.agent = this.#resolve(device, () => {
      entry.until = Math.min(entry.until, now + FAILED_TTL_MS);
    });
    this.#cache.delete(device);
    if (this.#cache.size >= this.#max) {
      // The oldest entry goes (Map keeps insertion order).
      this.#cache.delete(this.#cache.keys().next().value as AgentKey);
    }
    this.#cache.set(device, entry);
    return entry.agent;
  }

  /** Forgets every answer (a device was added or removed here). */
  clear(): void {
    this.#cache.clear();
  }

  async #resolve(device: AgentKey, failed: () => void): Promise<AgentKey> {
    try {
      const cert = await this.#lookup(device);
      return cert?.device === device && (await inForce(cert)) ? cert.agent : device;
    } catch {
      failed();
      return device;
    }
  }
}

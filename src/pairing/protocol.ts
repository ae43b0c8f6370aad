/**
 * `/elohim/pair/1.0.0`: pairing a new device (docs/design.md §2, "Pairing"). One stream from
 * the new device (J, the joiner) to the device that offers (O), over a libp2p connection whose
 * Noise session both keys authenticate end to end (a relay carries only ciphertext). Frames:
 * 4-byte big-endian length + UTF-8 JSON.
 *
 *   J → O  hello   {token, name}               the token from the link; the name J asks for
 *   O → J  terms   {agent, name, added_at}      what the certificate will say
 *          both show code(token, O, J, agent); each person confirms the two screens match
 *   J → O  agree   {device_signature}          J's key signs the certificate: it agrees
 *   O → J  welcome {certificate, payload}      once O's person confirmed and the trust layer
 *                                              recorded the certificate: the agent key, family
 *                                              key, contacts, settings and item list
 *   either cancel  {reason}
 */

import type { Stream } from '@libp2p/interface';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromBase64Url, readFrame, toBase64Url, writeFrame } from '../wire/index.ts';
import { InvalidPairingLinkError, PairingError, PairingRefusedError } from './errors.ts';

export const PAIR_PROTOCOL = '/elohim/pair/1.0.0';
/** What O reads (hello, agree): small. */
export const MAX_OFFER_FRAME = 16 * 1024;
/** What J reads: the welcome carries a backup payload (4 MiB at most, as a backup file). */
export const MAX_JOIN_FRAME = 4 * 1024 * 1024 + 64 * 1024;
/** The route a pairing link opens. */
export const PAIR_PATH = '/pair';

export type PairMessage =
  | { t: 'hello'; token: string; name: string }
  | { t: 'terms'; agent: string; name: string; added_at: number }
  | { t: 'agree'; device_signature: string }
  | { t: 'welcome'; certificate: WelcomeCertificate; payload: string }
  | { t: 'cancel'; reason: string };

export interface WelcomeCertificate {
  agent: string;
  device: string;
  name: string;
  added_at: number;
  signature: string;
  device_signature: string;
}

const encoder = new TextEncoder();

export async function sendMessage(
  stream: Stream,
  message: PairMessage,
  signal?: AbortSignal,
): Promise<void> {
  const body = encoder.encode(JSON.stringify(message));
  const frame = new Uint8Array(4 + body.byteLength);
  new DataView(frame.buffer).setUint32(0, body.byteLength);
  frame.set(body, 4);
  await writeFrame(stream, frame, signal ? { signal } : {});
}

/**
 * The next message, which must be of type `expected` (or a cancel, thrown as
 * PairingRefusedError with the other side's reason).
 */
export async function readMessage<T extends PairMessage['t']>(
  stream: Stream,
  expected: T,
  options: { maxBytes: number; timeoutMs?: number; signal?: AbortSignal },
): Promise<Extract<PairMessage, { t: T }>> {
  const frame = await readFrame(stream, {
    maxFrameBytes: options.maxBytes,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let message: unknown;
  try {
    message = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame));
  } catch {
    throw new PairingError('The other device sent something that is not a pairing message.');
  }
  const m = message as { t?: unknown; reason?: unknown };
  if (m?.t === 'cancel') {
    throw new PairingRefusedError(
      typeof m.reason === 'string' ? m.reason.slice(0, 300) : 'The other device cancelled.',
    );
  }
  if (m?.t !== expected) {
    throw new PairingError(
      `The other device sent "${String(m?.t).slice(0, 20)}" where "${expected}" was due.`,
    );
  }
  return message as Extract<PairMessage, { t: T }>;
}

/**
 * The short code both screens show: it matches only when the two devices talk to each other
 * (it binds the link's token, both PeerIds and the agent), so a link someone else opened first
 * shows a code the person's own new device does not.
 */
export function pairingCode(token: string, offer: string, joiner: string, agent: string): string {
  const digest = sha256(
    encoder.encode(['elohim-pair-code/v1', token, offer, joiner, agent].join('\n')),
  );
  const n = new DataView(digest.buffer, digest.byteOffset).getUint32(0) % 1_000_000;
  const digits = n.toString().padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

/** What a pairing link carries, in its fragment (never sent to the doorway). */
export interface PairingLink {
  /** The offering device's PeerId. */
  peer: string;
  /** 16 random bytes, base64url: one use. */
  token: string;
  /** Where the offering device can be dialled (its WebRTC addresses through the relay). */
  addrs: string[];
}

const MAX_LINK_ADDRS = 4;

export function pairingLink(origin: string, link: PairingLink): string {
  const body = { p: link.peer, t: link.token, a: link.addrs.slice(0, MAX_LINK_ADDRS) };
  return `${origin}${PAIR_PATH}#${toBase64Url(encoder.encode(JSON.stringify(body)))}`;
}

/** The link's fields, checked; throws InvalidPairingLinkError. */
export function parsePairingLink(url: string): PairingLink {
  const hash = url.includes('#') ? url.slice(url.indexOf('#') + 1) : url;
  if (hash.length === 0 || hash.length > 4096) throw new InvalidPairingLinkError('no pairing data');
  const bytes = fromBase64Url(hash);
  if (!bytes) throw new InvalidPairingLinkError('not base64url');
  let body: { p?: unknown; t?: unknown; a?: unknown };
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new InvalidPairingLinkError('cut short or changed');
  }
  if (typeof body.p !== 'string' || body.p.length > 128)
    throw new InvalidPairingLinkError('no device');
  if (typeof body.t !== 'string' || fromBase64Url(body.t)?.byteLength !== 16) {
    throw new InvalidPairingLinkError('no valid token');
  }
  const addrs = Array.isArray(body.a)
    ? body.a
        .filter((a): a is string => typeof a === 'string' && a.length <= 512)
        .slice(0, MAX_LINK_ADDRS)
    : [];
  return { peer: body.p, token: body.t, addrs };
}

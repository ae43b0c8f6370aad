/**
 * The doorway's connect flow (doorway/holochain/README.md): sign the doorway's challenge with
 * the device key for a session token, then have the doorway grant the agent key on every cell
 * and issue an app token, then the app websocket at `/hc/app/{appPort}?token=<jwt>` on the
 * doorway's own origin.
 */
import type { PrivateKey } from '@libp2p/interface';
import {
  type ChallengeWire,
  type ConnectRequest,
  type DevTokenRequest,
  devTokenText,
} from '../wire/index.ts';
import { DoorwayUnreachableError, TrustAuthError } from './errors.ts';

/** `POST /hc/challenge` as this client reads it: its expiry is the doorway's business. */
type Challenge = Pick<ChallengeWire, 'nonce' | 'doorway' | 'origin'>;

/**
 * Reads a challenge, refusing one that names another origin than the doorway we asked: a
 * doorway passing on another's challenge would have us sign a session for that other one.
 */
function readChallenge(doorway: string, answer: Record<string, unknown>): Challenge {
  const { nonce, doorway: peerId, origin } = answer;
  if (typeof nonce !== 'string' || typeof peerId !== 'string' || typeof origin !== 'string') {
    throw new TrustAuthError(
      'dev-token',
      undefined,
      'its challenge lacks nonce, doorway or origin',
    );
  }
  const expected = new URL(doorway).origin;
  if (origin !== expected) {
    throw new TrustAuthError(
      'dev-token',
      undefined,
      `its challenge names ${origin.slice(0, 100)}, not ${expected}; not signed`,
    );
  }
  return { nonce, doorway: peerId, origin };
}

/** Standard padded base64, as the Rust doorway speaks it (not the `u…` HoloHash text form). */
export function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function postJson(
  doorway: string,
  path: string,
  body: unknown,
  step: 'dev-token' | 'connect',
  signal: AbortSignal,
  bearer?: string,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(new URL(path, doorway), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
      },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new DoorwayUnreachableError(doorway, error);
  }
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    // 5xx other than "not supported here" is the doorway in trouble, not a refusal of us.
    if (response.status >= 500 && response.status !== 501) {
      throw new DoorwayUnreachableError(doorway, new Error(`HTTP ${response.status} on ${path}`));
    }
    throw new TrustAuthError(step, response.status, String(answer.error ?? response.statusText));
  }
  return answer;
}

export interface DoorwaySession {
  /** The app interface, token included. */
  appUrl: URL;
  appToken: Uint8Array;
}

/**
 * Runs the whole flow for `agent` (the 39-byte agent key of `deviceKey`). The signing key
 * granted is the agent key itself: zome calls are then signed by the device key, and their
 * provenance is the agent (= the PeerId's key), as when a conductor's own agent calls — so
 * /hc/connect needs no grant signature.
 */
export async function openDoorwaySession(
  doorway: string,
  deviceKey: PrivateKey,
  agent: Uint8Array,
  agentText: string,
  capSecret: Uint8Array,
  signal: AbortSignal,
): Promise<DoorwaySession> {
  const challenge = readChallenge(
    doorway,
    await postJson(doorway, '/hc/challenge', {}, 'dev-token', signal),
  );
  const signature = await deviceKey.sign(
    new TextEncoder().encode(devTokenText(challenge, agentText)),
  );
  const session = await postJson(
    doorway,
    '/hc/dev/token',
    {
      agentPubKey: agentText,
      nonce: challenge.nonce,
      signature: toBase64(signature),
    } satisfies DevTokenRequest,
    'dev-token',
    signal,
  );
  const granted = await postJson(
    doorway,
    '/hc/connect',
    { signingKey: toBase64(agent), capSecret: toBase64(capSecret) } satisfies ConnectRequest,
    'connect',
    signal,
    String(session.token),
  );
  // The app interface is on the doorway's own origin: behind a reverse proxy the port the
  // doorway sees (appPort) differs from the one the browser uses, and only the path names it.
  const appUrl = new URL(`/hc/app/${Number(granted.appPort)}`, doorway);
  appUrl.protocol = appUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  appUrl.searchParams.set('token', String(granted.token));
  return { appUrl, appToken: fromBase64(String(granted.appToken)) };
}

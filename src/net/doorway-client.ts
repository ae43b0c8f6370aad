/**
 * The doorway's HTTP side, as the browser uses it: where the relay is, and who else is online.
 * Our doorway answers `/api/v1/p2p/info` and `/signal/{pubkey}`; a Rust doorway has neither
 * (404, and a WebSocket endpoint answering a plain GET with 400), so both fall back to
 * `/api/v1/federation/p2p-peers`, which both serve (`p2p-peers.ts`).
 */
import { ElohimError } from '../wire/index.ts';
import { BodyTooLargeError, readCappedJson } from './capped-json.ts';
import { type P2pPeer, readP2pPeers, relayOf } from './p2p-peers.ts';

export interface DoorwayInfo {
  peer_id: string;
  multiaddrs: string[];
  protocols: string[];
  /** STUN/TURN servers for WebRTC (`RTCIceServer`s); older doorways send none. */
  ice_servers?: RTCIceServer[];
}

/** One entry of `/api/v1/federation/doorways`: only what failover needs of it. */
export interface FederatedDoorway {
  /** null while the doorway knows it only by its libp2p addresses. */
  url: string | null;
  /** Whether the listing doorway has a connection to it now. */
  reachable?: boolean;
}

export interface SignalPeer {
  peer_id: string;
  multiaddrs: string[];
}

export class DoorwayUnreachableError extends ElohimError.named('DoorwayUnreachableError') {}

/** Bodies past this are not read: a doorway's answers here are a few KiB. */
export const MAX_DOORWAY_JSON_BYTES = 256 * 1024;

/**
 * The JSON body of `response`, read up to {@link MAX_DOORWAY_JSON_BYTES} (`readCappedJson`):
 * a doorway, or one another doorway told us of, cannot make the page buffer more.
 */
async function cappedJson(response: Response, origin: string): Promise<unknown> {
  try {
    return await readCappedJson(response, MAX_DOORWAY_JSON_BYTES);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    throw new DoorwayUnreachableError(
      `The doorway at ${origin} sent more than ${MAX_DOORWAY_JSON_BYTES} bytes: it is not an Elohim doorway, or a broken one.`,
      { cause: error },
    );
  }
}

/** The doorway's answer to a GET (any status); a network failure is `DoorwayUnreachableError`. */
async function get(url: URL, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { signal, cache: 'no-store' });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new DoorwayUnreachableError(
      `The doorway at ${url.origin} does not answer: check that it is running, or change the doorway in the settings.`,
      { cause: error },
    );
  }
}

/** The JSON body of a 2xx answer; any other status is `DoorwayUnreachableError`. */
async function jsonOf<T>(response: Response, url: URL): Promise<T> {
  if (!response.ok) {
    await response.body?.cancel();
    throw new DoorwayUnreachableError(
      `The doorway at ${url.origin} answered ${response.status} for ${url.pathname}: it may be an older version without peer-to-peer support.`,
    );
  }
  return (await cappedJson(response, url.origin)) as T;
}

async function getJson<T>(url: URL, signal?: AbortSignal): Promise<T> {
  return jsonOf<T>(await get(url, signal), url);
}

/**
 * The answer to `url`, or `undefined` when the doorway has no such route as ours has it
 * (`absent` statuses: a Rust doorway's): the caller then asks `/api/v1/federation/p2p-peers`.
 */
async function ourRoute<T>(
  url: URL,
  absent: readonly number[],
  signal?: AbortSignal,
): Promise<T | undefined> {
  const response = await get(url, signal);
  if (!absent.includes(response.status)) return jsonOf<T>(response, url);
  await response.body?.cancel();
  return undefined;
}

/** The peers a doorway lists at `/api/v1/federation/p2p-peers` (either doorway's shape). */
export async function fetchP2pPeers(origin: string, signal?: AbortSignal): Promise<P2pPeer[]> {
  return readP2pPeers(await getJson(new URL('/api/v1/federation/p2p-peers', origin), signal));
}

/**
 * Where the doorway's libp2p node is: `/api/v1/p2p/info`, or on a doorway without it (a Rust
 * one: 404) the relaying node its p2p-peers list names (`relayOf`; no ICE servers then).
 */
export async function fetchDoorwayInfo(origin: string, signal?: AbortSignal): Promise<DoorwayInfo> {
  const info = await ourRoute<DoorwayInfo>(new URL('/api/v1/p2p/info', origin), [404], signal);
  if (info) return info;
  const node = relayOf(await fetchP2pPeers(origin, signal));
  if (!node) {
    throw new DoorwayUnreachableError(
      `The doorway at ${origin} has no /api/v1/p2p/info and lists no peer with an address: it offers no peer-to-peer bootstrap.`,
    );
  }
  return { peer_id: node.peer_id, multiaddrs: node.multiaddrs, protocols: [] };
}

/**
 * Dialable addresses of the other peers connected to the doorway (not our own): `/signal`, or
 * on a doorway without it (a Rust one) its p2p-peers list.
 */
export async function fetchSignalPeers(
  origin: string,
  self: string,
  signal?: AbortSignal,
): Promise<SignalPeer[]> {
  // A Rust doorway's /signal is a WebSocket endpoint: a plain GET gets 400 (404 without it).
  const body = await ourRoute<{ peers: SignalPeer[] }>(
    new URL(`/signal/${encodeURIComponent(self)}`, origin),
    [400, 404],
    signal,
  );
  if (body) return body.peers;
  return (await fetchP2pPeers(origin, signal))
    .filter((p) => p.peer_id !== self && p.multiaddrs.length > 0)
    .map(({ peer_id, multiaddrs }) => ({ peer_id, multiaddrs }));
}

/**
 * The doorways this one knows of (`/api/v1/federation/doorways`), reachable ones only, as HTTP
 * origins; none when the doorway has no such route (404: an older or unfederated doorway).
 */
export async function fetchFederatedDoorways(
  origin: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const response = await fetch(new URL('/api/v1/federation/doorways', origin), {
    signal,
    cache: 'no-store',
  });
  if (!response.ok) {
    // No such route (404: an older or unfederated doorway): nothing to learn, not a failure.
    await response.body?.cancel();
    return [];
  }
  const body = (await cappedJson(response, origin)) as { doorways?: unknown } | null;
  if (body === null || typeof body !== 'object' || !Array.isArray(body.doorways)) return [];
  return body.doorways
    .filter(
      (d): d is FederatedDoorway =>
        typeof d === 'object' && d !== null && typeof (d as FederatedDoorway).url === 'string',
    )
    .filter((d) => d.reachable !== false)
    .map((d) => d.url as string);
}

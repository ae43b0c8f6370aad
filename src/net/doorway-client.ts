/** The doorway's HTTP side, as the browser uses it: where the relay is, and who else is online. */
import { ElohimError } from '../wire/index.ts';

export interface DoorwayInfo {
  peer_id: string;
  multiaddrs: string[];
  protocols: string[];
  /** STUN/TURN servers for WebRTC (`RTCIceServer`s); older doorways send none. */
  ice_servers?: RTCIceServer[];
}

/** One entry of `/api/v1/federation/doorways`: only what failover needs of it. */
export interface FederatedDoorway {
  url: string;
  healthy?: boolean;
}

export interface SignalPeer {
  peer_id: string;
  multiaddrs: string[];
}

export class DoorwayUnreachableError extends ElohimError.named('DoorwayUnreachableError') {}

/** Bodies past this are not read: a doorway's answers here are a few KiB. */
const MAX_BODY_BYTES = 256 * 1024;

async function getJson<T>(url: URL, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { signal, cache: 'no-store' });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new DoorwayUnreachableError(
      `The doorway at ${url.origin} does not answer: check that it is running, or change the doorway in the settings.`,
      { cause: error },
    );
  }
  if (!response.ok) {
    throw new DoorwayUnreachableError(
      `The doorway at ${url.origin} answered ${response.status} for ${url.pathname}: it may be an older version without peer-to-peer support.`,
    );
  }
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw new DoorwayUnreachableError(
      `The doorway at ${url.origin} sent ${length} bytes for ${url.pathname}, more than ${MAX_BODY_BYTES}: it is not an Elohim doorway.`,
    );
  }
  return (await response.json()) as T;
}

export function fetchDoorwayInfo(origin: string, signal?: AbortSignal): Promise<DoorwayInfo> {
  return getJson(new URL('/api/v1/p2p/info', origin), signal);
}

/** Dialable addresses of the other peers connected to the doorway (not our own). */
export async function fetchSignalPeers(
  origin: string,
  self: string,
  signal?: AbortSignal,
): Promise<SignalPeer[]> {
  const body = await getJson<{ peers: SignalPeer[] }>(
    new URL(`/signal/${encodeURIComponent(self)}`, origin),
    signal,
  );
  return body.peers;
}

/**
 * The doorways this one knows of (`/api/v1/federation/doorways`), healthy ones only, as HTTP
 * origins; none when the doorway has no such route (404: an older or unfederated doorway).
 */
export async function fetchFederatedDoorways(
  origin: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const url = new URL('/api/v1/federation/doorways', origin);
  const response = await fetch(url, { signal, cache: 'no-store' });
  if (response.status === 404) {
    await response.body?.cancel();
    return [];
  }
  if (!response.ok || Number(response.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) {
    await response.body?.cancel();
    return [];
  }
  const body = (await response.json()) as { doorways?: unknown };
  if (!Array.isArray(body.doorways)) return [];
  return body.doorways
    .filter(
      (d): d is FederatedDoorway =>
        typeof d === 'object' && d !== null && typeof (d as FederatedDoorway).url === 'string',
    )
    .filter((d) => d.healthy !== false)
    .map((d) => d.url);
}

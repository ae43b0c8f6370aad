/** The doorway's HTTP side, as the browser uses it: where the relay is, and who else is online. */
import { ElohimError } from '../wire/index.ts';

export interface DoorwayInfo {
  peer_id: string;
  multiaddrs: string[];
  protocols: string[];
}

export interface SignalPeer {
  peer_id: string;
  multiaddrs: string[];
}

export class DoorwayUnreachableError extends ElohimError.named('DoorwayUnreachableError') {}

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

import { queryLimit, type Route, sendJson } from '../routes.ts';
import type { Federation } from './federation.ts';

/** Doorways listed by one answer, at most (and by default). */
export const MAX_LISTED_DOORWAYS = 100;

/**
 * `GET /api/v1/federation/doorways[?limit=N]`: the doorways this one knows, reachable first,
 * each with its addresses, how it was learned, and its health. Public, like the rest of
 * `/api/v1/federation`: it says no more than the DHT tells anyone who asks; bounded in size.
 */
export function federationRoutes(federation: Federation, self: () => object): Route[] {
  return [
    {
      method: 'GET',
      path: /\/api\/v1\/federation\/doorways/,
      handle: ({ res, url }) => {
        const limit = queryLimit(url, res, MAX_LISTED_DOORWAYS);
        if (limit === undefined) return;
        const doorways = federation.doorways(limit).map((d) => ({
          peer_id: d.peerId,
          url: d.url ?? null,
          multiaddrs: d.multiaddrs,
          sources: d.sources,
          reachable: d.reachable,
          last_seen: d.lastSeen === undefined ? null : new Date(d.lastSeen).toISOString(),
          last_error: d.lastError ?? null,
        }));
        sendJson(res, 200, { self: self(), doorways, total: federation.directory.size });
      },
    },
  ];
}

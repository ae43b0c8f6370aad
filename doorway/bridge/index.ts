/**
 * The doorway's HTTP bridge to content (README.md beside this file): `GET`/`HEAD
 * /store/{hash}` and `/api/blob/{hash}` for commons items, from the doorway's stores or pulled
 * from peers into an LRU cache.
 *
 *   const cache = await ContentCache.open({ dir, maxBytes, onError: (e) => log.error(String(e)) });
 *   const bridge = bridgeRoutes({ kept: peer.store, cache, node: peer.node, finder: peer.finder, log });
 *   routes.push(...bridge.routes);
 *   // shutdown: await bridge.close(); await cache.close();
 */
export { type CacheStats, ContentCache, type ContentCacheOptions } from './cache.ts';
export { BridgeBusyError, BridgeError, NotServedError } from './errors.ts';
export type { MissRead } from './misses.ts';
export { type Bridge, type BridgeInit, bridgeRoutes, checkServable } from './routes.ts';
export {
  httpShardHolders,
  parseRustStorage,
  type RustHolder,
  type ShardHolderSource,
} from './shard-holders.ts';

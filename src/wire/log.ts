import type { Logger } from '@libp2p/interface';
import { logger as libp2pLogger } from '@libp2p/logger';

export type { Logger };

/**
 * The one logger: libp2p's, one per component, named `elohim:<component>`. Silent unless
 * enabled: `localStorage.debug = 'elohim:*'` in a page, `DEBUG=elohim:*` in Node. Use
 * `log(...)` for what a developer follows, `log.error(...)` for what went wrong.
 */
export function logger(component: string): Logger {
  return libp2pLogger(`elohim:${component}`);
}
